package opa

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"

	policy "github.com/enclave-dev/enclave/policies"
)

// TestRego runs the Rego unit tests (policies/rego/*_test.rego) with OPA's
// tester, compiled under the same capabilities as the engine.
func TestRego(t *testing.T) {
	fsys := policy.Builtin()
	modules := map[string]*ast.Module{}
	tests := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := builtinPrefix + p
		m, err := ast.ParseModuleWithOpts(name, string(b), ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: Capabilities()})
		if err != nil {
			return err
		}
		modules[name] = m
		if strings.HasSuffix(p, "_test.rego") {
			tests++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if tests == 0 {
		t.Fatal("got no _test.rego files, want some")
	}
	compiler := ast.NewCompiler().WithCapabilities(Capabilities()).WithDefaultRegoVersion(ast.RegoV1)
	ch, err := tester.NewRunner().
		SetCompiler(compiler).
		SetModules(modules).
		RaiseBuiltinErrors(true).
		RunTests(context.Background(), nil)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	ran := 0
	for r := range ch {
		ran++
		name := r.Package + "." + r.Name
		if r.Error != nil {
			t.Errorf("%s: got error %v, want pass", name, r.Error)
		} else if r.Fail {
			t.Errorf("%s: got fail, want pass", name)
		}
	}
	if ran == 0 {
		t.Error("got no Rego tests run, want some")
	}
	t.Logf("%d Rego tests", ran)
}
