// Package store is the enclave's state: a SQLite database (pure-Go driver)
// under the data directory with versioned schema migrations. Every noun of
// the domain keeps its rows here; the audit log is separate and append-only.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/containerd/errdefs"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// DB is the enclave's database. It is safe for concurrent use; writes are
// serialised by SQLite (one writer at a time, readers in parallel under WAL).
type DB struct {
	sql *sql.DB
	gen atomic.Uint64 // write transactions committed through Tx
}

// Open opens (creating if needed) the database file at path and applies
// any migrations that have not run yet. It refuses a database whose schema
// is newer than this program knows.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"foreign_keys(1)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open state database: %w", err)
	}
	db.SetMaxOpenConns(8)
	s := &DB{sql: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *DB) Close() error { return s.sql.Close() }

// SQL returns the underlying handle for read-only queries.
func (s *DB) SQL() *sql.DB { return s.sql }

// Tx runs fn in a write transaction. fn's error, or a panic, rolls back.
// commit, when fn succeeds, is called before COMMIT: the caller appends its
// audit event there, so that the event is durable before the change takes
// effect (DESIGN.md section 5, promise 5), and may record the event's index
// in tx. An error from commit rolls back.
func (s *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error, commit func(tx *sql.Tx) error) (err error) {
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if commit != nil {
		if err := commit(tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	s.gen.Add(1) // after the commit: whoever reads the new generation reads the change
	return nil
}

// Generation counts the write transactions committed through Tx. A cache
// of rows that notes the generation before it reads them, and reads them
// again once the generation has moved, never serves a row from before a
// change committed through Tx (issue 19: a revoked credential is refused
// on the next call). Writes outside Tx do not count.
func (s *DB) Generation() uint64 { return s.gen.Load() }

// Changed moves the generation for a write committed outside Tx (the
// sweeper's transactions, which append their audit entry themselves), so
// that caches keyed by Generation read it again.
func (s *DB) Changed() { s.gen.Add(1) }

// SchemaVersion returns the number of migrations applied over all parts.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&v)
	return v, err
}

// IsUnique reports whether err is a SQLite uniqueness violation.
func IsUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// NotFound maps sql.ErrNoRows to an errdefs.ErrNotFound naming what was sought.
func NotFound(err error, what string, id any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %q: %w", what, fmt.Sprint(id), errdefs.ErrNotFound)
	}
	return err
}

// Querier is what reads and writes of the domain need: a *sql.DB or a
// *sql.Tx. (enclave/people keeps its own copy so that the CLI, which uses
// its value types, does not link the SQLite driver.)
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
