package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/incidents"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
	policy "github.com/enclave-dev/enclave/policies"
)

// incidentRoutes are the incident register and workflow (issue 18 item
// 4): report, list, show, close, and the bureau's halt of every job of an
// organisation or a dataset. The domain is enclave/incidents.
func (s *Server) incidentRoutes() []route {
	return []route{
		planned(route{Method: "POST", Path: "/v1/incidents", Action: "incident.report", Created: true,
			Summary: "Report an incident on a job, a dataset or a grant (operators: their own organisation's work); the jobs that use it stop and no new ones start until the authority closes it",
			Request: api.IncidentRequest{}}, s.incidentReportResource, s.reportIncident),
		{Method: "GET", Path: "/v1/incidents", Action: "incident.list", Summary: "The incident register; filters: state (open, closed), org",
			Response: []api.Incident{}, Handle: func(ctx context.Context, c *call) (any, error) {
				st := c.query("state")
				if st != "" && st != incidents.Open && st != incidents.Closed {
					return nil, fmt.Errorf("query parameter \"state\" must be open or closed: %w", errdefs.ErrInvalidArgument)
				}
				ins, err := incidents.List(ctx, s.DB.SQL(), incidents.Filter{State: st, Org: c.query("org")})
				if err != nil {
					return nil, err
				}
				out := make([]api.Incident, len(ins))
				for i, in := range ins {
					out[i] = incidentView(in)
				}
				return out, nil
			}},
		{Method: "GET", Path: "/v1/incidents/{id}", Action: "incident.show", Summary: "One incident: who, what, when, the affected data, the decision",
			Response: api.Incident{}, Resource: s.incidentResource,
			Handle: func(ctx context.Context, c *call) (any, error) {
				in, err := incidents.Get(ctx, s.DB.SQL(), c.path("id"))
				if err != nil {
					return nil, err
				}
				return incidentView(in), nil
			}},
		planned(route{Method: "POST", Path: "/v1/incidents/{id}/close", Action: "incident.close", Summary: "Close an incident with the authority's decision: its holds are lifted"},
			s.incidentResourceOf, s.closeIncident),
		planned(route{Method: "POST", Path: "/v1/jobs/halt", Action: "job.halt_all",
			Summary: "Halt every job of an organisation or of a dataset at once (bureau, emergency response): opens an incident on it",
			Request: api.HaltAllRequest{}, Created: true}, s.haltAllResource, s.reportIncident),
	}
}

// incidentPlan is a report decoded and resolved by its resource builder.
type incidentPlan struct {
	target incidents.Target
	scope  string
	reason string
	// missing is the error of a target that is not the operator's own
	// work or does not exist; the handler answers it.
	missing error
}

// reportScope is the organisation an operator may report on, "" for
// officers and the bureau, who report on anything.
func reportScope(c *call) string {
	p := c.subject.Person
	if p.HasRole(people.Officer) || p.HasRole(people.Bureau) {
		return ""
	}
	return c.subject.Org.Name
}

func (s *Server) incidentReportResource(ctx context.Context, c *call) (authz.Resource, incidentPlan, error) {
	var req api.IncidentRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, incidentPlan{}, err
	}
	t, err := incidents.ParseTarget(req.Job, req.Dataset, req.Grant, "")
	if err != nil {
		return authz.Resource{}, incidentPlan{}, err
	}
	return s.resolveReport(ctx, c, t, req.Reason)
}

func (s *Server) haltAllResource(ctx context.Context, c *call) (authz.Resource, incidentPlan, error) {
	var req api.HaltAllRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, incidentPlan{}, err
	}
	t, err := incidents.ParseTarget("", req.Dataset, "", req.Org)
	if err != nil {
		return authz.Resource{}, incidentPlan{}, err
	}
	return s.resolveReport(ctx, c, t, req.Reason)
}

// resolveReport checks the reason and resolves the target: one that does
// not exist, or that an operator may not name, is "not found or not
// yours" (the router then asks the policy about the bare noun, so that a
// caller who may not report learns nothing).
func (s *Server) resolveReport(ctx context.Context, c *call, t incidents.Target, reason string) (authz.Resource, incidentPlan, error) {
	reason, err := incidents.CheckText("reason", reason)
	if err != nil {
		return authz.Resource{}, incidentPlan{}, err
	}
	scope := reportScope(c)
	org, a, err := incidents.Resolve(ctx, s.DB.SQL(), t, scope)
	if scope != "" && errdefs.IsNotFound(err) {
		// An operator may report on its own organisation's work: the
		// policy decides on that, and a target that is not its own, or
		// does not exist, is "not found or not yours" alike.
		res := resource("incident", "", scope)
		res.Owner = c.subject.Person.ID
		return res, incidentPlan{missing: err}, nil
	}
	if err != nil {
		return authz.Resource{}, incidentPlan{}, err
	}
	if scope != "" {
		org = scope // the operator's own work (Resolve checked it)
	}
	res := resource("incident", "", org)
	res.Owner = c.subject.Person.ID
	for _, d := range a.Datasets {
		name, _, _ := strings.Cut(d, "@")
		res.Datasets = append(res.Datasets, policy.Dataset{Name: name})
	}
	return res, incidentPlan{target: t, scope: scope, reason: reason}, nil
}

func (s *Server) incidentResource(ctx context.Context, c *call) (authz.Resource, error) {
	in, err := incidents.Get(ctx, s.DB.SQL(), c.path("id"))
	if err != nil {
		return authz.Resource{}, err
	}
	return resource("incident", in.ID, in.Org), nil
}

// incidentResourceOf is incidentResource for a typed route: the incident
// it read goes to the handler.
func (s *Server) incidentResourceOf(ctx context.Context, c *call) (authz.Resource, *incidents.Incident, error) {
	in, err := incidents.Get(ctx, s.DB.SQL(), c.path("id"))
	if err != nil {
		return authz.Resource{}, nil, err
	}
	return resource("incident", in.ID, in.Org), in, nil
}

// reportIncident opens an incident, then stops the jobs it stops, each on
// the audit log before it is stopped.
func (s *Server) reportIncident(ctx context.Context, c *call, plan incidentPlan, _ none) (api.Incident, error) {
	if plan.missing != nil {
		return api.Incident{}, plan.missing
	}
	id := people.NewID("inc_")
	var in *incidents.Incident
	var stop []string
	ev := audit.Event{Action: c.route.Action, Reason: plan.reason}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		var err error
		in, err = incidents.Report(ctx, tx, id, plan.target, plan.scope, c.subject.Person.ID, c.subject.Org.Name, plan.reason, s.Now())
		if err != nil {
			return err
		}
		if stop, err = incidents.Stop(ctx, tx, in); err != nil {
			return err
		}
		if err := incidents.RecordStopped(ctx, tx, id, stop); err != nil {
			return err
		}
		in.Stopped = stop
		ev.Objects = in.Objects()
		ev.Details = map[string]string{"target": in.Target.String(), "stopped": strings.Join(stop, ","),
			"reported_at": in.ReportedAt.Format(time.RFC3339)}
		return nil
	})
	if err != nil {
		return api.Incident{}, err
	}
	s.stopJobs(ctx, c, stop, "incident "+id+": "+plan.reason, "incident:"+id)
	return incidentView(in), nil
}

func (s *Server) closeIncident(ctx context.Context, c *call, _ *incidents.Incident, req api.DecisionRequest) (api.Incident, error) {
	id := c.path("id")
	var in *incidents.Incident
	ev := audit.Event{Action: "incident.close", Objects: []string{"incident:" + id}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		var err error
		in, err = incidents.Close(ctx, tx, id, c.subject.Person.ID, req.Decision, s.Now())
		if err != nil {
			return err
		}
		ev.Objects = in.Objects()
		ev.Reason = in.Decision
		ev.Details = map[string]string{"target": in.Target.String(), "released_grants": strings.Join(in.Affected.Grants, ",")}
		return nil
	})
	if err != nil {
		return api.Incident{}, err
	}
	return incidentView(in), nil
}

// stopJobs stops jobs that lost their basis or are held: each stop is on
// the audit log (job.stop, naming cause) before the job is cancelled; a
// job that ended meanwhile is left as it is.
func (s *Server) stopJobs(ctx context.Context, c *call, ids []string, why, cause string) {
	if s.Jobs == nil {
		return
	}
	for _, id := range ids {
		ev := audit.Event{Action: "job.stop", Outcome: "ok", Objects: []string{"job:" + id, cause}, Reason: why}
		if err := c.record(context.WithoutCancel(ctx), ev); err != nil {
			s.Log.Error("audit a job stop", "job", id, "err", err)
			continue
		}
		if err := s.Jobs.Cancel(context.WithoutCancel(ctx), id, why); err != nil && !errdefs.IsFailedPrecondition(err) {
			s.Log.Error("stop job", "job", id, "err", err)
		}
	}
}

func incidentView(in *incidents.Incident) api.Incident {
	return api.Incident{ID: in.ID, Target: api.IncidentTarget{Kind: in.Target.Kind, ID: in.Target.ID}, Org: in.Org, Reason: in.Reason,
		ReportedBy: in.ReportedBy, ReporterOrg: in.ReporterOrg, ReportedAt: in.ReportedAt,
		Affected: api.IncidentAffected{Datasets: in.Affected.Datasets, Grants: in.Affected.Grants, Jobs: in.Affected.Jobs, Orgs: in.Affected.Orgs},
		Stopped:  in.Stopped, State: in.State, Decision: in.Decision, ClosedBy: in.ClosedBy, ClosedAt: in.ClosedAt}
}

// heldDatasets shows the policies each dataset under an open incident as
// "held" (issue 18): no job reads it and no application names it until
// the authority closes the incident.
func (s *Server) heldDatasets(ctx context.Context, org string, ds []policy.Dataset) error {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Name
	}
	held, err := incidents.HeldDatasets(ctx, s.DB.SQL(), org, names)
	if err != nil {
		return err
	}
	for i := range ds {
		if _, ok := held[ds[i].Name]; ok && ds[i].State == "active" {
			ds[i].State = "held"
		}
	}
	return nil
}

// exportStands checks, at the moment of an approval or a release, that
// what the export was made under still stands (issue 18 item 1): the
// requesting organisation is active and licensed, every grant its job ran
// under approved and in its period, and no open incident holds the job,
// its grants, its datasets or its organisation. A refusal is
// ErrFailedPrecondition naming what no longer stands.
func (s *Server) exportStands(ctx context.Context, q store.Querier, e *exports.Export) error {
	j, err := jobs.Get(ctx, q, e.Job)
	if err != nil {
		return fmt.Errorf("the job of export %q: %w", e.ID, err)
	}
	if err := s.jobStands(ctx, q, e.Org, j); err != nil {
		return fmt.Errorf("export %q cannot be approved or released: %w", e.ID, err)
	}
	return nil
}

// jobStands checks that the work of job j still stands for organisation
// org: see exportStands. An export request of it is refused the same way.
func (s *Server) jobStands(ctx context.Context, q store.Querier, org string, j *jobs.Job) error {
	var gs, ds []string
	for _, g := range j.Grants {
		gs = append(gs, g)
	}
	for _, in := range j.Inputs {
		ds = append(ds, in.Dataset)
	}
	if err := grants.CheckStanding(ctx, q, org, gs, s.Now()); err != nil {
		return err
	}
	return incidents.CheckClear(ctx, q, j.ID, j.Org, gs, ds)
}
