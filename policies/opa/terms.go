package opa

import (
	"slices"
	"strconv"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	policy "github.com/enclave-dev/enclave/policies"
)

// Conversion cache. The input of a job admission carries the grants of
// the organisation and the job's datasets, mostly the same from one
// request to the next, and converting them to Rego values is most of the
// cost of building the input. The terms of grants and datasets are kept,
// keyed by grant id (dataset name and version), with a copy of what they
// were made from, and reused only for a value equal to it field by field
// (a test fails when a field is added to the types and not compared).
// Neither OPA nor package vm changes an input term, so requests share them.

// maxCachedTerms bounds each cache; a full cache starts afresh.
const maxCachedTerms = 4096

type grantTerm struct {
	g    policy.Grant
	term *ast.Term
}

type datasetTerm struct {
	d    policy.Dataset
	term *ast.Term
}

var termCache struct {
	mu       sync.Mutex
	grants   map[string]grantTerm
	datasets map[string]datasetTerm
}

// cachedGrant returns the term of g, made or reused.
func cachedGrant(g *policy.Grant) *ast.Term {
	termCache.mu.Lock()
	c, ok := termCache.grants[g.ID]
	termCache.mu.Unlock()
	if ok && grantEqual(&c.g, g) {
		return c.term
	}
	t := grantValue(g)
	c = grantTerm{g: cloneGrant(g), term: t}
	termCache.mu.Lock()
	if termCache.grants == nil || len(termCache.grants) >= maxCachedTerms {
		termCache.grants = map[string]grantTerm{}
	}
	termCache.grants[g.ID] = c
	termCache.mu.Unlock()
	return t
}

// cachedDataset returns the term of d, made or reused.
func cachedDataset(d *policy.Dataset) *ast.Term {
	key := d.Name + "\x00" + strconv.FormatInt(d.Version, 10)
	termCache.mu.Lock()
	c, ok := termCache.datasets[key]
	termCache.mu.Unlock()
	if ok && datasetEqual(&c.d, d) {
		return c.term
	}
	t := datasetValue(d)
	c = datasetTerm{d: cloneDataset(d), term: t}
	termCache.mu.Lock()
	if termCache.datasets == nil || len(termCache.datasets) >= maxCachedTerms {
		termCache.datasets = map[string]datasetTerm{}
	}
	termCache.datasets[key] = c
	termCache.mu.Unlock()
	return t
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
		if a.Datasets[i].Name != b.Datasets[i].Name || !strsEqual(a.Datasets[i].Columns, b.Datasets[i].Columns) {
			return false
		}
	}
	return true
}

func datasetEqual(a, b *policy.Dataset) bool {
	return a.Name == b.Name && a.Version == b.Version && a.Level == b.Level && a.Market == b.Market &&
		a.State == b.State && strsEqual(a.Columns, b.Columns)
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
			c.Datasets[i] = policy.GrantDataset{Name: gd.Name, Columns: slices.Clone(gd.Columns)}
		}
	}
	return c
}

func cloneDataset(d *policy.Dataset) policy.Dataset {
	c := *d
	c.Columns = slices.Clone(d.Columns)
	return c
}
