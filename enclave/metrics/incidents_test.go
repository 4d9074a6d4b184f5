package metrics

import (
	"context"
	"path/filepath"
	"testing"

	_ "github.com/enclave-dev/enclave/enclave/grants"    // the grants table
	_ "github.com/enclave-dev/enclave/enclave/incidents" // the incidents table
	"github.com/enclave-dev/enclave/enclave/store"
)

// TestScrapeIncidents: the bureau's /metrics counts incidents by state and
// kind, the jobs they stopped, and grants by status (issue 18).
func TestScrapeIncidents(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, in := range []struct{ id, kind, state, stopped string }{
		{"inc_1", "grant", "open", `["j-1","j-2"]`}, {"inc_2", "grant", "closed", `[]`}, {"inc_3", "dataset", "open", `["j-3"]`},
	} {
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO incidents(id, kind, target, org, reason, reported_by, reporter_org, reported_at, affected, stopped, state)
			VALUES (?, ?, 't', 'acme', 'r', 'p', 'acme', '2026-12-01T00:00:00.000000000Z', '{}', ?, ?)`, in.id, in.kind, in.stopped, in.state); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO applications(id, org, applicant, datasets, purpose, scenario, data_flow, public_interest,
		period_from, period_until, approvals_needed, status, created_at) VALUES ('a', 'acme', 'p', '[]', 'p', 's', '', 0, '2026-01-01', '2026-12-31', 1,
		'approved', '2026-01-01T00:00:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	for i, st := range []string{"approved", "suspended", "suspended", "revoked"} {
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO grants(id, application, org, datasets, purpose, scenario, public_interest, period_from,
			period_until, approvers, status, created_at) VALUES (?, 'a', 'acme', '[]', 'p', 's', 0, '2026-01-01', '2026-12-31', '[]', ?,
			'2026-01-01T00:00:00.000000000Z')`, "g"+string(rune('0'+i)), st); err != nil {
			t.Fatal(err)
		}
	}
	fams := scrape(t, New(db.SQL(), Options{}))
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"enclave_incidents", map[string]string{"state": "open", "kind": "grant"}, 1},
		{"enclave_incidents", map[string]string{"state": "closed", "kind": "grant"}, 1},
		{"enclave_incidents", map[string]string{"state": "open", "kind": "dataset"}, 1},
		{"enclave_incident_stopped_jobs_total", nil, 3},
		{"enclave_grants", map[string]string{"status": "suspended"}, 2},
		{"enclave_grants", map[string]string{"status": "revoked"}, 1},
		{"enclave_metrics_incidents_up", nil, 1},
	} {
		if got, ok := value(fams, tc.name, tc.labels); !ok || got != tc.want {
			t.Errorf("%s %v: got %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
}
