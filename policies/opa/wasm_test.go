package opa

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"

	policy "github.com/enclave-dev/enclave/policies"
)

// wasmActions are the actions the tests of the wasm evaluator decide:
// wazero compiles each action's module to machine code on first use, which
// under the race detector takes seconds per action.
var wasmActions = []string{"job.run", "application.file", "job.list", "export.approve", "whoami", "person.add"}

// TestWasmAgreesWithTopdown decides random requests of some actions with
// their residuals compiled to WebAssembly and with topdown on the whole
// policies, and requires the same decision (or an error from both).
func TestWasmAgreesWithTopdown(t *testing.T) {
	e := wasmEngine(t)
	if e.Evaluator() != EvaluatorWasm {
		t.Errorf("got evaluator %q, want %q", e.Evaluator(), EvaluatorWasm)
	}
	for _, a := range policy.Actions {
		if e.wasm[a] == nil {
			t.Errorf("action %q: no residual to compile to WebAssembly", a)
		}
	}
	r := rand.New(rand.NewPCG(11, 12))
	allowed := 0
	n := 600
	if testing.Short() {
		n = 100
	}
	for i := 0; i < n; {
		in := randomInput(r)
		if !slices.Contains(wasmActions, in.Action) {
			continue
		}
		i++
		want, wok := wholeDecision(t, e, in)
		got, err := e.Decide(context.Background(), in)
		if wok != (err == nil) {
			t.Fatalf("action %q: topdown ok %v, wasm error %v", in.Action, wok, err)
		}
		if wok && !reflect.DeepEqual(got, want) {
			t.Fatalf("action %q:\n wasm %+v\n want %+v", in.Action, got, want)
		}
		if got.Allow {
			allowed++
		}
	}
	if allowed < n/20 {
		t.Errorf("only %d of %d random requests allowed; the comparison needs both", allowed, n)
	}
	// Each was decided by WebAssembly, not by the residual in topdown.
	for _, a := range wasmActions {
		if w := e.wasmFor(context.Background(), a); w == nil {
			t.Errorf("action %q: not compiled or disagreed with topdown", a)
		}
	}
}

// TestWasmThatDisagreesIsNotUsed: a compiled residual that decides a probe
// differently from topdown is not used (checked on the action's first
// request), and the action keeps its residual in topdown.
func TestWasmThatDisagreesIsNotUsed(t *testing.T) {
	e := copyEngine(t, wasmEngine(t), nil)
	e.wasm["person.add"] = e.wasm["whoami"] // not yet compiled: checked as person.add's
	d, err := e.Decide(context.Background(), matrixInput("person.add", true, "operator"))
	if err != nil || d.Allow {
		t.Errorf("got %+v, %v, want deny", d, err)
	}
	if e.wasmFor(context.Background(), "person.add") != nil {
		t.Error("the compiled residual of whoami was used for person.add")
	}
}

// TestEvaluatorOption: the default engine evaluates plans in package vm,
// the topdown one residuals only, and an unknown evaluator is refused,
// naming it.
func TestEvaluatorOption(t *testing.T) {
	_, err := New(context.Background(), WithEvaluator("jit"))
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `"jit"`) {
		t.Fatalf("got %v, want an invalid-argument error naming \"jit\"", err)
	}
	if e := builtinEngine(t); e.Evaluator() != DefaultEvaluator || len(e.planned) == 0 || len(e.wasm) != 0 {
		t.Errorf("default engine: evaluator %q, %d plans, %d wasm, want %q with plans only", e.Evaluator(), len(e.planned), len(e.wasm), DefaultEvaluator)
	}
	if e := topdownEngine(t); e.Evaluator() != EvaluatorTopdown || len(e.planned) != 0 || len(e.wasm) != 0 {
		t.Errorf("topdown engine: evaluator %q, %d plans, %d wasm, want residuals only", e.Evaluator(), len(e.planned), len(e.wasm))
	}
}

var (
	wasmOnce sync.Once
	wasmEng  *Engine
	wasmErr  error
)

// wasmEngine returns one engine with the built-in policies and the wasm
// evaluator per test binary, for the tests that only decide with it (each
// action's module is compiled once, on its first request).
func wasmEngine(t testing.TB) *Engine {
	t.Helper()
	wasmOnce.Do(func() { wasmEng, wasmErr = New(context.Background(), WithEvaluator(EvaluatorWasm)) })
	if wasmErr != nil {
		t.Fatalf("New: %v", wasmErr)
	}
	return wasmEng
}

// FuzzDecideWasm decodes requests as the daemon's JSON decoder does,
// turns each into one of wasmActions, and requires the residual compiled
// to WebAssembly to decide it as topdown does on the whole policies.
func FuzzDecideWasm(f *testing.F) {
	for _, in := range []policy.Input{jobInput(), matrixInput("person.add", true, "operator"), matrixInput("export.approve", false, "officer")} {
		b, err := json.Marshal(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	e := wasmEngine(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := policy.DecodeInput(data)
		if err != nil {
			return
		}
		if !slices.Contains(wasmActions, in.Action) {
			in.Action = wasmActions[len(data)%len(wasmActions)]
		}
		d, err := e.Decide(context.Background(), in)
		want, ok := wholeDecision(t, e, in)
		if ok != (err == nil) || (ok && !reflect.DeepEqual(d, want)) {
			t.Fatalf("%s: got %+v, %v, want %+v as the whole policies decide", in.Action, d, err, want)
		}
		if err != nil && d.Allow {
			t.Fatalf("got allow with error %v, want deny", err)
		}
	})
}
