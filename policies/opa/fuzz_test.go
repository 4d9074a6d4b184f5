package opa

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	policy "github.com/enclave-dev/enclave/policies"
)

// FuzzDecide builds inputs from JSON as the server would and checks the
// decision's invariants: an error is a deny; an allow carries no reasons
// and a deny at least one; the direct Rego encoding of the input equals
// OPA's generic one; nobody without a role gets more than the
// actions open to everyone; an allowed job.run names a grant for every
// dataset; specialization and planning change no decision (Decide
// evaluates a planned action in package vm, wholeDecision in topdown).
func FuzzDecide(f *testing.F) {
	for _, in := range []policy.Input{jobInput(), matrixInput("application.approve", false, "authority"), matrixInput("org.add", true, "authority")} {
		b, err := json.Marshal(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	e := builtinEngine(f)
	open := map[string]bool{"whoami": true, "health": true, "keys.public": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := policy.DecodeInput(data)
		if err != nil {
			return
		}
		checkInputValue(t, in)
		d, err := e.Decide(context.Background(), in)
		// The action's residual on the fields it reads decides as the
		// whole policies do on the whole input.
		if want, ok := wholeDecision(t, e, in); ok != (err == nil) || (ok && !reflect.DeepEqual(d, want)) {
			t.Fatalf("got %+v, %v, want %+v as the whole policies decide", d, err, want)
		}
		if err != nil {
			if d.Allow {
				t.Fatalf("got allow with error %v, want deny", err)
			}
			return
		}
		if d.Allow && len(d.Reasons) > 0 {
			t.Fatalf("got allow with reasons %v", d.Reasons)
		}
		if !d.Allow && len(d.Reasons) == 0 {
			t.Fatal("got deny without reasons")
		}
		if d.Allow && !open[in.Action] && !anyKnownRole(in.Subject.Roles) {
			t.Fatalf("got allow of %q for roles %q, want deny", in.Action, in.Subject.Roles)
		}
		if d.Allow && in.Action == "job.run" {
			for _, ds := range in.Resource.Datasets {
				if d.Grants[ds.Name] == "" {
					t.Fatalf("got allowed job.run without a grant for dataset %q", ds.Name)
				}
			}
		}
	})
}

func anyKnownRole(roles []string) bool {
	for _, r := range roles {
		for _, k := range policy.Roles {
			if r == k {
				return true
			}
		}
	}
	return false
}
