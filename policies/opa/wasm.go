package opa

import (
	"context"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	_ "github.com/open-policy-agent/opa/v1/features/wasm" // rego.Target("wasm") on wazero
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"

	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa/vm"
)

// WebAssembly evaluation. OPA compiles the plan of an action's residual
// (the same plan package vm evaluates) to WebAssembly and runs it on
// wazero, in pure Go: OPA's own compiled evaluator. The engine uses it
// with WithEvaluator(EvaluatorWasm). wazero compiles each module to
// machine code, which takes tens of milliseconds per action (and minutes
// for all of them under the race detector), so an action is compiled on
// its first request, not when the engine loads; like a plan of package
// vm, it is used only after it decided its action's probe requests
// exactly as topdown does on the whole policies. An action whose residual
// OPA cannot compile, or whose compiled residual disagrees, keeps its
// residual in topdown.

// compiledWasm is one action's residual, compiled to WebAssembly on first
// use.
type compiledWasm struct {
	once    sync.Once
	prepare func(ctx context.Context) (rego.PreparedEvalQuery, error)
	query   rego.PreparedEvalQuery
	ok      bool // compiled and agreed with topdown on the probes
	fields  *fields
}

// compileWasm returns, for each residual (compiled by c), reading the
// input fields of its action in fields, its compilation to WebAssembly,
// made on first use.
func compileWasm(caps *ast.Capabilities, c *ast.Compiler, store storage.Store, residuals map[string]ast.Body, fields map[string]*fields) map[string]*compiledWasm {
	out := make(map[string]*compiledWasm, len(residuals))
	for action, body := range residuals {
		out[action] = &compiledWasm{fields: fields[action], prepare: func(ctx context.Context) (rego.PreparedEvalQuery, error) {
			return rego.New(
				rego.ParsedQuery(body),
				rego.Compiler(c),
				rego.Store(store),
				rego.Capabilities(caps),
				rego.SetRegoVersion(ast.RegoV1),
				rego.StrictBuiltinErrors(true),
				rego.Target("wasm"),
			).PrepareForEval(ctx)
		}}
	}
	return out
}

// wasmFor returns the compiled residual of action, compiling and checking
// it on the action's first request, or nil when the action has none or it
// failed to compile or disagreed with topdown.
func (e *Engine) wasmFor(ctx context.Context, action string) *compiledWasm {
	w := e.wasm[action]
	if w == nil {
		return nil
	}
	w.once.Do(func() {
		// Neither depends on the request: neither may be cut short by
		// the first request's context.
		ctx := context.WithoutCancel(ctx)
		q, err := w.prepare(ctx)
		if err != nil {
			return
		}
		w.query = q
		w.ok = e.agrees(ctx, action, w.eval)
	})
	if !w.ok {
		return nil
	}
	return w
}

// eval evaluates the compiled residual on the fields of in that it reads
// and returns the decision it binds (nil when undefined).
func (w *compiledWasm) eval(ctx context.Context, in *policy.Input) (any, error) {
	rs, err := w.query.Eval(ctx, rego.EvalParsedInput(vm.ToAST(inputFields(in, w.fields, heap)).Value), rego.EvalMetrics(noMetrics))
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 {
		return nil, nil
	}
	return rs[0].Bindings[decisionVar], nil
}
