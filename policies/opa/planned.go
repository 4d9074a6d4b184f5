package opa

import (
	"context"
	"runtime"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa/vm"
)

// Planned evaluation. OPA's planner turns the policies and the query into
// its intermediate representation (the plan OPA compiles to WebAssembly),
// and package vm evaluates the plan: rules become functions, conditions
// statements that leave their block when they fail, and each rule of the
// input is evaluated once per request. That takes about 7 times less time
// per request than topdown's evaluation of the same residuals
// (BenchmarkDecide), with the same rules, OPA's own built-in functions and
// the same strict built-in errors.
//
// The engine plans each action's residual (specialize.go), so that the
// plan holds only the rules of that action and the input only the fields
// they read. A plan is kept for an action only if it decides the action's
// probe requests exactly as topdown does on the whole policies, which New
// checks; an action whose residual cannot be planned, or whose plan
// disagrees, keeps its residual in topdown. Package vm runs OPA's own
// conformance suite against topdown, and the engine's tests decide
// thousands of random requests both ways.

// planned is the plan of one action's residual.
type planned struct {
	program *vm.Program
	fields  *fields
}

// plan prepares the plans of residuals (compiled by c), each reading the
// input fields of its action in fields, with the same capabilities. An action whose residual the planner refuses, or whose
// plan calls a built-in outside caps, has none.
func plan(ctx context.Context, caps *ast.Capabilities, c *ast.Compiler, residuals map[string]ast.Body, fields map[string]*fields) map[string]*planned {
	vm.Register()
	allowed := make(map[string]bool, len(caps.Builtins))
	for _, b := range caps.Builtins {
		allowed[b.Name] = true
	}
	out := make(map[string]*planned, len(residuals))
	for action, body := range residuals {
		sink := &vm.Sink{Allowed: func(name string) bool { return allowed[name] }}
		_, err := rego.New(
			rego.ParsedQuery(body),
			rego.Compiler(c),
			rego.Capabilities(caps),
			rego.SetRegoVersion(ast.RegoV1),
			rego.StrictBuiltinErrors(true),
			rego.Target(vm.Target),
		).PrepareForEval(vm.WithSink(ctx, sink))
		if err != nil || sink.Program == nil {
			continue
		}
		out[action] = &planned{program: sink.Program, fields: fields[action]}
	}
	return out
}

// dropDisagreeing drops from evals the actions whose evaluation does not
// decide their action's probe requests exactly as the whole policies do
// in topdown. The checks run on all processors: they are most of New's
// time.
func dropDisagreeing[T any](ctx context.Context, e *Engine, evals map[string]T, eval func(T) evalFunc) {
	actions := make(chan string)
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for action := range actions {
				if !e.agrees(ctx, action, eval(evals[action])) {
					mu.Lock()
					failed = append(failed, action)
					mu.Unlock()
				}
			}
		})
	}
	for action := range evals {
		actions <- action
	}
	close(actions)
	wg.Wait()
	for _, action := range failed {
		delete(evals, action)
	}
}

// plannedFor returns the plan of action, or nil when the action is
// decided by topdown.
func (e *Engine) plannedFor(action string) *planned { return e.planned[action] }

// eval evaluates the plan on the fields of in that the residual reads and
// returns the decision it binds, decoded (nil when undefined).
func (p *planned) eval(ctx context.Context, in *policy.Input) (any, error) {
	a := arenas.Get().(*vm.Arena)
	defer func() {
		a.Reset()
		arenas.Put(a)
	}()
	var out any
	err := p.program.EvalValue(ctx, inputFields(in, p.fields, a), nil, vm.Options{}, func(rs []vm.Value) error {
		if len(rs) != 1 {
			return nil
		}
		obj, ok := rs[0].(*vm.Object)
		if !ok {
			return nil
		}
		d := obj.Get(decisionVar)
		if d == nil {
			return nil
		}
		dec, ok := decode(d)
		out = decoded{dec, ok}
		return nil
	})
	return out, err
}

// arenas hold the objects and arrays of inputs, which live no longer than
// an evaluation.
var arenas = sync.Pool{New: func() any { return new(vm.Arena) }}

// decoded is a decision that eval decoded from a plan's result, which is
// valid only while the evaluation lasts.
type decoded struct {
	d  policy.Decision
	ok bool
}
