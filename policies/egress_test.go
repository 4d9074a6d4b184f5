package policy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// builtinThresholds is the object of policies/rego/egress.rego, as
// encoding/json decodes it with UseNumber (the way OPA's rego package
// hands it over).
const builtinThresholds = `{
 "min_cell": 10, "dominance_n": 2, "dominance_k": 0.9, "p_ratio": 0.1, "min_dof": 10,
 "row_copy_pi_threshold": 0, "row_copy_fraction": 0.01,
 "max_file_bytes": 1073741824, "max_total_bytes": 4294967296, "max_files": 1000,
 "diff_max_cell_delta": 5, "max_labels": 200, "magnitude_tolerance": 0.001,
 "text_budget_bits": 512, "text_free_numbers": 200, "log_line_budget_bits": 40
}`

func thresholdDoc(t *testing.T, edit map[string]any, drop ...string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(builtinThresholds))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	for k, v := range edit {
		m[k] = v
	}
	for _, k := range drop {
		delete(m, k)
	}
	return m
}

func TestParseEgressThresholds(t *testing.T) {
	got, err := ParseEgressThresholds(thresholdDoc(t, nil))
	if err != nil {
		t.Fatalf("ParseEgressThresholds: %v", err)
	}
	want := EgressThresholds{MinCell: 10, DominanceN: 2, DominanceK: 0.9, PRatio: 0.1, MinDoF: 10,
		RowCopyPIThreshold: 0, RowCopyFraction: 0.01, MaxFileBytes: 1 << 30, MaxTotalBytes: 4 << 30, MaxFiles: 1000,
		DiffMaxCellDelta: 5, MaxLabels: 200, MagnitudeTolerance: 0.001, TextBudgetBits: 512, TextFreeNumbers: 200, LogLineBudgetBits: 40}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// Values as plain float64 (encoding/json without UseNumber) too.
	var plain map[string]any
	if err := json.Unmarshal([]byte(builtinThresholds), &plain); err != nil {
		t.Fatal(err)
	}
	if got, err := ParseEgressThresholds(plain); err != nil || got != want {
		t.Errorf("float64 values: got %+v, %v, want %+v", got, err, want)
	}
	// Integers may be written with a fraction of zero or an exponent.
	if got, err := ParseEgressThresholds(thresholdDoc(t, map[string]any{"min_cell": json.Number("2e1"), "max_files": json.Number("10.0")})); err != nil || got.MinCell != 20 || got.MaxFiles != 10 {
		t.Errorf("2e1 and 10.0: got %d and %d, %v, want 20 and 10", got.MinCell, got.MaxFiles, err)
	}
}

func TestParseEgressThresholdsRefuses(t *testing.T) {
	tests := []struct {
		name    string
		doc     any
		wantKey string // named in the error
	}{
		{"not an object", []any{json.Number("1")}, "an array"},
		{"null", nil, "null"},
		{"unknown key", map[string]any{"min_cel": json.Number("10")}, `"min_cel"`},
		{"missing key", "drop:max_labels", `"max_labels"`},
		{"string", map[string]any{"min_cell": "10"}, `"min_cell" is a string`},
		{"boolean", map[string]any{"p_ratio": true}, `"p_ratio" is a boolean`},
		{"object", map[string]any{"max_files": map[string]any{}}, `"max_files" is an object`},
		{"negative", map[string]any{"max_file_bytes": json.Number("-1")}, `"max_file_bytes"`},
		{"fraction for an integer", map[string]any{"min_cell": json.Number("10.5")}, `"min_cell" is 10.5, want an integer`},
		{"min cell too small", map[string]any{"min_cell": json.Number("1")}, `"min_cell"`},
		{"zero where zero means default", map[string]any{"text_free_numbers": json.Number("0")}, `"text_free_numbers"`},
		{"zero fraction", map[string]any{"row_copy_fraction": json.Number("0")}, `"row_copy_fraction"`},
		{"dominance k of one", map[string]any{"dominance_k": json.Number("1")}, `"dominance_k" is 1, want a number above 0 and below 1`},
		{"dominance k above one", map[string]any{"dominance_k": json.Number("1.5")}, `"dominance_k"`},
		{"absurd budget", map[string]any{"text_budget_bits": json.Number("1e9")}, `"text_budget_bits"`},
		{"absurd file size", map[string]any{"max_file_bytes": json.Number("1e300")}, `"max_file_bytes"`},
		{"too large for a float", map[string]any{"max_files": json.Number("1e999")}, `"max_files" is not a finite number`},
		{"total below file", map[string]any{"max_total_bytes": json.Number("1024")}, `"max_total_bytes" is 1024, below "max_file_bytes"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.doc
			switch d := tc.doc.(type) {
			case string:
				doc = thresholdDoc(t, nil, strings.TrimPrefix(d, "drop:"))
			case map[string]any:
				doc = thresholdDoc(t, d)
			}
			got, err := ParseEgressThresholds(doc)
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got %+v, %v, want an invalid-argument error", got, err)
			}
			if !strings.Contains(err.Error(), tc.wantKey) {
				t.Errorf("got error %q, want it to name %s", err, tc.wantKey)
			}
			if got != (EgressThresholds{}) {
				t.Errorf("got %+v with the error, want the zero value", got)
			}
		})
	}
}

// TestEgressThresholdKeys checks that the key table and the struct's JSON
// names agree, in order, so that every key reaches a field.
func TestEgressThresholdKeys(t *testing.T) {
	typ := reflect.TypeOf(EgressThresholds{})
	keys := EgressThresholdKeys()
	if len(keys) != typ.NumField() {
		t.Fatalf("got %d keys, want one per field (%d)", len(keys), typ.NumField())
	}
	for i, k := range keys {
		if tag := typ.Field(i).Tag.Get("json"); tag != k {
			t.Errorf("key %d: got %q, want %q (the field's JSON name)", i, k, tag)
		}
	}
	// Each key sets its own field: the parsed document marshals back to
	// itself.
	doc := thresholdDoc(t, map[string]any{"min_cell": json.Number("11"), "dominance_n": json.Number("3"), "dominance_k": json.Number("0.8"),
		"p_ratio": json.Number("0.2"), "min_dof": json.Number("12"), "row_copy_pi_threshold": json.Number("1"), "row_copy_fraction": json.Number("0.02"),
		"max_file_bytes": json.Number("1000"), "max_total_bytes": json.Number("2000"), "max_files": json.Number("13"), "diff_max_cell_delta": json.Number("6"),
		"max_labels": json.Number("14"), "magnitude_tolerance": json.Number("0.002"), "text_budget_bits": json.Number("100"),
		"text_free_numbers": json.Number("15"), "log_line_budget_bits": json.Number("30")})
	got, err := ParseEgressThresholds(doc)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var back map[string]any
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, doc) {
		t.Errorf("got %v, want %v", back, doc)
	}
}

func TestParseEgressThresholdsMessage(t *testing.T) {
	_, err := ParseEgressThresholds(thresholdDoc(t, map[string]any{"max_file_bytes": json.Number("-1")}))
	want := `egress threshold "max_file_bytes" is -1, want an integer from 1 to 1099511627776`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %s", err, want)
	}
}
