package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/people"
)

func (s *Server) metaRoutes() []route {
	return []route{
		{Method: "GET", Path: "/v1/health", Public: true, Summary: "Liveness: the daemon answers and its state opens", Response: api.Health{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				if err := s.DB.SQL().PingContext(ctx); err != nil {
					return nil, fmt.Errorf("state database: %w", errdefs.ErrUnavailable)
				}
				h := api.Health{Status: "ok"}
				if sz, ok := s.Audit.(interface{ Size() uint64 }); ok {
					h.Audit = sz.Size()
				}
				return h, nil
			}},
		{Method: "GET", Path: "/v1/version", Public: true, Summary: "Program and schema versions", Response: api.Version{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				v, err := s.DB.SchemaVersion(ctx)
				return api.Version{Version: s.Version, API: "v1", Schema: v}, err
			}},
		{Method: "GET", Path: "/v1/openapi.json", Public: true, Summary: "This document",
			Handle: func(ctx context.Context, c *call) (any, error) {
				return s.OpenAPI(), nil
			}},
	}
}

func (s *Server) auditRoutes() []route {
	return []route{
		{Method: "GET", Path: "/v1/audit", Action: "audit.list", Summary: "List audit entries; filters: actor, org, action, object, dataset, since, until (RFC 3339), limit, cursor (a full page answers the next page's cursor in the X-Next-Cursor header); custodians list the events about their own organisation's datasets", Response: []api.AuditEvent{},
			Resource: s.auditResource,
			Handle: func(ctx context.Context, c *call) (any, error) {
				f, err := auditFilter(c)
				if err != nil {
					return nil, err
				}
				ents, err := s.auditEntries(ctx, c, f)
				if err != nil {
					return nil, err
				}
				// A full page names where the next one starts (issue 21:
				// a list that stops at its limit says so).
				if n := len(ents); f.Limit > 0 && n == f.Limit {
					last := ents[n-1].Index
					if !f.Newest {
						c.w.Header().Set(api.AuditCursorHeader, strconv.FormatUint(last+1, 10))
					} else if last > 0 {
						c.w.Header().Set(api.AuditCursorHeader, strconv.FormatUint(last, 10))
					}
				}
				exact := exactAudit(c)
				if !exact {
					ents = withoutJobEnds(ents)
				}
				out := make([]api.AuditEvent, len(ents))
				names := personNames{}
				for i, e := range ents {
					out[i] = auditView(e, exact)
					out[i].ActorName = names.name(c, e.Event.Actor)
				}
				return out, nil
			}},
		{Method: "GET", Path: "/v1/audit/verify", Action: "audit.verify", Summary: "Recheck every entry against the latest signed checkpoint", Response: api.AuditReport{},
			Handle: func(ctx context.Context, c *call) (any, error) {
				rep, err := s.Audit.Verify(ctx)
				if err != nil {
					return nil, err
				}
				// The log alone cannot tell that its tail was cut off; the
				// state records the highest entry a committed change wrote.
				wm, err := s.DB.AuditWatermark(ctx)
				if err != nil {
					return nil, err
				}
				if rep.OK && int64(rep.Entries)-1 < wm {
					rep.OK = false
					rep.FirstBad = int64(rep.Entries)
					rep.Reason = fmt.Sprintf("the log ends at entry %d but committed changes recorded entry %d: entries were removed from its end", int64(rep.Entries)-1, wm)
				}
				return api.AuditReport{OK: rep.OK, Entries: rep.Entries, FirstBad: rep.FirstBad, Reason: rep.Reason, Note: rep.Note,
					CheckpointSize: rep.Checkpoint.Size, CheckpointRoot: hex.EncodeToString(rep.Checkpoint.Root), CheckpointTime: rep.Checkpoint.Time}, nil
			}},
		{Method: "GET", Path: "/v1/audit/export", Action: "audit.export", Summary: "Every matching entry as JSON lines", Response: api.AuditEvent{},
			Resource: s.auditResource,
			Handle: func(ctx context.Context, c *call) (any, error) {
				f, err := auditFilter(c)
				if err != nil {
					return nil, err
				}
				ents, err := s.auditEntries(ctx, c, f)
				if err != nil {
					return nil, err
				}
				c.raw = true
				c.w.Header().Set("Content-Type", "application/x-ndjson")
				c.w.Header().Set("Cache-Control", "no-store")
				exact := exactAudit(c)
				if !exact {
					ents = withoutJobEnds(ents)
				}
				enc := json.NewEncoder(c.w)
				for _, e := range ents {
					if err := enc.Encode(auditView(e, exact)); err != nil {
						return nil, nil // the client went away; nothing more to say
					}
				}
				return nil, nil
			}},
	}
}

func auditFilter(c *call) (audit.Filter, error) {
	f := audit.Filter{Actor: c.query("actor"), Org: c.query("org"), Action: c.query("action"), Object: c.query("object")}
	if a := f.Actor; a != "" && !strings.HasPrefix(a, "p_") && a != "anonymous" {
		// An actor by name (issue 21): the one person of that name.
		id, err := personByName(c, a)
		if err != nil {
			return f, err
		}
		f.Actor = id
	}
	f.Newest = c.query("order") == "newest"
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := c.query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, fmt.Errorf("query parameter %q must be an RFC 3339 time: %w", name, errdefs.ErrInvalidArgument)
			}
			*dst = t
		}
	}
	if v := c.query("cursor"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return f, fmt.Errorf("query parameter \"cursor\" must be the positive number an earlier page's %s header gave: %w", api.AuditCursorHeader, errdefs.ErrInvalidArgument)
		}
		f.From = n
	}
	if v := c.query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return f, fmt.Errorf("query parameter \"limit\" must be a non-negative integer: %w", errdefs.ErrInvalidArgument)
		}
		f.Limit = n
	}
	return f, nil
}

// exactAudit reports whether the caller reads audit entries and usage
// reports with exact figures: only the bureau, which supervises (as in
// exactView). Anyone else who may list entries (admins, who run the
// platform and may never read data; a custodian, about their
// organisation's datasets) reads the figures of jobs coarsely and no hashes
// of unreleased outputs, and an operator's or admin's usage report rolls
// up the coarse figures of each job: whatever a job's figures say is a way
// out, to whoever reads them.
func exactAudit(c *call) bool {
	return c.subject.Person.HasRole(people.Bureau)
}

// readsEveryOrg reports whether the caller's usage reports cover every
// organisation unless one is named: the bureau's and admins' do.
func readsEveryOrg(c *call) bool {
	return c.subject.Person.HasRole(people.Bureau) || c.subject.Person.HasRole(people.Admin)
}

// withoutJobEnds is ents as a reader of the coarse view lists them (see
// exactAudit): without the entries of jobs' ends. The end of a job is a
// figure too, and its entry is written at the real end: its time, its
// index, its place among entries an operator can add at will (a refused
// job.run names the dataset as well), and whether a filter by time or a
// cursor selects it would each time the job to the millisecond. Such a
// reader sees a job's run and start, both made at moments the coarse view
// of earlier jobs already shows; the job's own view (its operator's) tells
// how it ended, with coarse figures, and the bureau reads the end exactly.
func withoutJobEnds(ents []audit.Entry) []audit.Entry {
	out := make([]audit.Entry, 0, len(ents))
	for _, e := range ents {
		if e.Event.Action != "job.end" {
			out = append(out, e)
		}
	}
	return out
}

// auditView is one entry as the API shows it, exact or coarse
// (jobs.CoarseEvent; the hashes an export request froze are left out).
func auditView(e audit.Entry, exact bool) api.AuditEvent {
	ev := e.Event
	if !exact {
		ev = jobs.CoarseEvent(ev)
		if ev.Action == "export.request" {
			d := make(map[string]string, len(ev.Details))
			for k, v := range ev.Details {
				if !strings.HasSuffix(k, "_sha256") {
					d[k] = v
				}
			}
			ev.Details = d
		}
	}
	return api.AuditEvent{Index: e.Index, Time: ev.Time, Actor: ev.Actor, Org: ev.Org, Action: ev.Action, Objects: ev.Objects,
		Outcome: ev.Outcome, Reason: ev.Reason, RequestID: ev.RequestID, Retention: ev.Retention, Details: ev.Details}
}

// auditResource is the log, or with a dataset filter the dataset, owned by
// the organisation that first imported it: a custodian may list the events
// about their own organisation's datasets.
func (s *Server) auditResource(ctx context.Context, c *call) (authz.Resource, error) {
	name := c.query("dataset")
	if name == "" {
		return resource("audit", "", ""), nil
	}
	if s.Catalog == nil {
		return authz.Resource{}, fmt.Errorf("dataset %q: %w", name, errdefs.ErrNotFound)
	}
	owner, err := s.Catalog.Owner(ctx, nil, name)
	if err != nil {
		return authz.Resource{}, err
	}
	return resource("dataset", name, owner), nil
}

// auditEntries lists the entries of f; with a dataset filter, only those
// naming the dataset ("dataset:NAME" or any version "dataset:NAME@V"),
// the limit applied after that filter.
func (s *Server) auditEntries(ctx context.Context, c *call, f audit.Filter) ([]audit.Entry, error) {
	name := c.query("dataset")
	if name == "" {
		return s.Audit.List(ctx, f)
	}
	limit := f.Limit
	if limit == 0 {
		ents, err := s.Audit.List(ctx, f)
		if err != nil {
			return nil, err
		}
		out := ents[:0]
		for _, e := range ents {
			if aboutDataset(e.Event.Objects, name) {
				out = append(out, e)
			}
		}
		return out, nil
	}
	// With a limit, read pages of the other filters' matches, growing,
	// from the requested end of the log, and stop at the limit: the log
	// decodes only the entries a page covers.
	var out []audit.Entry
	page := auditPage
	for {
		f.Limit = page
		ents, err := s.Audit.List(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if aboutDataset(e.Event.Objects, name) {
				out = append(out, e)
				if len(out) == limit {
					return out, nil
				}
			}
		}
		if len(ents) < page {
			return out, nil
		}
		last := ents[len(ents)-1].Index
		if f.Newest {
			if last == 0 {
				return out, nil
			}
			f.From = last // newest first: entries before last
		} else {
			f.From = last + 1
		}
		page = min(page*2, 1<<20)
	}
}

// auditPage is the first page size of a limited dataset query.
var auditPage = 4096

func aboutDataset(objects []string, name string) bool {
	for _, o := range objects {
		if rest, ok := strings.CutPrefix(o, "dataset:"+name); ok && (rest == "" || rest[0] == '@') {
			return true
		}
	}
	return false
}
