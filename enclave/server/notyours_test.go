package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
)

// TestNotFoundOrNotYours (issue 21): an operator asking for an object of
// another organisation and for one that does not exist gets the same
// answer, "not found or not yours", naming no organisation; the denial is
// on the record with the policy's own reason.
func TestNotFoundOrNotYours(t *testing.T) {
	w := newWorld(t)
	w.mustDo(w.authority.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "rival", Type: "company", LicenceFrom: "2026-01-01",
		LicenceUntil: "2027-12-31"}), nil)
	rival := w.member("Rival Operator", "rival", "operator")
	var a struct{ ID string }
	w.mustDo(rival.Token, "POST", "/v1/applications", api.ApplicationRequest{Datasets: []string{"penalties"}, Purpose: "risk statistics",
		Scenario: "dashboard", Until: "2027-06-30"}, &a)
	answer := func(path string) (int, api.ErrorDetail) {
		t.Helper()
		code, body := w.do(w.operator.Token, "GET", path, nil)
		var e api.ErrorBody
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		e.Error.RequestID = ""
		return code, e.Error
	}
	c1, other := answer("/v1/applications/" + a.ID)
	c2, unknown := answer("/v1/applications/a_nosuchapplication")
	if c1 != http.StatusForbidden || c2 != c1 || other.Message != unknown.Message || strings.Join(other.Reasons, ";") != strings.Join(unknown.Reasons, ";") {
		t.Fatalf("another org's application and an unknown one differ: %d %+v and %d %+v", c1, other, c2, unknown)
	}
	if !strings.Contains(other.Message, "not found or not yours") || strings.Contains(other.Message+strings.Join(other.Reasons, ";"), "acme") ||
		strings.Contains(other.Message+strings.Join(other.Reasons, ";"), "rival") {
		t.Fatalf("answer %+v: want not found or not yours, naming no organisation", other)
	}
	ents := w.entries("application.list")
	if len(ents) == 0 || ents[len(ents)-1].Event.Outcome != "denied" || !strings.Contains(ents[len(ents)-1].Event.Reason, "scope.own_org: person") {
		t.Fatalf("the denial's audit entry: got %+v, want the policy's reason", ents)
	}
}
