package vm

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"weak"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// TestConflictNamesItsPlace: a complete rule that gives two values fails
// with an error naming the file and row of the statement, which the
// instruction keeps apart from the plan.
func TestConflictNamesItsPlace(t *testing.T) {
	p, err := prepare(t, "x = data.m.n", "package m\n\nn := 1 if input.a\nn := 2 if input.b\n", deterministic)
	if err != nil {
		t.Fatal(err)
	}
	input := ast.NewObject(ast.Item(ast.StringTerm("a"), ast.BooleanTerm(true)), ast.Item(ast.StringTerm("b"), ast.BooleanTerm(true)))
	_, err = p.Eval(context.Background(), input, nil, Options{})
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Code != "eval_conflict_error" || ee.File != "m.rego" || ee.Row < 3 || ee.Row > 4 {
		t.Fatalf("got %#v (%v), want an eval_conflict_error at m.rego rows 3-4", ee, err)
	}
}

// TestProgramDropsThePlan: a compiled Program keeps nothing of the IR it
// was compiled from, so that the plan (most of a daemon's live objects
// when it did) is collected.
func TestProgramDropsThePlan(t *testing.T) {
	call := &ir.CallStmt{Func: "g0.data.m.f", Args: []ir.Operand{{Value: ir.Local(0)}, {Value: ir.Local(1)}}, Result: 3}
	call.Location = ir.Location{File: 0, Row: 7}
	policy := &ir.Policy{
		Static: &ir.Static{Strings: []*ir.StringConst{{Value: "x"}}, Files: []*ir.StringConst{{Value: "m.rego"}}},
		Funcs: &ir.Funcs{Funcs: []*ir.Func{{
			Name: "g0.data.m.f", Params: []ir.Local{0, 1}, Return: 2, Path: []string{"g0", "m", "f"},
			Blocks: []*ir.Block{{Stmts: []ir.Stmt{&ir.AssignVarStmt{Source: ir.Operand{Value: ir.StringIndex(0)}, Target: 2}}}},
		}}},
		Plans: &ir.Plans{Plans: []*ir.Plan{{Name: "eval", Blocks: []*ir.Block{{Stmts: []ir.Stmt{call}}}}}},
	}
	stmt := weak.Make(call)
	prog, err := Compile(policy, deterministic)
	if err != nil {
		t.Fatal(err)
	}
	call, policy = nil, nil
	for range 3 {
		runtime.GC()
	}
	if stmt.Value() != nil {
		t.Fatal("the plan's statement is still reachable from the compiled program")
	}
	runtime.KeepAlive(prog)
}
