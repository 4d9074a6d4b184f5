package opa

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	policy "github.com/enclave-dev/enclave/policies"
)

// checkInputValue fails when inputValue differs from OPA's generic
// conversion of the JSON encoding.
func checkInputValue(t *testing.T, in policy.Input) {
	t.Helper()
	want, err := ast.InterfaceToValue(&in)
	if err != nil {
		t.Fatalf("InterfaceToValue: %v", err)
	}
	if got := inputValue(&in); ast.Compare(got, want) != 0 {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestInputValue(t *testing.T) {
	withNils := jobInput()
	withNils.Resource.Image, withNils.Grants[0].Datasets, withNils.Subject.Roles = nil, nil, nil
	withNils.Request.CPU = 0.25
	tests := map[string]policy.Input{
		"zero":      {},
		"job":       jobInput(),
		"with nils": withNils,
		"approve":   matrixInput("application.approve", false, "authority", "operator"),
	}
	for i, in := range benchInputs() {
		tests[string(rune('a'+i))+" bench"] = in
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) { checkInputValue(t, in) })
	}
}
