package vm

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// randomValue returns a random Value made the way plans make them:
// collections built by Insert and Add in random order (so unsorted, and
// indexed when large), numbers of every kind of text that compare equal
// across kinds ("1", "1.0", "1e0"), and keys of every type.
func randomValue(r *rand.Rand, depth int) Value {
	n := 8
	if depth > 2 {
		n = 5 // scalars only
	}
	switch r.IntN(n) {
	case 0:
		return Null
	case 1:
		return r.IntN(2) == 0
	case 2:
		return int64(r.IntN(5) - 2)
	case 3:
		return numberValue(ast.Number([]string{"1.0", "1e0", "-2.5", "0.0", "100000000000000000000000", "1.5e300"}[r.IntN(6)]))
	case 4:
		return []string{"", "a", "b", "ab", "é", "id", "org"}[r.IntN(7)]
	case 5:
		a := newArray(0)
		for range r.IntN(4) {
			a.elems = append(a.elems, randomValue(r, depth+1))
		}
		return a
	case 6:
		o := newObject()
		for range r.IntN(3 * indexFrom / 2) {
			o.Insert(randomValue(r, depth+1), randomValue(r, depth+1))
		}
		return o
	default:
		s := newSet()
		for range r.IntN(3 * indexFrom / 2) {
			s.Add(randomValue(r, depth+1))
		}
		return s
	}
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// TestValuesOrderAsAST: compare, equal and hash of Values agree with
// ast.Compare on their ast forms, FromAST and ToAST convert both ways
// without change, and so does FromJSON of a value's JSON document (sets
// and keys other than strings aside, which JSON has not).
func TestValuesOrderAsAST(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var equalPairs int
	n := 4000
	if testing.Short() {
		n = 1000
	}
	for i := range n {
		a, b := randomValue(r, 0), randomValue(r, 0)
		if i%4 == 0 { // same shape, more chances to be equal
			b = mustFromAST(ToAST(a).Value)
		}
		ta, tb := ToAST(a), ToAST(b)
		want := sign(ast.Compare(ta.Value, tb.Value))
		if got := sign(compare(a, b)); got != want {
			t.Fatalf("compare(%v, %v) = %d, want %d", ta, tb, got, want)
		}
		if got := equal(a, b); got != (want == 0) {
			t.Fatalf("equal(%v, %v) = %v, want %v", ta, tb, got, want == 0)
		}
		if want == 0 {
			equalPairs++
			if hash(a) != hash(b) {
				t.Fatalf("hash of equal %v and %v differ", ta, tb)
			}
		}
		back, err := FromAST(ta.Value)
		if err != nil {
			t.Fatal(err)
		}
		if ast.Compare(ToAST(back).Value, ta.Value) != 0 {
			t.Fatalf("FromAST(ToAST(%v)) = %v", ta, ToAST(back))
		}
		doc, err := ast.JSON(ta.Value)
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := FromJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		if ast.Compare(ToAST(fromJSON).Value, ta.Value) != 0 && !hasSetOrKeys(a) {
			t.Fatalf("FromJSON(%v) = %v", doc, ToAST(fromJSON))
		}
	}
	if equalPairs < n/4 {
		t.Fatalf("only %d equal pairs compared", equalPairs)
	}
}

// TestLargeCollections: lookups in objects and sets past indexFrom
// members, before and after a scan sorts them, find what ast's do.
func TestLargeCollections(t *testing.T) {
	o, s := newObject(), newSet()
	ao, as := ast.NewObject(), ast.NewSet()
	for i := range 5 * indexFrom {
		k := Value(int64((i * 7) % (3 * indexFrom))) // repeats: later values win
		if i%3 == 0 {
			k = ast.Number(json.Number([]string{"1.0", "2.0", "3.5"}[i%3]))
		}
		o.Insert(k, int64(i))
		s.Add(k)
		ao.Insert(ToAST(k), ToAST(int64(i)))
		as.Add(ToAST(k))
	}
	if o.index == nil || s.index == nil {
		t.Fatal("large collections without an index")
	}
	check := func(when string) {
		t.Helper()
		if o.Len() != ao.Len() || s.Len() != as.Len() {
			t.Fatalf("%s: got %d keys and %d members, want %d and %d", when, o.Len(), s.Len(), ao.Len(), as.Len())
		}
		for i := range 4 * indexFrom {
			for _, k := range []Value{int64(i), ast.Number(json.Number(string(rune('0'+i%10)) + ".0"))} {
				got, want := o.Get(k), ao.Get(ToAST(k))
				if (got == nil) != (want == nil) || (got != nil && !equal(got, mustFromAST(want.Value))) {
					t.Fatalf("%s: Get(%v) = %v, want %v", when, k, got, want)
				}
				if s.Contains(k) != as.Contains(ToAST(k)) {
					t.Fatalf("%s: Contains(%v) = %v, want %v", when, k, s.Contains(k), !s.Contains(k))
				}
			}
		}
	}
	check("unsorted")
	o.sort()
	s.sort()
	check("sorted")
	if ast.Compare(ToAST(o).Value, ao) != 0 || ast.Compare(ToAST(s).Value, as) != 0 {
		t.Fatal("sorted collections differ from ast's")
	}
}

// TestNewObjectSortsAndKeepsLast: objects of the input come sorted, with
// the last value of a repeated key.
func TestNewObjectSortsAndKeepsLast(t *testing.T) {
	o := NewObject([]string{"b", "a", "c", "a"}, []Value{int64(1), int64(2), int64(3), int64(4)})
	if !o.sorted || !reflect.DeepEqual(o.keys, []Value{"a", "b", "c"}) || !reflect.DeepEqual(o.vals, []Value{int64(4), int64(1), int64(3)}) {
		t.Fatalf("got keys %v values %v", o.keys, o.vals)
	}
}

// TestGetHinted: a stale or foreign hint still finds the key, or nothing.
func TestGetHinted(t *testing.T) {
	a := NewObject([]string{"x", "y"}, []Value{int64(1), int64(2)})
	b := NewObject([]string{"a", "b", "y"}, []Value{int64(3), int64(4), int64(5)})
	var hint int32
	for _, c := range []struct {
		o    *Object
		k    Value
		want Value
	}{{a, "y", int64(2)}, {b, "y", int64(5)}, {a, "y", int64(2)}, {b, "x", nil}, {a, int64(1), nil}, {b, "a", int64(3)}} {
		if got := c.o.getHinted(c.k, &hint); got != c.want {
			t.Fatalf("getHinted(%v) = %v, want %v", c.k, got, c.want)
		}
	}
}

// hasSetOrKeys reports whether v holds a set or an object with a key that
// is not a string, which JSON documents cannot hold as such.
func hasSetOrKeys(v Value) bool {
	switch x := v.(type) {
	case *Set:
		return true
	case *Array:
		return slices.ContainsFunc(x.elems, hasSetOrKeys)
	case *Object:
		for i, k := range x.keys {
			if _, ok := k.(string); !ok || hasSetOrKeys(x.vals[i]) {
				return true
			}
		}
	}
	return false
}

// TestNativesAsOPA: the built-ins computed here give what OPA's give,
// written the same way (1 and 1.0 are equal but not the same text), on
// operands that tell the implementations apart.
func TestNativesAsOPA(t *testing.T) {
	num := func(s string) Value { return numberValue(ast.Number(s)) }
	arr := func(vs ...Value) Value { return NewArray(vs...) }
	set := func(vs ...Value) Value {
		s := newSet()
		for _, v := range vs {
			s.Add(v)
		}
		return s
	}
	cases := []struct {
		name string
		args []Value
	}{
		{ast.Min.Name, []Value{arr(int64(1), num("1.0"))}},
		{ast.Min.Name, []Value{arr(num("1.0"), int64(2), int64(1))}},
		{ast.Max.Name, []Value{arr(int64(2), num("2.0"), int64(1))}},
		{ast.Max.Name, []Value{arr(num("2.0"), int64(2))}},
		{ast.Min.Name, []Value{set("b", "a", int64(3))}},
		{ast.Max.Name, []Value{set("b", "a", int64(3))}},
		{ast.Min.Name, []Value{arr()}},
		{ast.Count.Name, []Value{"né"}},
		{ast.Sprintf.Name, []Value{"%s has %d, %q", arr("x", int64(300), "y")}},
		{ast.Member.Name, []Value{num("1.0"), arr(int64(1))}},
		{ast.ObjectGet.Name, []Value{NewObject([]string{"a"}, []Value{arr(int64(5))}), arr("a", num("0.0")), "none"}},
		{ast.ObjectGet.Name, []Value{NewObject([]string{"a"}, []Value{arr(int64(5))}), arr("a", int64(0)), "none"}},
		{ast.LessThan.Name, []Value{int64(1), num("1.5")}},
		{ast.Equal.Name, []Value{int64(1), num("1.0")}},
	}
	for _, c := range cases {
		var terms []*ast.Term
		for _, a := range c.args {
			terms = append(terms, ToAST(a))
		}
		var want *ast.Term
		err := topdown.GetBuiltin(c.name)(topdown.BuiltinContext{}, terms, func(t *ast.Term) error { want = t; return nil })
		if err != nil {
			t.Fatalf("%s%v: OPA: %v", c.name, terms, err)
		}
		got, ok := natives[c.name](c.args)
		if !ok {
			t.Fatalf("%s%v: left to OPA", c.name, terms)
		}
		switch {
		case got == nil && want == nil:
		case got == nil || want == nil || ToAST(got).String() != want.String():
			t.Errorf("%s%v = %v, want %v", c.name, terms, got, want)
		}
	}
}

// TestShape: an object of a shape is the object NewObject makes of the
// same keys and values; a key inserted into one leaves the others alone.
func TestShape(t *testing.T) {
	sh := NewShape("b", "c", "a")
	x := sh.Object(int64(2), int64(3), int64(1))
	y := sh.Object(int64(5), int64(6), int64(4))
	if want := NewObject([]string{"a", "b", "c"}, []Value{int64(1), int64(2), int64(3)}); !equal(x, want) || compare(x, want) != 0 {
		t.Fatalf("got %v, want %v", ToAST(x), ToAST(want))
	}
	x.Insert("d", int64(7))
	if y.Len() != 3 || y.Get("d") != nil || x.Get("d") != int64(7) || y.Get("a") != int64(4) {
		t.Fatalf("after an insert into another object of the shape: %v and %v", ToAST(x), ToAST(y))
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a shape with a key twice did not panic")
		}
	}()
	NewShape("a", "b", "a")
}
