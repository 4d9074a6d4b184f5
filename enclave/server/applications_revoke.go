package server

import (
	"context"
	"strings"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/incidents"
	"github.com/enclave-dev/enclave/enclave/people"
	policy "github.com/enclave-dev/enclave/policies"
)

// grantEndRoutes end grants (issue 18 item 1). An organisation's
// suspension, blacklisting or revocation ends or holds its grants in the
// transaction that records it (grants.FollowOrg, from the organisation's
// status route); the term sweeper expires grants whose period or licence
// is over.
func (s *Server) grantEndRoutes() []route {
	return []route{
		planned(route{Method: "POST", Path: "/v1/applications/{id}/revoke", Action: "application.revoke",
			Summary: "Revoke the grant of an application (ID: the application's or the grant's), with a reason: jobs under it stop, its exports are no longer approved or released, what it derived is destroyed after the grace period"},
			s.grantResource, s.revokeGrant),
		planned(route{Method: "GET", Path: "/v1/grants/{id}/standing", Action: "application.list", Op: "grant.standing",
			Summary: "A grant's status, how it ended (who, why, when) and what holds it suspended (its organisation's suspension, open incidents)"},
			s.grantResource, func(ctx context.Context, c *call, g *grants.Grant, _ none) (api.GrantStanding, error) {
				st, err := grants.Show(ctx, s.DB.SQL(), g.ID)
				if err != nil {
					return api.GrantStanding{}, err
				}
				out := api.GrantStanding{Grant: st.ID, Application: st.Application, Org: st.Org, Status: st.Status, From: st.From, Until: st.Until,
					Holds: []api.GrantHold{}}
				if e := st.End; e != nil {
					out.End = &api.GrantEnd{Status: e.Status, Reason: e.Reason, By: e.By, At: e.At}
				}
				for _, h := range st.Holds {
					out.Holds = append(out.Holds, api.GrantHold{Cause: h.Cause, Reason: h.Reason, By: h.By, At: h.At})
				}
				return out, nil
			}),
	}
}

func (s *Server) grantResource(ctx context.Context, c *call) (authz.Resource, *grants.Grant, error) {
	g, err := grants.Resolve(ctx, s.DB.SQL(), c.path("id"))
	if err != nil {
		return authz.Resource{}, nil, err
	}
	res := resource("grant", g.ID, g.Org)
	for _, d := range g.Datasets {
		res.Datasets = append(res.Datasets, policy.Dataset{Name: d.Name, Version: int64(d.Version)})
	}
	return res, g, nil
}

func (s *Server) revokeGrant(ctx context.Context, c *call, g *grants.Grant, req api.ReasonRequest) (api.GrantRevoked, error) {
	reason, err := incidents.CheckText("reason", req.Reason)
	if err != nil {
		return api.GrantRevoked{}, err
	}
	now := s.Now().UTC()
	var stop []string
	ev := audit.Event{Action: "application.revoke", Objects: []string{"application:" + g.Application, "grant:" + g.ID, "org:" + g.Org}, Reason: reason}
	err = c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		if _, err := grants.EndGrant(ctx, tx, g.ID, grants.Revoked, c.subject.Person.ID, reason, now); err != nil {
			return err
		}
		var err error
		stop, err = grantJobs(ctx, tx, g.ID)
		ev.Details = map[string]string{"status": grants.Revoked, "stopped": strings.Join(stop, ",")}
		return err
	})
	if err != nil {
		return api.GrantRevoked{}, err
	}
	s.stopJobs(ctx, c, stop, "grant "+g.ID+" revoked: "+reason, "grant:"+g.ID)
	if stop == nil {
		stop = []string{}
	}
	return api.GrantRevoked{Grant: g.ID, Application: g.Application, Org: g.Org, Status: grants.Revoked, Reason: reason,
		EndedBy: c.subject.Person.ID, EndedAt: now, Stopped: stop}, nil
}

// grantJobs lists the jobs under a grant that have not ended.
func grantJobs(ctx context.Context, q dbtx, grant string) ([]string, error) {
	return incidents.Stop(ctx, q, &incidents.Incident{Target: incidents.Target{Kind: incidents.Grant, ID: grant}})
}

// followOrg makes an organisation's grants follow a change of its status,
// in the transaction that records the change, and names what it did in
// the change's audit entry.
func (s *Server) followOrg(ctx context.Context, c *call, tx dbtx, org string, to people.OrgStatus, reason string, ev *audit.Event) error {
	ch, err := grants.FollowOrg(ctx, tx, org, to, c.subject.Person.ID, reason, s.Now())
	if err != nil {
		return err
	}
	if ev.Details == nil {
		ev.Details = map[string]string{}
	}
	for k, ids := range map[string][]string{"grants_held": ch.Held, "grants_released": ch.Released, "grants_ended": ch.Ended} {
		if len(ids) > 0 {
			ev.Details[k] = strings.Join(ids, ",")
		}
		for _, id := range ids {
			ev.Objects = append(ev.Objects, "grant:"+id)
		}
	}
	return nil
}
