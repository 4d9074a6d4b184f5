package opa

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa/vm"
)

// Specialization. Most of the policies' rules start with
// `input.action == "..."`, and the role table is a constant, so for one
// action most of the work of an evaluation is known before the request
// arrives. When the engine loads, it partially evaluates
// data.enclave.decision for every action of policy.Actions, with
// input.action set to that action and every other field of the input
// unknown (OPA's partial evaluation, which keeps the semantics of the
// policies), compiles the residuals' support rules together with the
// policies once, and prepares one residual query per action. A request of
// the action evaluates the residual, on an input built with only the
// fields the residual can read (readFields), which for most actions is a
// handful.
//
// The input the engine builds always has exactly the fields of
// policy.Input, so treating a top-level field that is not one of them as
// absent during partial evaluation is what evaluation would find too.
//
// An action that has a plan (planned.go) needs no residual in topdown.
// A residual is used only after it decided a set of probe requests of its
// action (allowed and denied, of every role) exactly as the whole policies
// do on the whole input; the check runs on the action's first request. An
// action whose partial evaluation fails, yields other than one query, or
// disagrees on a probe keeps the whole policies; so does any action not in
// policy.Actions.

// decisionVar binds the decision in residual queries.
const decisionVar = "decision"

// unknownFields are the top-level fields of the input that partial
// evaluation leaves unknown: all but "action".
var unknownFields = func() []string {
	var out []string
	t := reflect.TypeOf(policy.Input{})
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("json")
		if name == "" || name == "-" || name == "action" {
			continue
		}
		out = append(out, "input."+name)
	}
	return out
}()

// specialized is the residual of one action. It is checked against the
// whole policies on first use.
type specialized struct {
	query  *rego.PreparedEvalQuery
	fields *fields // of the input the residual reads
	check  checked
}

// forAction returns the residual query of action, or nil when the action
// keeps the whole policies.
func (e *Engine) forAction(ctx context.Context, action string) *specialized {
	s := e.special[action]
	if s == nil {
		return nil
	}
	// The check does not depend on the request: it must not be cut short
	// by the first request's context.
	if !s.check.passed(func() bool { return e.agrees(context.WithoutCancel(ctx), action, s.eval) }) {
		return nil
	}
	return s
}

// notInlined are rules that partial evaluation leaves as references:
// complete documents that several rules read, which evaluation computes
// once per request but inlining would copy into each reader.
var notInlined = []string{
	"data.enclave.now", "data.enclave.valid_grants", "data.enclave.job_datasets",
	"data.enclave.usable", "data.enclave.levels", "data.enclave.best",
	"data.enclave.unavailable", "data.enclave.withheld",
}

// specialize partially evaluates the decision for every action of
// policy.Actions, compiles the policies with the support rules of every
// residual once, plans the residuals when withPlans (planned.go, which sets
// e.planned), and prepares in topdown the residuals of the actions left
// without a plan. An action whose
// partial evaluation fails or yields other than one query is left out, and
// so is every action when the residuals do not compile together (a
// deployer's package could collide with their namespace): the whole
// policies, which compiled, then decide.
func (e *Engine) specialize(ctx context.Context, caps *ast.Capabilities, evaluator string) map[string]*specialized {
	newCompiler := func() *ast.Compiler {
		return ast.NewCompiler().
			WithCapabilities(caps).
			WithDefaultRegoVersion(ast.RegoV1).
			WithUseTypeCheckAnnotations(true)
	}
	modules := make(map[string]*ast.Module, len(e.modules))
	for i, m := range e.modules {
		modules[fmt.Sprintf("policy%d", i)] = m
	}
	base := newCompiler()
	if base.Compile(modules); base.Failed() {
		return nil
	}
	store := inmem.New()
	queries := map[string]ast.Body{}
	all := maps.Clone(modules)
	for i, action := range policy.Actions {
		pq, err := rego.New(
			rego.Query(decisionVar+" = "+Query),
			rego.Compiler(base),
			rego.Store(store),
			rego.Capabilities(caps),
			rego.SetRegoVersion(ast.RegoV1),
			rego.StrictBuiltinErrors(true),
			rego.Unknowns(unknownFields),
			rego.ParsedInput(ast.NewObject(ast.Item(ast.StringTerm("action"), ast.StringTerm(action)))),
			rego.PartialNamespace(fmt.Sprintf("enclave_specialized.a%d", i)),
			rego.DisableInlining(notInlined),
		).Partial(ctx)
		if err != nil || len(pq.Queries) != 1 {
			continue
		}
		queries[action] = pq.Queries[0]
		for j, m := range pq.Support {
			all[fmt.Sprintf("support%d.%d", i, j)] = m
		}
	}
	c := newCompiler()
	if c.Compile(all); c.Failed() {
		return nil
	}
	fields := make(map[string]*fields, len(queries))
	for action, body := range queries {
		fields[action] = readFields(c, body)
	}
	// Plans are checked now, so that no request waits for a check and no
	// action that has a plan keeps a residual in topdown.
	switch evaluator {
	case EvaluatorVM:
		e.planned = plan(ctx, caps, c, queries, fields)
		dropDisagreeing(ctx, e, e.planned, func(p *planned) evalFunc { return p.eval })
	case EvaluatorWasm:
		// Compiled and checked on first use (wasm.go); the residuals in
		// topdown stay for the actions that fail either.
		e.wasm = compileWasm(caps, c, store, queries, fields)
	}
	out := make(map[string]*specialized, len(queries))
	for action, body := range queries {
		if e.planned[action] != nil {
			continue
		}
		q, err := rego.New(
			rego.ParsedQuery(body),
			rego.Compiler(c),
			rego.Store(store),
			rego.Capabilities(caps),
			rego.SetRegoVersion(ast.RegoV1),
			rego.StrictBuiltinErrors(true),
		).PrepareForEval(ctx)
		if err != nil {
			continue
		}
		out[action] = &specialized{query: &q, fields: fields[action]}
	}
	return out
}

// agrees reports whether eval decides the probe requests of action
// exactly as the whole policies do in topdown: both fail, or both give no
// decision, or both give the same decision.
func (e *Engine) agrees(ctx context.Context, action string, eval evalFunc) bool {
	for _, in := range probes(action) {
		want, werr := e.evalWhole(ctx, in)
		got, gerr := eval(ctx, &in)
		if (werr == nil) != (gerr == nil) || (got == nil) != (want == nil) {
			return false
		}
		if werr != nil || want == nil {
			continue
		}
		wd, wok := decode(want)
		gd, gok := decode(got)
		if wok != gok || !reflect.DeepEqual(gd, wd) {
			return false
		}
	}
	return true
}

// evalFunc evaluates a request's decision as rego renders it, or a
// decoded one (nil when undefined).
type evalFunc func(context.Context, *policy.Input) (any, error)

// checked is the verdict of a check that runs once, on first use.
type checked struct {
	once sync.Once
	ok   bool
}

// passed runs check the first time and returns its verdict every time.
func (c *checked) passed(check func() bool) bool {
	c.once.Do(func() { c.ok = check() })
	return c.ok
}

// evalWhole evaluates the whole policies.
func (e *Engine) evalWhole(ctx context.Context, in policy.Input) (any, error) {
	return e.evalWholeValue(ctx, inputValue(&in))
}

// eval evaluates the residual on the fields of in that it reads and
// returns the decision it binds.
func (s *specialized) eval(ctx context.Context, in *policy.Input) (any, error) {
	rs, err := s.query.Eval(ctx, rego.EvalParsedInput(vm.ToAST(inputFields(in, s.fields, heap)).Value), rego.EvalMetrics(noMetrics))
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 {
		return nil, nil
	}
	return rs[0].Bindings[decisionVar], nil
}

// probes returns requests of action that exercise its rules: every role,
// in and out of scope, with valid and missing licences and agreements,
// active and inactive organisations, a job with and without grants.
func probes(action string) []policy.Input {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := func(n int) *time.Time { t := now.AddDate(0, 0, n); return &t }
	base := func(roles []string, own bool) policy.Input {
		in := policy.Input{
			Action: action,
			Now:    now,
			Subject: policy.Subject{
				ID: "p-probe", Name: "Probe", Org: "probe-org", OrgType: "company", OrgStatus: "active",
				LicenceFrom: day(-30), LicenceUntil: day(300), AgreementUntil: day(100), IDVerified: true, Roles: roles,
			},
			Resource: policy.Resource{Kind: "probe", ID: "r-1", Org: "other-org", Owner: "p-other",
				From: day(1), Until: day(60)},
			Config: policy.Config{AuthorizedOrgTypes: []string{"company"}},
		}
		if own {
			in.Resource.Org, in.Resource.Owner = "probe-org", "p-probe"
		}
		return in
	}
	var out []policy.Input
	for _, own := range []bool{true, false} {
		out = append(out, base(nil, own))
		for _, r := range policy.Roles {
			out = append(out, base([]string{r}, own))
		}
		// The roles of issue 19, which no person of policy.Roles holds:
		// a consumer and an application system calling a service.
		for _, r := range []string{"consumer", "consumer-system"} {
			out = append(out, base([]string{r}, own))
		}
	}
	expired := base([]string{"operator"}, true)
	expired.Subject.LicenceUntil, expired.Subject.AgreementUntil = day(-1), day(-1)
	inactive := base([]string{"operator"}, true)
	inactive.Subject.OrgStatus = "suspended"
	unverified := base([]string{"officer"}, false)
	unverified.Subject.IDVerified, unverified.Subject.AgreementUntil = false, nil
	// Licensing: a code blacklisted and revoked before, a licence in and
	// out of its renewal window.
	barred := base([]string{"authority"}, false)
	barred.Resource.Licensing = &policy.Licensing{BlacklistedAs: "old-name", RevokedAs: "older-name", RevokedAt: day(-400),
		LicenceUntil: day(30), Status: "active"}
	early := base([]string{"authority"}, false)
	early.Resource.Licensing = &policy.Licensing{LicenceUntil: day(200), Status: "suspended"}
	job := base([]string{"operator"}, true)
	job.Resource.Datasets = []policy.Dataset{
		{Name: "d1", Version: 1, Owner: "provider", Level: "general-2", Market: "ordinary", State: "active", Columns: []string{"a"}},
		{Name: "d2", Version: 1, Owner: "provider", Level: "important", Market: "authorized", State: "active"},
	}
	job.Resource.Image = &policy.Image{Digest: "sha256:00", Status: "approved"}
	job.Grants = []policy.Grant{
		{ID: "g1", Org: "probe-org", Datasets: []policy.GrantDataset{{Name: "d1", Columns: []string{"a"}, Owner: "provider", Market: "ordinary", Level: "general-2", Version: 1}}, From: now.AddDate(0, 0, -1), Until: now.AddDate(0, 0, 9), Approvers: []string{"p-a"}, Status: "approved"},
		{ID: "g2", Org: "probe-org", Datasets: []policy.GrantDataset{{Name: "d2", Owner: "provider", Market: "authorized", Level: "important", Version: 1}}, From: now.AddDate(0, 0, -1), Until: now.AddDate(0, 0, 9), Approvers: []string{"p-a", "p-b"}, Status: "approved"},
	}
	ungranted := job
	ungranted.Grants = nil
	// A new version from another provider, of a higher level: outside the grants' pins.
	changed := job
	changed.Resource.Datasets = []policy.Dataset{job.Resource.Datasets[0], job.Resource.Datasets[1]}
	changed.Resource.Datasets[0].Owner, changed.Resource.Datasets[0].Version = "another-provider", 2
	changed.Resource.Datasets[1].Level = "general-4"
	changed.Resource.Datasets[1].Market = "ordinary"
	return append(out, expired, inactive, unverified, barred, early, job, ungranted, changed)
}
