package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/containerd/errdefs"
)

// Migration is one versioned step of a part of the schema. Steps are
// applied in order, each in its own transaction, and never edited once
// released: a change is a new step.
type Migration struct {
	Version int
	Name    string
	SQL     string
	// Func, when set, runs after SQL in the same transaction: for steps
	// that SQL alone cannot say, such as rewriting stored times
	// (RewriteTimes).
	Func func(ctx context.Context, tx *sql.Tx) error
}

// Schema is the migration history of one part of the state (one noun of
// the domain: "people", "catalog", "jobs", ...). Each part keeps its own
// version sequence, so parts can grow independently; a part may refer to
// tables of the parts it Requires, which are migrated before it (Parts).
type Schema struct {
	Part string
	// Requires names the parts whose tables this part's migrations or
	// triggers refer to.
	Requires   []string
	Migrations []Migration
}

var schemas = []Schema{{Part: "people", Migrations: Migrations}, watermarkSchema}

// Register adds a part's schema; the package that keeps the part calls it
// from init. Parts are migrated in the order of Parts, whatever the order
// of registration.
func Register(s Schema) {
	for _, have := range schemas {
		if have.Part == s.Part {
			panic("store: schema part " + s.Part + " registered twice")
		}
	}
	for i, m := range s.Migrations {
		if m.Version != i+1 {
			panic(fmt.Sprintf("store: schema part %s: migration %d has version %d, want %d", s.Part, i, m.Version, i+1))
		}
	}
	schemas = append(schemas, s)
}

// Migrations is the schema history of the people part. Append only.
var Migrations = []Migration{
	{Version: 1, Name: "people and organisations", SQL: `
CREATE TABLE orgs (
	name          TEXT PRIMARY KEY,
	type          TEXT NOT NULL,
	licence_from  TEXT NOT NULL,
	licence_until TEXT NOT NULL,
	status        TEXT NOT NULL,
	status_reason TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL
);
CREATE TABLE people (
	id              TEXT PRIMARY KEY,
	name            TEXT NOT NULL,
	org             TEXT NOT NULL REFERENCES orgs(name),
	roles           TEXT NOT NULL,
	id_number_hash  TEXT UNIQUE,
	id_number_mask  TEXT NOT NULL DEFAULT '',
	agreement_until TEXT NOT NULL DEFAULT '',
	created_at      TEXT NOT NULL,
	created_by      TEXT NOT NULL
);
CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	person     TEXT NOT NULL REFERENCES people(id),
	hash       TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	revoked_at TEXT NOT NULL DEFAULT '',
	revoked_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tokens_person ON tokens(person);
`},
	{Version: 2, Name: "organisation identity and licence applications, licence terms, agreement terms", SQL: `
ALTER TABLE orgs ADD COLUMN uscc TEXT NOT NULL DEFAULT '';
ALTER TABLE orgs ADD COLUMN business_scope TEXT NOT NULL DEFAULT '';
ALTER TABLE orgs ADD COLUMN security_lead TEXT NOT NULL DEFAULT '';
ALTER TABLE orgs ADD COLUMN principal TEXT NOT NULL DEFAULT '';
ALTER TABLE orgs ADD COLUMN data_disposal TEXT NOT NULL DEFAULT '';
ALTER TABLE orgs ADD COLUMN status_at TEXT NOT NULL DEFAULT '';
UPDATE orgs SET status_at = updated_at;
CREATE INDEX orgs_uscc ON orgs(uscc);
CREATE TABLE org_licences (
	org           TEXT NOT NULL REFERENCES orgs(name),
	seq           INTEGER NOT NULL,
	kind          TEXT NOT NULL,
	licence_from  TEXT NOT NULL,
	licence_until TEXT NOT NULL,
	recorded_at   TEXT NOT NULL,
	recorded_by   TEXT NOT NULL,
	PRIMARY KEY (org, seq)
);
INSERT INTO org_licences SELECT name, 1, 'licence', licence_from, licence_until, created_at, '' FROM orgs;
ALTER TABLE people ADD COLUMN agreement_from TEXT NOT NULL DEFAULT '';
ALTER TABLE people ADD COLUMN agreement_liability TEXT NOT NULL DEFAULT '';
`},
	{Version: 3, Name: "stored times in the fixed-width codec", Func: RewriteTimesOf(map[string][]string{
		"orgs":         {"status_at", "created_at", "updated_at"},
		"people":       {"created_at"},
		"tokens":       {"created_at", "expires_at", "revoked_at"},
		"org_licences": {"recorded_at"},
	})},
}

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.sql.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		part TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
		applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
		PRIMARY KEY (part, version))`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	parts, err := ordered(schemas, Parts)
	if err != nil {
		return err
	}
	for _, sc := range parts {
		if err := s.migratePart(ctx, sc); err != nil {
			return err
		}
	}
	return nil
}

func (s *DB) migratePart(ctx context.Context, sc Schema) error {
	var have int
	if err := s.sql.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE part = ?`, sc.Part).Scan(&have); err != nil {
		return fmt.Errorf("read schema version of %s: %w", sc.Part, err)
	}
	newest := len(sc.Migrations)
	if have > newest {
		return fmt.Errorf("state schema of %s is at version %d, newer than this program's %d: %w", sc.Part, have, newest, errdefs.ErrFailedPrecondition)
	}
	for _, m := range sc.Migrations {
		if m.Version <= have {
			continue
		}
		tx, err := s.sql.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if m.SQL != "" {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %s %d (%s): %w", sc.Part, m.Version, m.Name, err)
			}
		}
		if m.Func != nil {
			if err := m.Func(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %s %d (%s): %w", sc.Part, m.Version, m.Name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(part, version, name) VALUES (?, ?, ?)`, sc.Part, m.Version, m.Name); err != nil {
			tx.Rollback()
			return fmt.Errorf("record migration %d: %w", m.Version, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit migration %d: %w", m.Version, err)
		}
	}
	return nil
}

// watermarkSchema is the audit watermark's part (RecordAuditIndex).
var watermarkSchema = Schema{Part: "audit-watermark", Migrations: []Migration{
	{Version: 1, Name: "highest audit index of a committed change", SQL: `
CREATE TABLE audit_watermark (id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER NOT NULL);
INSERT INTO audit_watermark(id, idx) VALUES (1, -1);`},
}}

// RecordAuditIndex notes in tx that the audit entry idx was written for a
// change that commits with tx. The audit log must never end before the
// highest index recorded: `audit verify` uses this to detect a log whose
// tail was removed, which the log alone cannot tell.
func RecordAuditIndex(ctx context.Context, tx *sql.Tx, idx uint64) error {
	return MarkAuditIndex(ctx, tx, idx)
}

// MarkAuditIndex is RecordAuditIndex for a writer whose change commits on
// its own after the entry (the job manager's life-cycle steps): the
// watermark moves at once, in q's transaction if q is one.
func MarkAuditIndex(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, idx uint64) error {
	_, err := q.ExecContext(ctx, `UPDATE audit_watermark SET idx = MAX(idx, ?) WHERE id = 1`, int64(idx))
	return err
}

// AuditWatermark returns the highest audit index a committed change
// recorded, or -1.
func (s *DB) AuditWatermark(ctx context.Context) (int64, error) {
	var idx int64
	err := s.sql.QueryRowContext(ctx, `SELECT idx FROM audit_watermark WHERE id = 1`).Scan(&idx)
	return idx, err
}
