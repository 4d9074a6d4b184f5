package client

import (
	"context"
	"encoding/json"
	"io"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// CreateService creates a service (issue 19); it is pending until
// officers of another organisation approve it.
func (c *Client) CreateService(ctx context.Context, req api.ServiceRequest) (api.Service, error) {
	var out api.Service
	return out, c.Do(ctx, "POST", "/v1/services", req, &out)
}

// ListServices lists every service.
func (c *Client) ListServices(ctx context.Context) ([]api.Service, error) {
	var out []api.Service
	return out, c.Do(ctx, "GET", "/v1/services", nil, &out)
}

// ShowService returns one service.
func (c *Client) ShowService(ctx context.Context, name string) (api.Service, error) {
	var out api.Service
	return out, c.Do(ctx, "GET", "/v1/services/"+url.PathEscape(name), nil, &out)
}

// DecideService approves, rejects ("approve", "reject") or stops ("stop")
// a service.
func (c *Client) DecideService(ctx context.Context, name, verb, comment string) (api.Service, error) {
	var out api.Service
	return out, c.Do(ctx, "POST", "/v1/services/"+url.PathEscape(name)+"/"+verb, api.ServiceDecision{Comment: comment}, &out)
}

// Subscribe files a subscription of the caller's organisation.
func (c *Client) Subscribe(ctx context.Context, name string, req api.SubscribeRequest) (api.Subscription, error) {
	var out api.Subscription
	return out, c.Do(ctx, "POST", "/v1/services/"+url.PathEscape(name)+"/subscriptions", req, &out)
}

// ListSubscriptions lists subscriptions (a consumer: its organisation's).
func (c *Client) ListSubscriptions(ctx context.Context) ([]api.Subscription, error) {
	var out []api.Subscription
	return out, c.Do(ctx, "GET", "/v1/subscriptions", nil, &out)
}

// DecideSubscription approves or rejects ("approve", "reject") a
// subscription (the authority).
func (c *Client) DecideSubscription(ctx context.Context, id, verb string) (api.Subscription, error) {
	var out api.Subscription
	return out, c.Do(ctx, "POST", "/v1/subscriptions/"+url.PathEscape(id)+"/"+verb, nil, &out)
}

// IssueCredential issues a credential for a system; its token is in the
// answer, once.
func (c *Client) IssueCredential(ctx context.Context, req api.CredentialRequest) (api.Credential, error) {
	var out api.Credential
	return out, c.Do(ctx, "POST", "/v1/credentials", req, &out)
}

// ListCredentials lists the credentials of the caller's organisation.
func (c *Client) ListCredentials(ctx context.Context) ([]api.Credential, error) {
	var out []api.Credential
	return out, c.Do(ctx, "GET", "/v1/credentials", nil, &out)
}

// RevokeCredential revokes a credential.
func (c *Client) RevokeCredential(ctx context.Context, id string) (api.Credential, error) {
	var out api.Credential
	return out, c.Do(ctx, "POST", "/v1/credentials/"+url.PathEscape(id)+"/revoke", nil, &out)
}

// Verify calls a verify service with one key (the client's token must be
// a credential).
func (c *Client) Verify(ctx context.Context, name string, req api.VerifyRequest) (api.VerifyAnswer, error) {
	var out api.VerifyAnswer
	return out, c.Do(ctx, "POST", "/v1/services/"+url.PathEscape(name)+"/verify", req, &out)
}

// VerifyBatch calls a verify service with at most 100 keys.
func (c *Client) VerifyBatch(ctx context.Context, name string, items []api.VerifyItem) (api.VerifyBatchAnswer, error) {
	var out api.VerifyBatchAnswer
	return out, c.Do(ctx, "POST", "/v1/services/"+url.PathEscape(name)+"/verify", api.VerifyRequest{Keys: items}, &out)
}

// ServiceUsage returns the calls of a service per subscription and day.
func (c *Client) ServiceUsage(ctx context.Context, name, day string) ([]api.ServiceUsage, error) {
	path := "/v1/services/" + url.PathEscape(name) + "/usage"
	if day != "" {
		path += "?day=" + url.QueryEscape(day)
	}
	var out []api.ServiceUsage
	return out, c.Do(ctx, "GET", path, nil, &out)
}

// ServiceOpenAPI writes the generated API document of a service to w.
func (c *Client) ServiceOpenAPI(ctx context.Context, name string, w io.Writer) error {
	var out map[string]any
	if err := c.Do(ctx, "GET", "/v1/services/"+url.PathEscape(name)+"/openapi.json", nil, &out); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// UsageStatement returns the signed usage statement of a subscription for
// one day.
func (c *Client) UsageStatement(ctx context.Context, sub, day string) (api.SignedStatement, error) {
	var out api.SignedStatement
	return out, c.Do(ctx, "GET", "/v1/subscriptions/"+url.PathEscape(sub)+"/statement?day="+url.QueryEscape(day), nil, &out)
}

// Query calls a query service with one subject's key (the client's token
// must be a credential).
func (c *Client) Query(ctx context.Context, name, key string) (api.QueryAnswer, error) {
	var out api.QueryAnswer
	return out, c.Do(ctx, "POST", "/v1/services/"+url.PathEscape(name)+"/query", api.QueryRequest{Key: key}, &out)
}

// BulkLatest downloads the signed release bundle of a bulk service's
// product, its newest release (an application system's credential).
// The caller checks it with release.Verify.
func (c *Client) BulkLatest(ctx context.Context, name string) (io.ReadCloser, error) {
	return c.Stream(ctx, "GET", "/v1/services/"+url.PathEscape(name)+"/bulk/latest", nil)
}
