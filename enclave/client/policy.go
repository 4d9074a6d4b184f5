package client

import (
	"context"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// Explain asks what the policies would decide for person doing action on
// datasets (and image), without acting; the answer also carries the
// thresholds the egress checks apply.
func (c *Client) Explain(ctx context.Context, person, action string, datasets []string, image string) (api.Explanation, error) {
	v := url.Values{"as": {person}, "action": {action}}
	for _, d := range datasets {
		v.Add("dataset", d)
	}
	if image != "" {
		v.Set("image", image)
	}
	var out api.Explanation
	return out, c.Do(ctx, "GET", "/v1/policy/explain?"+v.Encode(), nil, &out)
}
