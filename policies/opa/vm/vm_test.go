package vm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/rego"
)

// prepare plans query over module and compiles the plan with allowed.
func prepare(t *testing.T, query, module string, allowed func(string) bool) (*Program, error) {
	t.Helper()
	Register()
	sink := &Sink{Allowed: allowed}
	_, err := rego.New(rego.Query(query), rego.Module("m.rego", module), rego.SetRegoVersion(ast.RegoV1),
		rego.Target(Target)).PrepareForEval(WithSink(context.Background(), sink))
	return sink.Program, err
}

func TestCanceled(t *testing.T) {
	p, err := prepare(t, "x = data.m.n", "package m\nn := count([x | some x in input.xs; x > 0])\n", deterministic)
	if err != nil {
		t.Fatal(err)
	}
	xs := make([]*ast.Term, 100_000)
	for i := range xs {
		xs[i] = ast.InternedTerm(i % 7)
	}
	input := ast.NewObject(ast.Item(ast.StringTerm("xs"), ast.ArrayTerm(xs...)))
	rs, err := p.Eval(context.Background(), input, nil, Options{})
	if err != nil || rs.Len() != 1 {
		t.Fatalf("got %v, %v; want one result", rs, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Eval(ctx, input, nil, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled evaluation: got %v, want context.Canceled", err)
	}
}

func TestRefusesBuiltins(t *testing.T) {
	noSprintf := func(name string) bool { return name != "sprintf" && deterministic(name) }
	_, err := prepare(t, "x = data.m.s", "package m\ns := sprintf(\"%d\", [input.n])\n", noSprintf)
	if err == nil || !strings.Contains(err.Error(), `"sprintf"`) {
		t.Fatalf("got %v, want the refusal of sprintf", err)
	}
	if _, err := prepare(t, "x = data.m.s", "package m\ns := 1\n", nil); err != nil {
		t.Fatalf("a plan without built-ins: %v", err)
	}
}

func TestBuiltinErrorIsAnError(t *testing.T) {
	p, err := prepare(t, "x = data.m.n", "package m\nn := to_number(input.s)\n", deterministic)
	if err != nil {
		t.Fatal(err)
	}
	input := ast.NewObject(ast.Item(ast.StringTerm("s"), ast.StringTerm("not a number")))
	_, err = p.Eval(context.Background(), input, nil, Options{})
	var ee *EvalError
	if !errors.As(err, &ee) || ee.File != "m.rego" || ee.Row != 2 || ee.What != "to_number" || ee.Code != "eval_builtin_error" {
		t.Fatalf("got %v, want an EvalError naming m.rego:2 and to_number", err)
	}
	if strings.Contains(err.Error(), "not a number") {
		t.Errorf("the error quotes the input value: %v", err)
	}
}

// TestConcurrentEval evaluates one program from several goroutines (run
// with -race).
func TestConcurrentEval(t *testing.T) {
	p, err := prepare(t, "x = data.m.r", `package m
r := {k: v | some k, v in input.o; v > 1}
`, deterministic)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				n := g*1000 + i
				input := ast.NewObject(ast.Item(ast.StringTerm("o"), ast.ObjectTerm(
					ast.Item(ast.StringTerm("a"), ast.InternedTerm(n)),
					ast.Item(ast.StringTerm("b"), ast.InternedTerm(1)))))
				rs, err := p.Eval(context.Background(), input, nil, Options{})
				if err != nil {
					t.Error(err)
					return
				}
				want := `{{"x": {"a": ` + ast.InternedTerm(n).String() + `}}}`
				if n <= 1 {
					want = `{{"x": {}}}`
				}
				if got := rs.String(); got != want {
					t.Errorf("got %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestCompileRefusesMalformedPlans: plans that OPA's planner does not make
// are refused, not run.
func TestCompileRefusesMalformedPlans(t *testing.T) {
	plan := func(stmts ...ir.Stmt) *ir.Policy {
		return &ir.Policy{
			Static: &ir.Static{Strings: []*ir.StringConst{{Value: "x"}}},
			Plans:  &ir.Plans{Plans: []*ir.Plan{{Name: "eval", Blocks: []*ir.Block{{Stmts: stmts}}}}},
		}
	}
	tests := map[string]*ir.Policy{
		"no plan":             {},
		"negative local":      plan(&ir.AssignVarStmt{Source: ir.Operand{Value: ir.Local(-3)}, Target: 2}),
		"string out of range": plan(&ir.AssignVarStmt{Source: ir.Operand{Value: ir.StringIndex(7)}, Target: 2}),
		"unknown function":    plan(&ir.CallStmt{Func: "g0.data.nowhere", Result: 2}),
		"unknown statement":   plan(&ir.NopStmt{}, nil),
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Compile(p, deterministic); err == nil {
				t.Fatal("compiled, want an error")
			}
		})
	}
	if _, err := Compile(plan(&ir.AssignVarStmt{Source: ir.Operand{Value: ir.StringIndex(0)}, Target: 2}), nil); err != nil {
		t.Fatalf("a well-formed plan: %v", err)
	}
}

// TestPanicIsAnError: a failure inside the interpreter fails the
// evaluation with an error instead of the process.
func TestPanicIsAnError(t *testing.T) {
	p, err := prepare(t, "x = data.m.n", "package m\nn := count(input.xs)\n", deterministic)
	if err != nil {
		t.Fatal(err)
	}
	// Break the compiled program as a bug would: a local past its frame.
	p.funcs[0].blocks[0][0].target = 1 << 20
	input := ast.NewObject(ast.Item(ast.StringTerm("xs"), ast.ArrayTerm(ast.InternedTerm(1))))
	if _, err := p.Eval(context.Background(), input, nil, Options{}); !errdefs.IsInternal(err) {
		t.Fatalf("got %v, want an internal error", err)
	}
}
