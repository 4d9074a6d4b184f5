package vm

import (
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// The plan is compiled once into blocks of instructions: statements with
// their operands decoded, constants made into terms, calls resolved to a
// function of the plan or a built-in, and locals numbered within frames.

type opcode uint8

const (
	opNop opcode = iota
	opDot
	opEqual
	opNotEqual
	opAssignVar
	opAssignVarOnce
	opCallFunc
	opCallBuiltin
	opCallDynamic
	opBlock
	opScan
	opNot
	opBreak
	opIsDefined
	opIsUndefined
	opResetLocal
	opReturn
	opMakeNull
	opConst // MakeNumberInt, MakeNumberRef and AssignInt: a shared immutable term
	opMakeArray
	opMakeObject
	opMakeSet
	opIsArray
	opIsObject
	opIsSet
	opLen
	opArrayAppend
	opObjectInsert
	opObjectInsertOnce
	opObjectMerge
	opSetAdd
	opResultSetAdd
	opWith
)

// operand is a local (local >= 0) or a constant.
type operand struct {
	local int32
	value Value
}

type instr struct {
	op     opcode
	hint   int32   // opDot: where the key was last found (see getHinted)
	n      int32   // break index; array capacity
	target int32   // the local written, or the collection changed
	a, b   operand // sources; opConst's term is a's
	x      *extra  // what fewer instructions need, out of line so that
	// the blocks the interpreter walks stay small
}

// where is a statement's place in the policies: its file's index and its
// row. It is copied out of the plan's statement (a pointer to the
// statement's Location would keep the whole plan alive, 40% of the live
// objects of a daemon that the collector marks on every cycle).
type where struct{ file, row int }

// extra holds the fields of an instruction that few kinds have.
type extra struct {
	body   []instr // of a scan, not or with
	blocks [][]instr
	fn     *function     // opCallFunc
	bi     *builtin      // opCallBuiltin
	at     *ast.Location // of a built-in call, for its errors
	args   []operand
	locals []int32   // opCallDynamic arguments
	path   []operand // opCallDynamic path
	with   []Value   // opWith path
	key    int32     // opScan key local
	value  int32     // opScan value local
	loc    where     // of the statement, for errors
}

// builtin is a built-in function a plan calls.
type builtin struct {
	name     string
	fn       topdown.BuiltinFunc
	native   nativeFunc // nil, or a faster equivalent of fn
	cache    *pure      // nil, or the cache of a function of one string
	relation bool       // gives any number of values: the call returns an array of them
	loc      *ast.Location
}

type function struct {
	index   int
	name    string
	params  []int32
	ret     int32
	blocks  [][]instr
	nlocals int
	memo    bool // a rule: parameters input and data only
}

// compiler turns IR into instructions.
type compiler struct {
	p        *Program
	byName   map[string]*function
	allowed  func(string) bool
	builtins map[string]*builtin
	n        int  // highest local of the current frame
	bad      bool // a local out of range was seen
}

func (c *compiler) blocks(bs []*ir.Block) ([][]instr, error) {
	out := make([][]instr, len(bs))
	for i, b := range bs {
		var err error
		if out[i], err = c.block(b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *compiler) block(b *ir.Block) ([]instr, error) {
	if b == nil {
		return nil, fmt.Errorf("nil block: %w", errdefs.ErrInvalidArgument)
	}
	out := make([]instr, 0, len(b.Stmts))
	for _, s := range b.Stmts {
		in, err := c.stmt(s)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// local numbers a local of the current frame. A negative local, which
// OPA's planner never makes, fails the compilation (c.bad).
func (c *compiler) local(l ir.Local) int32 {
	if l < 0 || int64(l) > maxLocals {
		c.bad = true
		return 0
	}
	c.n = max(c.n, int(l))
	return int32(l)
}

// maxLocals bounds the locals of a frame.
const maxLocals = 1 << 20

func (c *compiler) operand(o ir.Operand) (operand, error) {
	switch v := o.Value.(type) {
	case ir.Local:
		return operand{local: c.local(v)}, nil
	case ir.StringIndex:
		if int(v) < 0 || int(v) >= len(c.p.strings) {
			return operand{}, fmt.Errorf("string constant %d out of range: %w", int(v), errdefs.ErrInvalidArgument)
		}
		return operand{local: -1, value: c.p.strings[v]}, nil
	case ir.Bool:
		return operand{local: -1, value: bool(v)}, nil
	}
	return operand{}, fmt.Errorf("operand of type %T: %w", o.Value, errdefs.ErrInvalidArgument)
}

func (c *compiler) operands(os ...ir.Operand) ([]operand, error) {
	out := make([]operand, len(os))
	for i, o := range os {
		var err error
		if out[i], err = c.operand(o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// two decodes the sources a and b of an instruction.
func (c *compiler) two(in *instr, a, b ir.Operand) error {
	ops, err := c.operands(a, b)
	if err != nil {
		return err
	}
	in.a, in.b = ops[0], ops[1]
	return nil
}

func (c *compiler) stmt(s ir.Stmt) (instr, error) {
	if s == nil {
		return instr{}, fmt.Errorf("nil statement: %w", errdefs.ErrInvalidArgument)
	}
	l := s.GetLocation()
	in := instr{x: &extra{loc: where{file: l.File, row: l.Row}}}
	var err error
	switch s := s.(type) {
	case *ir.ReturnLocalStmt:
		in.op, in.a = opReturn, operand{local: c.local(s.Source)}
	case *ir.CallStmt:
		in.target = c.local(s.Result)
		if in.x.args, err = c.operands(s.Args...); err != nil {
			return in, err
		}
		if fn, ok := c.byName[s.Func]; ok {
			if len(s.Args) != len(fn.params) {
				return in, fmt.Errorf("call of %q with %d arguments: %w", s.Func, len(s.Args), errdefs.ErrInvalidArgument)
			}
			in.op, in.x.fn = opCallFunc, fn
			return in, nil
		}
		bi, err := c.builtin(s.Func)
		if err != nil {
			return in, err
		}
		in.op, in.x.bi, in.x.at = opCallBuiltin, bi, c.location(s.Location)
	case *ir.CallDynamicStmt:
		in.op, in.target = opCallDynamic, c.local(s.Result)
		for _, l := range s.Args {
			in.x.locals = append(in.x.locals, c.local(l))
		}
		in.x.path, err = c.operands(s.Path...)
	case *ir.BlockStmt:
		in.op = opBlock
		in.x.blocks, err = c.blocks(s.Blocks)
	case *ir.BreakStmt:
		in.op, in.n = opBreak, int32(min(s.Index, 1<<30))
	case *ir.DotStmt:
		in.op, in.target = opDot, c.local(s.Target)
		err = c.two(&in, s.Source, s.Key)
	case *ir.LenStmt:
		in.op, in.target = opLen, c.local(s.Target)
		in.a, err = c.operand(s.Source)
	case *ir.ScanStmt:
		in.op, in.a = opScan, operand{local: c.local(s.Source)}
		in.x.key, in.x.value = c.local(s.Key), c.local(s.Value)
		in.x.body, err = c.block(s.Block)
	case *ir.NotStmt:
		in.op = opNot
		in.x.body, err = c.block(s.Block)
	case *ir.AssignIntStmt:
		in.op, in.target, in.a = opConst, c.local(s.Target), operand{local: -1, value: s.Value}
	case *ir.AssignVarStmt:
		in.op, in.target = opAssignVar, c.local(s.Target)
		in.a, err = c.operand(s.Source)
	case *ir.AssignVarOnceStmt:
		in.op, in.target = opAssignVarOnce, c.local(s.Target)
		in.a, err = c.operand(s.Source)
	case *ir.ResetLocalStmt:
		in.op, in.target = opResetLocal, c.local(s.Target)
	case *ir.MakeNullStmt:
		in.op, in.target = opMakeNull, c.local(s.Target)
	case *ir.MakeNumberIntStmt:
		in.op, in.target, in.a = opConst, c.local(s.Target), operand{local: -1, value: s.Value}
	case *ir.MakeNumberRefStmt:
		if s.Index < 0 || s.Index >= len(c.p.strings) {
			return in, fmt.Errorf("number constant %d out of range: %w", s.Index, errdefs.ErrInvalidArgument)
		}
		text := c.p.strings[s.Index].(string)
		if _, ok := new(big.Float).SetString(text); !ok { // Rego numbers have any precision
			return in, fmt.Errorf("number constant %d is not a number: %w", s.Index, errdefs.ErrInvalidArgument)
		}
		in.op, in.target, in.a = opConst, c.local(s.Target), operand{local: -1, value: numberValue(ast.Number(text))}
	case *ir.MakeArrayStmt:
		in.op, in.target, in.n = opMakeArray, c.local(s.Target), max(s.Capacity, 0)
	case *ir.MakeObjectStmt:
		in.op, in.target = opMakeObject, c.local(s.Target)
	case *ir.MakeSetStmt:
		in.op, in.target = opMakeSet, c.local(s.Target)
	case *ir.EqualStmt:
		in.op = opEqual
		err = c.two(&in, s.A, s.B)
	case *ir.NotEqualStmt:
		in.op = opNotEqual
		err = c.two(&in, s.A, s.B)
	case *ir.IsArrayStmt:
		in.op = opIsArray
		in.a, err = c.operand(s.Source)
	case *ir.IsObjectStmt:
		in.op = opIsObject
		in.a, err = c.operand(s.Source)
	case *ir.IsSetStmt:
		in.op = opIsSet
		in.a, err = c.operand(s.Source)
	case *ir.IsDefinedStmt:
		in.op, in.a = opIsDefined, operand{local: c.local(s.Source)}
	case *ir.IsUndefinedStmt:
		in.op, in.a = opIsUndefined, operand{local: c.local(s.Source)}
	case *ir.ArrayAppendStmt:
		in.op, in.target = opArrayAppend, c.local(s.Array)
		in.a, err = c.operand(s.Value)
	case *ir.ObjectInsertStmt:
		in.op, in.target = opObjectInsert, c.local(s.Object)
		err = c.two(&in, s.Key, s.Value)
	case *ir.ObjectInsertOnceStmt:
		in.op, in.target = opObjectInsertOnce, c.local(s.Object)
		err = c.two(&in, s.Key, s.Value)
	case *ir.ObjectMergeStmt:
		in.op, in.target = opObjectMerge, c.local(s.Target)
		in.a, in.b = operand{local: c.local(s.A)}, operand{local: c.local(s.B)}
	case *ir.SetAddStmt:
		in.op, in.target = opSetAdd, c.local(s.Set)
		in.a, err = c.operand(s.Value)
	case *ir.WithStmt:
		in.op, in.target = opWith, c.local(s.Local)
		for _, i := range s.Path {
			if i < 0 || i >= len(c.p.strings) {
				return in, fmt.Errorf("with path constant %d out of range: %w", i, errdefs.ErrInvalidArgument)
			}
			in.x.with = append(in.x.with, c.p.strings[i])
		}
		if in.a, err = c.operand(s.Value); err != nil {
			return in, err
		}
		in.x.body, err = c.block(s.Block)
	case *ir.NopStmt:
		in.op = opNop
	case *ir.ResultSetAddStmt:
		in.op, in.a = opResultSetAdd, operand{local: c.local(s.Value)}
	default:
		return in, fmt.Errorf("statement of type %T: %w", s, errdefs.ErrInvalidArgument)
	}
	return in, err
}

// builtin resolves a built-in function, which must be allowed.
func (c *compiler) builtin(name string) (*builtin, error) {
	if b, ok := c.builtins[name]; ok {
		return b, nil
	}
	if c.allowed == nil || !c.allowed(name) {
		return nil, fmt.Errorf("built-in function %q is not allowed: %w", name, errdefs.ErrInvalidArgument)
	}
	fn := topdown.GetBuiltin(name)
	if fn == nil {
		return nil, fmt.Errorf("unknown function %q: %w", name, errdefs.ErrInvalidArgument)
	}
	decl := ast.BuiltinMap[name]
	b := &builtin{name: name, fn: fn, native: natives[name], cache: pures[name], relation: decl != nil && decl.Relation}
	c.builtins[name] = b
	return b, nil
}

func (c *compiler) location(l ir.Location) *ast.Location {
	file := ""
	if l.File >= 0 && l.File < len(c.p.files) {
		file = c.p.files[l.File]
	}
	return &ast.Location{File: file, Row: l.Row, Col: l.Col}
}

// Compile checks and prepares policy's first plan (OPA's planner names
// the plan of a query "eval"). allowed says which built-in functions the
// plan may call; a plan that calls any other, or a function it does not
// define, or holds a statement this package does not know, is refused
// with an errdefs.ErrInvalidArgument class error.
func Compile(policy *ir.Policy, allowed func(name string) bool) (*Program, error) {
	if policy == nil || policy.Plans == nil || len(policy.Plans.Plans) == 0 {
		return nil, fmt.Errorf("ir policy without a plan: %w", errdefs.ErrInvalidArgument)
	}
	p := &Program{byPath: map[string]*function{}}
	if policy.Static != nil {
		for _, s := range policy.Static.Strings {
			p.strings = append(p.strings, s.Value)
		}
		for _, f := range policy.Static.Files {
			p.files = append(p.files, f.Value)
		}
	}
	c := &compiler{p: p, byName: map[string]*function{}, allowed: allowed, builtins: map[string]*builtin{}}
	var funcs []*ir.Func
	if policy.Funcs != nil {
		funcs = policy.Funcs.Funcs
	}
	for i, f := range funcs {
		fn := &function{index: i, name: f.Name, memo: len(f.Params) == 2}
		for _, l := range f.Params {
			if l < 0 {
				return nil, fmt.Errorf("function %q: parameter local %d: %w", f.Name, int(l), errdefs.ErrInvalidArgument)
			}
			fn.params = append(fn.params, int32(l))
		}
		if f.Return < 0 {
			return nil, fmt.Errorf("function %q: return local %d: %w", f.Name, int(f.Return), errdefs.ErrInvalidArgument)
		}
		fn.ret = int32(f.Return)
		if _, dup := c.byName[f.Name]; dup {
			return nil, fmt.Errorf("function %q defined twice: %w", f.Name, errdefs.ErrInvalidArgument)
		}
		c.byName[f.Name] = fn
		if len(f.Path) > 0 {
			p.byPath[strings.Join(f.Path, "\x00")] = fn
		}
		p.funcs = append(p.funcs, fn)
	}
	for i, f := range funcs {
		fn := p.funcs[i]
		c.n = int(f.Return)
		for _, l := range f.Params {
			c.n = max(c.n, int(l))
		}
		var err error
		if fn.blocks, err = c.blocks(f.Blocks); err != nil {
			return nil, fmt.Errorf("function %q: %w", f.Name, err)
		}
		fn.blocks = propagate(fn.blocks, func(l int32) bool {
			return l == int32(ir.Input) || l == int32(ir.Data) || l == fn.ret || slices.Contains(fn.params, l)
		})
		fn.nlocals = c.n + 1
	}
	plan := policy.Plans.Plans[0]
	c.n = int(ir.Data)
	var err error
	if p.plan, err = c.blocks(plan.Blocks); err != nil {
		return nil, fmt.Errorf("plan %q: %w", plan.Name, err)
	}
	p.plan = propagate(p.plan, func(l int32) bool { return l == int32(ir.Input) || l == int32(ir.Data) })
	p.nlocals = c.n + 1
	if c.bad {
		return nil, fmt.Errorf("plan with a local out of range: %w", errdefs.ErrInvalidArgument)
	}
	return p, nil
}
