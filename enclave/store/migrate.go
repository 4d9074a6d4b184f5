package store

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
)

// Migration is one versioned step of the schema. Steps are applied in order,
// each in its own transaction, and never edited once released: a change is
// a new step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations is the schema history. Append only.
var Migrations = []Migration{
	{1, "people and organisations", `
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
}

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.sql.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	have, err := s.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	newest := Migrations[len(Migrations)-1].Version
	if have > newest {
		return fmt.Errorf("state schema version %d is newer than this program's %d: %w", have, newest, errdefs.ErrFailedPrecondition)
	}
	for _, m := range Migrations {
		if m.Version <= have {
			continue
		}
		tx, err := s.sql.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, name) VALUES (?, ?)`, m.Version, m.Name); err != nil {
			tx.Rollback()
			return fmt.Errorf("record migration %d: %w", m.Version, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit migration %d: %w", m.Version, err)
		}
	}
	return nil
}
