package server

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/objections"
	"github.com/enclave-dev/enclave/enclave/people"
)

// objectionRoutes are the objections about datasets (issue 20 item 4; 001
// art. 13, 002 art. 20): anyone with a token files one about a dataset
// they see in the catalogue; the dataset's custodian organisation answers
// within 5 working days. The domain is enclave/objections. An objection's
// text and its answer are the filer's and the custodian's words: stored,
// shown to the parties, never in the audit log or a log line.
func (s *Server) objectionRoutes() []route {
	return []route{
		planned(route{Method: "POST", Path: "/v1/objections", Action: "objection.file", Created: true,
			Summary: "File an objection about a dataset you see in the catalogue; its custodian organisation answers within 5 working days",
			Request: api.ObjectionRequest{}, Response: api.Objection{}}, s.objectionFileResource, s.fileObjection),
		{Method: "GET", Path: "/v1/objections", Action: "objection.list",
			Summary:  "Objections: those your organisation filed or must answer (the bureau and the authority: every one); overdue=true keeps those open past their due time",
			Response: []api.Objection{}, Handle: s.listObjections},
		{Method: "GET", Path: "/v1/objections/{id}", Action: "objection.show", Summary: "One objection, to its filer's and its custodian's organisations, the bureau and the authority",
			Response: api.Objection{}, Resource: s.objectionResource,
			Handle: func(ctx context.Context, c *call) (any, error) {
				o, err := objections.Get(ctx, s.DB.SQL(), c.path("id"))
				if err != nil {
					return nil, err
				}
				return objectionView(o, s.Now()), nil
			}},
		{Method: "POST", Path: "/v1/objections/{id}/answer", Action: "objection.answer",
			Summary: "Answer an objection (the dataset's custodian organisation), optionally naming the corrected version of the dataset",
			Request: api.ObjectionAnswerRequest{}, Response: api.Objection{}, Resource: s.objectionResource, Handle: s.answerObjection},
	}
}

// seesAllObjections reports whether the caller sees every objection: the
// bureau (which supervises the answers' deadlines) and the authority.
func seesAllObjections(c *call) bool {
	p := c.subject.Person
	return p.HasRole(people.Bureau) || p.HasRole(people.Authority)
}

// objectionPlan is a filing checked by its resource builder.
type objectionPlan struct {
	dataset, org, text string
	missing            error
}

func (s *Server) objectionFileResource(ctx context.Context, c *call) (authz.Resource, objectionPlan, error) {
	var req api.ObjectionRequest
	if err := c.decode(&req); err != nil {
		return authz.Resource{}, objectionPlan{}, err
	}
	text, err := objections.CheckText("the objection's text", req.Text)
	if err != nil {
		return authz.Resource{}, objectionPlan{}, err
	}
	if req.Dataset == "" || len(req.Dataset) > 256 {
		return authz.Resource{}, objectionPlan{}, fmt.Errorf("an objection names a dataset (field \"dataset\"): %w", errdefs.ErrInvalidArgument)
	}
	// A dataset the caller does not see in the catalogue (an upload of
	// another organisation) is answered like one never imported.
	missing := fmt.Errorf("dataset %q: not found or not yours: %w", req.Dataset, errdefs.ErrNotFound)
	vs, err := s.Catalog.Versions(ctx, s.DB.SQL(), req.Dataset)
	if err != nil && !errdefs.IsNotFound(err) {
		return authz.Resource{}, objectionPlan{}, err
	}
	seen := false
	for _, v := range vs {
		seen = seen || s.visible(c, v)
	}
	owner := ""
	if seen {
		if owner, err = s.Catalog.Owner(ctx, s.DB.SQL(), req.Dataset); err != nil && !errdefs.IsNotFound(err) {
			return authz.Resource{}, objectionPlan{}, err
		}
	}
	if owner == "" {
		return resource("objection", "", c.subject.Org.Name), objectionPlan{missing: missing}, nil
	}
	return resource("objection", "", owner), objectionPlan{dataset: req.Dataset, org: owner, text: text}, nil
}

func (s *Server) fileObjection(ctx context.Context, c *call, plan objectionPlan, _ none) (any, error) {
	if plan.missing != nil {
		return nil, plan.missing
	}
	id := people.NewID("obj_")
	var o *objections.Objection
	ev := audit.Event{Action: c.route.Action, Objects: []string{"objection:" + id, "dataset:" + plan.dataset}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		var err error
		o, err = objections.File(ctx, tx, id, plan.dataset, plan.org, c.subject.Person.ID, c.subject.Org.Name, plan.text, s.Now())
		if err != nil {
			return err
		}
		// Never the text: it is the filer's words.
		ev.Details = map[string]string{"custodian_org": o.Org, "due_at": o.DueAt.Format(time.RFC3339)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return objectionView(o, s.Now()), nil
}

func (s *Server) listObjections(ctx context.Context, c *call) (any, error) {
	f := objections.Filter{Now: s.Now()}
	switch c.query("overdue") {
	case "", "false":
	case "true":
		f.Overdue = true
	default:
		return nil, fmt.Errorf("query parameter \"overdue\" must be true or false: %w", errdefs.ErrInvalidArgument)
	}
	if !seesAllObjections(c) {
		f.Party = c.subject.Org.Name
	}
	os, err := objections.List(ctx, s.DB.SQL(), f)
	if err != nil {
		return nil, err
	}
	out := make([]api.Objection, len(os))
	for i, o := range os {
		out[i] = objectionView(o, f.Now)
	}
	return out, nil
}

// objectionResource is an objection of its custodian organisation. One
// that is neither filed by nor to be answered by the caller's organisation
// is, but for the bureau and the authority, "not found or not yours", like
// one that does not exist.
func (s *Server) objectionResource(ctx context.Context, c *call) (authz.Resource, error) {
	o, err := objections.Get(ctx, s.DB.SQL(), c.path("id"))
	if err != nil {
		return authz.Resource{}, err
	}
	org := c.subject.Org.Name
	if !seesAllObjections(c) && o.Org != org && o.FilerOrg != org {
		return authz.Resource{}, fmt.Errorf("objection %q: not found or not yours: %w", o.ID, errdefs.ErrNotFound)
	}
	return resource("objection", o.ID, o.Org), nil
}

func (s *Server) answerObjection(ctx context.Context, c *call) (any, error) {
	var req api.ObjectionAnswerRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	id := c.path("id")
	var o *objections.Objection
	ev := audit.Event{Action: c.route.Action, Objects: []string{"objection:" + id}}
	err := c.change(ctx, &ev, func(ctx context.Context, tx dbtx) error {
		if req.CorrectedVersion > 0 && s.Catalog == nil {
			return fmt.Errorf("no catalogue: %w", errdefs.ErrFailedPrecondition)
		}
		var err error
		o, err = objections.Answer(ctx, tx, id, c.subject.Org.Name, c.subject.Person.ID, req.Text, req.CorrectedVersion, s.Now())
		if err != nil {
			return err
		}
		ev.Objects = append(ev.Objects, "dataset:"+o.Dataset)
		if o.CorrectedVersion > 0 {
			ev.Objects = append(ev.Objects, fmt.Sprintf("dataset:%s@%d", o.Dataset, o.CorrectedVersion))
		}
		// Never the answer's text.
		ev.Details = map[string]string{"due_at": o.DueAt.Format(time.RFC3339), "late": fmt.Sprint(o.AnsweredAt.After(o.DueAt) || o.AnsweredAt.Equal(o.DueAt))}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return objectionView(o, s.Now()), nil
}

func objectionView(o *objections.Objection, now time.Time) api.Objection {
	return api.Objection{ID: o.ID, Dataset: o.Dataset, Org: o.Org, Text: o.Text, FiledBy: o.FiledBy, FilerOrg: o.FilerOrg,
		FiledAt: o.FiledAt, DueAt: o.DueAt, State: o.StateAt(now), Answer: o.Answer, AnsweredBy: o.AnsweredBy, AnsweredAt: o.AnsweredAt,
		CorrectedVersion: o.CorrectedVersion}
}
