package opa

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	policy "github.com/enclave-dev/enclave/policies"
)

// TestPlannedActions checks that the built-in policies are planned for
// every action and that each plan passed its check against topdown.
func TestPlannedActions(t *testing.T) {
	e := builtinEngine(t)
	for _, a := range policy.Actions {
		if p := e.plannedFor(a); p == nil {
			t.Errorf("action %q: not planned", a)
		}
	}
	if p := e.plannedFor("rows.read"); p != nil {
		t.Error("unknown action planned, want the whole policies in topdown")
	}
}

// TestPlannedAgreesWithTopdown decides random requests of every action
// with the plans and with topdown on the whole policies and the whole
// input, and requires the same decision (or an error from both).
func TestPlannedAgreesWithTopdown(t *testing.T) {
	e := builtinEngine(t)
	r := rand.New(rand.NewPCG(7, 8))
	n := 4000
	if testing.Short() {
		n = 500
	}
	allowed := 0
	for range n {
		in := randomInput(r)
		p := e.plannedFor(in.Action)
		if p == nil {
			t.Fatalf("action %q: not planned", in.Action)
		}
		want, wok := wholeDecision(t, e, in)
		got, gerr := p.eval(context.Background(), &in)
		if !wok || gerr != nil {
			if wok != (gerr == nil) {
				t.Fatalf("action %q: topdown ok %v, plan error %v", in.Action, wok, gerr)
			}
			continue
		}
		d, ok := decode(got)
		if !ok {
			t.Fatalf("action %q: plan gave a malformed decision %v", in.Action, got)
		}
		d.Revision = e.revision
		if !reflect.DeepEqual(d, want) {
			t.Fatalf("action %q:\n plan %+v\n want %+v\ninput %+v", in.Action, d, want, in)
		}
		if d.Allow {
			allowed++
		}
	}
	if allowed < n/20 {
		t.Errorf("only %d of %d random requests allowed; the comparison needs both", allowed, n)
	}
}

// TestPlanThatDisagreesIsNotUsed: a plan that decides a probe differently
// from topdown is dropped (as New checks), and the action is decided by
// the whole policies.
func TestPlanThatDisagreesIsNotUsed(t *testing.T) {
	base := builtinEngine(t)
	e := copyEngine(t, base, nil)
	// Swap the plans of two actions: each now decides the other's
	// requests (person.add as whoami: allowed). The copy keeps only these
	// two plans (the others passed at load; their actions are decided by
	// the whole policies here), so that the check is of these two.
	e.planned = map[string]*planned{"person.add": base.planned["whoami"], "whoami": base.planned["person.add"]}
	if e.planned["person.add"] == nil || e.planned["whoami"] == nil {
		t.Fatal("person.add or whoami has no plan to swap")
	}
	dropDisagreeing(context.Background(), e, e.planned, func(p *planned) evalFunc { return p.eval })
	if p := e.plannedFor("person.add"); p != nil {
		t.Fatal("the plan of whoami was kept for person.add")
	}
	if p := e.plannedFor("whoami"); p != nil {
		t.Fatal("the plan of person.add was kept for whoami")
	}
	d, err := e.Decide(context.Background(), matrixInput("person.add", true, "operator"))
	if err != nil || d.Allow {
		t.Errorf("got %+v, %v, want deny", d, err)
	}
	d, err = e.Decide(context.Background(), matrixInput("whoami", true, "operator"))
	if err != nil || !d.Allow {
		t.Errorf("whoami: got %+v, %v, want allow (decided by topdown)", d, err)
	}
}
