package client

import (
	"context"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// FileObjection files an objection about a dataset (issue 20 item 4).
func (c *Client) FileObjection(ctx context.Context, req api.ObjectionRequest) (api.Objection, error) {
	var out api.Objection
	return out, c.Do(ctx, "POST", "/v1/objections", req, &out)
}

// AnswerObjection answers an objection (the dataset's custodian
// organisation), optionally naming the corrected version.
func (c *Client) AnswerObjection(ctx context.Context, id string, req api.ObjectionAnswerRequest) (api.Objection, error) {
	var out api.Objection
	return out, c.Do(ctx, "POST", "/v1/objections/"+url.PathEscape(id)+"/answer", req, &out)
}

// ListObjections lists the objections the caller sees; overdue keeps only
// those open past their due time.
func (c *Client) ListObjections(ctx context.Context, overdue bool) ([]api.Objection, error) {
	path := "/v1/objections"
	if overdue {
		path += "?overdue=true"
	}
	var out []api.Objection
	return out, c.Do(ctx, "GET", path, nil, &out)
}

// ShowObjection returns one objection.
func (c *Client) ShowObjection(ctx context.Context, id string) (api.Objection, error) {
	var out api.Objection
	return out, c.Do(ctx, "GET", "/v1/objections/"+url.PathEscape(id), nil, &out)
}
