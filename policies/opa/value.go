package opa

import (
	"strconv"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa/vm"
)

// inputValue builds the Rego value of in, with the same shape as its JSON
// encoding (the struct tags of package policy), which a test checks, for
// topdown. It is several times cheaper than OPA's generic conversion, which
// encodes to JSON and decodes again.
func inputValue(in *policy.Input) ast.Value {
	return vm.ToAST(inputFields(in, allFields, heap)).Value
}

// inputFields builds the fields f of the value of in, as the plans'
// evaluator takes it: the whole input for allFields, and for the fields a
// residual query reads (see readFields) only those, each with the value
// inputValue gives it. Its objects and arrays come from a (the cached
// terms of subjects, grants and datasets excepted); a nil a allocates.
func inputFields(in *policy.Input, f *fields, a *vm.Arena) *vm.Object {
	s := &in.Subject
	r := &in.Resource
	b := object{arena: a}
	if f.has("action") {
		b.add("action", str(in.Action))
	}
	if f.has("now") {
		b.add("now", timeValue(in.Now))
	}
	if c, ok := f.get("subject"); ok {
		b.add("subject", cachedSubject(s, c))
	}
	if c, ok := f.get("resource"); ok {
		o := object{arena: a}
		o.field(c, "kind", func() vm.Value { return str(r.Kind) })
		o.field(c, "id", func() vm.Value { return str(r.ID) })
		o.field(c, "org", func() vm.Value { return str(r.Org) })
		o.field(c, "owner", func() vm.Value { return str(r.Owner) })
		o.field(c, "approvers", func() vm.Value { return strs(r.Approvers, a) })
		o.field(c, "datasets", func() vm.Value { return datasets(r.Datasets, a) })
		o.field(c, "purpose", func() vm.Value { return str(r.Purpose) })
		o.field(c, "scenario", func() vm.Value { return str(r.Scenario) })
		o.field(c, "public_interest", func() vm.Value { return r.PublicInterest })
		o.field(c, "from", func() vm.Value { return timePtr(r.From) })
		o.field(c, "until", func() vm.Value { return timePtr(r.Until) })
		if ic, ok := c.get("image"); ok {
			o.add("image", image(r.Image, ic, a))
		}
		if lc, ok := c.get("licensing"); ok {
			o.add("licensing", licensing(r.Licensing, lc, a))
		}
		b.add("resource", o.value())
	}
	if f.has("grants") {
		b.add("grants", grants(in.Grants, a))
	}
	if c, ok := f.get("usage"); ok {
		o := object{arena: a}
		o.field(c, "running_jobs", func() vm.Value { return vm.Int(in.Usage.RunningJobs) })
		o.field(c, "cpu_seconds_month", func() vm.Value { return vm.Int(in.Usage.CPUSecondsMonth) })
		b.add("usage", o.value())
	}
	if c, ok := f.get("quota"); ok {
		o := object{arena: a}
		o.field(c, "concurrent_jobs", func() vm.Value { return intPtr(in.Quota.ConcurrentJobs) })
		o.field(c, "cpu_seconds_month", func() vm.Value { return intPtr(in.Quota.CPUSecondsMonth) })
		o.field(c, "memory_bytes_per_job", func() vm.Value { return intPtr(in.Quota.MemoryBytesPerJob) })
		b.add("quota", o.value())
	}
	if c, ok := f.get("request"); ok {
		o := object{arena: a}
		o.field(c, "cpu", func() vm.Value {
			n, err := vm.Number(strconv.FormatFloat(in.Request.CPU, 'g', -1, 64))
			if err != nil {
				return vm.Null // NaN or infinite; Validate refuses them first
			}
			return n
		})
		o.field(c, "memory_bytes", func() vm.Value { return vm.Int(in.Request.MemoryBytes) })
		b.add("request", o.value())
	}
	if c, ok := f.get("config"); ok {
		o := object{arena: a}
		o.field(c, "authorized_org_types", func() vm.Value { return strs(in.Config.AuthorizedOrgTypes, a) })
		b.add("config", o.value())
	}
	return b.value()
}

// subjectValue converts the fields f of a subject; see cachedSubject.
func subjectValue(s *policy.Subject, f *fields) vm.Value {
	var o object
	o.field(f, "id", func() vm.Value { return str(s.ID) })
	o.field(f, "name", func() vm.Value { return str(s.Name) })
	o.field(f, "org", func() vm.Value { return str(s.Org) })
	o.field(f, "org_type", func() vm.Value { return str(s.OrgType) })
	o.field(f, "org_status", func() vm.Value { return str(s.OrgStatus) })
	o.field(f, "licence_from", func() vm.Value { return timePtr(s.LicenceFrom) })
	o.field(f, "licence_until", func() vm.Value { return timePtr(s.LicenceUntil) })
	o.field(f, "roles", func() vm.Value { return strs(s.Roles, heap) })
	o.field(f, "agreement_until", func() vm.Value { return timePtr(s.AgreementUntil) })
	o.field(f, "id_verified", func() vm.Value { return s.IDVerified })
	return o.value()
}

// object collects the fields of an object of the input. Up to 12 fit
// without allocating.
type object struct {
	keys     [12]string
	vals     [12]vm.Value
	n        int
	more     []string // beyond 12, with their values in moreVals
	moreVals []vm.Value
	arena    *vm.Arena
}

func (o *object) add(k string, v vm.Value) {
	if o.n < len(o.keys) {
		o.keys[o.n], o.vals[o.n] = k, v
		o.n++
		return
	}
	o.more, o.moreVals = append(o.more, k), append(o.moreVals, v)
}

// field adds key and the value v makes when f includes key.
func (o *object) field(f *fields, key string, v func() vm.Value) {
	if f.has(key) {
		o.add(key, v())
	}
}

func (o *object) value() *vm.Object {
	return o.arena.Object(append(o.keys[:o.n:o.n], o.more...), append(o.vals[:o.n:o.n], o.moreVals...))
}

// constValues holds one shared value for every enumerated string of the
// input (roles, statuses, marks, actions), so that building an input
// allocates only for the free-form strings. Values are never changed by
// evaluation, so sharing them across requests is safe.
var constValues = func() map[string]vm.Value {
	m := map[string]vm.Value{}
	lists := [][]string{
		policy.Roles, policy.OrgTypes, policy.OrgStatuses, policy.Levels, policy.Markets,
		policy.DatasetStates, policy.GrantStatuses, policy.ImageStatuses, policy.Actions, {""},
	}
	for _, l := range lists {
		for _, s := range l {
			m[s] = s
		}
	}
	return m
}()

func str(s string) vm.Value {
	if v, ok := constValues[s]; ok {
		return v
	}
	return s
}

// strs encodes a nil slice as null, as encoding/json does.
func strs(ss []string, a *vm.Arena) vm.Value {
	if ss == nil {
		return vm.Null
	}
	arr := a.Array(len(ss))
	for _, s := range ss {
		arr.Append(str(s))
	}
	return arr
}

func timeValue(t time.Time) vm.Value {
	var buf [64]byte
	b, err := t.AppendText(buf[:0]) // RFC 3339, as encoding/json
	if err != nil {
		return vm.Null // out of range; Validate refuses it first
	}
	return string(b)
}

func timePtr(t *time.Time) vm.Value {
	if t == nil {
		return vm.Null
	}
	return timeValue(*t)
}

func intPtr(n *int64) vm.Value {
	if n == nil {
		return vm.Null
	}
	return vm.Int(*n)
}

func image(im *policy.Image, f *fields, a *vm.Arena) vm.Value {
	if im == nil {
		return vm.Null
	}
	o := object{arena: a}
	o.field(f, "digest", func() vm.Value { return str(im.Digest) })
	o.field(f, "status", func() vm.Value { return str(im.Status) })
	return o.value()
}

func licensing(l *policy.Licensing, f *fields, a *vm.Arena) vm.Value {
	if l == nil {
		return vm.Null
	}
	o := object{arena: a}
	o.field(f, "blacklisted_as", func() vm.Value { return str(l.BlacklistedAs) })
	o.field(f, "revoked_as", func() vm.Value { return str(l.RevokedAs) })
	o.field(f, "revoked_at", func() vm.Value { return timePtr(l.RevokedAt) })
	o.field(f, "licence_until", func() vm.Value { return timePtr(l.LicenceUntil) })
	o.field(f, "status", func() vm.Value { return str(l.Status) })
	return o.value()
}

func datasets(ds []policy.Dataset, a *vm.Arena) vm.Value {
	if ds == nil {
		return vm.Null
	}
	arr := a.Array(len(ds))
	for i := range ds {
		arr.Append(cachedDataset(&ds[i]))
	}
	return arr
}

// datasetValue converts one dataset; see cachedDataset.
func datasetValue(d *policy.Dataset) vm.Value {
	return datasetShape.Object(str(d.Name), vm.Int(d.Version), str(d.Owner), str(d.Level), str(d.Market), str(d.State), strs(d.Columns, heap), d.Upload, str(d.Sharing))
}

// heap is the arena of the values that are cached: none (they allocate).
var heap *vm.Arena

// The shapes of the objects of the input that are made again and again.
var (
	datasetShape      = vm.NewShape("name", "version", "owner", "level", "market", "state", "columns", "upload", "sharing")
	grantShape        = vm.NewShape("id", "org", "datasets", "purpose", "scenario", "public_interest", "from", "until", "approvers", "batches_left", "status")
	grantDatasetShape = vm.NewShape("name", "columns", "owner", "market", "level", "version")
)

func grants(gs []policy.Grant, a *vm.Arena) vm.Value {
	if gs == nil {
		return vm.Null
	}
	arr := a.Array(len(gs))
	for i := range gs {
		arr.Append(cachedGrant(&gs[i]))
	}
	return arr
}

// grantValue converts one grant; see cachedGrant.
func grantValue(g *policy.Grant) vm.Value {
	var ds vm.Value = vm.Null
	if g.Datasets != nil {
		arr := heap.Array(len(g.Datasets))
		for _, gd := range g.Datasets {
			arr.Append(grantDatasetShape.Object(str(gd.Name), strs(gd.Columns, heap), str(gd.Owner), str(gd.Market), str(gd.Level),
				vm.Int(gd.Version)))
		}
		ds = arr
	}
	return grantShape.Object(str(g.ID), str(g.Org), ds, str(g.Purpose), str(g.Scenario), g.PublicInterest,
		timeValue(g.From), timeValue(g.Until), strs(g.Approvers, heap), intPtr(g.BatchesLeft), str(g.Status))
}
