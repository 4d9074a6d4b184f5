package client

import (
	"context"
	"io"

	"github.com/enclave-dev/enclave/enclave/api"
)

// AuditFilter selects audit entries; empty fields match everything.
type AuditFilter struct {
	Actor, Org, Action, Object string
	Dataset                    string // events naming dataset:NAME or dataset:NAME@V
	Since, Until               string // RFC 3339
	Limit                      string
	Newest                     bool // newest first
}

func (f AuditFilter) query() string {
	order := ""
	if f.Newest {
		order = "newest"
	}
	return Query("actor", f.Actor, "org", f.Org, "action", f.Action, "object", f.Object, "dataset", f.Dataset, "since", f.Since, "until", f.Until, "limit", f.Limit, "order", order)
}

// AuditList returns the matching audit entries.
func (c *Client) AuditList(ctx context.Context, f AuditFilter) ([]api.AuditEvent, error) {
	var out []api.AuditEvent
	return out, c.Do(ctx, "GET", "/v1/audit"+f.query(), nil, &out)
}

// AuditVerify rechecks the whole log against its latest signed checkpoint.
func (c *Client) AuditVerify(ctx context.Context) (api.AuditReport, error) {
	var out api.AuditReport
	return out, c.Do(ctx, "GET", "/v1/audit/verify", nil, &out)
}

// AuditExport streams the matching entries as JSON lines.
func (c *Client) AuditExport(ctx context.Context, f AuditFilter) (io.ReadCloser, error) {
	return c.Stream(ctx, "GET", "/v1/audit/export"+f.query(), nil)
}

// AuditPurge purges the oldest entries past their retention.
func (c *Client) AuditPurge(ctx context.Context, dryRun bool) (api.PurgeResult, error) {
	var out api.PurgeResult
	return out, c.Do(ctx, "POST", "/v1/audit/purge", api.PurgeRequest{DryRun: dryRun}, &out)
}
