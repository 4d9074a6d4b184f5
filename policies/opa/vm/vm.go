// Package vm evaluates OPA's intermediate representation (package ir):
// the plans that OPA's own planner makes of Rego policies, which OPA
// compiles to WebAssembly and which other OPA SDKs interpret. Evaluating
// the plan instead of the policies' syntax tree (OPA's topdown evaluator)
// does the same work without unification, backtracking through
// continuations or rule indexing: a rule is a function, a condition a
// statement that leaves its block when it does not hold.
//
// The semantics of each statement follow OPA's WebAssembly compiler
// (internal/compiler/wasm), the reference implementation of the IR that
// OPA's conformance suite runs against; in particular a ScanStmt is two
// levels of blocks for BreakStmt (its body and the scan itself), and a
// rule function of input and data is evaluated at most once per
// evaluation. Built-in functions are OPA's own (topdown.GetBuiltin), so a
// sprintf or a time.parse_rfc3339_ns gives what it gives in topdown; the
// few that policies call most (comparisons, membership, count, object.get,
// min, max, type tests, sprintf of strings and integers) are computed here
// as OPA computes them (see native.go), and the results of
// time.parse_rfc3339_ns are cached. Any built-in error is an evaluation
// error, as with OPA's strict built-in errors, and says where, never what
// values (EvalError).
//
// Plans evaluate on Values (value.go): Go strings, booleans and int64,
// and this package's arrays, objects and sets, which order and compare as
// OPA's ast values do. A lookup is a loop over a few keys, not a hash and a
// map probe, and a scalar costs no allocation. The collections a plan
// makes come from an arena that stays with the pooled evaluation state, so
// results are valid only while EvalValue's use function runs; callers
// build inputs from an Arena of their own the same way. At compile time,
// copies between locals that cannot change the result are removed
// (optimize.go).
//
// A Program is made from a plan with Compile, or by rego's target plugin
// mechanism (Register, then rego.Target(Target)); the engine that uses it
// checks it against topdown before trusting it.
package vm

import (
	"context"
	"fmt"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/rego"
)

// plugin is the rego target plugin of this package: it compiles the plan
// that rego prepares, with the built-in functions and into the Sink that
// the context of PrepareForEval carries.
type plugin struct{}

var _ rego.TargetPlugin = plugin{}

var register sync.Once

// Register registers the target plugin with rego (once per process).
// rego.New(..., rego.Target(Target)).PrepareForEval(WithSink(ctx, s))
// then plans the query, compiles the plan and puts the Program in s.
func Register() {
	register.Do(func() { rego.RegisterPlugin("rego.target."+Target, plugin{}) })
}

// IsTarget implements rego.TargetPlugin.
func (plugin) IsTarget(t string) bool { return t == Target }

// PrepareForEval implements rego.TargetPlugin.
func (plugin) PrepareForEval(ctx context.Context, policy *ir.Policy, _ ...rego.PrepareOption) (rego.TargetPluginEval, error) {
	s, ok := ctx.Value(sinkKey{}).(*Sink)
	if !ok {
		return nil, fmt.Errorf("prepare %q target without a sink: %w", Target, errdefs.ErrInvalidArgument)
	}
	p, err := Compile(policy, s.Allowed)
	if err != nil {
		return nil, err
	}
	s.Program = p
	return targetEval{p}, nil
}

// Sink says which built-in functions a plan may call, and receives the
// Program that the plugin prepares.
type Sink struct {
	Allowed func(name string) bool
	Program *Program
}

type sinkKey struct{}

// WithSink returns ctx carrying s.
func WithSink(ctx context.Context, s *Sink) context.Context {
	return context.WithValue(ctx, sinkKey{}, s)
}

// targetEval is a Program as rego evaluates a target plugin.
type targetEval struct{ p *Program }

var _ rego.TargetPluginEval = targetEval{}

// Eval implements rego.TargetPluginEval. The store's data is not
// available to target plugins; plans see an empty data document.
func (t targetEval) Eval(ctx context.Context, ectx *rego.EvalContext, _ ast.Value) (ast.Value, error) {
	now := ast.UIntNumberTerm(uint64(ectx.Time().UnixNano()))
	return t.p.Eval(ctx, ectx.ParsedInput(), nil, Options{Time: now})
}

// Target is the name of the rego target this package registers.
const Target = "enclave-ir"
