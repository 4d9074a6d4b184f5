package vm

import (
	"fmt"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// nativeFunc computes a built-in function on Values, without topdown's
// call context or ast terms. It returns false when it leaves the call to
// OPA's implementation (an operand of a type that makes OPA's
// implementation fail, so that the error is OPA's).
type nativeFunc func(args []Value) (Value, bool)

// natives are the built-in functions that policies call most, computed as
// OPA computes them (topdown/comparison.go, aggregates.go, type.go and
// object.go), on Values. The conformance test runs OPA's test cases of
// these functions through them.
var natives = map[string]nativeFunc{
	ast.GreaterThan.Name: func(a []Value) (Value, bool) {
		return compare(a[0], a[1]) > 0, true
	},
	ast.GreaterThanEq.Name: func(a []Value) (Value, bool) {
		return compare(a[0], a[1]) >= 0, true
	},
	ast.LessThan.Name: func(a []Value) (Value, bool) {
		return compare(a[0], a[1]) < 0, true
	},
	ast.LessThanEq.Name: func(a []Value) (Value, bool) {
		return compare(a[0], a[1]) <= 0, true
	},
	ast.NotEqual.Name: func(a []Value) (Value, bool) {
		return !equal(a[0], a[1]), true
	},
	ast.Equal.Name: func(a []Value) (Value, bool) {
		return equal(a[0], a[1]), true
	},
	ast.Member.Name: func(a []Value) (Value, bool) {
		switch c := a[1].(type) {
		case *Set:
			return c.Contains(a[0]), true
		case *Array:
			for _, e := range c.elems {
				if equal(a[0], e) {
					return true, true
				}
			}
		case *Object:
			for _, v := range c.vals {
				if equal(a[0], v) {
					return true, true
				}
			}
		}
		return false, true
	},
	ast.Count.Name: func(a []Value) (Value, bool) {
		switch c := a[0].(type) {
		case *Array:
			return int64(len(c.elems)), true
		case *Object:
			return int64(len(c.keys)), true
		case *Set:
			return int64(len(c.elems)), true
		case string:
			return int64(utf8.RuneCountInString(c)), true
		}
		return nil, false
	},
	ast.ObjectGet.Name: func(a []Value) (Value, bool) {
		obj, ok := a[0].(*Object)
		if !ok {
			return nil, false
		}
		path, def := a[1], a[2]
		arr, ok := path.(*Array)
		if !ok {
			if v := obj.Get(path); v != nil {
				return v, true
			}
			return def, true
		}
		var curr Value = obj
		for _, k := range arr.elems {
			if curr = get(curr, k); curr == nil {
				return def, true
			}
		}
		return curr, true
	},
	ast.Min.Name: func(a []Value) (Value, bool) { return extreme(a[0], -1) },
	ast.Max.Name: func(a []Value) (Value, bool) { return extreme(a[0], 1) },
	// sprintf of strings and integers; OPA formats anything else.
	ast.Sprintf.Name: func(a []Value) (Value, bool) {
		format, ok := a[0].(string)
		arr, ok2 := a[1].(*Array)
		if !ok || !ok2 || len(arr.elems) > 8 {
			return nil, false
		}
		var buf [8]any
		args := buf[:len(arr.elems)]
		for i, e := range arr.elems {
			switch x := e.(type) {
			case string, int64: // an int64 is written as an integer (numberValue)
				args[i] = x
			default:
				return nil, false
			}
		}
		return fmt.Sprintf(format, args...), true
	},
	ast.IsString.Name:  isType(func(v Value) bool { _, ok := v.(string); return ok }),
	ast.IsNumber.Name:  isType(isNumber),
	ast.IsBoolean.Name: isType(func(v Value) bool { _, ok := v.(bool); return ok }),
	ast.IsArray.Name:   isType(func(v Value) bool { _, ok := v.(*Array); return ok }),
	ast.IsObject.Name:  isType(func(v Value) bool { _, ok := v.(*Object); return ok }),
	ast.IsSet.Name:     isType(func(v Value) bool { _, ok := v.(*Set); return ok }),
	ast.IsNull.Name:    isType(func(v Value) bool { _, ok := v.(nullValue); return ok }),
}

func isNumber(v Value) bool {
	switch v.(type) {
	case int64, ast.Number:
		return true
	}
	return false
}

func isType(is func(Value) bool) nativeFunc {
	return func(a []Value) (Value, bool) { return is(a[0]), true }
}

// get is ast.Term's Get: an object's value, an array's element at an
// integral index, a set's member; nil for anything else.
func get(v, k Value) Value {
	switch v.(type) {
	case *Object, *Array, *Set:
		return dot(v, k)
	}
	return nil
}

// extreme returns the least (sign -1) or the greatest (sign 1) element of
// an array or a set as OPA's min and max do: of equal elements of an array,
// the last (a set's members are distinct); undefined when there are none.
func extreme(v Value, sign int) (Value, bool) {
	switch c := v.(type) {
	case *Array:
		if len(c.elems) == 0 {
			return nil, true
		}
		m := c.elems[0]
		for _, x := range c.elems {
			if compare(m, x)*sign <= 0 {
				m = x
			}
		}
		return m, true
	case *Set:
		if len(c.elems) == 0 {
			return nil, true
		}
		c.sort()
		if sign < 0 {
			return c.elems[0], true
		}
		return c.elems[len(c.elems)-1], true
	}
	return nil, false
}
