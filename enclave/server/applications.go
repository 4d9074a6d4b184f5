package server

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/ingest"
	"github.com/enclave-dev/enclave/enclave/people"
	policy "github.com/enclave-dev/enclave/policies"
)

func (s *Server) applicationRoutes() []route {
	return []route{
		planned(route{Method: "POST", Path: "/v1/applications", Action: "application.file",
			Summary: "File a data-use application: datasets (and columns), purpose, scenario, data flow, period, batches", Request: api.ApplicationRequest{},
			Created: true}, s.applicationFileResource, s.fileApplication),
		{Method: "GET", Path: "/v1/applications", Action: "application.list", Summary: "List applications: an operator's own organisation's, every one for authorities and the bureau",
			Response: []api.Application{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				return resource("application", "", c.subject.Org.Name), nil
			},
			Handle: func(ctx context.Context, c *call) (any, error) {
				org := c.subject.Org.Name
				if c.subject.Person.HasRole(people.Authority) || c.subject.Person.HasRole(people.Bureau) {
					org = ""
				}
				as, err := grants.List(ctx, s.DB.SQL(), org)
				if err != nil {
					return nil, err
				}
				return views(as, applicationView), nil
			}},
		planned(route{Method: "GET", Path: "/v1/applications/{id}", Action: "application.list", Op: "application.show", Summary: "Show one application with its decisions"},
			s.applicationResource, func(ctx context.Context, c *call, _ map[string]grants.Pin, _ none) (api.Application, error) {
				a, err := grants.Get(ctx, s.DB.SQL(), c.path("id"))
				if err != nil {
					return api.Application{}, err
				}
				return applicationView(a), nil
			}),
		s.decideRoute("approve", grants.Approved),
		s.decideRoute("reject", grants.Rejected),
		{Method: "GET", Path: "/v1/grants/{id}", Action: "application.list", Op: "grant.show", Summary: "Show one grant", Response: api.Grant{},
			Resource: func(ctx context.Context, c *call) (authz.Resource, error) {
				g, err := grants.GetGrant(ctx, s.DB.SQL(), c.path("id"))
				if err != nil {
					return authz.Resource{}, err
				}
				return resource("grant", g.ID, g.Org), nil
			},
			Handle: func(ctx context.Context, c *call) (any, error) {
				g, err := grants.GetGrant(ctx, s.DB.SQL(), c.path("id"))
				if err != nil {
					return nil, err
				}
				return grantView(g), nil
			}},
	}
}

// policyDatasets describes the newest version of each named dataset for
// the policies, checking that named columns exist. It sets the call's
// audit retention to five years when any is authorization-required or
// withheld.
func (s *Server) policyDatasets(ctx context.Context, c *call, ds []grants.Dataset) ([]policy.Dataset, []*datasets.Version, error) {
	var out []policy.Dataset
	var vs []*datasets.Version
	for _, d := range ds {
		name, ver, err := datasets.ParseRef(d.Name)
		if err != nil {
			return nil, nil, err
		}
		v, err := s.Catalog.Get(ctx, nil, name, ver)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return nil, nil, fmt.Errorf("dataset %q is not in the catalogue: %w", d.Name, errdefs.ErrInvalidArgument)
			}
			return nil, nil, err
		}
		if v.Upload && v.Org != c.subject.Org.Name {
			// Another organisation's upload reads as a name never imported (issue 20).
			return nil, nil, fmt.Errorf("dataset %q is not in the catalogue: %w", d.Name, errdefs.ErrInvalidArgument)
		}
		for _, col := range d.Columns {
			if !slices.ContainsFunc(v.Columns, func(ci ingest.ColumnInfo) bool { return ci.Name == col }) {
				return nil, nil, fmt.Errorf("dataset %q has no column %q: %w", v.Name, col, errdefs.ErrInvalidArgument)
			}
		}
		if v.Market == "authorized" || v.Market == "withheld" {
			c.retention = audit.Retention5y
		}
		out = append(out, policy.Dataset{Name: v.Name, Version: int64(v.Version), Owner: v.Org, Level: v.Level, Market: v.Market, State: v.State,
			Columns: d.Columns, Upload: v.Upload, Sharing: v.Sharing()})
		vs = append(vs, v)
	}
	if err := s.heldDatasets(ctx, c.subject.Org.Name, out); err != nil { // under an open incident (issue 18)
		return nil, nil, err
	}
	return out, vs, nil
}

// applicationFileResource checks an application and describes it to the
// policy; the handler receives the request, its start defaulted to today.
func (s *Server) applicationFileResource(ctx context.Context, c *call) (authz.Resource, api.ApplicationRequest, error) {
	var req api.ApplicationRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, req, err
	}
	ds, err := grants.ParseDatasets(req.Datasets, req.Columns)
	if err != nil {
		return authz.Resource{}, req, err
	}
	pds, _, err := s.policyDatasets(ctx, c, ds)
	if err != nil {
		return authz.Resource{}, req, err
	}
	for _, f := range []struct{ name, v string }{{"purpose", req.Purpose}, {"scenario", req.Scenario}} {
		if strings.TrimSpace(f.v) == "" || len(f.v) > 2000 {
			return authz.Resource{}, req, fmt.Errorf("%s is required (at most 2000 bytes): %w", f.name, errdefs.ErrInvalidArgument)
		}
	}
	if len(req.Conditions) > 2000 {
		return authz.Resource{}, req, fmt.Errorf("conditions are at most 2000 bytes: %w", errdefs.ErrInvalidArgument)
	}
	for _, d := range pds {
		// Issue 20 item 2: conditional sharing needs the conditions named.
		if d.Sharing == string(ingest.SharingConditional) && strings.TrimSpace(req.Conditions) == "" {
			return authz.Resource{}, req, fmt.Errorf("dataset %q is of sharing class conditional: the application must name the conditions it meets (conditions): %w",
				d.Name, errdefs.ErrInvalidArgument)
		}
	}
	if len(req.DataFlow) > 4000 {
		return authz.Resource{}, req, fmt.Errorf("data_flow is at most 4000 bytes: %w", errdefs.ErrInvalidArgument)
	}
	if req.From == "" {
		req.From = s.Now().UTC().Format(people.DateLayout)
	}
	from, err := people.ParseDate("from", req.From)
	if err != nil {
		return authz.Resource{}, req, err
	}
	if req.Until == "" {
		return authz.Resource{}, req, fmt.Errorf("until is required: %w", errdefs.ErrInvalidArgument)
	}
	until, err := people.ParseDate("until", req.Until)
	if err != nil {
		return authz.Resource{}, req, err
	}
	if until.Before(from) {
		return authz.Resource{}, req, fmt.Errorf("until must not be before from: %w", errdefs.ErrInvalidArgument)
	}
	if req.Batches != nil && *req.Batches < 1 {
		return authz.Resource{}, req, fmt.Errorf("batches must be at least 1: %w", errdefs.ErrInvalidArgument)
	}
	res := resource("application", "", c.subject.Org.Name)
	res.Owner = c.subject.Person.ID
	res.Datasets = pds
	res.Purpose, res.Scenario, res.PublicInterest = req.Purpose, req.Scenario, req.PublicInterest
	res.From, res.Until = authz.Day(req.From, false), authz.Day(req.Until, true)
	return res, req, nil
}

func (s *Server) fileApplication(ctx context.Context, c *call, req api.ApplicationRequest, _ none) (api.Application, error) {
	ds, _ := grants.ParseDatasets(req.Datasets, req.Columns)
	needed := 1
	for _, d := range c.resource.Datasets {
		if d.Level == "important" {
			needed = 2
		}
	}
	a := &grants.Application{ID: people.NewID("a_"), Org: c.subject.Org.Name, Applicant: c.subject.Person.ID, Datasets: ds,
		Purpose: req.Purpose, Scenario: req.Scenario, DataFlow: req.DataFlow, PublicInterest: req.PublicInterest,
		Conditions: strings.TrimSpace(req.Conditions), From: req.From, Until: req.Until, Batches: req.Batches, ApprovalsNeeded: needed, Status: grants.Pending,
		Decisions: []grants.Decision{}, CreatedAt: s.Now().UTC()}
	ev := audit.Event{Action: "application.file", Objects: append([]string{"application:" + a.ID}, objects(c.resource)...),
		Details: map[string]string{"from": a.From, "until": a.Until, "approvals_needed": fmt.Sprint(needed), "public_interest": fmt.Sprint(a.PublicInterest),
			"conditions_named": fmt.Sprint(a.Conditions != "")}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error { return grants.Create(ctx, tx, a) })
	if err != nil {
		return api.Application{}, err
	}
	return applicationView(a), nil
}

// applicationResource describes an application to the policy; the handler
// receives what an approval pins its grant to, the versions the policy saw
// of each dataset (nil when one no longer resolves: no grant can be made).
func (s *Server) applicationResource(ctx context.Context, c *call) (authz.Resource, map[string]grants.Pin, error) {
	a, err := grants.Get(ctx, s.DB.SQL(), c.path("id"))
	if err != nil {
		return authz.Resource{}, nil, err
	}
	var pins map[string]grants.Pin
	res := resource("application", a.ID, a.Org)
	res.Owner = a.Applicant
	res.Approvers = a.Approvers()
	pds, vs, err := s.policyDatasets(ctx, c, a.Datasets)
	if err == nil {
		res.Datasets = pds
		// What an approval pins its grant to: the versions it saw.
		pins = make(map[string]grants.Pin, len(vs))
		for i, v := range vs {
			pins[a.Datasets[i].Name] = grants.PinOf(v)
		}
	}
	res.Purpose, res.Scenario, res.PublicInterest = a.Purpose, a.Scenario, a.PublicInterest
	res.From, res.Until = authz.Day(a.From, false), authz.Day(a.Until, true)
	return res, pins, nil
}

func (s *Server) decideRoute(verb, decision string) route {
	action := "application." + verb
	return planned(route{Method: "POST", Path: "/v1/applications/{id}/" + verb, Action: action,
		Summary: strings.ToUpper(verb[:1]) + verb[1:] + " an application (an authority of another organisation than the applicant's)"},
		s.applicationResource, func(ctx context.Context, c *call, pins map[string]grants.Pin, req api.CommentRequest) (api.Application, error) {
			if len(req.Comment) > 2000 {
				return api.Application{}, fmt.Errorf("comment is at most 2000 bytes: %w", errdefs.ErrInvalidArgument)
			}
			id := c.path("id")
			var a *grants.Application
			var g *grants.Grant
			ev := audit.Event{Action: action, Objects: append([]string{"application:" + id}, objects(c.resource)[1:]...), Reason: req.Comment}
			err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
				if decision == grants.Approved {
					// Issue 20 item 2: an application filed before a dataset
					// it names became conditional (or was read as such) is
					// not approved without the conditions.
					cur, err := grants.Get(ctx, tx, id)
					if err != nil {
						return err
					}
					for _, d := range c.resource.Datasets {
						if d.Sharing == string(ingest.SharingConditional) && cur.Conditions == "" {
							return fmt.Errorf("dataset %q is of sharing class conditional and application %q names no conditions; a new application must name them: %w",
								d.Name, id, errdefs.ErrFailedPrecondition)
						}
					}
				}
				var err error
				a, g, err = grants.Decide(ctx, tx, id, c.subject.Person.ID, decision, req.Comment, s.Now(), pins)
				if err == nil {
					ev.Details = map[string]string{"status": a.Status, "approvals": fmt.Sprint(len(a.Approvers())), "approvals_needed": fmt.Sprint(a.ApprovalsNeeded)}
					if g != nil {
						// The grant takes effect with this commit: it is named here.
						ev.Objects = append(ev.Objects, "grant:"+g.ID)
						ev.Details["grant_from"], ev.Details["grant_until"] = g.From, g.Until
						ev.Details["approvers"] = strings.Join(g.Approvers, ",")
					}
				}
				return err
			})
			if err != nil {
				return api.Application{}, err
			}
			return applicationView(a), nil
		})
}
