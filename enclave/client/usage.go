package client

import (
	"context"
	"io"
	"net/url"

	"github.com/enclave-dev/enclave/enclave/api"
)

// UsageQuery selects a usage report; empty fields are not limited. From
// and To are DATEs (2006-01-02, To inclusive) or RFC 3339 times.
type UsageQuery struct {
	Org, From, To, By string
}

// UsageReport returns the usage report of q.
func (c *Client) UsageReport(ctx context.Context, q UsageQuery) (api.UsageReport, error) {
	var out api.UsageReport
	return out, c.Do(ctx, "GET", "/v1/usage"+Query("org", q.Org, "from", q.From, "to", q.To, "by", q.By), nil, &out)
}

// SetQuota sets an organisation's quota (authority).
func (c *Client) SetQuota(ctx context.Context, q api.Quota) (api.Quota, error) {
	var out api.Quota
	return out, c.Do(ctx, "PUT", "/v1/orgs/"+url.PathEscape(q.Org)+"/quota", q, &out)
}

// Quota returns an organisation's quota.
func (c *Client) Quota(ctx context.Context, org string) (api.Quota, error) {
	var out api.Quota
	return out, c.Do(ctx, "GET", "/v1/orgs/"+url.PathEscape(org)+"/quota", nil, &out)
}

// AnnualReport streams the annual operation report of an organisation for
// a year in format: "html" (a self-contained HTML document, also for ""),
// "pdf", or "json" (its figures).
func (c *Client) AnnualReport(ctx context.Context, org, year, format string) (io.ReadCloser, error) {
	return c.Stream(ctx, "GET", "/v1/reports/annual"+Query("org", org, "year", year, "format", format), nil)
}
