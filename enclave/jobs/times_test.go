package jobs

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store"
)

// oldJobs is what a release before the codec stored: RFC 3339 with the
// fraction trimmed, so that within a second "...05.1Z" sorted after
// "...05.12Z", and a job at 00:00:00.5 on the 1st sorted before the month's
// bound "...00:00Z".
var oldJobs = []struct{ id, created, started, ended, usage string }{
	{"j-tenth", "2026-03-05T10:00:05.1Z", "2026-03-05T10:00:06.25Z", "2026-03-05T10:01:00Z", `{"cpu_seconds": 1}`},
	{"j-twelve", "2026-03-05T10:00:05.12Z", "", "", `{"cpu_seconds": 2}`},
	{"j-second", "2026-03-05T10:00:05Z", "", "", `{"cpu_seconds": 4}`},
	{"j-first", "2026-03-01T00:00:00.5Z", "", "", `{"cpu_seconds": 8}`},
	{"j-february", "2026-02-28T23:59:59.9Z", "", "", `{"cpu_seconds": 16}`},
}

// oldState opens a state database, takes it back to jobs schema 3 and
// writes oldJobs and an image as that release wrote them.
func oldState(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SQL().Exec(`DELETE FROM schema_migrations WHERE part = 'jobs' AND version >= 4`); err != nil {
		t.Fatal(err)
	}
	for _, j := range oldJobs {
		if _, err := db.SQL().Exec(`INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at, started_at, ended_at)
			VALUES (?, 'acme', 'p_op', 'sha256:x', '[]', '[]', '{}', '{}', 'complete', ?, ?, ?, ?)`, j.id, j.usage, j.created, j.started, j.ended); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SQL().Exec(`INSERT INTO images(digest, name, size, status, org, imported_by, imported_at, decided_by, decided_at)
		VALUES ('sha256:x', 'toolbox', 1, 'approved', 'acme', 'p_op', '2026-02-01T09:00:00.5Z', 'p_off', '2026-02-02T09:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStoredTimesMigration(t *testing.T) {
	ctx := context.Background()
	path := oldState(t)
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// ORDER BY created_at: newest first, to the nanosecond.
	js, err := List(ctx, db.SQL(), "acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, j := range js {
		order = append(order, j.ID)
	}
	if got, want := strings.Join(order, " "), "j-twelve j-tenth j-second j-first j-february"; got != want {
		t.Errorf("List: got %s, want %s", got, want)
	}
	var raw []string
	rows, err := db.SQL().Query(`SELECT created_at FROM jobs ORDER BY created_at`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		raw = append(raw, s)
	}
	rows.Close()
	if got, want := strings.Join(raw, " "), "2026-02-28T23:59:59.900000000Z 2026-03-01T00:00:00.500000000Z 2026-03-05T10:00:05.000000000Z 2026-03-05T10:00:05.100000000Z 2026-03-05T10:00:05.120000000Z"; got != want {
		t.Errorf("stored created_at:\n got %s\nwant %s", got, want)
	}

	// The month's bound: the job at 00:00:00.5 on the 1st counts in March,
	// the one at 23:59:59.9 on the 28th of February does not. (j-tenth,
	// which ended on the 5th, counts only from the reveal of its end: not
	// yet on the 1st.)
	for _, tc := range []struct {
		now  time.Time
		want int64
	}{
		{time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC), 1 + 2 + 4 + 8},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 2 + 4 + 8},
		{time.Date(2026, 2, 28, 23, 59, 59, 0, time.UTC), 2 + 4 + 8 + 16},
		{time.Date(2026, 3, 15, 20, 0, 0, 0, time.FixedZone("CST", 8*3600)), 1 + 2 + 4 + 8}, // 12:00 UTC
		{time.Date(2026, 4, 1, 7, 0, 0, 0, time.FixedZone("CST", 8*3600)), 1 + 2 + 4 + 8},   // still March in UTC
	} {
		_, cpu, err := OrgUsage(ctx, db.SQL(), "acme", tc.now)
		if err != nil || cpu != tc.want {
			t.Errorf("OrgUsage at %v: got %d CPU seconds, %v; want %d", tc.now, cpu, err, tc.want)
		}
	}

	// Every time reads back to the instant it was.
	j, err := Get(ctx, db.SQL(), "j-tenth")
	if err != nil {
		t.Fatal(err)
	}
	if !j.CreatedAt.Equal(time.Date(2026, 3, 5, 10, 0, 5, 100_000_000, time.UTC)) || j.StartedAt == nil ||
		!j.StartedAt.Equal(time.Date(2026, 3, 5, 10, 0, 6, 250_000_000, time.UTC)) || j.EndedAt == nil || j.EndedAt.Minute() != 1 {
		t.Errorf("j-tenth: got created %v started %v ended %v", j.CreatedAt, j.StartedAt, j.EndedAt)
	}
	if j, err := Get(ctx, db.SQL(), "j-twelve"); err != nil || j.StartedAt != nil || j.EndedAt != nil {
		t.Errorf("j-twelve: got %+v, %v; want no start and no end", j, err)
	}
	im, err := GetImage(ctx, db.SQL(), "sha256:x")
	if err != nil || !im.ImportedAt.Equal(time.Date(2026, 2, 1, 9, 0, 0, 500_000_000, time.UTC)) || im.DecidedAt != "2026-02-02T09:00:00Z" {
		t.Errorf("image: got imported %v decided %q, %v", im.ImportedAt, im.DecidedAt, err)
	}
}

// TestStoredTimeErrorsAreReturned: a time the codec cannot read is an
// error naming the job and the column, never a zero time.
func TestStoredTimeErrorsAreReturned(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct{ column, text string }{
		{"created_at", "2026-03-05T10:00:05.1Z"},
		{"started_at", "yesterday"},
		{"ended_at", "2026-03-05 10:00:05"},
	} {
		t.Run(tc.column, func(t *testing.T) {
			db.SQL().Exec(`DELETE FROM jobs`)
			if _, err := db.SQL().Exec(`INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, created_at)
				VALUES ('j-1', 'acme', 'p', 'sha256:x', '[]', '[]', '{}', '{}', 'queued', '2026-03-05T10:00:05.100000000Z')`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL().Exec(`UPDATE jobs SET `+tc.column+` = ?`, tc.text); err != nil {
				t.Fatal(err)
			}
			_, err := Get(ctx, db.SQL(), "j-1")
			if !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), `job "j-1" `+tc.column) {
				t.Errorf("Get: got %v, want a data-loss error naming job j-1 and %s", err, tc.column)
			}
			if _, err := List(ctx, db.SQL(), "", 0); !errdefs.IsDataLoss(err) {
				t.Errorf("List: got %v, want a data-loss error", err)
			}
		})
	}
}
