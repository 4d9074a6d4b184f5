package usage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/store"
)

// TestMonthBoundAfterTimesMigration: a state written before the codec of
// stored times (jobs schema 3, usage schema 2: RFC 3339 with trimmed
// fractions in jobs and in the ledger its triggers keep) is migrated, and
// a report of March counts the job at 00:00:00.5 on the 1st and not the
// one at 23:59:59.9 on the last day of February, by month and by period.
func TestMonthBoundAfterTimesMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DELETE FROM schema_migrations WHERE (part = 'jobs' AND version >= 4) OR (part = 'usage' AND version >= 3) OR (part = 'exports' AND version >= 3)`,
		`INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at)
			VALUES ('j-feb', 'acme', 'p', 'sha256:x', '[]', '[]', '{}', '{}', 'complete', '{"cpu_seconds": 16}', '2026-02-28T23:59:59.9Z')`,
		`INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at)
			VALUES ('j-mar', 'acme', 'p', 'sha256:x', '[]', '[]', '{}', '{}', 'complete', '{"cpu_seconds": 1}', '2026-03-01T00:00:00.5Z')`,
		`INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at)
			VALUES ('j-apr', 'acme', 'p', 'sha256:x', '[]', '[]', '{}', '{}', 'complete', '{"cpu_seconds": 4}', '2026-04-01T00:00:00Z')`,
		`INSERT INTO exports(id, job, org, requester, purpose, scenario, files, declared, level, state, result, approvals_needed, created_at)
			VALUES ('x-mar', 'j-mar', 'acme', 'p', 'p', 's', '[]', '{}', 'general-2', 'released', '{}', 1, '2026-03-01T00:00:00.25Z')`,
	} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// A ledger row a trigger did not reach (the ledger of a state restored
	// from a copy, say) is rewritten by the usage step.
	if _, err := db.SQL().Exec(`UPDATE usage_ledger SET created_at = '2026-03-01T00:00:00.5Z' WHERE id = 'j-mar'`); err != nil {
		t.Fatal(err)
	}
	unclassLedger(t, db)
	db.Close()
	if db, err = store.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ledger string
	db.SQL().QueryRow(`SELECT created_at FROM usage_ledger WHERE id = 'j-mar'`).Scan(&ledger)
	if ledger != "2026-03-01T00:00:00.500000000Z" {
		t.Errorf("ledger created_at: got %q, want the codec", ledger)
	}
	march := Query{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	r, err := Compute(ctx, db.SQL(), march, DefaultPriceList())
	if err != nil {
		t.Fatal(err)
	}
	if r.Total.Jobs != 1 || r.Total.CPUSeconds != 1 || r.Total.ExportsRequested != 1 {
		t.Errorf("March: got %d jobs, %v CPU seconds, %d exports; want j-mar and x-mar only", r.Total.Jobs, r.Total.CPUSeconds, r.Total.ExportsRequested)
	}
	r, err = Compute(ctx, db.SQL(), Query{By: ByMonth}, DefaultPriceList())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, row := range r.Rows {
		got[row.Key] = row.CPUSeconds
	}
	if len(got) != 3 || got["2026-02"] != 16 || got["2026-03"] != 1 || got["2026-04"] != 4 {
		t.Errorf("by month: got %v, want 2026-02: 16, 2026-03: 1, 2026-04: 4", got)
	}
}

// unclassLedger takes the ledger back to usage schema 3: no price class
// (schema 4 adds it), and the triggers of schema 2.
func unclassLedger(t *testing.T, db *store.DB) {
	t.Helper()
	for _, q := range []string{`DROP INDEX IF EXISTS usage_ledger_priced`, `ALTER TABLE usage_ledger DROP COLUMN class`, `ALTER TABLE usage_ledger DROP COLUMN basis`,
		`DROP TRIGGER usage_ledger_insert`, `DROP TRIGGER usage_ledger_update`,
		`CREATE TRIGGER usage_ledger_insert AFTER INSERT ON jobs BEGIN INSERT OR REPLACE INTO usage_ledger SELECT ` + ledgerRow2("NEW.") + `; END`,
		`CREATE TRIGGER usage_ledger_update AFTER UPDATE OF usage, org, owner, created_at, inputs ON jobs BEGIN
			INSERT OR REPLACE INTO usage_ledger SELECT ` + ledgerRow2("NEW.") + `; END`,
		`DELETE FROM schema_migrations WHERE part = 'usage' AND version >= 4`} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
