package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// identRE is what RewriteTimes accepts as a table or column name: it
// builds SQL from them.
var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// legacyTime reads a time in a layout an earlier release stored: RFC 3339
// with or without a fraction of any width, in UTC or with an offset, or
// already in the codec.
func legacyTime(s string) (time.Time, error) {
	if t, err := storetime.Parse(s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// RewriteTimes rewrites the stored times in columns of table into the
// codec (storetime.Layout), in tx. Empty values (a time not set) stay
// empty; a value in no layout a release wrote fails the rewrite with an
// errdefs.ErrDataLoss error naming the table, the column and the row (not
// the value), and the caller's transaction rolls back: the state is left
// as it was. A table that does not exist is skipped. Running it again
// changes nothing.
func RewriteTimes(ctx context.Context, tx *sql.Tx, table string, columns ...string) error {
	for _, n := range append([]string{table}, columns...) {
		if !identRE.MatchString(n) {
			return fmt.Errorf("rewrite times: name %q is not an identifier: %w", n, errdefs.ErrInvalidArgument)
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
		return fmt.Errorf("rewrite times of table %s: %w", table, err)
	}
	if n == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT rowid, `+strings.Join(columns, ", ")+` FROM `+table)
	if err != nil {
		return fmt.Errorf("rewrite times of table %s: %w", table, err)
	}
	type change struct {
		rowid  int64
		column string
		text   string
	}
	var changes []change
	for rows.Next() {
		var rowid int64
		vals := make([]sql.NullString, len(columns))
		dst := []any{&rowid}
		for i := range vals {
			dst = append(dst, &vals[i])
		}
		if err := rows.Scan(dst...); err != nil {
			rows.Close()
			return fmt.Errorf("rewrite times of table %s: %w", table, err)
		}
		for i, v := range vals {
			if !v.Valid || v.String == "" {
				continue
			}
			t, err := legacyTime(v.String)
			if err != nil {
				rows.Close()
				return fmt.Errorf("table %s column %s row %d holds no time in a layout the enclave wrote: %w", table, columns[i], rowid, errdefs.ErrDataLoss)
			}
			if s := storetime.Format(t); s != v.String {
				changes = append(changes, change{rowid, columns[i], s})
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rewrite times of table %s: %w", table, err)
	}
	for _, c := range changes {
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET `+c.column+` = ? WHERE rowid = ?`, c.text, c.rowid); err != nil {
			return fmt.Errorf("rewrite table %s column %s row %d: %w", table, c.column, c.rowid, err)
		}
	}
	return nil
}

// RewriteTimesOf returns a Migration.Func that rewrites the stored times
// of each table's columns (RewriteTimes), tables in name order.
func RewriteTimesOf(tables map[string][]string) func(context.Context, *sql.Tx) error {
	names := make([]string, 0, len(tables))
	for t := range tables {
		names = append(names, t)
	}
	slices.Sort(names)
	return func(ctx context.Context, tx *sql.Tx) error {
		for _, t := range names {
			if err := RewriteTimes(ctx, tx, t, tables[t]...); err != nil {
				return err
			}
		}
		return nil
	}
}
