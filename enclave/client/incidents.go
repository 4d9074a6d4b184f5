package client

import (
	"context"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// RevokeGrant revokes the grant of an application (id: the application's
// or the grant's) with a reason.
func (c *Client) RevokeGrant(ctx context.Context, id, reason string) (api.GrantRevoked, error) {
	var out api.GrantRevoked
	return out, c.Do(ctx, "POST", "/v1/applications/"+url.PathEscape(id)+"/revoke", api.ReasonRequest{Reason: reason}, &out)
}

// GrantStanding returns a grant's status, its end and its holds (id: the
// grant's, or its application's).
func (c *Client) GrantStanding(ctx context.Context, id string) (api.GrantStanding, error) {
	var out api.GrantStanding
	return out, c.Do(ctx, "GET", "/v1/grants/"+url.PathEscape(id)+"/standing", nil, &out)
}

// ReportIncident reports an incident on a job, a dataset or a grant.
func (c *Client) ReportIncident(ctx context.Context, req api.IncidentRequest) (api.Incident, error) {
	var out api.Incident
	return out, c.Do(ctx, "POST", "/v1/incidents", req, &out)
}

// ListIncidents lists the incident register; state ("open", "closed") and
// org filter it when not empty.
func (c *Client) ListIncidents(ctx context.Context, state, org string) ([]api.Incident, error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	if org != "" {
		q.Set("org", org)
	}
	path := "/v1/incidents"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []api.Incident
	return out, c.Do(ctx, "GET", path, nil, &out)
}

// ShowIncident returns one incident.
func (c *Client) ShowIncident(ctx context.Context, id string) (api.Incident, error) {
	var out api.Incident
	return out, c.Do(ctx, "GET", "/v1/incidents/"+url.PathEscape(id), nil, &out)
}

// CloseIncident closes an incident with the authority's decision.
func (c *Client) CloseIncident(ctx context.Context, id, decision string) (api.Incident, error) {
	var out api.Incident
	return out, c.Do(ctx, "POST", "/v1/incidents/"+url.PathEscape(id)+"/close", api.DecisionRequest{Decision: decision}, &out)
}

// HaltAll halts every job of an organisation or a dataset (the bureau),
// which opens an incident on it.
func (c *Client) HaltAll(ctx context.Context, req api.HaltAllRequest) (api.Incident, error) {
	var out api.Incident
	return out, c.Do(ctx, "POST", "/v1/jobs/halt", req, &out)
}
