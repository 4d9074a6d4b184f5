package opa

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	policy "github.com/enclave-dev/enclave/policies"
)

// inputValue builds the Rego value of in directly, with the same shape as
// its JSON encoding (the struct tags of package policy), which a test
// checks. It is several times cheaper than OPA's generic conversion, which
// encodes to JSON and decodes again.
func inputValue(in *policy.Input) ast.Value {
	s := &in.Subject
	r := &in.Resource
	return ast.NewObject(
		kv("action", str(in.Action)),
		kv("now", timeTerm(in.Now)),
		kv("subject", obj(
			kv("id", str(s.ID)),
			kv("name", str(s.Name)),
			kv("org", str(s.Org)),
			kv("org_type", str(s.OrgType)),
			kv("org_status", str(s.OrgStatus)),
			kv("licence_from", timePtr(s.LicenceFrom)),
			kv("licence_until", timePtr(s.LicenceUntil)),
			kv("roles", strs(s.Roles)),
			kv("agreement_until", timePtr(s.AgreementUntil)),
		)),
		kv("resource", obj(
			kv("kind", str(r.Kind)),
			kv("id", str(r.ID)),
			kv("org", str(r.Org)),
			kv("owner", str(r.Owner)),
			kv("approvers", strs(r.Approvers)),
			kv("datasets", datasets(r.Datasets)),
			kv("purpose", str(r.Purpose)),
			kv("scenario", str(r.Scenario)),
			kv("public_interest", ast.BooleanTerm(r.PublicInterest)),
			kv("from", timePtr(r.From)),
			kv("until", timePtr(r.Until)),
			kv("image", image(r.Image)),
		)),
		kv("grants", grants(in.Grants)),
		kv("usage", obj(
			kv("running_jobs", ast.InternedTerm(int(in.Usage.RunningJobs))),
			kv("cpu_seconds_month", ast.InternedTerm(int(in.Usage.CPUSecondsMonth))),
		)),
		kv("quota", obj(
			kv("concurrent_jobs", intPtr(in.Quota.ConcurrentJobs)),
			kv("cpu_seconds_month", intPtr(in.Quota.CPUSecondsMonth)),
			kv("memory_bytes_per_job", intPtr(in.Quota.MemoryBytesPerJob)),
		)),
		kv("request", obj(
			kv("cpu", ast.NumberTerm(json.Number(strconv.FormatFloat(in.Request.CPU, 'g', -1, 64)))),
			kv("memory_bytes", ast.InternedTerm(int(in.Request.MemoryBytes))),
		)),
		kv("config", obj(
			kv("authorized_org_types", strs(in.Config.AuthorizedOrgTypes)),
		)),
	)
}

// constTerms holds one shared term for every object key of the input and
// every enumerated value (roles, statuses, marks, actions), so that building
// an input allocates only for the free-form strings. Terms are never
// mutated by evaluation, so sharing them across requests is safe, as OPA
// does with its own interned terms.
var constTerms = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	lists := [][]string{
		{"action", "now", "subject", "resource", "grants", "usage", "quota", "request", "config",
			"id", "name", "org", "org_type", "org_status", "licence_from", "licence_until", "roles",
			"agreement_until", "kind", "owner", "approvers", "datasets", "purpose", "scenario",
			"public_interest", "from", "until", "image", "version", "level", "market", "state",
			"columns", "digest", "status", "batches_left", "running_jobs", "cpu_seconds_month",
			"concurrent_jobs", "memory_bytes_per_job", "cpu", "memory_bytes", "authorized_org_types",
			"job", "export", "application", "org", ""},
		policy.Roles, policy.OrgTypes, policy.OrgStatuses, policy.Levels, policy.Markets,
		policy.DatasetStates, policy.GrantStatuses, policy.ImageStatuses, policy.Actions,
	}
	for _, l := range lists {
		for _, s := range l {
			m[s] = ast.StringTerm(s)
		}
	}
	return m
}()

func kv(k string, v *ast.Term) [2]*ast.Term { return [2]*ast.Term{str(k), v} }

func obj(pairs ...[2]*ast.Term) *ast.Term { return ast.NewTerm(ast.NewObject(pairs...)) }

func str(s string) *ast.Term {
	if t, ok := constTerms[s]; ok {
		return t
	}
	return ast.StringTerm(s)
}

// strs encodes a nil slice as null, as encoding/json does.
func strs(ss []string) *ast.Term {
	if ss == nil {
		return ast.InternedNullTerm
	}
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = str(s)
	}
	return ast.ArrayTerm(ts...)
}

func timeTerm(t time.Time) *ast.Term {
	b, err := t.MarshalText() // RFC 3339, as encoding/json
	if err != nil {
		return ast.InternedNullTerm // out of range; Validate refuses it first
	}
	return ast.StringTerm(string(b))
}

func timePtr(t *time.Time) *ast.Term {
	if t == nil {
		return ast.InternedNullTerm
	}
	return timeTerm(*t)
}

func intPtr(n *int64) *ast.Term {
	if n == nil {
		return ast.InternedNullTerm
	}
	return ast.InternedTerm(int(*n))
}

func image(im *policy.Image) *ast.Term {
	if im == nil {
		return ast.InternedNullTerm
	}
	return obj(kv("digest", str(im.Digest)), kv("status", str(im.Status)))
}

func datasets(ds []policy.Dataset) *ast.Term {
	if ds == nil {
		return ast.InternedNullTerm
	}
	ts := make([]*ast.Term, len(ds))
	for i := range ds {
		d := &ds[i]
		ts[i] = obj(
			kv("name", str(d.Name)),
			kv("version", ast.InternedTerm(int(d.Version))),
			kv("level", str(d.Level)),
			kv("market", str(d.Market)),
			kv("state", str(d.State)),
			kv("columns", strs(d.Columns)),
		)
	}
	return ast.ArrayTerm(ts...)
}

func grants(gs []policy.Grant) *ast.Term {
	if gs == nil {
		return ast.InternedNullTerm
	}
	ts := make([]*ast.Term, len(gs))
	for i := range gs {
		g := &gs[i]
		gds := make([]*ast.Term, len(g.Datasets))
		for j, gd := range g.Datasets {
			gds[j] = obj(kv("name", str(gd.Name)), kv("columns", strs(gd.Columns)))
		}
		ds := ast.ArrayTerm(gds...)
		if g.Datasets == nil {
			ds = ast.InternedNullTerm
		}
		ts[i] = obj(
			kv("id", str(g.ID)),
			kv("org", str(g.Org)),
			kv("datasets", ds),
			kv("purpose", str(g.Purpose)),
			kv("scenario", str(g.Scenario)),
			kv("public_interest", ast.BooleanTerm(g.PublicInterest)),
			kv("from", timeTerm(g.From)),
			kv("until", timeTerm(g.Until)),
			kv("approvers", strs(g.Approvers)),
			kv("batches_left", intPtr(g.BatchesLeft)),
			kv("status", str(g.Status)),
		)
	}
	return ast.ArrayTerm(ts...)
}
