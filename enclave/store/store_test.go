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
