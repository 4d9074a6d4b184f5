package opa

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	policy "github.com/enclave-dev/enclave/policies"
)

// recorder collects what a shadow check reports.
type recorder struct {
	mu       sync.Mutex
	checked  map[string][]string // by action: the results, in order
	diverged chan Divergence
}

func newRecorder() *recorder {
	return &recorder{checked: map[string][]string{}, diverged: make(chan Divergence, 8)}
}

func (r *recorder) shadow(every int) Shadow {
	return Shadow{SampleEvery: every, Checked: func(action, result string) {
		r.mu.Lock()
		r.checked[action] = append(r.checked[action], result)
		r.mu.Unlock()
	}, Diverged: func(d Divergence) { r.diverged <- d }}
}

func (r *recorder) results(action string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.checked[action])
}

// waitResults waits until action has n results.
func (r *recorder) waitResults(t *testing.T, action string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := r.results(action)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got results %v, want %d", action, got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestShadowSwitchesOnDivergence injects a broken program (the plan of
// whoami for person.add, which allows what topdown denies) after the load
// checks, as a divergence no probe found would be: the first decision is
// the broken one, the background check finds the mismatch, reports it once
// with outcomes and rule names, and person.add is decided by topdown from
// then on.
func TestShadowSwitchesOnDivergence(t *testing.T) {
	for _, evaluator := range []string{EvaluatorVM, EvaluatorWasm} {
		t.Run(evaluator, func(t *testing.T) {
			rec := newRecorder()
			base := builtinEngine(t)
			if evaluator == EvaluatorWasm {
				base = wasmEngine(t)
			}
			sh := rec.shadow(1)
			e := copyEngine(t, base, &sh)
			ctx := context.Background()
			switch evaluator {
			case EvaluatorVM:
				e.planned["person.add"] = e.planned["whoami"]
			case EvaluatorWasm:
				// Compiled and checked as whoami's on its first request.
				if e.wasmFor(ctx, "whoami") == nil {
					t.Fatal("whoami: not compiled to WebAssembly")
				}
				e.wasm["person.add"] = e.wasm["whoami"]
			}
			in := matrixInput("person.add", true, "operator")
			d, err := e.Decide(ctx, in)
			if err != nil || !d.Allow {
				t.Fatalf("broken program: got %+v, %v, want its (wrong) allow", d, err)
			}
			var div Divergence
			select {
			case div = <-rec.diverged:
			case <-time.After(30 * time.Second):
				t.Fatal("no divergence reported")
			}
			if div.Action != "person.add" || div.Evaluator != evaluator || !div.Got.Allow || div.Want.Allow || div.Want.Error ||
				!slices.Contains(div.Want.Rules, "role.not_permitted") || div.Revision != e.Revision() {
				t.Errorf("got divergence %+v, want person.add by %s allowed, topdown denying by role.not_permitted", div, evaluator)
			}
			if got := rec.waitResults(t, "person.add", 1); got[0] != ShadowMismatch {
				t.Errorf("got results %v, want [%s]", got, ShadowMismatch)
			}
			if !e.Switched("person.add") {
				t.Fatal("person.add not switched to topdown")
			}
			if e.Switched("whoami") {
				t.Error("whoami switched too, want only the action that diverged")
			}
			for range 3 {
				d, err = e.Decide(ctx, in)
				if err != nil || d.Allow || !slices.ContainsFunc(d.Reasons, func(r policy.Reason) bool { return r.Rule == "role.not_permitted" }) {
					t.Fatalf("after the switch: got %+v, %v, want topdown's deny", d, err)
				}
			}
			// Decisions by topdown are not checked again; whoami still is.
			if d, err := e.Decide(ctx, matrixInput("whoami", true, "operator")); err != nil || !d.Allow {
				t.Fatalf("whoami: got %+v, %v, want allow", d, err)
			}
			if got := rec.waitResults(t, "whoami", 1); got[0] != ShadowAgree {
				t.Errorf("whoami: got %v, want [%s]", got, ShadowAgree)
			}
			if got := rec.results("person.add"); len(got) != 1 {
				t.Errorf("person.add: got results %v after the switch, want the one mismatch", got)
			}
			select {
			case d := <-rec.diverged:
				t.Errorf("a second divergence reported: %+v", d)
			default:
			}
		})
	}
}

// TestShadowChecksEveryDeniedJob: with a sample so sparse that nothing is
// sampled, each denied job admission is still checked and an allowed one
// is not.
func TestShadowChecksEveryDeniedJob(t *testing.T) {
	rec := newRecorder()
	sh := rec.shadow(1 << 30)
	e := copyEngine(t, builtinEngine(t), &sh)
	ctx := context.Background()
	allowed := jobInput()
	denied := jobInput()
	denied.Resource.Image.Status = "pending"
	for range 3 {
		if d, err := e.Decide(ctx, allowed); err != nil || !d.Allow {
			t.Fatalf("got %+v, %v, want allow", d, err)
		}
		if d, err := e.Decide(ctx, denied); err != nil || d.Allow {
			t.Fatalf("got %+v, %v, want deny", d, err)
		}
	}
	got := rec.waitResults(t, "job.run", 3)
	time.Sleep(50 * time.Millisecond) // an allowed one checked would show now
	if got = rec.results("job.run"); !slices.Equal(got, []string{ShadowAgree, ShadowAgree, ShadowAgree}) {
		t.Errorf("got %v, want three agreements (the denials)", got)
	}
	if e.Switched("job.run") {
		t.Error("job.run switched without a mismatch")
	}
}

// TestShadowSkipsWhenBehind: a decision that finds the queue full is not
// checked, and is counted as skipped, without delaying the decision.
func TestShadowSkipsWhenBehind(t *testing.T) {
	release := make(chan struct{})
	blocked := make(chan struct{})
	var mu sync.Mutex
	var results []string
	first := true
	s := Shadow{SampleEvery: 1, Queue: 1, Checked: func(action, result string) {
		mu.Lock()
		results = append(results, result)
		block := first && result != ShadowSkipped
		if block {
			first = false
		}
		mu.Unlock()
		if block {
			close(blocked)
			<-release // the worker is busy with the first check
		}
	}}
	e := copyEngine(t, builtinEngine(t), &s)
	defer e.Close()
	defer close(release)
	in := matrixInput("whoami", true, "operator")
	for i := range 5 {
		if d, err := e.Decide(context.Background(), in); err != nil || !d.Allow {
			t.Fatalf("got %+v, %v, want allow", d, err)
		}
		if i == 0 {
			<-blocked
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// One checked (the worker holds it), one queued, three skipped.
	if want := []string{ShadowAgree, ShadowSkipped, ShadowSkipped, ShadowSkipped}; !slices.Equal(results, want) {
		t.Errorf("got %v, want %v", results, want)
	}
}

// TestShadowIgnoresCanceled: a decision that failed because its request
// ended is no verdict of the evaluator and is not checked.
func TestShadowIgnoresCanceled(t *testing.T) {
	rec := newRecorder()
	sh := rec.shadow(1)
	e := copyEngine(t, builtinEngine(t), &sh)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Decide(ctx, jobInput()); err == nil {
		t.Fatal("got no error for a canceled request")
	}
	if d, err := e.Decide(context.Background(), matrixInput("whoami", true, "operator")); err != nil || !d.Allow {
		t.Fatalf("got %+v, %v, want allow", d, err)
	}
	rec.waitResults(t, "whoami", 1)
	if got := rec.results("job.run"); len(got) != 0 {
		t.Errorf("got %v for the canceled job.run, want no check", got)
	}
}

// TestWithShadow: New with WithShadow starts the checks (the other shadow
// tests start them on copies of the shared engines, as New does; the
// trivial policies load in a fraction of the built-in ones' time).
func TestWithShadow(t *testing.T) {
	rec := newRecorder()
	e, err := New(context.Background(), WithoutBuiltin(), WithPolicyDir(policyDir(t, map[string]string{"trivial.rego": trivialPolicy})),
		WithShadow(rec.shadow(1)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.plannedFor("whoami") == nil {
		t.Fatal("whoami is not planned: nothing to check")
	}
	if d, err := e.Decide(context.Background(), matrixInput("whoami", true, "operator")); err != nil || !d.Allow {
		t.Fatalf("got %+v, %v, want allow", d, err)
	}
	if got := rec.waitResults(t, "whoami", 1); got[0] != ShadowAgree {
		t.Errorf("got %v, want [%s]", got, ShadowAgree)
	}
}

// TestShadowClose: Close stops the background and is idempotent; the
// engine still decides; a topdown engine has no shadow.
func TestShadowClose(t *testing.T) {
	rec := newRecorder()
	sh := rec.shadow(1)
	e := copyEngine(t, builtinEngine(t), &sh)
	e.Close()
	e.Close()
	if d, err := e.Decide(context.Background(), matrixInput("whoami", true, "operator")); err != nil || !d.Allow {
		t.Fatalf("after Close: got %+v, %v, want allow", d, err)
	}
	td := copyEngine(t, topdownEngine(t), &sh)
	if td.shadow != nil {
		t.Error("a topdown engine runs shadow checks against itself")
	}
	if d, err := td.Decide(context.Background(), matrixInput("whoami", true, "operator")); err != nil || !d.Allow {
		t.Fatalf("topdown: got %+v, %v, want allow", d, err)
	}
}

// TestOutcomeHoldsNoMessages: what a divergence reports of a decision is
// its outcome and rule names, never the reasons' messages (which name
// identifiers of the request).
func TestOutcomeHoldsNoMessages(t *testing.T) {
	d := policy.Decision{Reasons: []policy.Reason{{Rule: "grant.dataset_not_granted", Message: `dataset "secret_name" is not granted`}}}
	o := outcome(d, nil)
	if o.Allow || o.Error || !slices.Equal(o.Rules, []string{"grant.dataset_not_granted"}) {
		t.Errorf("got %+v", o)
	}
	if o := outcome(policy.Decision{Allow: true}, errFailed{}); o.Allow || !o.Error {
		t.Errorf("failed evaluation: got %+v, want a failed deny", o)
	}
}
