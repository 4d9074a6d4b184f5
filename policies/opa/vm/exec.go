package vm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/containerd/errdefs"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"
)

// Program is a compiled plan. It is safe for concurrent use.
type Program struct {
	strings []Value // string constants: Go strings
	files   []string
	funcs   []*function
	byPath  map[string]*function
	plan    [][]instr
	nlocals int // of the plan
}

// Options of one evaluation.
type Options struct {
	// Time is the value of the built-ins' clock (nanoseconds since the
	// epoch); the engine's policies take the time from the input instead.
	Time *ast.Term
}

// Eval evaluates the plan on input and data (nil data is the empty
// object) and returns its result set: one object per result, binding the
// query's variables. It returns an error when a built-in function fails,
// when a rule gives two values, or when ctx ends.
func (p *Program) Eval(ctx context.Context, input, data ast.Value, opts Options) (ast.Set, error) {
	var in, d Value
	var err error
	if input != nil {
		if in, err = FromAST(input); err != nil {
			return nil, fmt.Errorf("input: %w: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	if data != nil {
		if d, err = FromAST(data); err != nil {
			return nil, fmt.Errorf("data: %w: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	out := ast.NewSet()
	err = p.EvalValue(ctx, in, d, opts, func(rs []Value) error {
		for _, v := range rs {
			out.Add(ToAST(v))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// emptyObject is the data document when there is none; plans never change
// data.
var emptyObject = newObject()

// EvalValue is Eval on Values (nil input: none): it passes the results, in
// no particular order, to use, and returns use's error. The results are
// valid only until use returns: the collections a plan makes are reused
// by later evaluations. Input and data are only read.
func (p *Program) EvalValue(ctx context.Context, input, data Value, opts Options, use func(results []Value) error) (err error) {
	if data == nil {
		data = emptyObject
	}
	e := evalPool.Get().(*eval)
	defer func() {
		// A failure of this package fails the evaluation (a deny), not
		// the process; the state it leaves is dropped, not pooled.
		if r := recover(); r != nil {
			err = fmt.Errorf("evaluation failed (%T): %w", r, errdefs.ErrInternal)
			return
		}
		e.release()
	}()
	e.p, e.ctx, e.time = p, ctx, opts.Time
	e.results = e.arena.set()
	if cap(e.memo) < len(p.funcs) {
		e.memo = make([]Value, len(p.funcs))
	}
	e.memo = e.memo[:len(p.funcs)]
	fr := e.frame(p.nlocals)
	if input != nil {
		fr[ir.Input] = input
	}
	fr[ir.Data] = data
	for _, b := range p.plan {
		br, err := e.block(fr, b)
		if err != nil {
			return err
		}
		if br > 0 || br == brReturn {
			break
		}
	}
	e.free(fr)
	return use(e.results.elems)
}

// eval is the state of one evaluation.
type eval struct {
	p       *Program
	ctx     context.Context
	time    *ast.Term
	results *Set
	memo    []Value // by function index; undefinedRule when undefined
	chunks  [][]Value
	chunk   int
	top     int
	marks   []mark
	cache   builtins.Cache
	args    []Value
	nargs   [3]Value // the arguments of a native call
	arena   arena
	steps   int
	ret     Value // the value of the last opReturn
	// Values of the current built-in call; see collect.
	result    *ast.Term
	all       []*ast.Term
	relation  bool
	collectFn func(*ast.Term) error
}

var evalPool = sync.Pool{New: func() any {
	e := &eval{}
	e.collectFn = e.collect
	return e
}}

func (e *eval) release() {
	clear(e.memo)
	if len(e.marks) > 0 { // an error left frames behind
		for _, c := range e.chunks {
			clear(c)
		}
		e.marks = e.marks[:0]
	}
	e.chunk, e.top = 0, 0
	e.p, e.ctx, e.time, e.results, e.cache, e.ret = nil, nil, nil, nil, nil, nil
	clear(e.args[:cap(e.args)])
	e.nargs = [3]Value{}
	e.args = e.args[:0]
	e.steps = 0
	e.arena.reset()
	evalPool.Put(e)
}

// arena holds the collections that plans make. It stays with its pooled
// eval, so that the next evaluation reuses them instead of allocating:
// they are garbage when an evaluation ends (EvalValue's results are valid
// only within its use function).
type arena struct {
	objs       []*Object
	sets       []*Set
	arrs       []*Array
	nobj, nset int
	narr       int
}

// maxArena bounds each kind of collection an arena keeps.
const maxArena = 1 << 10

func (a *arena) object() *Object {
	if a.nobj == len(a.objs) {
		a.objs = append(a.objs, &Object{})
	}
	o := a.objs[a.nobj]
	a.nobj++
	o.sorted = true
	o.keys, o.vals = o.inline[:0:inlined], o.inline[inlined:inlined:2*inlined]
	return o
}

func (a *arena) set() *Set {
	if a.nset == len(a.sets) {
		a.sets = append(a.sets, &Set{})
	}
	s := a.sets[a.nset]
	a.nset++
	s.sorted = true
	s.elems = s.inline[:0:inlined]
	return s
}

func (a *arena) array(n int) *Array {
	if a.narr == len(a.arrs) {
		a.arrs = append(a.arrs, &Array{})
	}
	x := a.arrs[a.narr]
	a.narr++
	if n <= inlined {
		x.elems = x.inline[:0:inlined]
	} else {
		x.elems = make([]Value, 0, n)
	}
	return x
}

// reset clears what the last evaluation made (so that the pool does not
// keep its values alive) and makes it available again.
func (a *arena) reset() {
	for _, o := range a.objs[:a.nobj] {
		*o = Object{}
	}
	for _, s := range a.sets[:a.nset] {
		*s = Set{}
	}
	for _, x := range a.arrs[:a.narr] {
		*x = Array{}
	}
	a.nobj, a.nset, a.narr = 0, 0, 0
	if len(a.objs) > maxArena {
		a.objs = nil
	}
	if len(a.sets) > maxArena {
		a.sets = nil
	}
	if len(a.arrs) > maxArena {
		a.arrs = nil
	}
}

// frame returns n nil locals from the stack of frames, which is made of
// chunks so that a frame never moves while it is in use.
func (e *eval) frame(n int) []Value {
	e.marks = append(e.marks, mark{e.chunk, e.top})
	if len(e.chunks) == 0 {
		e.chunks = append(e.chunks, make([]Value, max(chunkSize, n)))
	}
	if len(e.chunks[e.chunk])-e.top < n {
		e.chunk++
		e.top = 0
		switch {
		case e.chunk == len(e.chunks):
			e.chunks = append(e.chunks, make([]Value, max(chunkSize, n)))
		case len(e.chunks[e.chunk]) < n:
			e.chunks[e.chunk] = make([]Value, max(chunkSize, n))
		}
	}
	fr := e.chunks[e.chunk][e.top : e.top+n : e.top+n]
	e.top += n
	return fr
}

// free returns the last frame that frame returned.
func (e *eval) free(fr []Value) {
	clear(fr)
	m := e.marks[len(e.marks)-1]
	e.marks = e.marks[:len(e.marks)-1]
	e.chunk, e.top = m.chunk, m.top
}

// chunkSize is the number of locals of a chunk of the stack of frames.
const chunkSize = 1024

type mark struct{ chunk, top int }

// undefinedRule marks a memoized rule that was undefined.
var undefinedRule Value = &struct{ undefined bool }{}

// errConflict is the error of a rule with two values.
var errConflict = errors.New("conflicting values")

// checkEvery is how many function calls and iterations of scans run
// between checks of the context (a plan loops only through them).
const checkEvery = 1 << 10

// check returns the context's error every checkEvery calls.
func (e *eval) check() error {
	e.steps++
	if e.steps%checkEvery == 0 && e.ctx != nil {
		return e.ctx.Err()
	}
	return nil
}

// Results of block besides a break index (>= 0: the number of blocks
// around the block to leave as well).
const (
	brEnd    = -1 // the block ran to its end
	brReturn = -2 // a function returned (e.ret)
)

func read(fr []Value, o *operand) Value {
	if o.local >= 0 {
		return fr[o.local]
	}
	return o.value
}

// block runs the instructions of b. It returns brEnd when b ran to its
// end, brReturn when a function returned, otherwise the number of blocks
// around b to leave as well (0: b alone, as when an instruction is
// undefined).
func (e *eval) block(fr []Value, b []instr) (int, error) {
	for i := range b {
		in := &b[i]
		switch in.op {
		case opDot:
			src, key := read(fr, &in.a), read(fr, &in.b)
			if src == nil || key == nil {
				return 0, nil
			}
			var v Value
			if o, ok := src.(*Object); ok && in.b.local < 0 {
				v = o.getHinted(key, &in.hint)
			} else {
				v = dot(src, key)
			}
			if v == nil {
				return 0, nil
			}
			fr[in.target] = v
		case opEqual:
			a, b := read(fr, &in.a), read(fr, &in.b)
			if a == nil || b == nil || !equal(a, b) {
				return 0, nil
			}
		case opNotEqual:
			a, b := read(fr, &in.a), read(fr, &in.b)
			if a == nil || b == nil || equal(a, b) {
				return 0, nil
			}
		case opAssignVar:
			// Copies undefined too (the input, when there is none), as
			// in WebAssembly.
			fr[in.target] = read(fr, &in.a)
		case opAssignVarOnce:
			v := read(fr, &in.a)
			if v == nil {
				continue
			}
			if old := fr[in.target]; old != nil {
				if !equal(old, v) {
					return 0, e.conflict(in.x.loc, "complete rules must not produce multiple outputs")
				}
				continue
			}
			fr[in.target] = v
		case opCallFunc, opCallBuiltin:
			var v Value
			var err error
			if in.op == opCallFunc {
				v, err = e.callFunc(in.x.fn, fr, in.x.args, nil)
			} else {
				v, err = e.callBuiltin(in.x.bi, in.x.at, fr, in.x.args)
			}
			if err != nil {
				return 0, err
			}
			if v == nil {
				return 0, nil
			}
			fr[in.target] = v
		case opCallDynamic:
			if br, err := e.callDynamic(fr, in); br != brEnd || err != nil {
				return br, err
			}
		case opBlock:
			for _, nb := range in.x.blocks {
				br, err := e.block(fr, nb)
				if err != nil {
					return 0, err
				}
				if br > 0 {
					return br - 1, nil
				}
				if br == brReturn {
					return br, nil
				}
			}
		case opScan:
			if br, err := e.scan(fr, in); br != brEnd || err != nil {
				return br, err
			}
		case opNot:
			br, err := e.block(fr, in.x.body)
			if err != nil {
				return 0, err
			}
			switch {
			case br == brEnd: // the negated block held
				return 0, nil
			case br == brReturn:
				return br, nil
			case br > 0:
				return br - 1, nil
			}
		case opBreak:
			return int(in.n), nil
		case opIsDefined:
			if fr[in.a.local] == nil {
				return 0, nil
			}
		case opIsUndefined:
			if fr[in.a.local] != nil {
				return 0, nil
			}
		case opResetLocal:
			fr[in.target] = nil
		case opReturn:
			e.ret = fr[in.a.local]
			return brReturn, nil
		case opMakeNull:
			fr[in.target] = Null
		case opConst:
			fr[in.target] = in.a.value
		case opMakeArray:
			fr[in.target] = e.arena.array(int(in.n))
		case opMakeObject:
			fr[in.target] = e.arena.object()
		case opMakeSet:
			fr[in.target] = e.arena.set()
		case opIsArray, opIsObject, opIsSet:
			v := read(fr, &in.a)
			if v == nil || !isKind(in.op, v) {
				return 0, nil
			}
		case opLen:
			v := read(fr, &in.a)
			if v == nil {
				return 0, nil
			}
			n, ok := length(v)
			if !ok {
				return 0, nil
			}
			fr[in.target] = int64(n)
		case opArrayAppend:
			a, v := fr[in.target], read(fr, &in.a)
			if a == nil || v == nil {
				return 0, nil
			}
			arr, ok := a.(*Array)
			if !ok {
				return 0, fmt.Errorf("append to a non-array: %w", errdefs.ErrInvalidArgument)
			}
			// In place, as in WebAssembly: OPA's planner appends only
			// to the array a MakeArrayStmt just made for an array
			// literal or comprehension, never to one of the input.
			arr.elems = append(arr.elems, v)
		case opObjectInsert, opObjectInsertOnce:
			o, k, v := fr[in.target], read(fr, &in.a), read(fr, &in.b)
			if o == nil || k == nil || v == nil {
				return 0, nil
			}
			obj, ok := o.(*Object)
			if !ok {
				return 0, fmt.Errorf("insert into a non-object: %w", errdefs.ErrInvalidArgument)
			}
			if in.op == opObjectInsertOnce {
				if old := obj.Get(k); old != nil {
					if !equal(old, v) {
						return 0, e.conflict(in.x.loc, "object keys must be unique")
					}
					continue
				}
			}
			obj.Insert(k, v)
		case opObjectMerge:
			a, b := fr[in.a.local], fr[in.b.local]
			if a == nil || b == nil {
				return 0, nil
			}
			fr[in.target] = nil
			oa, ok1 := a.(*Object)
			ob, ok2 := b.(*Object)
			if ok1 && ok2 {
				if m, ok := merge(oa, ob); ok {
					fr[in.target] = m
				}
			}
		case opSetAdd:
			st, v := fr[in.target], read(fr, &in.a)
			if st == nil || v == nil {
				return 0, nil
			}
			set, ok := st.(*Set)
			if !ok {
				return 0, fmt.Errorf("add to a non-set: %w", errdefs.ErrInvalidArgument)
			}
			set.Add(v)
		case opResultSetAdd:
			v := fr[in.a.local]
			if v == nil {
				return 0, nil
			}
			e.results.Add(v)
		case opWith:
			if br, err := e.with(fr, in); br != brEnd || err != nil {
				return br, err
			}
		case opNop:
		default:
			return 0, fmt.Errorf("instruction %d: %w", in.op, errdefs.ErrInvalidArgument)
		}
	}
	return brEnd, nil
}

func (e *eval) conflict(l where, msg string) error {
	file := ""
	if l.file >= 0 && l.file < len(e.p.files) {
		file = e.p.files[l.file]
	}
	return &EvalError{File: file, Row: l.row, Code: "eval_conflict_error", What: msg}
}

// EvalError is an error of an evaluation: where in the policies, OPA's
// code for it, and what failed (the built-in function, or the rule
// conflict). It never holds the values evaluated, which OPA's own messages
// can quote (a built-in's "parsing \"...\": invalid syntax").
type EvalError struct {
	File string
	Row  int
	Code string // eval_builtin_error, eval_conflict_error
	What string
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Row, e.Code, e.What)
}

// Is makes an EvalError of a conflict match errConflict.
func (e *EvalError) Is(target error) bool {
	return target == errConflict && e.Code == "eval_conflict_error"
}

// dot looks key up in src: an object's value, an array's element, a set's
// member; nil when there is none.
func dot(src, key Value) Value {
	switch v := src.(type) {
	case *Object:
		return v.Get(key)
	case *Array:
		var i int64
		switch n := key.(type) {
		case int64:
			i = n
		case ast.Number:
			x, ok := n.Int64()
			if !ok {
				return nil
			}
			i = x
		default:
			return nil
		}
		if i < 0 || i >= int64(len(v.elems)) {
			return nil
		}
		return v.elems[i]
	case *Set:
		if v.Contains(key) {
			return key
		}
	}
	return nil
}

// merge merges b into a as ast.Object's Merge does: the values of a key of
// both, when both are objects, are merged in turn; otherwise the merge
// fails. Neither a nor b is changed.
func merge(a, b *Object) (*Object, bool) {
	out := a.copy()
	for i, k := range b.keys {
		v := b.vals[i]
		old := out.Get(k)
		if old == nil {
			out.Insert(k, v)
			continue
		}
		oa, ok1 := old.(*Object)
		ob, ok2 := v.(*Object)
		if !ok1 || !ok2 {
			return nil, false
		}
		m, ok := merge(oa, ob)
		if !ok {
			return nil, false
		}
		out.Insert(k, m)
	}
	return out, true
}

// isKind reports whether v is of the kind an IsArray, IsObject or IsSet
// instruction checks.
func isKind(op opcode, v Value) bool {
	switch v.(type) {
	case *Array:
		return op == opIsArray
	case *Object:
		return op == opIsObject
	case *Set:
		return op == opIsSet
	}
	return false
}

func length(v Value) (int, bool) {
	switch x := v.(type) {
	case *Array:
		return len(x.elems), true
	case *Object:
		return len(x.keys), true
	case *Set:
		return len(x.elems), true
	case string:
		return utf8.RuneCountInString(x), true
	}
	return 0, false
}

// scan runs the body of in for each element of its source: as a ScanStmt
// is compiled to WebAssembly, a loop (the body: leaving it goes on with the
// next element) in a block (the scan: leaving it goes on after the scan).
func (e *eval) scan(fr []Value, in *instr) (int, error) {
	src := fr[in.a.local]
	if src == nil {
		return 0, nil
	}
	switch x := src.(type) {
	case *Array:
		for i, v := range x.elems {
			if stop, out, err := e.scanOne(fr, in, int64(i), v); stop {
				return out, err
			}
		}
	case *Object:
		x.sort()
		for i, k := range x.keys {
			if stop, out, err := e.scanOne(fr, in, k, x.vals[i]); stop {
				return out, err
			}
		}
	case *Set:
		x.sort()
		for _, v := range x.elems {
			if stop, out, err := e.scanOne(fr, in, v, v); stop {
				return out, err
			}
		}
	}
	return brEnd, nil
}

// scanOne runs the body of a scan for one element. It reports whether the
// scan stops, and what the scan instruction then returns.
func (e *eval) scanOne(fr []Value, in *instr, k, v Value) (bool, int, error) {
	if err := e.check(); err != nil {
		return true, 0, err
	}
	fr[in.x.key], fr[in.x.value] = k, v
	br, err := e.block(fr, in.x.body)
	switch {
	case err != nil:
		return true, 0, err
	case br == brReturn:
		return true, br, nil
	case br <= 0: // next element
		return false, brEnd, nil
	case br == 1: // leave the scan
		return true, brEnd, nil
	}
	return true, br - 2, nil
}

// callBuiltin calls a built-in function on the operands args read in fr.
// An undefined operand makes the call undefined.
func (e *eval) callBuiltin(b *builtin, at *ast.Location, fr []Value, ops []operand) (Value, error) {
	if b.native != nil && b.cache == nil && len(ops) <= len(e.nargs) {
		// Natives do not call back into the plan: one buffer serves.
		args := e.nargs[:len(ops)]
		for i := range ops {
			if args[i] = read(fr, &ops[i]); args[i] == nil {
				return nil, nil
			}
		}
		if v, ok := b.native(args); ok {
			return v, nil
		}
	}
	start := len(e.args)
	for i := range ops {
		v := read(fr, &ops[i])
		if v == nil {
			clear(e.args[start:])
			e.args = e.args[:start]
			return nil, nil
		}
		e.args = append(e.args, v)
	}
	v, err := e.callOPA(b, at, e.args[start:len(e.args):len(e.args)])
	clear(e.args[start:])
	e.args = e.args[:start]
	return v, err
}

// callOPA calls a built-in function on args: from the cache of a pure
// function, natively, or through OPA's implementation.
func (e *eval) callOPA(b *builtin, at *ast.Location, args []Value) (Value, error) {
	var key string
	if b.cache != nil {
		if s, ok := args[0].(string); ok && len(s) <= maxCachedArg {
			key = s
			if v := b.cache.get(key); v != nil {
				return v, nil
			}
		}
	}
	if b.native != nil {
		if v, ok := b.native(args); ok {
			return v, nil
		}
	}
	if e.cache == nil {
		e.cache = builtins.Cache{}
	}
	bctx := topdown.BuiltinContext{
		Context:  e.ctx,
		Time:     e.time,
		Cache:    e.cache,
		Location: at,
	}
	terms := make([]*ast.Term, len(args))
	for i, a := range args {
		terms[i] = ToAST(a)
	}
	e.result, e.relation, e.all = nil, b.relation, nil
	err := b.fn(bctx, terms, e.collectFn)
	result := e.result
	if b.relation {
		result = ast.ArrayTerm(e.all...)
	}
	e.result, e.all = nil, nil
	if err != nil {
		// The built-in's own message can quote its operands.
		return nil, &EvalError{File: at.File, Row: at.Row, Code: "eval_builtin_error", What: b.name}
	}
	if result == nil {
		return nil, nil
	}
	v, err := FromAST(result.Value)
	if err != nil {
		return nil, &EvalError{File: at.File, Row: at.Row, Code: "eval_builtin_error", What: b.name}
	}
	if key != "" {
		b.cache.put(key, v)
	}
	return v, nil
}

// pure caches the results of a built-in function of one string that
// depends on nothing else (time.parse_rfc3339_ns: policies parse the same
// few dates over and over). Results are immutable scalars; errors are not
// cached.
type pure struct {
	mu sync.RWMutex
	m  map[string]Value
}

// maxCachedArg and maxCached bound the cache: an argument longer than
// maxCachedArg bytes is not cached, and the cache starts afresh when it
// holds maxCached results.
const (
	maxCachedArg = 64
	maxCached    = 4096
)

func (c *pure) get(k string) Value {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[k]
}

func (c *pure) put(k string, v Value) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]Value)
	}
	c.m[k] = v
}

// pures are the caches of the built-in functions whose results are
// cached, shared by all programs.
var pures = map[string]*pure{
	ast.ParseRFC3339Nanos.Name: {},
}

// collect receives the values of a built-in call (e.collectFn is made
// once per eval, so that calls do not allocate a closure).
func (e *eval) collect(t *ast.Term) error {
	if e.relation {
		e.all = append(e.all, t)
	}
	e.result = t
	return nil
}

// callFunc runs a function of the plan on the operands ops read in the
// caller's frame cf (or on its locals, for a dynamic call); a rule of
// input and data is run once per evaluation (within one WithStmt).
// Arguments may be undefined (input, when there is none), as in
// WebAssembly.
func (e *eval) callFunc(f *function, cf []Value, ops []operand, locals []int32) (Value, error) {
	if f.memo {
		if v := e.memo[f.index]; v != nil {
			if v == undefinedRule {
				return nil, nil
			}
			return v, nil
		}
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	fr := e.frame(f.nlocals)
	for i, l := range f.params {
		if ops != nil {
			fr[l] = read(cf, &ops[i])
		} else {
			fr[l] = cf[locals[i]]
		}
	}
	var ret Value
	var err error
	returned := false
	for _, b := range f.blocks {
		var br int
		if br, err = e.block(fr, b); err != nil {
			break
		}
		if br == brReturn {
			ret, e.ret, returned = e.ret, nil, true
			break
		}
		if br > 0 {
			break
		}
	}
	if err == nil && !returned {
		ret = fr[f.ret]
	}
	e.free(fr)
	if err != nil {
		return nil, err
	}
	if f.memo {
		if ret == nil {
			e.memo[f.index] = undefinedRule
		} else {
			e.memo[f.index] = ret
		}
	}
	return ret, nil
}

// callDynamic runs a CallDynamicStmt: a call of the function at a path of
// data computed at run time.
func (e *eval) callDynamic(fr []Value, in *instr) (int, error) {
	parts := make([]string, len(in.x.path))
	for i := range in.x.path {
		v := read(fr, &in.x.path[i])
		if v == nil {
			return 0, nil
		}
		str, ok := v.(string)
		if !ok {
			return 0, nil
		}
		parts[i] = str
	}
	f := e.p.byPath[strings.Join(parts, "\x00")]
	if f == nil || len(f.params) != len(in.x.locals) {
		return 0, nil
	}
	v, err := e.callFunc(f, fr, nil, in.x.locals)
	if err != nil || v == nil {
		return 0, err
	}
	fr[in.target] = v
	return brEnd, nil
}

// with runs the body of in with the value at its path of its local
// replaced, and rules evaluated afresh inside it.
func (e *eval) with(fr []Value, in *instr) (int, error) {
	// The value may be undefined (the original input, when there is
	// none), as in WebAssembly; only a path needs something to set.
	v := read(fr, &in.a)
	if v == nil && len(in.x.with) > 0 {
		return 0, nil
	}
	saved := fr[in.target]
	fr[in.target] = upsert(saved, in.x.with, v)
	memo := e.memo
	e.memo = make([]Value, len(memo))
	br, err := e.block(fr, in.x.body)
	e.memo = memo
	fr[in.target] = saved
	if err != nil {
		return 0, err
	}
	switch {
	case br == brEnd:
		return brEnd, nil
	case br == brReturn, br == 0:
		return br, nil
	}
	return br - 1, nil
}

// upsert returns doc with the value at path set to v, copying the objects
// on the way; doc itself is not changed.
func upsert(doc Value, path []Value, v Value) Value {
	if len(path) == 0 {
		return v
	}
	var obj *Object
	if o, ok := doc.(*Object); ok {
		obj = o.copy()
	} else {
		obj = newObject()
	}
	obj.Insert(path[0], upsert(obj.Get(path[0]), path[1:], v))
	return obj
}
