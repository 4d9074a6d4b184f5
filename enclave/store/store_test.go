package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
)

func TestMigrationsApplyOnceAndRefuseNewer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := db.SchemaVersion(ctx)
	if v1 < len(Migrations) {
		t.Fatalf("schema version %d, want at least %d", v1, len(Migrations))
	}
	if _, err := db.SQL().Exec(`INSERT INTO orgs(name, type, licence_from, licence_until, status, status_reason, created_at, updated_at) VALUES ('a','company','x','y','active','r','t','t')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Opening again applies nothing and keeps the rows.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := db.SchemaVersion(ctx)
	var n int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM orgs`).Scan(&n)
	if v2 != v1 || n != 1 {
		t.Fatalf("reopen: got version %d and %d rows, want %d and 1", v2, n, v1)
	}
	// A database migrated by a newer program is refused.
	db.SQL().Exec(`INSERT INTO schema_migrations(part, version, name) VALUES ('people', 999, 'future')`)
	db.Close()
	if _, err := Open(ctx, path); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("newer schema: got %v, want failed precondition", err)
	}
}

func TestTxAuditHookFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO orgs(name, type, licence_from, licence_until, status, status_reason, created_at, updated_at) VALUES ('a','company','x','y','active','r','t','t')`)
		return err
	}, func(*sql.Tx) error { return errdefs.ErrUnavailable })
	if !errdefs.IsUnavailable(err) {
		t.Fatalf("got %v, want the hook's error", err)
	}
	var n int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM orgs`).Scan(&n)
	if n != 0 {
		t.Fatalf("got %d rows after a failed hook, want 0", n)
	}
}

// TestPeopleMigration2 migrates a database of people schema version 1 with
// an organisation and a person: the rows stay, the organisation's licence
// becomes its first term and its last change its status time, and the new
// columns are empty.
func TestPeopleMigration2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (part TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
			applied_at TEXT NOT NULL DEFAULT '', PRIMARY KEY (part, version))`,
		Migrations[0].SQL,
		`INSERT INTO schema_migrations(part, version, name) VALUES ('people', 1, 'v1')`,
		`INSERT INTO orgs VALUES ('acme', 'company', '2026-01-01', '2027-06-30', 'revoked', 'breach', '2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z')`,
		`INSERT INTO people(id, name, org, roles, agreement_until, created_at, created_by) VALUES ('p_1', 'Wang Lei', 'acme', 'operator', '2026-12-31', '2026-01-02T00:00:00Z', 'p_admin')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var statusAt, uscc, kind, from, until, agFrom, agUntil string
	if err := db.SQL().QueryRow(`SELECT status_at, uscc FROM orgs WHERE name = 'acme'`).Scan(&statusAt, &uscc); err != nil {
		t.Fatal(err)
	}
	if statusAt != "2026-03-01T00:00:00.000000000Z" || uscc != "" { // migration 3 rewrote it in the codec
		t.Errorf("got status_at %q uscc %q, want the last update and no code", statusAt, uscc)
	}
	if err := db.SQL().QueryRow(`SELECT kind, licence_from, licence_until FROM org_licences WHERE org = 'acme' AND seq = 1`).Scan(&kind, &from, &until); err != nil {
		t.Fatal(err)
	}
	if kind != "licence" || from != "2026-01-01" || until != "2027-06-30" {
		t.Errorf("got first term %s %s..%s, want licence 2026-01-01..2027-06-30", kind, from, until)
	}
	if err := db.SQL().QueryRow(`SELECT agreement_from, agreement_until FROM people WHERE id = 'p_1'`).Scan(&agFrom, &agUntil); err != nil {
		t.Fatal(err)
	}
	if agFrom != "" || agUntil != "2026-12-31" {
		t.Errorf("got agreement %q..%q, want ..2026-12-31 kept", agFrom, agUntil)
	}
}
