package opa

import (
	"slices"
	"sync"
	"time"

	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa/vm"
)

// Conversion cache. The input of a job admission carries the grants of
// the organisation and the job's datasets, and every input the person who
// asks, mostly the same from one request to the next; converting them to
// Rego values is most of the cost of building the input. The terms of
// grants, datasets and subjects are kept, keyed by grant id (dataset name
// and version, person id and the fields read), with a copy of what they
// were made from, and reused only for a value equal to it field by field
// (a test fails when a field is added to the types and not compared).
// Neither OPA nor package vm changes an input term, so requests share them.

// maxCachedTerms bounds each cache; a full cache starts afresh.
const maxCachedTerms = 4096

// termCache keeps the terms of values of type T by key.
type termCache[K comparable, T any] struct {
	mu    sync.Mutex
	m     map[K]*cachedTerm[T]
	equal func(a, b *T) bool
	clone func(*T) T
	build func(*T) vm.Value
}

type cachedTerm[T any] struct {
	v    T // a deep copy of what term was made from
	term vm.Value
}

// get returns the term of v, reused when the cached value under key is
// equal to v, else made (and cached).
func (c *termCache[K, T]) get(key K, v *T) vm.Value {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && c.equal(&e.v, v) {
		return e.term
	}
	t := c.build(v)
	e = &cachedTerm[T]{v: c.clone(v), term: t}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedTerms {
		c.m = map[K]*cachedTerm[T]{}
	}
	c.m[key] = e
	c.mu.Unlock()
	return t
}

var (
	grantTerms   = &termCache[string, policy.Grant]{equal: grantEqual, clone: cloneGrant, build: grantValue}
	datasetTerms = &termCache[datasetKey, policy.Dataset]{equal: datasetEqual, clone: cloneDataset, build: datasetValue}
)

// cachedGrant returns the term of g, made or reused.
func cachedGrant(g *policy.Grant) vm.Value { return grantTerms.get(g.ID, g) }

// cachedDataset returns the term of d, made or reused.
func cachedDataset(d *policy.Dataset) vm.Value {
	return datasetTerms.get(datasetKey{d.Name, d.Version}, d)
}

// datasetKey is the key of a dataset's term.
type datasetKey struct {
	name    string
	version int64
}

// cachedSubject returns the term of the fields f of s, made or reused
// from f's cache of subjects (keyed by person id).
func cachedSubject(s *policy.Subject, f *fields) vm.Value {
	f.once.Do(func() {
		f.subjects = &termCache[string, policy.Subject]{
			equal: subjectEqual,
			clone: cloneSubject,
			build: func(s *policy.Subject) vm.Value { return subjectValue(s, f) },
		}
	})
	return f.subjects.get(s.ID, s)
}

// timePtrEqual is equality of optional times as they are encoded (see
// grantEqual).
func timePtrEqual(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func subjectEqual(a, b *policy.Subject) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Org == b.Org && a.OrgType == b.OrgType &&
		a.OrgStatus == b.OrgStatus && timePtrEqual(a.LicenceFrom, b.LicenceFrom) &&
		timePtrEqual(a.LicenceUntil, b.LicenceUntil) && strsEqual(a.Roles, b.Roles) &&
		timePtrEqual(a.AgreementUntil, b.AgreementUntil) && a.IDVerified == b.IDVerified
}

func cloneSubject(s *policy.Subject) policy.Subject {
	c := *s
	c.Roles = slices.Clone(s.Roles)
	for _, p := range []**time.Time{&c.LicenceFrom, &c.LicenceUntil, &c.AgreementUntil} {
		if *p != nil {
			t := **p
			*p = &t
		}
	}
	return c
}

// strsEqual is equality of string slices as they are encoded: a nil
// slice (null) differs from an empty one ([]).
func strsEqual(a, b []string) bool {
	return (a == nil) == (b == nil) && slices.Equal(a, b)
}

// grantEqual reports whether a and b encode to the same Rego value. Times
// are compared as structs (instant, location and all), so that equal
// grants have equal RFC 3339 texts.
func grantEqual(a, b *policy.Grant) bool {
	if a.ID != b.ID || a.Org != b.Org || a.Purpose != b.Purpose || a.Scenario != b.Scenario ||
		a.PublicInterest != b.PublicInterest || a.From != b.From || a.Until != b.Until ||
		!strsEqual(a.Approvers, b.Approvers) || a.Status != b.Status ||
		(a.BatchesLeft == nil) != (b.BatchesLeft == nil) ||
		(a.BatchesLeft != nil && *a.BatchesLeft != *b.BatchesLeft) ||
		(a.Datasets == nil) != (b.Datasets == nil) || len(a.Datasets) != len(b.Datasets) {
		return false
	}
	for i := range a.Datasets {
		x, y := &a.Datasets[i], &b.Datasets[i]
		if x.Name != y.Name || !strsEqual(x.Columns, y.Columns) || x.Owner != y.Owner || x.Market != y.Market ||
			x.Level != y.Level || x.Version != y.Version {
			return false
		}
	}
	return true
}

func datasetEqual(a, b *policy.Dataset) bool {
	return a.Name == b.Name && a.Version == b.Version && a.Owner == b.Owner && a.Level == b.Level && a.Market == b.Market &&
		a.State == b.State && strsEqual(a.Columns, b.Columns) && a.Upload == b.Upload && a.Sharing == b.Sharing
}

// cloneGrant copies g deeply, so that the caller may change its value.
func cloneGrant(g *policy.Grant) policy.Grant {
	c := *g
	c.Approvers = slices.Clone(g.Approvers)
	if g.BatchesLeft != nil {
		n := *g.BatchesLeft
		c.BatchesLeft = &n
	}
	if g.Datasets != nil {
		c.Datasets = make([]policy.GrantDataset, len(g.Datasets))
		for i, gd := range g.Datasets {
			c.Datasets[i] = gd
			c.Datasets[i].Columns = slices.Clone(gd.Columns)
		}
	}
	return c
}

func cloneDataset(d *policy.Dataset) policy.Dataset {
	c := *d
	c.Columns = slices.Clone(d.Columns)
	return c
}
