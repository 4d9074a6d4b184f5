package client

import (
	"context"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// FileApplication files a data-use application.
func (c *Client) FileApplication(ctx context.Context, req api.ApplicationRequest) (api.Application, error) {
	var out api.Application
	return out, c.Do(ctx, "POST", "/v1/applications", req, &out)
}

// ListApplications lists the applications the caller may see.
func (c *Client) ListApplications(ctx context.Context) ([]api.Application, error) {
	var out []api.Application
	return out, c.Do(ctx, "GET", "/v1/applications", nil, &out)
}

// ShowApplication returns one application.
func (c *Client) ShowApplication(ctx context.Context, id string) (api.Application, error) {
	var out api.Application
	return out, c.Do(ctx, "GET", "/v1/applications/"+url.PathEscape(id), nil, &out)
}

// ShowGrant returns one grant.
func (c *Client) ShowGrant(ctx context.Context, id string) (api.Grant, error) {
	var out api.Grant
	return out, c.Do(ctx, "GET", "/v1/grants/"+url.PathEscape(id), nil, &out)
}

// DecideApplication approves or rejects (verb) an application.
func (c *Client) DecideApplication(ctx context.Context, id, verb, comment string) (api.Application, error) {
	var out api.Application
	return out, c.Do(ctx, "POST", "/v1/applications/"+url.PathEscape(id)+"/"+url.PathEscape(verb), api.CommentRequest{Comment: comment}, &out)
}
