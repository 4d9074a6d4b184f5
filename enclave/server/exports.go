package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/release"
	policy "github.com/enclave-dev/enclave/policies"
)

func init() { registerRoutes("60-exports", (*Server).exportRoutes) }

func (s *Server) exportRoutes() []route {
	if s.Exports == nil || s.Jobs == nil {
		return nil
	}
	exportRes := func(ctx context.Context, c *call) (authz.Resource, error) {
		e, err := exports.Get(ctx, s.DB.SQL(), c.path("id"))
		if err != nil {
			return authz.Resource{}, err
		}
		c.body = e
		res := resource("export", e.ID, e.Org)
		res.Owner = e.Requester
		if j, err := jobs.Get(ctx, s.DB.SQL(), e.Job); err == nil {
			s.jobDatasets(c, &res, j)
		}
		return res, nil
	}
	listRes := func(ctx context.Context, c *call) (authz.Resource, error) {
		return resource("export", "", c.subject.Org.Name), nil
	}
	seesAll := func(c *call) string {
		if c.subject.Person.HasRole(people.Officer) || c.subject.Person.HasRole(people.Bureau) || c.subject.Person.HasRole(people.Authority) {
			return ""
		}
		return c.subject.Org.Name
	}
	return []route{
		{Method: "POST", Path: "/v1/exports", Action: "export.request",
			Summary: "Ask to take outputs of a finished job out: the files are frozen by hash and the egress checks run", Request: api.ExportRequest{},
			Response: exports.Export{}, Created: true, Resource: s.exportRequestResource, Handle: s.requestExport},
		{Method: "GET", Path: "/v1/exports", Action: "export.show", Summary: "List export requests: an operator's own organisation's, every one for officers and the bureau",
			Response: []exports.Export{}, Resource: listRes,
			Handle: func(ctx context.Context, c *call) (any, error) {
				es, err := exports.List(ctx, s.DB.SQL(), seesAll(c), false)
				return exportViews(c, es), err
			}},
		{Method: "GET", Path: "/v1/exports/{id}", Action: "export.show", Summary: "One export request: every check with its verdict and evidence, the reviews",
			Response: exports.Export{}, Resource: exportRes, Handle: func(ctx context.Context, c *call) (any, error) {
				e := c.body.(*exports.Export)
				return e.ForReader(exactView(c, e.Org)), nil
			}},
		s.exportDecideRoute("approve", "export.approve", exports.Approve, exportRes),
		s.exportDecideRoute("reject", "export.reject", exports.Reject, exportRes),
		s.exportDecideRoute("request-changes", "export.reject", exports.RequestChanges, exportRes),
		{Method: "GET", Path: "/v1/exports/{id}/download", Action: "export.download", Summary: "Download the signed release bundle of a released export (the requesting organisation only)",
			Resource: exportRes, Handle: s.downloadRelease},
		{Method: "GET", Path: "/v1/releases", Action: "release.list", Summary: "The product register: every release (R-15)", Response: []exports.Export{}, Resource: listRes,
			Handle: func(ctx context.Context, c *call) (any, error) {
				es, err := exports.List(ctx, s.DB.SQL(), seesAll(c), true)
				return exportViews(c, es), err
			}},
	}
}

// exportViews maps exports to what the caller may see of each.
func exportViews(c *call, es []*exports.Export) []*exports.Export {
	out := make([]*exports.Export, len(es))
	for i, e := range es {
		out[i] = e.ForReader(exactView(c, e.Org))
	}
	return out
}

// jobDatasets describes a job's inputs for the policy and sets the call's
// retention class.
func (s *Server) jobDatasets(c *call, res *authz.Resource, j *jobs.Job) {
	for _, in := range j.Inputs {
		res.Datasets = append(res.Datasets, policy.Dataset{Name: in.Dataset, Version: int64(in.Version), Level: in.Level, Market: in.Market, State: "active"})
		if in.Market == "authorized" || in.Market == "withheld" {
			c.retention = audit.Retention5y
		}
	}
}

type exportPlan struct {
	req api.ExportRequest
	job *jobs.Job
}

func (s *Server) exportRequestResource(ctx context.Context, c *call) (authz.Resource, error) {
	var req api.ExportRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, err
	}
	if strings.TrimSpace(req.Purpose) == "" || len(req.Purpose) > 2000 {
		return authz.Resource{}, fmt.Errorf("purpose is required (at most 2000 bytes): %w", errdefs.ErrInvalidArgument)
	}
	j, err := jobs.Get(ctx, s.DB.SQL(), req.Job)
	if err != nil {
		return authz.Resource{}, err
	}
	res := resource("export", "", j.Org)
	res.Owner = c.subject.Person.ID
	s.jobDatasets(c, &res, j)
	res.Purpose, res.Scenario = req.Purpose, req.Scenario
	c.body = exportPlan{req: req, job: j}
	return res, nil
}

func (s *Server) requestExport(ctx context.Context, c *call) (any, error) {
	plan := c.body.(exportPlan)
	req, j := plan.req, plan.job
	if j.State != jobs.Complete {
		return nil, fmt.Errorf("job %q is %s; only the outputs of a complete job can be exported: %w", j.ID, j.State, errdefs.ErrFailedPrecondition)
	}
	// The scenario must be the one the data was granted for.
	scenario := ""
	for _, gid := range j.Grants {
		g, err := grants.GetGrant(ctx, s.DB.SQL(), gid)
		if err != nil {
			return nil, err
		}
		if scenario != "" && g.Scenario != scenario {
			return nil, fmt.Errorf("the job's grants name different scenarios; export per scenario is not possible: %w", errdefs.ErrFailedPrecondition)
		}
		scenario = g.Scenario
	}
	if req.Scenario == "" {
		req.Scenario = scenario
	}
	if req.Scenario != scenario {
		return nil, fmt.Errorf("scenario %q does not match the scenario the data was granted for: %w", req.Scenario, errdefs.ErrInvalidArgument)
	}
	id := people.NewID("x_")
	e, err := s.Exports.Prepare(ctx, id, j, j.Org, c.subject.Person.ID,
		exports.Request{Files: req.Files, Purpose: req.Purpose, Scenario: req.Scenario, Declared: req.Declare}, s.Now())
	if err != nil {
		return nil, err
	}
	ev := audit.Event{Action: "export.request", Objects: append([]string{"export:" + id, "job:" + j.ID}, objects(c.resource)...),
		Details: map[string]string{"verdict": string(e.Result.Verdict), "state": e.State, "files": fmt.Sprint(len(e.Files)),
			"approvals_needed": fmt.Sprint(e.ApprovalsNeeded)}}
	for i, f := range e.Files {
		ev.Details[fmt.Sprintf("file%d_sha256", i)] = f.SHA256
	}
	for _, cr := range e.Result.Checks {
		ev.Details["check:"+cr.Name] = cr.Version + " " + string(cr.Verdict)
	}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error { return exports.Insert(ctx, tx, e) })
	if err != nil {
		s.Exports.Discard(id)
		return nil, err
	}
	return e.ForReader(exactView(c, e.Org)), nil
}

func (s *Server) exportDecideRoute(verb, action, decision string, res func(context.Context, *call) (authz.Resource, error)) route {
	return route{Method: "POST", Path: "/v1/exports/{id}/" + verb, Action: action,
		Summary: "An officer of another organisation than the requester's decides: " + verb, Request: api.ReviewRequest{},
		Response: exports.Export{}, Resource: res,
		Handle: func(ctx context.Context, c *call) (any, error) {
			var req api.ReviewRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			if len(req.Comment) > 2000 || len(req.Justification) > 4000 {
				return nil, fmt.Errorf("comment or justification too long: %w", errdefs.ErrInvalidArgument)
			}
			id := c.path("id")
			var e *exports.Export
			var ready bool
			ev := audit.Event{Action: action, Objects: []string{"export:" + id}, Reason: req.Comment,
				Details: map[string]string{"decision": decision}}
			if req.Justification != "" {
				ev.Details["justification_given"] = "true"
			}
			err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
				var err error
				e, ready, err = exports.Decide(ctx, tx, id, exports.Review{Person: c.subject.Person.ID, Org: c.subject.Org.Name,
					Decision: decision, Comment: req.Comment, Justification: req.Justification, Time: s.Now().UTC()})
				if err == nil {
					ev.Details["state"] = e.State
					ev.Details["approvals"] = fmt.Sprint(e.Approvals())
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			if ready {
				if e, err = s.releaseExport(ctx, c, e); err != nil {
					return nil, err
				}
			}
			return e.ForReader(exactView(c, e.Org)), nil
		}}
}

// releaseExport builds the signed bundle of an approved export and records
// the release.
func (s *Server) releaseExport(ctx context.Context, c *call, e *exports.Export) (*exports.Export, error) {
	j, err := jobs.Get(ctx, s.DB.SQL(), e.Job)
	if err != nil {
		return nil, err
	}
	pred := release.Predicate{Release: "r_" + strings.TrimPrefix(e.ID, "x_"), Export: e.ID, Org: e.Org, Requester: e.Requester,
		Purpose: e.Purpose, Scenario: e.Scenario, Grants: j.Grants, PolicyRevision: j.Revision, Verdict: string(e.Result.Verdict),
		Overridden: e.State == exports.ChecksFailed, RequestedAt: e.CreatedAt, ReleasedAt: s.Now().UTC(), Keyring: s.Keyring.Name(),
		Job: release.Job{ID: j.ID, Image: j.Image, Command: j.Args, ExitCode: j.ExitCode}}
	if j.EndedAt != nil {
		pred.Job.Ended = j.EndedAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	for _, in := range j.Inputs {
		ri := release.Input{Dataset: in.Dataset, Version: in.Version, Level: in.Level, Market: in.Market}
		if v, err := s.Catalog.Get(ctx, nil, in.Dataset, in.Version); err == nil {
			ri.Marks = v.Marks
		}
		pred.Inputs = append(pred.Inputs, ri)
	}
	for _, cr := range e.Result.Checks {
		pred.Checks = append(pred.Checks, release.Check{Name: cr.Name, Version: cr.Version, Verdict: string(cr.Verdict)})
	}
	for _, r := range e.Reviews {
		if r.Decision == exports.Approve {
			pred.Approvals = append(pred.Approvals, release.Approval{Person: r.Person, Org: r.Org, Time: r.Time, Comment: r.Comment, Justification: r.Justification})
		}
	}
	sum, err := s.Exports.Release(ctx, e, j, pred)
	if err != nil {
		return nil, err
	}
	ev := audit.Event{Action: "export.release", Objects: []string{"export:" + e.ID, "release:" + pred.Release, "job:" + j.ID},
		Details: map[string]string{"bundle_sha256": sum, "approvals": fmt.Sprint(len(pred.Approvals)), "overridden": fmt.Sprint(pred.Overridden)}}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		return exports.MarkReleased(ctx, tx, e.ID, sum, pred.ReleasedAt)
	})
	if err != nil {
		return nil, err
	}
	return exports.Get(ctx, s.DB.SQL(), e.ID)
}

func (s *Server) downloadRelease(ctx context.Context, c *call) (any, error) {
	e := c.body.(*exports.Export)
	if e.State != exports.Released {
		return nil, fmt.Errorf("export %q is %s, not released: %w", e.ID, e.State, errdefs.ErrFailedPrecondition)
	}
	f, err := os.Open(s.Exports.BundlePath(e.ID))
	if err != nil {
		return nil, fmt.Errorf("release bundle of %q: %w", e.ID, errdefs.ErrNotFound)
	}
	defer f.Close()
	c.raw = true
	c.w.Header().Set("Content-Type", "application/x-tar")
	c.w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", e.ID+".tar"))
	c.w.Header().Set("X-Bundle-Sha256", e.BundleSHA256)
	c.w.WriteHeader(http.StatusOK)
	io.Copy(c.w, f)
	return nil, nil
}
