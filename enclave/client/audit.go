package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
)

// AuditFilter selects audit entries; empty fields match everything.
type AuditFilter struct {
	Actor, Org, Action, Object string
	Dataset                    string // events naming dataset:NAME or dataset:NAME@V
	Since, Until               string // RFC 3339
	Limit                      string
	Newest                     bool   // newest first
	Cursor                     string // where a page starts: an earlier page's next cursor (issue 21)
}

func (f AuditFilter) query() string {
	order := ""
	if f.Newest {
		order = "newest"
	}
	return Query("actor", f.Actor, "org", f.Org, "action", f.Action, "object", f.Object, "dataset", f.Dataset, "since", f.Since, "until", f.Until, "limit", f.Limit, "order", order, "cursor", f.Cursor)
}

// AuditList returns the matching audit entries: one page of at most
// f.Limit entries from f.Cursor (AuditPage also says where the next starts).
func (c *Client) AuditList(ctx context.Context, f AuditFilter) ([]api.AuditEvent, error) {
	out, _, err := c.AuditPage(ctx, f)
	return out, err
}

// AuditPage returns one page of the matching entries and the cursor of the
// next page ("" when there is none): a full page names it in the
// api.AuditCursorHeader header; pass it back as f.Cursor with the same
// filters and order (issue 21).
func (c *Client) AuditPage(ctx context.Context, f AuditFilter) ([]api.AuditEvent, string, error) {
	path := "/v1/audit" + f.query()
	resp, err := c.send(ctx, "GET", path, nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var out []api.AuditEvent
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, "", fmt.Errorf("decode the daemon's answer to GET %s: %w", path, err)
	}
	return out, resp.Header.Get(api.AuditCursorHeader), nil
}

// AuditAll follows the pages from f.Cursor, f.Limit entries a page, to the
// last and returns every matching entry.
func (c *Client) AuditAll(ctx context.Context, f AuditFilter) ([]api.AuditEvent, error) {
	var all []api.AuditEvent
	seen := map[string]bool{}
	for {
		page, next, err := c.AuditPage(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		if seen[next] || len(page) == 0 {
			return nil, fmt.Errorf("the daemon named cursor %q again: %w", next, errdefs.ErrUnknown)
		}
		seen[next] = true
		f.Cursor = next
	}
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
