package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/containerd/errdefs"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/people"
	policy "github.com/enclave-dev/enclave/policies"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

func (s *Server) policyRoutes() []route {
	return []route{
		{Method: "GET", Path: "/v1/policy/explain", Action: "policy.explain",
			Summary:  "What the policies would decide for a person (?as=PERSON&action=ACTION&dataset=NAME...&image=DIGEST), with every reason, without acting; and the thresholds the egress checks apply (data.enclave.egress_thresholds)",
			Response: api.Explanation{}, Handle: s.explain},
	}
}

func (s *Server) explain(ctx context.Context, c *call) (any, error) {
	q := c.r.URL.Query()
	as, action := q.Get("as"), q.Get("action")
	if as == "" || action == "" {
		return nil, fmt.Errorf("as (a person id) and action are required: %w", errdefs.ErrInvalidArgument)
	}
	p, err := people.GetPerson(ctx, s.DB.SQL(), as)
	if err != nil {
		return nil, err
	}
	o, err := people.GetOrg(ctx, s.DB.SQL(), p.Org)
	if err != nil {
		return nil, err
	}
	subject := people.Subject{Person: p, Org: o}
	res := resource(action, "", o.Name)
	res.Owner = p.ID
	var refs []grants.Dataset
	for _, d := range q["dataset"] {
		refs = append(refs, grants.Dataset{Name: d})
	}
	if len(refs) > 0 && s.Catalog != nil {
		pds, vs, err := s.policyDatasets(ctx, c, refs)
		if err != nil {
			return nil, err
		}
		for i, v := range vs {
			for _, col := range v.Columns {
				pds[i].Columns = append(pds[i].Columns, col.Name)
			}
		}
		if err := s.heldDatasets(ctx, o.Name, pds); err != nil { // held for the person's organisation (issue 18)
			return nil, err
		}
		res.Datasets = pds
	}
	if img := q.Get("image"); img != "" {
		res.Image = &policy.Image{Digest: img, Status: "unknown"}
		if im, err := jobs.GetImage(ctx, s.DB.SQL(), img); err == nil {
			res.Image.Status = im.Status
		}
	} else if action == "job.run" {
		// Explain the data rules; the image is a separate question.
		res.Image = &policy.Image{Digest: "sha256:" + fmt.Sprintf("%064d", 0), Status: "approved"}
	}
	if action == "job.run" {
		gs, err := grants.ForOrg(ctx, s.DB.SQL(), o.Name)
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			res.Grants = append(res.Grants, g.Policy())
		}
		running, cpu, err := jobs.OrgUsage(ctx, s.DB.SQL(), o.Name, s.Now())
		if err == nil {
			res.Usage = policy.Usage{RunningJobs: running, CPUSecondsMonth: cpu}
		}
		l := sandbox.DefaultLimits()
		res.Request = policy.Request{CPU: l.CPUs, MemoryBytes: l.MemoryBytes}
	}
	d, err := s.Authz.Authorize(ctx, subject, action, res)
	if err != nil {
		return nil, err
	}
	x := api.Explanation{As: as, Action: action, Datasets: q["dataset"], Decision: apiDecision(d)}
	if s.Exports != nil {
		if x.EgressThresholds, err = thresholdsOf(s.Exports.Params.Effective()); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// apiDecision is d as the API shows it.
func apiDecision(d policy.Decision) api.Decision {
	out := api.Decision{Allow: d.Allow, Reasons: make([]api.Reason, len(d.Reasons)), Grants: d.Grants, Revision: d.Revision}
	for i, r := range d.Reasons {
		out.Reasons[i] = api.Reason{Rule: r.Rule, Message: r.Message}
	}
	return out
}

// thresholdsOf lists the parameters of the egress checks by their JSON
// names, which are the keys of the policies' data.enclave.egress_thresholds.
func thresholdsOf(p review.Params) (map[string]float64, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var m map[string]float64
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
