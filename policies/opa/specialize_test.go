package opa

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	policy "github.com/enclave-dev/enclave/policies"
)

// wholeDecision decides in with the whole policies and the whole input,
// as the engine did before specialization.
func wholeDecision(t *testing.T, e *Engine, in policy.Input) (policy.Decision, bool) {
	t.Helper()
	v, err := e.evalWhole(context.Background(), in)
	if err != nil {
		return policy.Decision{}, false
	}
	d, ok := decode(v)
	if !ok {
		t.Fatalf("whole policies gave a malformed decision for %q", in.Action)
	}
	d.Revision = e.revision
	return d, true
}

// randomInput draws a request of any action: a request that the data
// rules allow (matrixInput's, with grants for its datasets), by a person of
// random roles, with up to four fields changed to values drawn from small
// pools, so that every rule both holds and fails often.
func randomInput(r *rand.Rand) policy.Input {
	pick := func(ss ...string) string { return ss[r.IntN(len(ss))] }
	anyDay := func() *time.Time {
		if r.IntN(8) == 0 {
			return nil
		}
		t := t0.AddDate(0, 0, r.IntN(40)-20)
		return &t
	}
	strs := func(pool ...string) []string {
		if r.IntN(6) == 0 {
			return nil
		}
		var out []string
		for _, s := range pool {
			if r.IntN(2) == 0 {
				out = append(out, s)
			}
		}
		return out
	}
	var roles []string
	for _, role := range policy.Roles {
		if r.IntN(3) == 0 {
			roles = append(roles, role)
		}
	}
	action := policy.Actions[r.IntN(len(policy.Actions))]
	if r.IntN(4) == 0 {
		// The actions whose allowed decisions the test counts, drawn more
		// often, so that adding actions does not starve them.
		action = pick("job.run", "application.file", "job.list", "export.approve")
	}
	in := matrixInput(action, r.IntN(2) == 0, roles...)
	in.Resource.Datasets = append(in.Resource.Datasets, policy.Dataset{Name: "d2", Version: 1, Level: "important", Market: "authorized", State: "active", Columns: []string{"a"}})
	in.Grants = append(in.Grants, policy.Grant{
		ID: "g-2", Org: "acme", Datasets: []policy.GrantDataset{{Name: "d2", Columns: []string{"a", "b"}}},
		From: *day(-5), Until: *day(5), Approvers: []string{"p-a", "p-b"}, Status: "approved", BatchesLeft: ptr(int64(2)),
	})
	g := func() *policy.Grant { return &in.Grants[r.IntN(len(in.Grants))] }
	d := func() *policy.Dataset { return &in.Resource.Datasets[r.IntN(len(in.Resource.Datasets))] }
	mutations := []func(){
		func() { in.Subject.ID = pick("p-1", "p-2", "") },
		func() { in.Subject.Org = pick("acme", "globex", "") },
		func() { in.Subject.OrgType = pick(policy.OrgTypes...) },
		func() { in.Subject.OrgStatus = pick(append([]string{""}, policy.OrgStatuses...)...) },
		func() { in.Subject.LicenceFrom, in.Subject.LicenceUntil = anyDay(), anyDay() },
		func() { in.Subject.AgreementUntil = anyDay() },
		func() { in.Subject.IDVerified = r.IntN(4) != 0 },
		func() {
			in.Resource.Licensing = &policy.Licensing{BlacklistedAs: pick("", "old-co"), RevokedAs: pick("", "older-co"),
				RevokedAt: anyDay(), LicenceUntil: anyDay(), Status: pick(append([]string{""}, policy.OrgStatuses...)...)}
		},
		func() { in.Resource.Org = pick("acme", "globex", "") },
		func() { in.Resource.Owner = pick("p-1", "p-2", "") },
		func() { in.Resource.Approvers = strs("p-1", "p-2", "p-3") },
		func() { in.Resource.PublicInterest = r.IntN(2) == 0 },
		func() { in.Resource.From, in.Resource.Until = anyDay(), anyDay() },
		func() { in.Resource.Datasets = in.Resource.Datasets[:r.IntN(len(in.Resource.Datasets)+1)] },
		func() { in.Resource.Image = nil },
		func() { in.Resource.Image = &policy.Image{Digest: "sha256:00", Status: pick(policy.ImageStatuses...)} },
		func() {
			if len(in.Resource.Datasets) > 0 {
				d().Level = pick(policy.Levels...)
			}
		},
		func() {
			if len(in.Resource.Datasets) > 0 {
				d().Market = pick(append([]string{""}, policy.Markets...)...)
			}
		},
		func() {
			if len(in.Resource.Datasets) > 0 {
				d().State = pick(policy.DatasetStates...)
			}
		},
		func() {
			if len(in.Resource.Datasets) > 0 {
				d().Columns = strs("a", "b", "c")
			}
		},
		func() { in.Grants = in.Grants[:r.IntN(len(in.Grants)+1)] },
		func() {
			if len(in.Grants) > 0 {
				g().Status = pick(policy.GrantStatuses...)
			}
		},
		func() {
			if len(in.Grants) > 0 {
				g().Org = pick("acme", "globex")
			}
		},
		func() {
			if len(in.Grants) > 0 {
				x := g()
				x.From, x.Until = t0.AddDate(0, 0, r.IntN(10)-7), t0.AddDate(0, 0, r.IntN(10)-2)
			}
		},
		func() {
			if len(in.Grants) > 0 {
				g().Approvers = strs("p-a", "p-b")
			}
		},
		func() {
			if len(in.Grants) > 0 {
				g().PublicInterest = r.IntN(2) == 0
			}
		},
		func() {
			if len(in.Grants) > 0 {
				x := g()
				x.BatchesLeft = nil
				if r.IntN(2) == 0 {
					x.BatchesLeft = ptr(int64(r.IntN(3)))
				}
			}
		},
		func() {
			if len(in.Grants) > 0 {
				x := g()
				if len(x.Datasets) > 0 {
					x.Datasets[0].Columns = strs("a", "b")
				}
			}
		},
		func() {
			in.Quota = policy.Quota{ConcurrentJobs: ptr(int64(r.IntN(4))), CPUSecondsMonth: ptr(int64(r.IntN(1000))), MemoryBytesPerJob: ptr(int64(r.IntN(4)) << 30)}
		},
		func() { in.Usage = policy.Usage{RunningJobs: int64(r.IntN(4)), CPUSecondsMonth: int64(r.IntN(1000))} },
		func() { in.Request.MemoryBytes = int64(r.IntN(4)) << 30 },
		func() { in.Config.AuthorizedOrgTypes = strs(policy.OrgTypes...) },
	}
	// Deep copies of what the mutations change in place.
	in.Resource.Datasets = slices.Clone(in.Resource.Datasets)
	in.Grants = slices.Clone(in.Grants)
	for i := range in.Grants {
		in.Grants[i].Datasets = slices.Clone(in.Grants[i].Datasets)
	}
	for range r.IntN(5) {
		mutations[r.IntN(len(mutations))]()
	}
	return in
}

// TestSpecializedAgreesWithWholePolicies decides thousands of random
// requests of every action both ways: the residual of the action on the
// fields it reads, and the whole policies on the whole input.
func TestSpecializedAgreesWithWholePolicies(t *testing.T) {
	e := topdownEngine(t)
	n := 4000
	if testing.Short() {
		n = 500
	}
	r := rand.New(rand.NewPCG(5, 5))
	allowed := map[string]int{}
	for i := range n {
		in := randomInput(r)
		if err := in.Validate(); err != nil {
			continue
		}
		want, ok := wholeDecision(t, e, in)
		got, err := e.Decide(context.Background(), in)
		if !ok {
			if err == nil {
				t.Fatalf("request %d (%s): got %+v, want an error as the whole policies give", i, in.Action, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("request %d (%s): got %+v, %v, want %+v", i, in.Action, got, err, want)
		}
		if got.Allow {
			allowed[in.Action]++
		}
	}
	// The comparison must reach allowed decisions, or it tests little. An
	// allowed job.run is rare in the draw (about one in 1,600: each
	// mutation tends to break one of its many conditions), so each counted
	// action is also decided both ways on a request known to be allowed,
	// and the draw must allow something.
	for _, k := range []struct {
		action, role string
		own          bool
	}{{"job.run", policy.RoleOperator, true}, {"application.file", policy.RoleOperator, true},
		{"job.list", policy.RoleOperator, true}, {"export.approve", policy.RoleOfficer, false}} {
		in := matrixInput(k.action, k.own, k.role)
		want, ok := wholeDecision(t, e, in)
		got, err := e.Decide(context.Background(), in)
		if !ok || err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s by %s: got %+v, %v, want %+v", k.action, k.role, got, err, want)
		}
		if !got.Allow {
			t.Errorf("%s by %s on matrixInput: denied (%v); the check of allowed decisions needs an allowed request", k.action, k.role, got.Reasons)
		}
	}
	total := 0
	for _, c := range allowed {
		total += c
	}
	if total < n/50 {
		t.Errorf("only %d of %d drawn requests were allowed", total, n)
	}
}

// TestSpecializedActions checks that the built-in policies specialize
// every action, that a specialized action reads only some of the input,
// and that an action outside policy.Actions uses the whole policies.
func TestSpecializedActions(t *testing.T) {
	e := topdownEngine(t)
	for _, a := range policy.Actions {
		s := e.forAction(context.Background(), a)
		if s == nil {
			t.Errorf("action %q: not specialized", a)
			continue
		}
		if s.fields.all {
			t.Errorf("action %q: reads the whole input", a)
		}
	}
	if s := e.forAction(context.Background(), "rows.read"); s != nil {
		t.Error("unknown action specialized, want the whole policies")
	}
	who := e.forAction(context.Background(), "whoami")
	if who.fields.has("grants") || who.fields.has("resource") {
		t.Errorf("whoami reads grants or resource, want neither")
	}
}

// TestSpecializedReadsDeployerFields: a deployer's rule that reads a field
// the built-in rules of the action never read, or the input as a whole,
// still sees it. Each way is a rule on an action of its own (no built-in
// rule reads subject.name), so one load per evaluator checks all three:
// each action's residual is specialized to that action alone.
func TestSpecializedReadsDeployerFields(t *testing.T) {
	tests := []struct{ name, action, file, src string }{
		{"field", "whoami", "field.rego", `package enclave

reasons contains {"rule": "local.field", "message": "no"} if {
	input.action == "whoami"
	input.subject.name == "Mallory"
}
`},
		{"whole input", "health", "whole.rego", `package enclave

reasons contains {"rule": "local.whole", "message": "no"} if {
	input.action == "health"
	object.get(input, ["subject", "name"], "") == "Mallory"
}
`},
		{"through a function", "keys.public", "function.rego", `package enclave

named(x) if x.subject.name == "Mallory"

reasons contains {"rule": "local.function", "message": "no"} if {
	input.action == "keys.public"
	named(input)
}
`},
	}
	files := map[string]string{}
	for _, tc := range tests {
		files[tc.file] = tc.src
	}
	dir := policyDir(t, files)
	for _, mode := range []string{EvaluatorVM, EvaluatorTopdown} {
		e, err := New(context.Background(), WithEvaluator(mode), WithPolicyDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				rule := "local." + strings.TrimSuffix(tc.file, ".rego")
				in := matrixInput(tc.action, true, "operator")
				in.Subject.Name = "Mallory"
				d, err := e.Decide(context.Background(), in)
				if err != nil || d.Allow || len(d.Reasons) != 1 || d.Reasons[0].Rule != rule {
					t.Errorf("got %+v, %v, want a deny by %s", d, err, rule)
				}
				in.Subject.Name = "Alice"
				if d, err := e.Decide(context.Background(), in); err != nil || !d.Allow {
					t.Errorf("got %+v, %v, want allow", d, err)
				}
				if mode == EvaluatorVM && e.plannedFor(tc.action) == nil {
					t.Errorf("%s is not planned: the test does not check the plan's fields", tc.action)
				}
			})
		}
	}
}

// TestResidualThatDisagreesIsNotUsed: a residual that decides a probe
// differently from the whole policies is dropped, and the action keeps the
// whole policies.
func TestResidualThatDisagreesIsNotUsed(t *testing.T) {
	e := copyEngine(t, topdownEngine(t), nil)
	// Swap the residuals of two actions before their first use: each now
	// decides the other's requests.
	e.special["person.add"], e.special["whoami"] = e.special["whoami"], e.special["person.add"]
	if s := e.forAction(context.Background(), "person.add"); s != nil {
		t.Fatal("a residual of whoami was used for person.add")
	}
	in := matrixInput("person.add", true, "operator")
	d, err := e.Decide(context.Background(), in)
	if err != nil || d.Allow {
		t.Errorf("got %+v, %v, want deny", d, err)
	}
}

// TestSpecializationCollisionFallsBack: a deployer package in the
// residuals' namespace changes no decision (residuals that no longer
// compile or agree give way to the whole policies).
func TestSpecializationCollisionFallsBack(t *testing.T) {
	dir := t.TempDir()
	src := "package enclave_specialized.a0.enclave\n\nallow := true\n"
	if err := os.WriteFile(filepath.Join(dir, "odd.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := New(context.Background(), WithPolicyDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	in := matrixInput("person.add", true, "operator")
	d, err := e.Decide(context.Background(), in)
	if err != nil || d.Allow {
		t.Errorf("got %+v, %v, want deny", d, err)
	}
	in = matrixInput("whoami", true, "operator")
	if d, err := e.Decide(context.Background(), in); err != nil || !d.Allow {
		t.Errorf("got %+v, %v, want allow", d, err)
	}
	in.Subject.ID = ""
	if d, err := e.Decide(context.Background(), in); err != nil || d.Allow {
		t.Errorf("unauthenticated whoami: got %+v, %v, want deny", d, err)
	}
	// Whatever became of the residuals, every decision is the whole
	// policies' one.
	r := rand.New(rand.NewPCG(9, 9))
	draws := 300
	if testing.Short() {
		draws = 60
	}
	for range draws {
		in := randomInput(r)
		want, ok := wholeDecision(t, e, in)
		got, err := e.Decide(context.Background(), in)
		if ok != (err == nil) || (ok && !reflect.DeepEqual(got, want)) {
			t.Fatalf("%s: got %+v, %v, want %+v", in.Action, got, err, want)
		}
	}
}
