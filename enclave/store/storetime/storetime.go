// Package storetime is the one codec of the times the enclave stores: in
// its SQLite tables and in its audit log. A stored time is UTC with exactly
// nine fractional digits ("2006-01-02T15:04:05.000000000Z"), 30 bytes
// always, so that text order is time order: `ORDER BY created_at` and
// `created_at >= ?` are right to the nanosecond. (RFC 3339 with trimmed
// fractions is not: "...05.1Z" sorts after "...05.12Z", and a month bound
// "...00:00Z" sorts after "...00:00.5Z".) The text is also RFC 3339, so
// what reads RFC 3339 reads it.
//
// The package holds no state and imports no driver, so that value types
// linked by the command-line client (enclave/people, enclave/audit) can use
// it; enclave/store rewrites older layouts into it (store.RewriteTimes).
package storetime

import (
	"fmt"
	"time"

	"github.com/containerd/errdefs"
)

// Layout is the layout of a stored time.
const Layout = "2006-01-02T15:04:05.000000000Z"

// Format returns t, in UTC, in Layout. Times outside the years 0000-9999
// do not fit the width; Parse refuses what Format makes of them.
func Format(t time.Time) string { return t.UTC().Format(Layout) }

// Parse reads a stored time. Anything but exactly Layout (another width,
// a zone offset, a trimmed fraction, a date out of range) is an error of
// class errdefs.ErrDataLoss: the state holds what no release of the enclave
// wrote. The error does not quote the text.
func Parse(s string) (time.Time, error) {
	if len(s) != len(Layout) {
		return time.Time{}, fmt.Errorf("stored time of %d bytes is not %d-byte UTC text (%s): %w", len(s), len(Layout), Layout, errdefs.ErrDataLoss)
	}
	t, err := time.Parse(Layout, s)
	if err != nil || t.Format(Layout) != s {
		return time.Time{}, fmt.Errorf("stored time is not UTC text in the layout %s: %w", Layout, errdefs.ErrDataLoss)
	}
	return t, nil
}

// Column parses the stored time of a named column of a named row, for
// errors that say where the bad time is: `job "j-1" created_at: stored
// time ...`.
func Column(what, id, column, s string) (time.Time, error) {
	t, err := Parse(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q %s: %w", what, id, column, err)
	}
	return t, nil
}

// OptionalColumn is Column for a time that may be unset ("" is nil).
func OptionalColumn(what, id, column, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := Column(what, id, column, s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
