package vm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/test/cases"
)

// opaDir returns the directory of the OPA module this package builds with.
func opaDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/open-policy-agent/opa").Output()
	if err != nil {
		t.Fatalf("find the OPA module: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// deterministic allows every built-in function that gives the same result
// for the same arguments.
func deterministic(name string) bool {
	b, ok := ast.BuiltinMap[name]
	return ok && !b.Nondeterministic && !strings.HasPrefix(name, "http.") && !strings.HasPrefix(name, "net.")
}

// bindings renders a result set as sorted JSON lines of each result's
// bindings, leaving out variables that the compiler generated.
func bindings(t *testing.T, results []map[string]*ast.Term) []string {
	t.Helper()
	var out []string
	for _, r := range results {
		obj := ast.NewObject()
		for k, v := range r {
			if strings.HasPrefix(k, "__") || strings.HasPrefix(k, "$") || strings.HasPrefix(k, "^") {
				continue
			}
			obj.Insert(ast.StringTerm(k), v)
		}
		out = append(out, obj.String())
	}
	sort.Strings(out)
	return out
}

// TestConformance runs OPA's own evaluation test cases (the suite that
// OPA's topdown and WebAssembly evaluators are checked with) through this
// package and through topdown with strict built-in errors, and requires
// the same results, or an error from both. Cases whose query OPA's
// planner cannot plan, and cases of non-deterministic built-ins, are left
// out, and so are two cases of stored data (see storeSemantics); the test
// fails if fewer than 2,000 cases ran.
func TestConformance(t *testing.T) {
	Register()
	dir := filepath.Join(opaDir(t), "v1", "test", "cases", "testdata", "v1")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("OPA's test cases: %v", err)
	}
	set, err := cases.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ran, skipped := 0, 0
	// Under -short, every third case (of every file of cases): the whole
	// suite is seconds of CPU; make test runs it all.
	every, atLeast := 1, 2000
	if testing.Short() {
		every, atLeast = 3, 2000/3
	}
	for i, tc := range set.Cases {
		if i%every != 0 {
			continue
		}
		if len(tc.Env) > 0 || tc.ExperimentalKeywords {
			skipped++
			continue
		}
		var input ast.Value
		switch {
		case tc.InputTerm != nil:
			term, err := ast.ParseTerm(*tc.InputTerm)
			if err != nil {
				skipped++
				continue
			}
			input = term.Value
		case tc.Input != nil:
			if input, err = ast.InterfaceToValue(*tc.Input); err != nil {
				skipped++
				continue
			}
		}
		data := map[string]any{}
		if tc.Data != nil {
			data = *tc.Data
		}
		opts := func(extra ...func(*rego.Rego)) []func(*rego.Rego) {
			o := []func(*rego.Rego){rego.Query(tc.Query), rego.StrictBuiltinErrors(true), rego.SetRegoVersion(ast.RegoV1)}
			for i, m := range tc.Modules {
				o = append(o, rego.Module(tc.Filename+"."+string(rune('a'+i))+".rego", m))
			}
			return append(o, extra...)
		}
		sink := &Sink{Allowed: deterministic}
		ctx := context.Background()
		_, perr := rego.New(opts(rego.Target(Target))...).PrepareForEval(WithSink(ctx, sink))
		if perr != nil || sink.Program == nil || usesNondeterministic(tc) {
			skipped++
			continue
		}
		if storeSemantics[tc.Note] {
			skipped++
			continue
		}
		pq, err := rego.New(opts(rego.Store(inmem.NewFromObject(data)))...).PrepareForEval(ctx)
		if err != nil {
			// Refused when loaded (data that conflicts with rules):
			// nothing to evaluate.
			skipped++
			continue
		}
		var evalOpts []rego.EvalOption
		if input != nil {
			evalOpts = append(evalOpts, rego.EvalParsedInput(input))
		}
		rs, werr := pq.Eval(ctx, evalOpts...)
		var dataValue ast.Value = ast.NewObject()
		if data != nil {
			if dataValue, err = ast.InterfaceToValue(data); err != nil {
				t.Fatal(err)
			}
		}
		got, gerr := sink.Program.Eval(ctx, input, dataValue, Options{})
		ran++
		if (werr == nil) != (gerr == nil) {
			t.Errorf("%s: topdown error %v, vm error %v", tc.Note, werr, gerr)
			continue
		}
		if werr != nil {
			continue
		}
		var want []map[string]*ast.Term
		for _, res := range rs {
			m := map[string]*ast.Term{}
			for k, v := range res.Bindings {
				val, err := ast.InterfaceToValue(v)
				if err != nil {
					t.Fatal(err)
				}
				m[k] = ast.NewTerm(val)
			}
			want = append(want, m)
		}
		var have []map[string]*ast.Term
		if err := got.Iter(func(x *ast.Term) error {
			m := map[string]*ast.Term{}
			x.Value.(ast.Object).Foreach(func(k, v *ast.Term) {
				// As rego renders results: sets become arrays.
				j, err := ast.JSON(v.Value)
				if err != nil {
					t.Fatal(err)
				}
				val, err := ast.InterfaceToValue(j)
				if err != nil {
					t.Fatal(err)
				}
				m[string(k.Value.(ast.String))] = ast.NewTerm(val)
			})
			have = append(have, m)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		w, g := bindings(t, want), bindings(t, have)
		if len(w) != len(g) || strings.Join(w, "\n") != strings.Join(g, "\n") {
			t.Errorf("%s: query %q:\n got %v\nwant %v", tc.Note, tc.Query, g, w)
		}
	}
	t.Logf("%d cases ran, %d left out", ran, skipped)
	if ran < atLeast {
		t.Errorf("only %d cases ran", ran)
	}
}

// storeSemantics are cases of OPA's storage, which reads data["2"] for
// data[2]; the plan looks the number up, as OPA's WebAssembly does (their
// exceptions file names the same cases, OPA issue 3711). The engine has no
// stored data.
var storeSemantics = map[string]bool{"data/toplevel integer": true, "data/nested integer": true}

func usesNondeterministic(tc cases.TestCase) bool {
	text := tc.Query + strings.Join(tc.Modules, "\n")
	for name, b := range ast.BuiltinMap {
		if b.Nondeterministic && strings.Contains(text, name) {
			return true
		}
	}
	return false
}
