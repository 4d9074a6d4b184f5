package client

import (
	"context"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// Whoami returns the caller.
func (c *Client) Whoami(ctx context.Context) (api.Whoami, error) {
	var out api.Whoami
	return out, c.Do(ctx, "GET", "/v1/whoami", nil, &out)
}

// Health asks whether the daemon is up.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var out api.Health
	return out, c.Do(ctx, "GET", "/v1/health", nil, &out)
}

// Version returns the daemon's versions.
func (c *Client) Version(ctx context.Context) (api.Version, error) {
	var out api.Version
	return out, c.Do(ctx, "GET", "/v1/version", nil, &out)
}

// PublicKey returns the enclave's signing key.
func (c *Client) PublicKey(ctx context.Context) (api.PublicKey, error) {
	var out api.PublicKey
	return out, c.Do(ctx, "GET", "/v1/keys/public", nil, &out)
}

// AddOrg licenses an organisation.
func (c *Client) AddOrg(ctx context.Context, req api.OrgRequest) (api.Org, error) {
	var out api.Org
	return out, c.Do(ctx, "POST", "/v1/orgs", req, &out)
}

// ListOrgs lists organisations.
func (c *Client) ListOrgs(ctx context.Context) ([]api.Org, error) {
	var out []api.Org
	return out, c.Do(ctx, "GET", "/v1/orgs", nil, &out)
}

// ShowOrg returns an organisation with its licence application and the
// terms of its licence.
func (c *Client) ShowOrg(ctx context.Context, name string) (api.Org, error) {
	var out api.Org
	return out, c.Do(ctx, "GET", "/v1/orgs/"+url.PathEscape(name), nil, &out)
}

// RenewOrg renews an organisation's licence until a day (YYYY-MM-DD).
func (c *Client) RenewOrg(ctx context.Context, name, until string) (api.Org, error) {
	var out api.Org
	return out, c.Do(ctx, "POST", "/v1/orgs/"+url.PathEscape(name)+"/renew", api.RenewRequest{LicenceUntil: until}, &out)
}

// SetOrgStatus suspends, reinstates, blacklists or revokes (verb) an
// organisation with a reason.
func (c *Client) SetOrgStatus(ctx context.Context, name, verb, reason string) (api.Org, error) {
	var out api.Org
	return out, c.Do(ctx, "POST", "/v1/orgs/"+url.PathEscape(name)+"/"+url.PathEscape(verb), api.StatusRequest{Reason: reason}, &out)
}

// AddPerson registers a person; the answer carries their first token.
func (c *Client) AddPerson(ctx context.Context, req api.PersonRequest) (api.PersonCreated, error) {
	var out api.PersonCreated
	return out, c.Do(ctx, "POST", "/v1/people", req, &out)
}

// ListPeople lists people, of one organisation when org is not empty.
func (c *Client) ListPeople(ctx context.Context, org string) ([]api.Person, error) {
	var out []api.Person
	return out, c.Do(ctx, "GET", "/v1/people"+Query("org", org), nil, &out)
}

// RenewAgreement records a person's renewed confidentiality agreement.
func (c *Client) RenewAgreement(ctx context.Context, person string, req api.AgreementRequest) (api.Person, error) {
	var out api.Person
	return out, c.Do(ctx, "POST", "/v1/people/"+url.PathEscape(person)+"/agreement", req, &out)
}

// IssueToken issues a new token for a person.
func (c *Client) IssueToken(ctx context.Context, person string) (api.TokenIssued, error) {
	var out api.TokenIssued
	return out, c.Do(ctx, "POST", "/v1/people/"+url.PathEscape(person)+"/tokens", nil, &out)
}

// ListTokens lists a person's token records.
func (c *Client) ListTokens(ctx context.Context, person string) ([]api.Token, error) {
	var out []api.Token
	return out, c.Do(ctx, "GET", "/v1/people/"+url.PathEscape(person)+"/tokens", nil, &out)
}

// RevokeToken revokes a token by id.
func (c *Client) RevokeToken(ctx context.Context, id string) (api.Token, error) {
	var out api.Token
	return out, c.Do(ctx, "POST", "/v1/tokens/"+url.PathEscape(id)+"/revoke", nil, &out)
}
