package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/exports"
	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa"
)

// TestPolicyExplainThresholds: explain shows the thresholds the export
// checks apply, which come from the policies, a deployer's override
// included; a daemon without exports shows none.
func TestPolicyExplainThresholds(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.rego"), []byte("package enclave\n\negress_overrides := {\"min_cell\": 25, \"text_budget_bits\": 128.5}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := opa.New(context.Background(), opa.WithPolicyDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, &authz.Policy{Engine: eng, Config: policy.Config{AuthorizedOrgTypes: []string{"company"}}})
	path := "/v1/policy/explain?as=p_admin&action=export.request"

	var x api.Explanation
	h.mustDo(h.admin, "GET", path, nil, &x)
	if x.EgressThresholds != nil {
		t.Errorf("without exports: got thresholds %v, want none", x.EgressThresholds)
	}
	if x.Decision.Revision != eng.Revision() || x.Decision.Allow || len(x.Decision.Reasons) == 0 {
		t.Errorf("got decision %+v, want a deny with reasons under revision %s", x.Decision, eng.Revision())
	}

	deps := h.srv.Deps
	deps.Exports = &exports.Service{Params: exports.ParamsFromPolicy(eng.EgressThresholds())}
	srv, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+h.admin)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	x = api.Explanation{}
	if err := json.NewDecoder(resp.Body).Decode(&x); err != nil || resp.StatusCode != 200 {
		t.Fatalf("got status %d, %v", resp.StatusCode, err)
	}
	var want map[string]float64
	b, _ := json.Marshal(eng.EgressThresholds())
	json.Unmarshal(b, &want)
	if len(want) != len(policy.EgressThresholdKeys()) || want["min_cell"] != 25 || want["text_budget_bits"] != 128.5 {
		t.Fatalf("the policy's thresholds are %v, want every key with the override", want)
	}
	if !reflect.DeepEqual(x.EgressThresholds, want) {
		t.Errorf("got thresholds %v, want the policy's %v", x.EgressThresholds, want)
	}
}
