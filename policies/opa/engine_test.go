package opa

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	policy "github.com/enclave-dev/enclave/policies"
)

// policyDir writes files into a fresh directory and returns it.
func policyDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadRefused(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		text     string
		wantLine string // "file:line" expected in the error
		wantText string
	}{
		{"syntax error", "broken.rego", "package enclave\n\nreasons contains r if {\n\tr := \n}\n", "broken.rego:", "rego_parse_error"},
		{"undefined reference", "undef.rego", "package enclave\n\nreasons contains r if {\n\tr := no_such_rule\n}\n", "undef.rego:4", "no_such_rule"},
		{"http.send", "net.rego", "package enclave\n\nreasons contains r if {\n\tresp := http.send({\"method\": \"get\", \"url\": \"http://example.invalid\"})\n\tr := {\"rule\": \"x\", \"message\": resp.body}\n}\n", "net.rego:4", "http.send"},
		{"net.lookup_ip_addr", "dns.rego", "package enclave\n\nreasons contains r if {\n\taddrs := net.lookup_ip_addr(\"example.invalid\")\n\tr := {\"rule\": \"x\", \"message\": sprintf(\"%v\", [addrs])}\n}\n", "dns.rego:4", "net.lookup_ip_addr"},
		{"opa.runtime", "rt.rego", "package enclave\n\nreasons contains r if {\n\trt := opa.runtime()\n\tr := {\"rule\": \"x\", \"message\": sprintf(\"%v\", [rt])}\n}\n", "rt.rego:4", "opa.runtime"},
		{"time.now_ns", "clock.rego", "package enclave\n\nreasons contains r if {\n\ttime.now_ns() > 0\n\tr := {\"rule\": \"x\", \"message\": \"y\"}\n}\n", "clock.rego:4", "time.now_ns"},
		{"rand.intn", "rand.rego", "package enclave\n\nreasons contains r if {\n\trand.intn(\"k\", 10) > 5\n\tr := {\"rule\": \"x\", \"message\": \"y\"}\n}\n", "rand.rego:4", "rand.intn"},
		{"conflicting type", "conflict.rego", "package enclave\n\ndecision := 7\n", "conflict.rego:3", "decision"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := policyDir(t, map[string]string{tc.file: tc.text})
			e, err := New(context.Background(), WithPolicyDir(dir))
			if err == nil {
				t.Fatalf("got engine %q, want an error", e.Revision())
			}
			if testing.Verbose() {
				t.Log(err)
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("got error class of %v, want invalid argument", err)
			}
			want := filepath.Join(dir, tc.wantLine)
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("got error %q, want it to contain %q and %q", err, want, tc.wantText)
			}
		})
	}
}

func TestLoadDirectoryErrors(t *testing.T) {
	_, err := New(context.Background(), WithPolicyDir(filepath.Join(t.TempDir(), "missing")))
	if !errdefs.IsNotFound(err) {
		t.Errorf("missing directory: got %v, want a not-found error", err)
	}
	dir := policyDir(t, map[string]string{"a/extra.rego": "package enclave\n", "b/extra.rego": "package enclave\n"})
	_, err = New(context.Background(), WithPolicyDir(dir))
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("duplicate names: got %v, want an invalid-argument error", err)
	}
	_, err = New(context.Background(), WithoutBuiltin(), WithPolicyDir(t.TempDir()))
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("no files: got %v, want an invalid-argument error", err)
	}
}

// TestOverride: an added file contributes reasons; a file named like a
// built-in one replaces it; _test.rego files are not loaded.
func TestOverride(t *testing.T) {
	ctx := context.Background()
	base := builtinEngine(t)
	extra := "package enclave\n\nreasons contains {\"rule\": \"local.no_important\", \"message\": \"no important data here\"} if {\n\tinput.action == \"job.run\"\n\tsome d in input.resource.datasets\n\td.level == \"general-2\"\n}\n"
	roles := "package enclave\n\naction_roles := {\"whoami\": {\"*\": \"any\"}, \"job.run\": {\"operator\": \"own_org\"}}\ninactive_org_actions := {\"whoami\"}\nlicensed_actions := {\"job.run\"}\n"
	broken := "package enclave\n\nthis does not parse\n"
	tests := []struct {
		name      string
		files     map[string]string
		action    string
		wantAllow bool
		wantRule  string
	}{
		{"added rule denies", map[string]string{"local.rego": extra}, "job.run", false, "local.no_important"},
		{"replaced role table drops an action", map[string]string{"roles.rego": roles, "local_test.rego": broken}, "job.list", false, "action.unknown"},
		{"replaced role table keeps job.run", map[string]string{"roles.rego": roles, "local_test.rego": broken}, "job.run", true, ""},
		// The directory of the role table holds a test file that does not
		// parse: the engine loads only if it is skipped.
		{"tests are not loaded", map[string]string{"roles.rego": roles, "local_test.rego": broken}, "job.run", true, ""},
	}
	// Cases with the same files share one engine: a load costs about a
	// second of CPU.
	engines := map[string]*Engine{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprint(tc.files)
			e := engines[key]
			if e == nil {
				var err error
				e, err = New(ctx, WithPolicyDir(policyDir(t, tc.files)))
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				engines[key] = e
			}
			in := jobInput()
			in.Action = tc.action
			d, err := e.Decide(ctx, in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if d.Allow != tc.wantAllow || (tc.wantRule != "" && !hasRule(d, tc.wantRule)) {
				t.Errorf("got allow %v reasons %v, want allow %v rule %q", d.Allow, d.Reasons, tc.wantAllow, tc.wantRule)
			}
			if d.Revision != e.Revision() {
				t.Errorf("got decision revision %q, want engine revision %q", d.Revision, e.Revision())
			}
			if e.Revision() == base.Revision() {
				t.Errorf("got the built-in revision %q with a policy directory, want another", e.Revision())
			}
			// The revision is over the files loaded, which hold no test.
			for _, f := range e.Files() {
				if strings.HasSuffix(f, "_test.rego") {
					t.Errorf("got test file %q among the loaded policies", f)
				}
			}
		})
	}
}

func TestRevision(t *testing.T) {
	// Two loads of the built-in policies (with two evaluators: the
	// revision names the files, not how they are evaluated).
	a := topdownEngine(t)
	b := builtinEngine(t)
	if a.Revision() != b.Revision() || !strings.HasPrefix(a.Revision(), "sha256:") || len(a.Revision()) != len("sha256:")+64 {
		t.Errorf("got revisions %q and %q, want the same sha256 twice", a.Revision(), b.Revision())
	}
	files := a.Files()
	if len(files) == 0 || !strings.HasPrefix(files[0], "policies/rego/") {
		t.Errorf("got files %v, want built-in files", files)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.rego") {
			t.Errorf("got test file %q among the loaded policies", f)
		}
	}
}

// TestUndefinedAndMalformed: a policy set that yields no decision, or a
// decision of the wrong shape, is an error and a deny.
func TestUndefinedAndMalformed(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		text      string
		wantRule  string
		wantError bool
	}{
		{"no decision rule", "package enclave\n\nallow := true\n", "policy.undefined", true},
		{"decision undefined for input", "package enclave\n\ndecision := {\"allow\": true} if input.action == \"never\"\n", "policy.undefined", true},
		{"decision not an object", "package enclave\n\ndecision := true\n", "policy.malformed", true},
		{"allow not a boolean", "package enclave\n\ndecision := {\"allow\": \"yes\"}\n", "policy.malformed", true},
		{"allow with reasons", "package enclave\n\ndecision := {\"allow\": true, \"reasons\": [{\"rule\": \"a\", \"message\": \"b\"}]}\n", "policy.malformed", true},
		{"unknown key", "package enclave\n\ndecision := {\"allow\": true, \"admin\": true}\n", "policy.malformed", true},
		{"reason without rule", "package enclave\n\ndecision := {\"allow\": false, \"reasons\": [{\"message\": \"b\"}]}\n", "policy.malformed", true},
		{"reasons not a list", "package enclave\n\ndecision := {\"allow\": false, \"reasons\": {\"rule\": \"a\", \"message\": \"b\"}}\n", "policy.malformed", true},
		{"grant id not a string", "package enclave\n\ndecision := {\"allow\": true, \"grants\": {\"d\": 1}}\n", "policy.malformed", true},
		{"reason with a third key", "package enclave\n\ndecision := {\"allow\": false, \"reasons\": {{\"rule\": \"a\", \"message\": \"b\", \"x\": 1}}}\n", "policy.malformed", true},
		{"eval error", "package enclave\n\ndecision := {\"allow\": x > 0}\nx := to_number(input.subject.name)\n", "policy.error", true},
		{"deny without reason", "package enclave\n\ndecision := {\"allow\": false}\n", "policy.deny", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(ctx, WithoutBuiltin(), WithPolicyDir(policyDir(t, map[string]string{"p.rego": tc.text})))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			d, err := e.Decide(ctx, jobInput())
			if gotErr := err != nil; gotErr != tc.wantError {
				t.Errorf("got error %v, want error %v", err, tc.wantError)
			}
			if tc.wantError && !errdefs.IsInternal(err) {
				t.Errorf("got error %v, want class internal", err)
			}
			if d.Allow || !hasRule(d, tc.wantRule) {
				t.Errorf("got allow %v reasons %v, want deny with rule %q", d.Allow, d.Reasons, tc.wantRule)
			}
		})
	}
}

func TestDecideErrors(t *testing.T) {
	e := builtinEngine(t)
	in := jobInput()
	in.Resource.Datasets[0].Market = "black"
	d, err := e.Decide(context.Background(), in)
	if !errdefs.IsInvalidArgument(err) || d.Allow {
		t.Errorf("invalid input: got allow %v error %v, want deny and an invalid-argument error", d.Allow, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err = e.Decide(ctx, jobInput())
	if !errors.Is(err, context.Canceled) || d.Allow {
		t.Errorf("canceled: got allow %v error %v, want deny and context.Canceled", d.Allow, err)
	}
}

// TestTrivialPolicy is the reference of the benchmark: allow := true,
// evaluated the same way.
func TestTrivialPolicy(t *testing.T) {
	e := trivialEngine(t)
	d, err := e.Decide(context.Background(), jobInput())
	if err != nil || !d.Allow || len(d.Reasons) != 0 {
		t.Errorf("got %+v, %v, want allow without reasons", d, err)
	}
}

const trivialPolicy = "package enclave\n\nallow := true\n\ndecision := {\"allow\": allow, \"reasons\": []}\n"

func trivialEngine(t testing.TB) *Engine {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "trivial.rego"), []byte(trivialPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := New(context.Background(), WithoutBuiltin(), WithPolicyDir(dir))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

var _ policy.Engine = (*Engine)(nil)

// TestReadmeExample loads the deployer rule shown in policies/README.md.
func TestReadmeExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```rego\n")
	text, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("got no rego example in the README")
	}
	e, err := New(context.Background(), WithPolicyDir(policyDir(t, map[string]string{"night.rego": text})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, tc := range []struct {
		hour      int
		wantAllow bool
	}{{3, false}, {12, true}} {
		in := jobInput()
		in.Now = time.Date(2026, 6, 1, tc.hour, 0, 0, 0, time.UTC)
		d, err := e.Decide(context.Background(), in)
		if err != nil {
			t.Fatalf("Decide: %v", err)
		}
		if d.Allow != tc.wantAllow || (!tc.wantAllow && !hasRule(d, "local.no_night_jobs")) {
			t.Errorf("hour %d: got allow %v reasons %v, want allow %v", tc.hour, d.Allow, d.Reasons, tc.wantAllow)
		}
	}
}

// TestConcurrentDecide: one engine serves many goroutines with the same
// answers as one at a time.
func TestConcurrentDecide(t *testing.T) {
	e := builtinEngine(t)
	inputs := benchInputs()
	want := make([]bool, len(inputs))
	for i, in := range inputs {
		d, err := e.Decide(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = d.Allow
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 50 {
				k := (g + i) % len(inputs)
				d, err := e.Decide(context.Background(), inputs[k])
				if err != nil {
					errs <- err
					return
				}
				if d.Allow != want[k] {
					errs <- fmt.Errorf("input %d: got allow %v, want %v", k, d.Allow, want[k])
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestEvaluationErrorsQuoteNoValues: a built-in that fails on a request's
// value (a deployer's rule) denies with an error that names the policy
// file and built-in but not the value, whether the action is planned
// or decided by topdown (an action outside policy.Actions).
func TestEvaluationErrorsQuoteNoValues(t *testing.T) {
	dir := policyDir(t, map[string]string{"local.rego": `package enclave

reasons contains {"rule": "local.name", "message": "no"} if {
	input.action in {"whoami", "rows.read"}
	to_number(input.subject.name) > 0
}
`})
	e, err := New(context.Background(), WithPolicyDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"whoami", "rows.read"} {
		in := matrixInput(action, true, "operator")
		in.Subject.Name = "Zhang Secret-Name"
		d, err := e.Decide(context.Background(), in)
		if err == nil || d.Allow {
			t.Fatalf("%s: got allow %v, error %v; want a deny and an error", action, d.Allow, err)
		}
		if strings.Contains(err.Error(), "Secret-Name") {
			t.Errorf("%s: the error quotes the value: %v", action, err)
		}
		// (Partial evaluation's residual of a planned action keeps the
		// file of a call but not always its line.)
		if !strings.Contains(err.Error(), "local.rego:") || !strings.Contains(err.Error(), "to_number") || !errdefs.IsInternal(err) {
			t.Errorf("%s: got %v, want an internal error naming local.rego and to_number", action, err)
		}
	}
	if e.plannedFor("whoami") == nil {
		t.Error("whoami is not planned: the test does not check the plan's errors")
	}
}
