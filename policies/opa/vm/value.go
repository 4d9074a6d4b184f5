package vm

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Value is a Rego value as the VM holds it: one of
//
//   - Null (null), bool, int64 (a number written as a canonical integer
//     that fits), ast.Number (any other number, kept as written), string;
//   - *Array, *Object and *Set.
//
// A nil Value is undefined. Values are Go values rather than OPA's ast
// terms so that a comparison, a lookup or a membership test is a type
// switch and a loop, not a hash of the key and a map probe, and so that a
// scalar costs no allocation. They order and compare as ast.Compare does
// (null < booleans < numbers < strings < arrays < objects < sets; objects
// and sets by their sorted members), and scans visit objects and sets in
// that order, so a plan gives the results it gives on OPA's values.
//
// Collections made by a plan are changed only while the plan builds them
// (OPA's planner inserts only into a collection it has just made); those
// of FromAST are sorted and indexed when made, so that they can be shared
// between evaluations and never change.
type Value = any

// nullValue is the type of Null.
type nullValue struct{}

// Null is Rego's null.
var Null Value = nullValue{}

// Array is a Rego array.
type Array struct {
	elems  []Value
	inline [inlined]Value
}

// Object is a Rego object: keys and values in insertion order until a scan
// or a comparison sorts them, with an index by hash once it is large.
type Object struct {
	keys, vals []Value
	sorted     bool
	index      map[uint64][]int32
	inline     [2 * inlined]Value
}

// Set is a Rego set.
type Set struct {
	elems  []Value
	sorted bool
	index  map[uint64][]int32
	inline [inlined]Value
}

// inlined is how many elements (or pairs) a collection holds without
// allocating beyond itself: most of a plan's collections are small.
const inlined = 4

// newArray returns an empty array with room for n elements.
func newArray(n int) *Array {
	a := &Array{}
	if n <= inlined {
		a.elems = a.inline[:0:inlined]
	} else {
		a.elems = make([]Value, 0, n)
	}
	return a
}

// newObject returns an empty object.
func newObject() *Object {
	o := &Object{sorted: true}
	o.keys, o.vals = o.inline[:0:inlined], o.inline[inlined:inlined:2*inlined]
	return o
}

// newSet returns an empty set.
func newSet() *Set {
	s := &Set{sorted: true}
	s.elems = s.inline[:0:inlined]
	return s
}

// indexFrom is the size from which an object or a set keeps an index;
// smaller ones are searched.
const indexFrom = 16

// Len returns the number of elements.
func (a *Array) Len() int { return len(a.elems) }

// Len returns the number of keys.
func (o *Object) Len() int { return len(o.keys) }

// Len returns the number of members.
func (s *Set) Len() int { return len(s.elems) }

// find returns the position of k in keys, or -1.
func find(keys []Value, index map[uint64][]int32, k Value) int {
	if index != nil {
		for _, i := range index[hash(k)] {
			if equal(keys[i], k) {
				return int(i)
			}
		}
		return -1
	}
	if s, ok := k.(string); ok {
		for i, x := range keys {
			if y, ok := x.(string); ok && y == s {
				return i
			}
		}
		return -1
	}
	for i, x := range keys {
		if equal(x, k) {
			return i
		}
	}
	return -1
}

func reindex(keys []Value) map[uint64][]int32 {
	index := make(map[uint64][]int32, len(keys))
	for i, k := range keys {
		h := hash(k)
		index[h] = append(index[h], int32(i))
	}
	return index
}

// Get returns the value of key k, or nil.
func (o *Object) Get(k Value) Value {
	if i := find(o.keys, o.index, k); i >= 0 {
		return o.vals[i]
	}
	return nil
}

// getHinted is Get for the key of an instruction: objects that reach it
// are mostly of one shape, so the position the key was found at last
// (*hint, shared by evaluations) is tried first.
func (o *Object) getHinted(k Value, hint *int32) Value {
	ks, ok := k.(string)
	if !ok {
		return o.Get(k)
	}
	if h := int(atomic.LoadInt32(hint)); h < len(o.keys) {
		if x, ok := o.keys[h].(string); ok && x == ks {
			return o.vals[h]
		}
	}
	i := find(o.keys, o.index, k)
	if i < 0 {
		return nil
	}
	atomic.StoreInt32(hint, int32(i))
	return o.vals[i]
}

// Insert sets the value of key k.
func (o *Object) Insert(k, v Value) {
	if i := find(o.keys, o.index, k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys, o.vals = append(o.keys, k), append(o.vals, v)
	o.sorted = o.sorted && len(o.keys) == 1
	o.index = indexLast(o.index, o.keys)
}

// indexLast returns index with the last of keys added, or a new index of
// all of them once there are more than indexFrom.
func indexLast(index map[uint64][]int32, keys []Value) map[uint64][]int32 {
	switch {
	case index != nil:
		h := hash(keys[len(keys)-1])
		index[h] = append(index[h], int32(len(keys)-1))
	case len(keys) > indexFrom:
		index = reindex(keys)
	}
	return index
}

// sort puts the keys in ast.Compare's order.
func (o *Object) sort() {
	if o.sorted {
		return
	}
	if n := len(o.keys); n > 1 && n <= indexFrom {
		for i := 1; i < n; i++ { // insertion sort, in place
			for j := i; j > 0 && compare(o.keys[j-1], o.keys[j]) > 0; j-- {
				o.keys[j-1], o.keys[j] = o.keys[j], o.keys[j-1]
				o.vals[j-1], o.vals[j] = o.vals[j], o.vals[j-1]
			}
		}
	} else if n > indexFrom {
		idx := make([]int, len(o.keys))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return compare(o.keys[a], o.keys[b]) })
		keys, vals := make([]Value, len(idx)), make([]Value, len(idx))
		for i, j := range idx {
			keys[i], vals[i] = o.keys[j], o.vals[j]
		}
		o.keys, o.vals = keys, vals
		if o.index != nil {
			o.index = reindex(o.keys)
		}
	}
	o.sorted = true
}

// copy returns a copy of o (its members are shared).
func (o *Object) copy() *Object {
	c := newObject()
	c.keys, c.vals, c.sorted = append(c.keys, o.keys...), append(c.vals, o.vals...), o.sorted
	if o.index != nil {
		c.index = reindex(c.keys)
	}
	return c
}

// Contains reports whether v is a member.
func (s *Set) Contains(v Value) bool { return find(s.elems, s.index, v) >= 0 }

// Add adds v.
func (s *Set) Add(v Value) {
	if s.Contains(v) {
		return
	}
	s.elems = append(s.elems, v)
	s.sorted = s.sorted && len(s.elems) == 1
	s.index = indexLast(s.index, s.elems)
}

func (s *Set) sort() {
	if s.sorted {
		return
	}
	slices.SortFunc(s.elems, compare)
	if s.index != nil {
		s.index = reindex(s.elems)
	}
	s.sorted = true
}

// order is the rank of a value's type in ast.Compare's order.
func order(v Value) int {
	switch v.(type) {
	case nullValue:
		return 0
	case bool:
		return 1
	case int64, ast.Number:
		return 2
	case string:
		return 3
	case *Array:
		return 7
	case *Object:
		return 8
	case *Set:
		return 9
	}
	panic(fmt.Sprintf("vm: value of type %T", v))
}

// compare orders values as ast.Compare orders their ast forms.
func compare(a, b Value) int {
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return cmp.Compare(x, y)
		}
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	}
	oa, ob := order(a), order(b)
	if oa != ob {
		return cmp.Compare(oa, ob)
	}
	switch x := a.(type) {
	case nullValue:
		return 0
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case int64, ast.Number:
		return ast.NumberCompare(number(x), number(b))
	case *Array:
		return slices.CompareFunc(x.elems, b.(*Array).elems, compare)
	case *Object:
		y := b.(*Object)
		x.sort()
		y.sort()
		for i := range min(len(x.keys), len(y.keys)) {
			if c := compare(x.keys[i], y.keys[i]); c != 0 {
				return c
			}
			if c := compare(x.vals[i], y.vals[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(x.keys), len(y.keys))
	case *Set:
		y := b.(*Set)
		x.sort()
		y.sort()
		return slices.CompareFunc(x.elems, y.elems, compare)
	}
	panic(fmt.Sprintf("vm: value of type %T", a))
}

// equal is compare(a, b) == 0, sooner for the common cases.
func equal(a, b Value) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int64:
		if y, ok := b.(int64); ok {
			return x == y
		}
	case *Array:
		y, ok := b.(*Array)
		return ok && slices.EqualFunc(x.elems, y.elems, equal)
	case *Object:
		y, ok := b.(*Object)
		if !ok || len(x.keys) != len(y.keys) {
			return false
		}
		for i, k := range x.keys {
			v := y.Get(k)
			if v == nil || !equal(x.vals[i], v) {
				return false
			}
		}
		return true
	case *Set:
		y, ok := b.(*Set)
		if !ok || len(x.elems) != len(y.elems) {
			return false
		}
		for _, v := range x.elems {
			if !y.Contains(v) {
				return false
			}
		}
		return true
	}
	return compare(a, b) == 0
}

// number returns a number as an ast.Number.
func number(v Value) ast.Number {
	if i, ok := v.(int64); ok {
		return ast.Number(strconv.FormatInt(i, 10))
	}
	return v.(ast.Number)
}

var seed = maphash.MakeSeed()

// hash is a hash of v that equal values share (numbers written
// differently included: 1 and 1.0).
func hash(v Value) uint64 {
	switch x := v.(type) {
	case string:
		return maphash.String(seed, x)
	case int64:
		return floatHash(float64(x))
	case ast.Number:
		f, ok := x.Float64()
		if !ok {
			return 0x9e37
		}
		return floatHash(f)
	case bool:
		if x {
			return 0x51
		}
		return 0x50
	case nullValue:
		return 0x4e
	case *Array:
		h := uint64(0xa7)
		for _, e := range x.elems {
			h = h*31 + hash(e)
		}
		return h
	case *Object:
		h := uint64(0x0b)
		for i, k := range x.keys {
			h += mix(hash(k)) ^ hash(x.vals[i])
		}
		return h
	case *Set:
		h := uint64(0x5e)
		for _, e := range x.elems {
			h += mix(hash(e))
		}
		return h
	}
	panic(fmt.Sprintf("vm: value of type %T", v))
}

func floatHash(f float64) uint64 {
	if f == 0 {
		f = 0 // -0 and 0 are equal
	}
	return mix(math.Float64bits(f))
}

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// FromAST returns v as a Value. Objects and sets come sorted and indexed,
// so that the Value can be shared between evaluations.
func FromAST(v ast.Value) (Value, error) {
	switch x := v.(type) {
	case ast.Null:
		return Null, nil
	case ast.Boolean:
		return bool(x), nil
	case ast.Number:
		return numberValue(x), nil
	case ast.String:
		return string(x), nil
	case *ast.Array:
		a := newArray(x.Len())
		for i := range x.Len() {
			e, err := FromAST(x.Elem(i).Value)
			if err != nil {
				return nil, err
			}
			a.elems = append(a.elems, e)
		}
		return a, nil
	case ast.Object:
		o := newObject()
		var err error
		x.Until(func(k, v *ast.Term) bool { // in sorted order
			var kv, vv Value
			if kv, err = FromAST(k.Value); err != nil {
				return true
			}
			if vv, err = FromAST(v.Value); err != nil {
				return true
			}
			o.keys, o.vals = append(o.keys, kv), append(o.vals, vv)
			return false
		})
		if err != nil {
			return nil, err
		}
		if len(o.keys) > indexFrom {
			o.index = reindex(o.keys)
		}
		return o, nil
	case ast.Set:
		s := newSet()
		var err error
		x.Until(func(t *ast.Term) bool {
			var e Value
			if e, err = FromAST(t.Value); err != nil {
				return true
			}
			s.elems = append(s.elems, e)
			return false
		})
		if err != nil {
			return nil, err
		}
		if len(s.elems) > indexFrom {
			s.index = reindex(s.elems)
		}
		return s, nil
	}
	return nil, fmt.Errorf("vm: a value of type %T is not data", v)
}

// mustFromAST is FromAST of a built-in function's result, which is data.
func mustFromAST(v ast.Value) Value {
	x, err := FromAST(v)
	if err != nil {
		panic(err)
	}
	return x
}

// numberValue returns n as an int64 when it is written as one, so that
// converting it back gives the same text.
func numberValue(n ast.Number) Value {
	if i, ok := n.Int64(); ok && strconv.FormatInt(i, 10) == string(n) {
		return i
	}
	return n
}

// ToAST returns v as an ast term.
func ToAST(v Value) *ast.Term {
	switch x := v.(type) {
	case nullValue:
		return ast.InternedNullTerm
	case bool:
		return ast.InternedTerm(x)
	case int64:
		return ast.InternedTerm(int(x))
	case ast.Number:
		return ast.NewTerm(x)
	case string:
		return ast.StringTerm(x)
	case *Array:
		ts := make([]*ast.Term, len(x.elems))
		for i, e := range x.elems {
			ts[i] = ToAST(e)
		}
		return ast.ArrayTerm(ts...)
	case *Object:
		x.sort()
		o := ast.NewObject()
		for i, k := range x.keys {
			o.Insert(ToAST(k), ToAST(x.vals[i]))
		}
		return ast.NewTerm(o)
	case *Set:
		x.sort()
		ts := make([]*ast.Term, len(x.elems))
		for i, e := range x.elems {
			ts[i] = ToAST(e)
		}
		return ast.SetTerm(ts...)
	}
	panic(fmt.Sprintf("vm: value of type %T", v))
}

// NewArray returns an array of elems (which it keeps).
func NewArray(elems ...Value) *Array {
	if len(elems) <= inlined {
		a := newArray(len(elems))
		a.elems = append(a.elems, elems...)
		return a
	}
	return &Array{elems: elems}
}

// NewObject returns an object of string keys and their values (which it
// keeps), sorted and indexed, so that evaluations may share it. A key
// given twice keeps its last value.
func NewObject(keys []string, vals []Value) *Object {
	o := newObject()
	o.fill(keys, vals)
	return o
}

// fill puts keys and their values in the empty object o, in order.
func (o *Object) fill(keys []string, vals []Value) {
	if len(keys) != len(vals) {
		panic("vm: an object with as many keys as values")
	}
	if len(keys) > inlined {
		buf := make([]Value, 2*len(keys))
		o.keys, o.vals = buf[:0:len(keys)], buf[len(keys):len(keys):2*len(keys)]
	}
	for i, k := range keys {
		// Insertion in order: objects of the input are small.
		j, found := slices.BinarySearchFunc(o.keys, k, func(x Value, k string) int { return cmp.Compare(x.(string), k) })
		if found {
			o.vals[j] = vals[i]
			continue
		}
		o.keys, o.vals = slices.Insert(o.keys, j, key(k)), slices.Insert(o.vals, j, vals[i])
	}
	o.sorted = true
	if len(o.keys) > indexFrom {
		o.index = reindex(o.keys)
	}
}

// Shape is a set of keys that objects are made with again and again (the
// grants and datasets of inputs): NewObject's work on the keys, done once.
type Shape struct {
	keys []Value // sorted
	perm []int   // perm[i]: where the value of keys[i] is in Object's arguments
}

// NewShape returns the shape of objects with these keys, in the order
// Object takes their values. A key given twice panics.
func NewShape(keys ...string) *Shape {
	perm := make([]int, len(keys))
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
	s := &Shape{perm: perm}
	for i, j := range perm {
		if i > 0 && keys[j] == keys[perm[i-1]] {
			panic("vm: a shape with a key twice")
		}
		s.keys = append(s.keys, key(keys[j]))
	}
	return s
}

// Object returns an object of the shape's keys with vals, given in the
// order of NewShape's keys. Its keys are the shape's: a key inserted later
// goes to a copy of them.
func (s *Shape) Object(vals ...Value) *Object {
	if len(vals) != len(s.keys) {
		panic("vm: an object with as many values as its shape has keys")
	}
	o := &Object{sorted: true}
	o.keys = s.keys[:len(s.keys):len(s.keys)]
	if len(vals) <= len(o.inline) {
		o.vals = o.inline[:len(vals):len(o.inline)]
	} else {
		o.vals = make([]Value, len(vals))
	}
	for i, j := range s.perm {
		o.vals[i] = vals[j]
	}
	if len(o.keys) > indexFrom {
		o.index = reindex(o.keys)
	}
	return o
}

// Arena makes the objects and arrays of values that live no longer than
// one evaluation (an input), and makes them again from the same memory
// after Reset. A nil *Arena allocates, as NewObject and NewArray do.
type Arena struct{ a arena }

// Object is NewObject from the arena.
func (a *Arena) Object(keys []string, vals []Value) *Object {
	if a == nil {
		return NewObject(keys, vals)
	}
	o := a.a.object()
	o.fill(keys, vals)
	return o
}

// Array returns an empty array with room for n elements, from the arena.
func (a *Arena) Array(n int) *Array {
	if a == nil {
		return newArray(n)
	}
	return a.a.array(n)
}

// Append appends v to an array that the caller is making.
func (x *Array) Append(v Value) { x.elems = append(x.elems, v) }

// Reset makes what the arena made garbage, and available again.
func (a *Arena) Reset() { a.a.reset() }

// keys holds the keys of NewObject's objects as Values, so that making an
// object of keys seen before does not allocate for them (a string in an
// interface is allocated). It stops growing at maxKeys.
var keys struct {
	m sync.Map
	n atomic.Int32
}

const maxKeys = 1 << 10

func key(k string) Value {
	if v, ok := keys.m.Load(k); ok {
		return v
	}
	var v Value = k
	if keys.n.Load() < maxKeys {
		if _, loaded := keys.m.LoadOrStore(k, v); !loaded {
			keys.n.Add(1)
		}
	}
	return v
}

// Int returns the number n.
func Int(n int64) Value { return n }

// Number returns the number written text (in JSON's syntax), or an error.
func Number(text string) (Value, error) {
	if _, err := strconv.ParseFloat(text, 64); err != nil {
		return nil, fmt.Errorf("vm: the text of a number is not a number")
	}
	return numberValue(ast.Number(text)), nil
}

// Pairs returns the keys and their values, in order. The slices are the
// object's own: read only.
func (o *Object) Pairs() (keys, vals []Value) {
	o.sort()
	return o.keys, o.vals
}

// Members returns the elements of an array, or the members of a set in
// order, and whether v is either. The slice is v's own: read only.
func Members(v Value) ([]Value, bool) {
	switch x := v.(type) {
	case *Array:
		return x.elems, true
	case *Set:
		x.sort()
		return x.elems, true
	}
	return nil, false
}

// FromJSON returns v, a document as encoding/json or ast.JSON give it
// (nil, bool, json.Number, float64, string, []any, map[string]any), as a
// Value; a Value's collections pass unchanged.
func FromJSON(v any) (Value, error) {
	switch x := v.(type) {
	case nil:
		return Null, nil
	case bool, string, int64, ast.Number, nullValue, *Array, *Object, *Set:
		return x, nil
	case json.Number:
		return Number(string(x))
	case float64:
		return Number(strconv.FormatFloat(x, 'g', -1, 64))
	case []any:
		elems := make([]Value, len(x))
		for i, e := range x {
			var err error
			if elems[i], err = FromJSON(e); err != nil {
				return nil, err
			}
		}
		return NewArray(elems...), nil
	case map[string]any:
		keys, vals := make([]string, 0, len(x)), make([]Value, 0, len(x))
		for k, e := range x {
			ev, err := FromJSON(e)
			if err != nil {
				return nil, err
			}
			keys, vals = append(keys, k), append(vals, ev)
		}
		return NewObject(keys, vals), nil
	}
	return nil, fmt.Errorf("vm: a value of type %T is not a JSON document", v)
}
