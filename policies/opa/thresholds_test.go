package opa

import (
	"context"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	policy "github.com/enclave-dev/enclave/policies"
)

// TestEgressThresholdsBuiltin: the built-in policies load with their
// defaults (egress_defaults, no overrides), every one set. That they equal
// the checks' own defaults is tested where both are in reach
// (enclave/exports).
func TestEgressThresholdsBuiltin(t *testing.T) {
	got := builtinEngine(t).EgressThresholds()
	rs, err := rego.New(rego.Query("data.enclave.egress_defaults"), rego.ParsedModule(builtinModule(t, "egress.rego"))).Eval(context.Background())
	if err != nil || len(rs) != 1 {
		t.Fatalf("evaluate egress_defaults: %v, %v", rs, err)
	}
	want, err := policy.ParseEgressThresholds(rs[0].Expressions[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("got %+v, want egress_defaults %+v", got, want)
	}
	v := reflect.ValueOf(got)
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; v.Field(i).IsZero() && name != "RowCopyPIThreshold" {
			t.Errorf("%s: got zero, want a value (zero reads as the checks' default)", name)
		}
	}
}

func builtinModule(t *testing.T, name string) *ast.Module {
	t.Helper()
	b, err := fs.ReadFile(policy.Builtin(), name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ast.ParseModuleWithOpts(name, string(b), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEgressThresholdsDeployer loads the two ways a deployer tunes the
// thresholds: egress_overrides in a file of its own, and a replacement
// egress.rego. The thresholds are evaluated before and apart from the
// decisions' residuals, so the engines decide in topdown (a load without
// plans to check costs about half).
func TestEgressThresholdsDeployer(t *testing.T) {
	ctx := context.Background()
	e, err := New(ctx, withoutPlans(), WithPolicyDir(policyDir(t, map[string]string{
		"local/thresholds.rego": "package enclave\n\negress_overrides := {\"min_cell\": 20, \"text_budget_bits\": 256.5}\n",
	})))
	if err != nil {
		t.Fatalf("New with overrides: %v", err)
	}
	want := builtinEngine(t).EgressThresholds()
	want.MinCell, want.TextBudgetBits = 20, 256.5
	if got := e.EgressThresholds(); got != want {
		t.Errorf("overrides: got %+v, want %+v", got, want)
	}
	// The decisions are unchanged by a data rule that no decision reads.
	d, err := e.Decide(ctx, jobInput())
	if err != nil || !d.Allow {
		t.Errorf("job admission with overrides: got %+v, %v, want allow", d, err)
	}

	replaced := `package enclave

egress_thresholds := {
	"min_cell": 5, "dominance_n": 3, "dominance_k": 0.8, "p_ratio": 0.2, "min_dof": 20,
	"row_copy_pi_threshold": 0, "row_copy_fraction": 0.001,
	"max_file_bytes": 1048576, "max_total_bytes": 1048576, "max_files": 10,
	"diff_max_cell_delta": 1, "max_labels": 50, "magnitude_tolerance": 0.01,
	"text_budget_bits": 128, "text_free_numbers": 20, "log_line_budget_bits": 16,
}
`
	e, err = New(ctx, withoutPlans(), WithPolicyDir(policyDir(t, map[string]string{"egress.rego": replaced})))
	if err != nil {
		t.Fatalf("New with egress.rego replaced: %v", err)
	}
	want = policy.EgressThresholds{MinCell: 5, DominanceN: 3, DominanceK: 0.8, PRatio: 0.2, MinDoF: 20,
		RowCopyFraction: 0.001, MaxFileBytes: 1 << 20, MaxTotalBytes: 1 << 20, MaxFiles: 10,
		DiffMaxCellDelta: 1, MaxLabels: 50, MagnitudeTolerance: 0.01, TextBudgetBits: 128, TextFreeNumbers: 20, LogLineBudgetBits: 16}
	if got := e.EgressThresholds(); got != want {
		t.Errorf("replaced: got %+v, want %+v", got, want)
	}
}

// TestEgressThresholdsRefused: bad thresholds keep the engine from
// loading (the daemon does not start), with an error naming the key or
// the file and line.
func TestEgressThresholdsRefused(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"unknown key", map[string]string{"t.rego": "package enclave\n\negress_overrides := {\"min_cels\": 20}\n"}, `unknown key "min_cels"`},
		{"wrong type", map[string]string{"t.rego": "package enclave\n\negress_overrides := {\"min_cell\": \"20\"}\n"}, `"min_cell" is a string`},
		{"negative", map[string]string{"t.rego": "package enclave\n\negress_overrides := {\"max_files\": -1}\n"}, `"max_files" is -1`},
		{"absurd", map[string]string{"t.rego": "package enclave\n\negress_overrides := {\"log_line_budget_bits\": 100000}\n"}, `"log_line_budget_bits" is 100000`},
		{"fraction for an integer", map[string]string{"t.rego": "package enclave\n\negress_overrides := {\"max_labels\": 20.5}\n"}, `"max_labels" is 20.5, want an integer`},
		{"overrides not an object", map[string]string{"t.rego": "package enclave\n\negress_overrides := \"strict\"\n"}, "egress.rego:49: eval_type_error: object.union"},
		{"two override files", map[string]string{
			"a.rego": "package enclave\n\negress_overrides := {\"min_cell\": 20}\n",
			"b.rego": "package enclave\n\negress_overrides := {\"min_cell\": 30}\n",
		}, "egress"},
		{"undefined", map[string]string{"egress.rego": "package enclave\n"}, "data.enclave.egress_thresholds is undefined"},
		{"replacement missing a key", map[string]string{"egress.rego": "package enclave\n\negress_thresholds := {\"min_cell\": 10}\n"}, `missing key "dominance_n"`},
		{"defined from the input", map[string]string{"egress.rego": "package enclave\n\negress_thresholds := input.thresholds\n"}, "undefined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(context.Background(), WithPolicyDir(policyDir(t, tc.files)))
			if err == nil {
				t.Fatalf("got an engine with thresholds %+v, want a load error", e.EgressThresholds())
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("got error %v, want class invalid argument", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestEgressThresholdsOptionalWithoutBuiltin(t *testing.T) {
	e := trivialEngine(t)
	if got := e.EgressThresholds(); got != (policy.EgressThresholds{}) {
		t.Errorf("got %+v, want the zero value", got)
	}
	_, err := New(context.Background(), WithoutBuiltin(), WithPolicyDir(policyDir(t, map[string]string{
		"p.rego": trivialPolicy + "\negress_thresholds := {\"min_cell\": 0}\n",
	})))
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("defined but invalid without the built-in policies: got %v, want an invalid-argument error", err)
	}
}
