package grants

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func openDB(t *testing.T) (*store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func fileApp(t *testing.T, db *store.DB, id string, ds ...Dataset) {
	t.Helper()
	a := &Application{ID: id, Org: "acme", Applicant: "p-op", Datasets: ds, Purpose: "p", Scenario: "s", From: "2026-11-23",
		Until: "2027-06-30", ApprovalsNeeded: 1, Status: Pending, CreatedAt: t0}
	if err := Create(context.Background(), db.SQL(), a); err != nil {
		t.Fatal(err)
	}
}

func decide(db *store.DB, id string, pins map[string]Pin) (*Grant, error) {
	var g *Grant
	err := db.Tx(context.Background(), func(tx *sql.Tx) error {
		var err error
		_, g, err = Decide(context.Background(), tx, id, "p-auth", Approved, "", t0, pins)
		return err
	}, nil)
	return g, err
}

// TestDecidePinsTheGrant: the grant an approval makes pins every dataset
// to the owner, market class, level and version it was approved for; an
// approval without a pin for every dataset records nothing.
func TestDecidePinsTheGrant(t *testing.T) {
	pin := Pin{Version: 2, Owner: "credit-centre", Market: "ordinary", Level: "general-2"}
	tests := []struct {
		name    string
		pins    map[string]Pin
		wantErr bool
	}{
		{"every dataset pinned", map[string]Pin{"penalties": pin, "registrations": {Version: 1, Owner: "market-bureau", Market: "authorized", Level: "general-3"}}, false},
		{"one dataset unpinned", map[string]Pin{"penalties": pin}, true},
		{"a pin without an owner", map[string]Pin{"penalties": pin, "registrations": {Version: 1, Market: "ordinary", Level: "general-1"}}, true},
		{"no pins", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openDB(t)
			fileApp(t, db, "a_1", Dataset{Name: "penalties", Columns: []string{"district"}}, Dataset{Name: "registrations"})
			g, err := decide(db, "a_1", tc.pins)
			if tc.wantErr {
				var n int
				db.SQL().QueryRow(`SELECT COUNT(*) FROM grants`).Scan(&n)
				if !errdefs.IsFailedPrecondition(err) || n != 0 {
					t.Fatalf("got %v and %d grants, want failed precondition and none", err, n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := GetGrant(context.Background(), db.SQL(), g.ID)
			if err != nil {
				t.Fatal(err)
			}
			pg := got.Policy()
			if len(pg.Datasets) != 2 {
				t.Fatalf("got %d datasets, want 2", len(pg.Datasets))
			}
			d := pg.Datasets[0]
			if d.Name != "penalties" || d.Owner != "credit-centre" || d.Market != "ordinary" || d.Level != "general-2" || d.Version != 2 ||
				len(d.Columns) != 1 || d.Columns[0] != "district" {
				t.Errorf("penalties: got %+v, want pinned to credit-centre ordinary general-2 version 2 with its column", d)
			}
			if d := pg.Datasets[1]; d.Owner != "market-bureau" || d.Market != "authorized" || d.Level != "general-3" {
				t.Errorf("registrations: got %+v, want pinned to market-bureau authorized general-3", d)
			}
		})
	}
}

// TestGrantPinsMigration: a grant made before pins is pinned to the
// newest version of each dataset imported by the time of the grant; a
// dataset with no such version stays unpinned.
func TestGrantPinsMigration(t *testing.T) {
	ctx := context.Background()
	db, path := openDB(t)
	// A database of grants schema 1: its times in RFC 3339 as that release
	// wrote them, rewritten by schema 3.
	for _, q := range []string{`DELETE FROM schema_migrations WHERE part = 'grants' AND version >= 2`,
		`ALTER TABLE applications DROP COLUMN conditions`, `ALTER TABLE grants DROP COLUMN conditions`} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	at := func(days int) string { return t0.AddDate(0, 0, days).Format(time.RFC3339Nano) }
	for _, v := range []struct {
		name, org, level, market, created string
		ver                               int
	}{
		{"penalties", "credit-centre", "general-1", "ordinary", at(-10), 1},
		{"penalties", "credit-centre", "general-2", "ordinary", at(-5), 2},
		{"penalties", "rival-centre", "general-2", "ordinary", at(+1), 3}, // after the grant
		{"registrations", "market-bureau", "general-3", "authorized", at(-1), 1},
		{"late", "market-bureau", "general-1", "ordinary", at(+2), 1}, // only after the grant
	} {
		if _, err := db.SQL().Exec(`INSERT INTO dataset_versions(name, version, category, level, market, state, rows, bytes, columns, marks,
			spec_sha256, data_sha256, key_object, wrapped_key, fp_values, fp_rows, created_at, created_by, org)
			VALUES (?, ?, 'c', ?, ?, 'active', 1, 1, '[]', '{}', '', '', 'k', X'00', 0, 0, ?, 'p', ?)`,
			v.name, v.ver, v.level, v.market, v.created, v.org); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SQL().Exec(`INSERT INTO applications(id, org, applicant, datasets, purpose, scenario, data_flow, public_interest,
		period_from, period_until, approvals_needed, status, grant_id, created_at) VALUES ('a_1', 'acme', 'p', '[]', 'p', 's', '', 0,
		'2026-11-23', '2027-06-30', 1, 'approved', 'g_old', ?)`, at(-1)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec(`INSERT INTO grants(id, application, org, datasets, purpose, scenario, public_interest, period_from,
		period_until, approvers, status, created_at) VALUES ('g_old', 'a_1', 'acme', ?, 'p', 's', 0, '2026-11-23', '2027-06-30', '["p-auth"]',
		'approved', ?)`, `[{"name":"penalties","columns":["district"]},{"name":"registrations"},{"name":"late"}]`, at(0)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g, err := GetGrant(ctx, db.SQL(), "g_old")
	if err != nil {
		t.Fatal(err)
	}
	want := []Dataset{
		{Name: "penalties", Columns: []string{"district"}, Owner: "credit-centre", Market: "ordinary", Level: "general-2", Version: 2},
		{Name: "registrations", Owner: "market-bureau", Market: "authorized", Level: "general-3", Version: 1},
		{Name: "late"},
	}
	if len(g.Datasets) != len(want) {
		t.Fatalf("got %+v, want %+v", g.Datasets, want)
	}
	for i, w := range want {
		d := g.Datasets[i]
		if d.Name != w.Name || d.Owner != w.Owner || d.Market != w.Market || d.Level != w.Level || d.Version != w.Version ||
			len(d.Columns) != len(w.Columns) {
			t.Errorf("dataset %d: got %+v, want %+v", i, d, w)
		}
	}
}
