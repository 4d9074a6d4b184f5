package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
)

// TestIncidentCommandsRefuseBadLines: a report names exactly one target
// and a reason, a close a decision, a revocation a reason, a halt exactly
// one of an organisation and a dataset; each mistake is a usage error
// (exit 2) that reaches no daemon.
func TestIncidentCommandsRefuseBadLines(t *testing.T) {
	getenv := func(k string) string {
		if k == "ENCLAVE_TOKEN" {
			return "t"
		}
		return ""
	}
	for _, args := range [][]string{
		{"incident", "report", "--reason", "x"},
		{"incident", "report", "--job", "j-1", "--grant", "g_1", "--reason", "x"},
		{"incident", "report", "--job", "j-1"},
		{"incident", "close", "inc_1"},
		{"incident", "close"},
		{"application", "revoke", "a_1"},
		{"application", "revoke", "a_1", "--reason", "  "},
		{"incident", "halt", "--reason", "x"},
		{"incident", "halt", "--org", "acme", "--dataset", "d", "--reason", "x"},
	} {
		var out, errb bytes.Buffer
		code := Main(append(args, "--addr", "/nonexistent/enclaved.sock"), nil, &out, &errb, getenv)
		if code != ExitUsage || strings.Contains(errb.String(), "nonexistent") {
			t.Errorf("%v: got exit %d (%s), want a usage error before any connection", args, code, errb.String())
		}
	}
}

// TestIncidentShowPrintsTheRecord: who, what, when, the affected data and
// the decision are on the table.
func TestIncidentShowPrintsTheRecord(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	in := api.Incident{ID: "inc_1", Target: api.IncidentTarget{Kind: "grant", ID: "g_1"}, Org: "acme", Reason: "suspected leak",
		ReportedBy: "p_off", ReporterOrg: "security", ReportedAt: at, State: "closed", Decision: "no leak found", ClosedBy: "p_auth", ClosedAt: &at,
		Affected: api.IncidentAffected{Datasets: []string{"penalties@1"}, Grants: []string{"g_1"}, Jobs: []string{"j-1"}, Orgs: []string{"acme"}},
		Stopped:  []string{"j-1"}}
	sock := fakeDaemon(t, "/v1/incidents/inc_1", in)
	var out, errb bytes.Buffer
	if code := Main([]string{"incident", "show", "inc_1", "--addr", sock}, nil, &out, &errb, func(k string) string {
		if k == "ENCLAVE_TOKEN" {
			return "t"
		}
		return ""
	}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"inc_1", "grant g_1", "p_off (security)", "suspected leak", "penalties@1", "j-1", "no leak found", "p_auth", "2026-12-07T01:00:00Z"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
