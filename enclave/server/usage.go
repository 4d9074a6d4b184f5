package server

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/usage"
	policy "github.com/enclave-dev/enclave/policies"
)

// prices returns the configured price list, or the default one.
func (s *Server) prices() usage.PriceList {
	if s.Prices.Currency == "" {
		return usage.DefaultPriceList()
	}
	return s.Prices
}

// usageResource is the organisation reported on ("" = all).
func usageResource(ctx context.Context, c *call) (authz.Resource, error) {
	org := usageOrg(c)
	return resource("usage", org, org), nil
}

// usageOrg is the organisation a usage report is about: the org query
// parameter, or, without one, the caller's own organisation unless the
// caller reads every organisation's use (the bureau, admins). An operator's
// report without --org is their own, not a refusal (issue 21).
func usageOrg(c *call) string {
	if org := c.query("org"); org != "" || readsEveryOrg(c) {
		return org
	}
	return c.subject.Org.Name
}

func (s *Server) usageRoutes() []route {
	return []route{
		{Method: "GET", Path: "/v1/usage", Action: "usage.report",
			Summary:  "Usage report: jobs, CPU-hours, peak memory, data read, outputs, exports and charges per org, person, dataset, day or month (exact for the bureau, from each job's coarse figures for everyone else); query: org, from, to (DATE, inclusive, or RFC 3339), by",
			Response: api.UsageReport{}, Resource: usageResource,
			Handle: func(ctx context.Context, c *call) (any, error) {
				q, err := usageQuery(c)
				if err != nil {
					return nil, err
				}
				q.Coarse = !exactAudit(c) // operators read their jobs' figures coarsely
				rep, err := usage.Compute(ctx, s.DB.SQL(), q, s.prices())
				if err != nil {
					return nil, err
				}
				out := usageReportView(rep)
				if rep.By == usage.ByPerson {
					names := personNames{}
					for i := range out.Rows {
						out.Rows[i].Name = names.name(c, out.Rows[i].Key)
					}
				}
				return out, nil
			}},
		{Method: "GET", Path: "/v1/reports/annual", Action: "report.annual",
			Summary:  "The annual operation report of an organisation (R-14, 001 art. 18) as a self-contained HTML document with charts, a PDF, or its figures as JSON; query: org, year, format (html, pdf or json; default html)",
			Resource: usageResource,
			Handle: func(ctx context.Context, c *call) (any, error) {
				year, err := strconv.Atoi(c.query("year"))
				if err != nil || year < 2000 || year > 9999 {
					return nil, fmt.Errorf("query parameter \"year\" must be a year such as 2026: %w", errdefs.ErrInvalidArgument)
				}
				format := c.query("format")
				switch format {
				case "":
					format = "html"
				case "html", "pdf", "json":
				default:
					return nil, fmt.Errorf("query parameter \"format\" must be html, pdf or json: %w", errdefs.ErrInvalidArgument)
				}
				rep, err := usage.Annual(ctx, s.DB.SQL(), usageOrg(c), year, s.prices(), !exactAudit(c))
				if err != nil {
					return nil, err
				}
				rep.Generated = s.Now().UTC()
				if format == "json" {
					return rep, nil // the figures the documents show
				}
				var buf bytes.Buffer // rendered whole first: a failure sends an error, not half a document
				write, ctype := rep.WriteHTML, "text/html; charset=utf-8"
				if format == "pdf" {
					write, ctype = rep.WritePDF, "application/pdf"
				}
				if err := write(&buf); err != nil {
					return nil, err
				}
				c.raw = true
				c.w.Header().Set("Content-Type", ctype)
				c.w.Header().Set("Cache-Control", "no-store")
				c.w.Header().Set("X-Content-Type-Options", "nosniff")
				c.w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
				if format == "pdf" {
					c.w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"annual-%d.pdf\"", year))
				}
				_, _ = buf.WriteTo(c.w) // an error here is the client going away; the header is sent
				return nil, nil
			}},
		{Method: "GET", Path: "/v1/orgs/{name}/quota", Action: "org.list", Op: "org.quota.show", Summary: "An organisation's quota", Response: api.Quota{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("org", c.path("name"), c.path("name")), nil
			},
			Handle: func(ctx context.Context, c *call) (any, error) {
				name := c.path("name")
				if _, err := people.GetOrg(ctx, s.DB.SQL(), name); err != nil {
					return nil, err
				}
				q, err := usage.GetQuota(ctx, s.DB.SQL(), name)
				return quotaView(name, q), err
			}},
		{Method: "PUT", Path: "/v1/orgs/{name}/quota", Action: "org.quota",
			Summary: "Set an organisation's quota: concurrent jobs, CPU seconds a month, memory per job (null = not limited)", Request: api.Quota{}, Response: api.Quota{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("org", c.path("name"), c.path("name")), nil
			},
			Handle: func(ctx context.Context, c *call) (any, error) {
				var req api.Quota
				if err := c.decode(&req); err != nil {
					return nil, err
				}
				name := c.path("name")
				q := policy.Quota{ConcurrentJobs: req.ConcurrentJobs, CPUSecondsMonth: req.CPUSecondsMonth, MemoryBytesPerJob: req.MemoryBytesPerJob}
				ev := audit.Event{Action: "org.quota", Objects: []string{"org:" + name}, Details: map[string]string{
					"concurrent_jobs": limitText(q.ConcurrentJobs), "cpu_seconds_month": limitText(q.CPUSecondsMonth),
					"memory_bytes_per_job": limitText(q.MemoryBytesPerJob)}}
				err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
					if _, err := people.GetOrg(ctx, tx, name); err != nil {
						return err
					}
					return usage.SetQuota(ctx, tx, name, q, c.subject.Person.ID, s.Now().UTC().Format(time.RFC3339Nano))
				})
				return quotaView(name, q), err
			}},
	}
}

func quotaView(org string, q policy.Quota) api.Quota {
	return api.Quota{Org: org, ConcurrentJobs: q.ConcurrentJobs, CPUSecondsMonth: q.CPUSecondsMonth, MemoryBytesPerJob: q.MemoryBytesPerJob}
}

func limitText(v *int64) string {
	if v == nil {
		return "unlimited"
	}
	return strconv.FormatInt(*v, 10)
}

// usageQuery reads the report's query parameters: from and to are a DATE
// (to inclusive: up to the end of that day, UTC) or an RFC 3339 instant.
func usageQuery(c *call) (usage.Query, error) {
	q := usage.Query{Org: usageOrg(c), By: usage.By(c.query("by"))}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.Until}} {
		v := c.query(p.name)
		if v == "" {
			continue
		}
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			if p.name == "to" {
				t = t.AddDate(0, 0, 1)
			}
			*p.dst = t
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return q, fmt.Errorf("query parameter %q must be a date (2006-01-02) or an RFC 3339 time: %w", p.name, errdefs.ErrInvalidArgument)
		}
		*p.dst = t
	}
	return q, q.Validate()
}
