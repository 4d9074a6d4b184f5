package client

import (
	"context"
	"net/url"
)

// Explanation is what the policies would decide for a person.
type Explanation struct {
	As       string   `json:"as"`
	Action   string   `json:"action"`
	Datasets []string `json:"datasets,omitempty"`
	Decision struct {
		Allow   bool `json:"allow"`
		Reasons []struct {
			Rule    string `json:"rule"`
			Message string `json:"message"`
		} `json:"reasons"`
		Grants   map[string]string `json:"grants,omitempty"`
		Revision string            `json:"revision"`
	} `json:"decision"`
}

// Explain asks what the policies would decide for person doing action on
// datasets (and image), without acting.
func (c *Client) Explain(ctx context.Context, person, action string, datasets []string, image string) (Explanation, error) {
	v := url.Values{"as": {person}, "action": {action}}
	for _, d := range datasets {
		v.Add("dataset", d)
	}
	if image != "" {
		v.Set("image", image)
	}
	var out Explanation
	return out, c.Do(ctx, "GET", "/v1/policy/explain?"+v.Encode(), nil, &out)
}
