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
func inputValue(in *policy.Input) ast.Value { return inputFields(in, allFields) }

// inputFields builds the fields f of the Rego value of in: the whole input
// for allFields, and for the fields a residual query reads (see
// readFields) only those, each with the value inputValue gives it.
func inputFields(in *policy.Input, f *fields) ast.Value {
	s := &in.Subject
	r := &in.Resource
	b := make([][2]*ast.Term, 0, 10)
	if f.has("action") {
		b = append(b, kv("action", str(in.Action)))
	}
	if f.has("now") {
		b = append(b, kv("now", timeTerm(in.Now)))
	}
	if c, ok := f.get("subject"); ok {
		b = append(b, kv("subject", cachedSubject(s, c)))
	}
	if c, ok := f.get("resource"); ok {
		o := make([][2]*ast.Term, 0, 12)
		o = field(o, c, "kind", func() *ast.Term { return str(r.Kind) })
		o = field(o, c, "id", func() *ast.Term { return str(r.ID) })
		o = field(o, c, "org", func() *ast.Term { return str(r.Org) })
		o = field(o, c, "owner", func() *ast.Term { return str(r.Owner) })
		o = field(o, c, "approvers", func() *ast.Term { return strs(r.Approvers) })
		o = field(o, c, "datasets", func() *ast.Term { return datasets(r.Datasets) })
		o = field(o, c, "purpose", func() *ast.Term { return str(r.Purpose) })
		o = field(o, c, "scenario", func() *ast.Term { return str(r.Scenario) })
		o = field(o, c, "public_interest", func() *ast.Term { return ast.BooleanTerm(r.PublicInterest) })
		o = field(o, c, "from", func() *ast.Term { return timePtr(r.From) })
		o = field(o, c, "until", func() *ast.Term { return timePtr(r.Until) })
		if ic, ok := c.get("image"); ok {
			o = append(o, kv("image", image(r.Image, ic)))
		}
		b = append(b, kv("resource", obj(o...)))
	}
	if f.has("grants") {
		b = append(b, kv("grants", grants(in.Grants)))
	}
	if c, ok := f.get("usage"); ok {
		o := make([][2]*ast.Term, 0, 2)
		o = field(o, c, "running_jobs", func() *ast.Term { return ast.InternedTerm(int(in.Usage.RunningJobs)) })
		o = field(o, c, "cpu_seconds_month", func() *ast.Term { return ast.InternedTerm(int(in.Usage.CPUSecondsMonth)) })
		b = append(b, kv("usage", obj(o...)))
	}
	if c, ok := f.get("quota"); ok {
		o := make([][2]*ast.Term, 0, 3)
		o = field(o, c, "concurrent_jobs", func() *ast.Term { return intPtr(in.Quota.ConcurrentJobs) })
		o = field(o, c, "cpu_seconds_month", func() *ast.Term { return intPtr(in.Quota.CPUSecondsMonth) })
		o = field(o, c, "memory_bytes_per_job", func() *ast.Term { return intPtr(in.Quota.MemoryBytesPerJob) })
		b = append(b, kv("quota", obj(o...)))
	}
	if c, ok := f.get("request"); ok {
		o := make([][2]*ast.Term, 0, 2)
		o = field(o, c, "cpu", func() *ast.Term {
			return ast.NumberTerm(json.Number(strconv.FormatFloat(in.Request.CPU, 'g', -1, 64)))
		})
		o = field(o, c, "memory_bytes", func() *ast.Term { return ast.InternedTerm(int(in.Request.MemoryBytes)) })
		b = append(b, kv("request", obj(o...)))
	}
	if c, ok := f.get("config"); ok {
		o := make([][2]*ast.Term, 0, 1)
		o = field(o, c, "authorized_org_types", func() *ast.Term { return strs(in.Config.AuthorizedOrgTypes) })
		b = append(b, kv("config", obj(o...)))
	}
	return ast.NewObject(b...)
}

// subjectValue converts the fields f of a subject; see cachedSubject.
func subjectValue(s *policy.Subject, f *fields) *ast.Term {
	o := make([][2]*ast.Term, 0, 9)
	o = field(o, f, "id", func() *ast.Term { return str(s.ID) })
	o = field(o, f, "name", func() *ast.Term { return str(s.Name) })
	o = field(o, f, "org", func() *ast.Term { return str(s.Org) })
	o = field(o, f, "org_type", func() *ast.Term { return str(s.OrgType) })
	o = field(o, f, "org_status", func() *ast.Term { return str(s.OrgStatus) })
	o = field(o, f, "licence_from", func() *ast.Term { return timePtr(s.LicenceFrom) })
	o = field(o, f, "licence_until", func() *ast.Term { return timePtr(s.LicenceUntil) })
	o = field(o, f, "roles", func() *ast.Term { return strs(s.Roles) })
	o = field(o, f, "agreement_until", func() *ast.Term { return timePtr(s.AgreementUntil) })
	return obj(o...)
}

// field appends key and the value v makes when f includes key.
func field(o [][2]*ast.Term, f *fields, key string, v func() *ast.Term) [][2]*ast.Term {
	if !f.has(key) {
		return o
	}
	return append(o, kv(key, v()))
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

func image(im *policy.Image, f *fields) *ast.Term {
	if im == nil {
		return ast.InternedNullTerm
	}
	o := make([][2]*ast.Term, 0, 2)
	o = field(o, f, "digest", func() *ast.Term { return str(im.Digest) })
	o = field(o, f, "status", func() *ast.Term { return str(im.Status) })
	return obj(o...)
}

func datasets(ds []policy.Dataset) *ast.Term {
	if ds == nil {
		return ast.InternedNullTerm
	}
	ts := make([]*ast.Term, len(ds))
	for i := range ds {
		ts[i] = cachedDataset(&ds[i])
	}
	return ast.ArrayTerm(ts...)
}

// datasetValue converts one dataset; see cachedDataset.
func datasetValue(d *policy.Dataset) *ast.Term {
	return obj(
		kv("name", str(d.Name)),
		kv("version", ast.InternedTerm(int(d.Version))),
		kv("level", str(d.Level)),
		kv("market", str(d.Market)),
		kv("state", str(d.State)),
		kv("columns", strs(d.Columns)),
	)
}

func grants(gs []policy.Grant) *ast.Term {
	if gs == nil {
		return ast.InternedNullTerm
	}
	ts := make([]*ast.Term, len(gs))
	for i := range gs {
		ts[i] = cachedGrant(&gs[i])
	}
	return ast.ArrayTerm(ts...)
}

// grantValue converts one grant; see cachedGrant.
func grantValue(g *policy.Grant) *ast.Term {
	gds := make([]*ast.Term, len(g.Datasets))
	for j, gd := range g.Datasets {
		gds[j] = obj(kv("name", str(gd.Name)), kv("columns", strs(gd.Columns)))
	}
	ds := ast.ArrayTerm(gds...)
	if g.Datasets == nil {
		ds = ast.InternedNullTerm
	}
	return obj(
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
