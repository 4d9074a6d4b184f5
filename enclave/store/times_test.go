package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func scratch(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.SQL().Exec(`CREATE TABLE events (id TEXT PRIMARY KEY, at TEXT NOT NULL, done TEXT NOT NULL DEFAULT '')`); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestRewriteTimes(t *testing.T) {
	ctx := context.Background()
	db := scratch(t)
	rows := []struct{ id, at, done, wantAt, wantDone string }{
		{"tenth", "2026-03-05T10:00:05.1Z", "", "2026-03-05T10:00:05.100000000Z", ""},
		{"twelve-hundredths", "2026-03-05T10:00:05.12Z", "2026-03-05T10:00:06Z", "2026-03-05T10:00:05.120000000Z", "2026-03-05T10:00:06.000000000Z"},
		{"whole second", "2026-03-05T10:00:05Z", "", "2026-03-05T10:00:05.000000000Z", ""},
		{"first of the month", "2026-03-01T00:00:00.5Z", "", "2026-03-01T00:00:00.500000000Z", ""},
		{"offset", "2026-03-01T07:59:59.9+08:00", "", "2026-02-28T23:59:59.900000000Z", ""},
		{"sqlite milliseconds", "2026-03-05T10:00:05.123Z", "", "2026-03-05T10:00:05.123000000Z", ""},
		{"codec already", "2026-03-05T10:00:05.000000001Z", "", "2026-03-05T10:00:05.000000001Z", ""},
	}
	for _, r := range rows {
		if _, err := db.SQL().Exec(`INSERT INTO events VALUES (?, ?, ?)`, r.id, r.at, r.done); err != nil {
			t.Fatal(err)
		}
	}
	rewrite := func() error {
		return db.Tx(ctx, func(tx *sql.Tx) error { return RewriteTimes(ctx, tx, "events", "at", "done") }, nil)
	}
	for pass := 1; pass <= 2; pass++ { // the second pass changes nothing
		if err := rewrite(); err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		for _, r := range rows {
			var at, done string
			if err := db.SQL().QueryRow(`SELECT at, done FROM events WHERE id = ?`, r.id).Scan(&at, &done); err != nil {
				t.Fatal(err)
			}
			if at != r.wantAt || done != r.wantDone {
				t.Errorf("pass %d, %s: got %q %q, want %q %q", pass, r.id, at, done, r.wantAt, r.wantDone)
			}
		}
	}
	var order []string
	q, err := db.SQL().Query(`SELECT id FROM events ORDER BY at`)
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var id string
		q.Scan(&id)
		order = append(order, id)
	}
	q.Close()
	want := "offset,first of the month,whole second,codec already,tenth,twelve-hundredths,sqlite milliseconds"
	if got := strings.Join(order, ","); got != want {
		t.Errorf("ORDER BY at: got %s, want %s", got, want)
	}
	var n int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM events WHERE at >= '2026-03-01T00:00:00.000000000Z' AND at < '2026-04-01T00:00:00.000000000Z'`).Scan(&n)
	if n != len(rows)-1 {
		t.Errorf("rows of March: got %d, want all but the one of February", n)
	}
}

func TestRewriteTimesRefusesAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	db := scratch(t)
	db.SQL().Exec(`INSERT INTO events VALUES ('a', '2026-03-05T10:00:05.1Z', '')`)
	db.SQL().Exec(`INSERT INTO events VALUES ('b', '5 March 2026, secret-ish', '')`)
	err := db.Tx(ctx, func(tx *sql.Tx) error { return RewriteTimes(ctx, tx, "events", "at", "done") }, nil)
	if !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), "table events column at row 2") || strings.Contains(err.Error(), "secret-ish") {
		t.Fatalf("got %v, want a data-loss error naming table, column and row but not the value", err)
	}
	var at string
	db.SQL().QueryRow(`SELECT at FROM events WHERE id = 'a'`).Scan(&at)
	if at != "2026-03-05T10:00:05.1Z" {
		t.Errorf("a refused rewrite changed row a to %q", at)
	}
	for _, tc := range []struct {
		table string
		cols  []string
	}{{"events; DROP TABLE events", []string{"at"}}, {"events", []string{"at = '', done"}}} {
		err := db.Tx(ctx, func(tx *sql.Tx) error { return RewriteTimes(ctx, tx, tc.table, tc.cols...) }, nil)
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("RewriteTimes(%q, %q): got %v, want invalid argument", tc.table, tc.cols, err)
		}
	}
	if err := db.Tx(ctx, func(tx *sql.Tx) error { return RewriteTimes(ctx, tx, "no_such_table", "at") }, nil); err != nil {
		t.Errorf("a table that does not exist: got %v, want it skipped", err)
	}
}

// TestPeopleTimesMigration opens a database whose people part was written
// by a release before the codec (people schema 2, RFC 3339 with trimmed
// fractions): the times are rewritten, and a bad one stops the start with
// nothing changed.
func TestPeopleTimesMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DELETE FROM schema_migrations WHERE part = 'people' AND version = 3`,
		`INSERT INTO orgs(name, type, licence_from, licence_until, status, status_reason, status_at, created_at, updated_at) VALUES ('acme', 'company', '2026-01-01', '2027-06-30', 'active', '', '2026-03-05T10:00:05.12Z', '2026-03-05T10:00:05.1Z', '2026-03-05T10:00:05Z')`,
		`INSERT INTO org_licences VALUES ('acme', 1, 'licence', '2026-01-01', '2027-06-30', '2026-03-05T10:00:05.1Z', '')`,
		`INSERT INTO people(id, name, org, roles, created_at, created_by) VALUES ('p_1', 'Wang Lei', 'acme', 'operator', '2026-03-01T00:00:00.5Z', 'p_admin')`,
		`INSERT INTO tokens(id, person, hash, created_at, expires_at) VALUES ('t_1', 'p_1', 'h', '2026-03-01T00:00:00.5Z', '2026-06-01T00:00:00Z')`,
	} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	if db, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	var st, cr, up, rec, pc, tc, te, tr string
	db.SQL().QueryRow(`SELECT status_at, created_at, updated_at FROM orgs`).Scan(&st, &cr, &up)
	db.SQL().QueryRow(`SELECT recorded_at FROM org_licences`).Scan(&rec)
	db.SQL().QueryRow(`SELECT created_at FROM people`).Scan(&pc)
	db.SQL().QueryRow(`SELECT created_at, expires_at, revoked_at FROM tokens`).Scan(&tc, &te, &tr)
	got := []string{st, cr, up, rec, pc, tc, te, tr}
	want := []string{"2026-03-05T10:00:05.120000000Z", "2026-03-05T10:00:05.100000000Z", "2026-03-05T10:00:05.000000000Z",
		"2026-03-05T10:00:05.100000000Z", "2026-03-01T00:00:00.500000000Z", "2026-03-01T00:00:00.500000000Z", "2026-06-01T00:00:00.000000000Z", ""}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("people times after the migration:\n got %q\nwant %q", got, want)
	}
	// A time no release wrote stops the migration: Open fails, naming
	// where, and the version is not recorded.
	db.SQL().Exec(`DELETE FROM schema_migrations WHERE part = 'people' AND version = 3`)
	db.SQL().Exec(`UPDATE tokens SET revoked_at = 'yesterday'`)
	db.SQL().Exec(`UPDATE people SET created_at = '2026-03-01T00:00:00.5Z'`)
	db.Close()
	if _, err := Open(ctx, path); !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), "tokens column revoked_at") {
		t.Fatalf("Open over a bad stored time: got %v, want a data-loss error naming tokens.revoked_at", err)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	raw.QueryRow(`SELECT COUNT(*) FROM schema_migrations WHERE part = 'people' AND version = 3`).Scan(&n)
	raw.QueryRow(`SELECT created_at FROM people`).Scan(&pc)
	if n != 0 || pc != "2026-03-01T00:00:00.5Z" {
		t.Errorf("a failed migration left version rows %d and people.created_at %q, want 0 and the old text", n, pc)
	}
}
