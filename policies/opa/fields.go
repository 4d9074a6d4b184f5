package opa

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	policy "github.com/enclave-dev/enclave/policies"
)

// fields is a part of the input: every field (all), or some fields, each
// with the part of it that is needed. A residual query of one action reads
// few of the input's fields, and building the others is most of the cost
// of a small decision.
type fields struct {
	all bool
	sub map[string]*fields

	// The terms of subjects made with these fields (terms.go).
	once     sync.Once
	subjects *termCache[string, policy.Subject]
}

// allFields is the whole input.
var allFields = &fields{all: true}

// get returns the part of field k that is needed, and whether any is.
func (f *fields) get(k string) (*fields, bool) {
	if f.all {
		return allFields, true
	}
	c, ok := f.sub[k]
	return c, ok
}

// has reports whether field k is needed.
func (f *fields) has(k string) bool {
	_, ok := f.get(k)
	return ok
}

// add marks the field at path, and everything under it, as needed.
func (f *fields) add(path []string) {
	for _, k := range path {
		if f.all {
			return
		}
		if f.sub == nil {
			f.sub = map[string]*fields{}
		}
		c := f.sub[k]
		if c == nil {
			c = &fields{}
			f.sub[k] = c
		}
		f = c
	}
	f.all, f.sub = true, nil
}

// readFields returns the fields of the input that query can read when it
// is evaluated with compiler c: every reference to input reachable from the
// query through the rules (and functions) it refers to, transitively,
// cut at its first element that is not a constant string. A reference to
// input as a whole, or to a field through a variable key, needs all of
// what it names. Rules are found with the compiler's own lookup for
// references to data, so that a rule reachable only through a dynamic
// reference is included too.
func readFields(c *ast.Compiler, query ast.Body) *fields {
	f := &fields{}
	seen := map[*ast.Rule]bool{}
	var visit func(x any)
	visit = func(x any) {
		ast.WalkRefs(x, func(ref ast.Ref) bool {
			switch {
			case ref.HasPrefix(ast.InputRootRef):
				var path []string
				for _, t := range ref[1:] {
					s, ok := t.Value.(ast.String)
					if !ok {
						break
					}
					path = append(path, string(s))
				}
				f.add(path)
			case ref.HasPrefix(ast.DefaultRootRef):
				for _, r := range c.GetRulesDynamic(ref) {
					for ; r != nil; r = r.Else {
						if !seen[r] {
							seen[r] = true
							visit(r)
						}
					}
				}
			}
			return false
		})
	}
	visit(query)
	return f
}
