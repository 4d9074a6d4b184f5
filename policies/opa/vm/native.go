package vm

import (
	"github.com/open-policy-agent/opa/v1/ast"
)

// nativeFunc computes a built-in function without topdown's call context.
// It returns false when it leaves the call to OPA's implementation (an
// operand of a type that makes OPA's implementation fail, so that the
// error is OPA's).
type nativeFunc func(args []*ast.Term) (*ast.Term, bool)

// natives are the built-in functions that policies call most, computed as
// OPA computes them (topdown/comparison.go, aggregates.go, type.go and
// object.go: the same expressions), without building a
// topdown.BuiltinContext for each call. The conformance test runs OPA's
// test cases of these functions through them.
var natives = map[string]nativeFunc{
	ast.GreaterThan.Name: func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(a[0].Value.Compare(a[1].Value) > 0), true
	},
	ast.GreaterThanEq.Name: func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(a[0].Value.Compare(a[1].Value) >= 0), true
	},
	ast.LessThan.Name: func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(a[0].Value.Compare(a[1].Value) < 0), true
	},
	ast.LessThanEq.Name: func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(a[0].Value.Compare(a[1].Value) <= 0), true
	},
	ast.NotEqual.Name: func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(!a[0].Equal(a[1])), true
	},
	ast.Equal.Name: func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(a[0].Equal(a[1])), true
	},
	ast.Member.Name: func(a []*ast.Term) (*ast.Term, bool) {
		switch c := a[1].Value.(type) {
		case ast.Set:
			return ast.InternedTerm(c.Contains(a[0])), true
		case *ast.Array:
			return ast.InternedTerm(c.Until(a[0].Equal)), true
		case ast.Object:
			return ast.InternedTerm(c.Until(func(_, v *ast.Term) bool { return a[0].Equal(v) })), true
		}
		return ast.InternedTerm(false), true
	},
	ast.Count.Name: func(a []*ast.Term) (*ast.Term, bool) {
		switch c := a[0].Value.(type) {
		case *ast.Array:
			return ast.InternedTerm(c.Len()), true
		case ast.Object:
			return ast.InternedTerm(c.Len()), true
		case ast.Set:
			return ast.InternedTerm(c.Len()), true
		case ast.String:
			return ast.InternedTerm(len([]rune(c))), true
		}
		return nil, false
	},
	ast.ObjectGet.Name: func(a []*ast.Term) (*ast.Term, bool) {
		obj, ok := a[0].Value.(ast.Object)
		if !ok {
			return nil, false
		}
		path, def := a[1], a[2]
		arr, ok := path.Value.(*ast.Array)
		if !ok {
			if v := obj.Get(path); v != nil {
				return v, true
			}
			return def, true
		}
		curr := a[0]
		for i := range arr.Len() {
			if curr = curr.Get(arr.Elem(i)); curr == nil {
				break
			}
		}
		if curr != nil {
			return curr, true
		}
		return def, true
	},
	ast.IsString.Name:  isType(func(v ast.Value) bool { _, ok := v.(ast.String); return ok }),
	ast.IsNumber.Name:  isType(func(v ast.Value) bool { _, ok := v.(ast.Number); return ok }),
	ast.IsBoolean.Name: isType(func(v ast.Value) bool { _, ok := v.(ast.Boolean); return ok }),
	ast.IsArray.Name:   isType(func(v ast.Value) bool { _, ok := v.(*ast.Array); return ok }),
	ast.IsObject.Name:  isType(func(v ast.Value) bool { _, ok := v.(ast.Object); return ok }),
	ast.IsSet.Name:     isType(func(v ast.Value) bool { _, ok := v.(ast.Set); return ok }),
	ast.IsNull.Name:    isType(func(v ast.Value) bool { _, ok := v.(ast.Null); return ok }),
}

func isType(is func(ast.Value) bool) nativeFunc {
	return func(a []*ast.Term) (*ast.Term, bool) { return ast.InternedTerm(is(a[0].Value)), true }
}
