package sweeper

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/audit"
	_ "github.com/enclave-dev/enclave/enclave/exports" // the exports table
	_ "github.com/enclave-dev/enclave/enclave/grants"  // the grants table
	_ "github.com/enclave-dev/enclave/enclave/jobs"    // the jobs table
	_ "github.com/enclave-dev/enclave/enclave/people"  // the orgs table
	"github.com/enclave-dev/enclave/enclave/store"
)

// fakeClock is a controllable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// fakeJobs cancels by marking the job canceled, as jobs.Manager does.
type fakeJobs struct {
	db       *store.DB
	canceled []string
}

func (f *fakeJobs) Cancel(ctx context.Context, id, why string) error {
	var st string
	if err := f.db.SQL().QueryRowContext(ctx, `SELECT state FROM jobs WHERE id = ?`, id).Scan(&st); err != nil {
		return err
	}
	if st == "complete" || st == "canceled" {
		return errdefs.ErrFailedPrecondition
	}
	f.canceled = append(f.canceled, id)
	_, err := f.db.SQL().ExecContext(ctx, `UPDATE jobs SET state = 'canceled' WHERE id = ?`, id)
	return err
}

type fakeLog struct{ events []audit.Event }

func (l *fakeLog) Append(ctx context.Context, ev audit.Event) (uint64, error) {
	l.events = append(l.events, ev)
	return uint64(len(l.events) - 1), nil
}

type env struct {
	db    *store.DB
	clock *fakeClock
	jobs  *fakeJobs
	log   *fakeLog
	sw    *Sweeper
	data  string
}

func exec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.SQL().Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool { _, err := os.Lstat(path); return err == nil }

// newEnv: acme (licence to 2027-12-31) holds grant g1 (until 2026-06-30)
// and g2 (until 2027-06-30); globex (licence to 2026-03-31) holds g3
// (until 2026-12-31). Jobs: j-run (running, g1), j-done (complete, g1,
// with outputs, an unreleased and a released export), j-keep (complete,
// g2), j-glob (complete, g3).
func newEnv(t *testing.T) *env {
	ctx := context.Background()
	data := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(data, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, o := range [][2]string{{"acme", "2027-12-31"}, {"globex", "2026-03-31"}} {
		exec(t, db, `INSERT INTO orgs(name, type, licence_from, licence_until, status, status_reason, created_at, updated_at)
			VALUES (?, 'company', '2026-01-01', ?, 'active', 'x', '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z')`, o[0], o[1])
	}
	for _, g := range [][3]string{{"g1", "acme", "2026-06-30"}, {"g2", "acme", "2027-06-30"}, {"g3", "globex", "2026-12-31"}} {
		exec(t, db, `INSERT INTO applications(id, org, applicant, datasets, purpose, scenario, data_flow, public_interest, period_from, period_until, approvals_needed, status, grant_id, created_at)
			VALUES (?, ?, 'p', '[]', 'p', 's', 'f', 0, '2026-01-01', ?, 1, 'approved', ?, '2026-01-01T00:00:00.000000000Z')`, "a"+g[0], g[1], g[2], g[0])
		exec(t, db, `INSERT INTO grants(id, application, org, datasets, purpose, scenario, public_interest, period_from, period_until, approvers, status, created_at)
			VALUES (?, ?, ?, '[]', 'p', 's', 0, '2026-01-01', ?, '[]', 'approved', '2026-01-01T00:00:00.000000000Z')`, g[0], "a"+g[0], g[1], g[2])
	}
	for _, j := range [][4]string{{"j-run", "acme", "running", "g1"}, {"j-done", "acme", "complete", "g1"}, {"j-keep", "acme", "complete", "g2"}, {"j-glob", "globex", "complete", "g3"}} {
		exec(t, db, `INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, created_at)
			VALUES (?, ?, 'p', 'i', '[]', '[]', ?, '{}', ?, '2026-02-01T00:00:00.000000000Z')`, j[0], j[1], `{"census":"`+j[3]+`"}`, j[2])
		write(t, filepath.Join(data, "jobs", j[0], "log"), "log of "+j[0])
		write(t, filepath.Join(data, "jobs", j[0], "out", "result.csv"), "a,b\n1,2\n")
	}
	for _, x := range [][2]string{{"x-open", "pending-review"}, {"x-out", "released"}} {
		exec(t, db, `INSERT INTO exports(id, job, org, requester, purpose, scenario, files, declared, level, state, result, approvals_needed, created_at)
			VALUES (?, 'j-done', 'acme', 'p', 'p', 's', '[]', '{}', 'general-2', ?, '{}', 1, '2026-02-02T00:00:00.000000000Z')`, x[0], x[1])
		write(t, filepath.Join(data, "exports", x[0], "files", "0000"), "frozen")
	}
	e := &env{db: db, clock: &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, log: &fakeLog{}, data: data}
	e.jobs = &fakeJobs{db: db}
	e.sw = New(db.SQL(), e.jobs, e.log, Config{JobsDir: filepath.Join(data, "jobs"), ExportsDir: filepath.Join(data, "exports"),
		Grace: 72 * time.Hour, Now: e.clock.Now, Changed: db.Changed})
	return e
}

func objects(ds []Destruction) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Object)
	}
	return out
}

func TestSweepLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	steps := []struct {
		name      string
		at        time.Time
		ended     []string
		stopped   []string
		destroyed []string
	}{
		{"all terms running", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), nil, nil, nil},
		{"globex licence ended", time.Date(2026, 4, 1, 0, 0, 1, 0, time.UTC), []string{"g3"}, nil, nil},
		{"globex grace over", time.Date(2026, 4, 4, 0, 0, 1, 0, time.UTC), nil, nil, []string{"job:j-glob"}},
		{"g1 last day", time.Date(2026, 6, 30, 23, 59, 0, 0, time.UTC), nil, nil, nil},
		{"g1 ended", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), []string{"g1"}, []string{"j-run"}, nil},
		{"g1 within grace", time.Date(2026, 7, 3, 23, 0, 0, 0, time.UTC), nil, nil, nil},
		{"g1 grace over", time.Date(2026, 7, 4, 0, 0, 0, 0, time.UTC), nil, nil, []string{"job:j-done", "export:x-open", "job:j-run"}},
		{"nothing more", time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC), nil, nil, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.clock.set(st.at)
			res, err := e.sw.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Ended, st.ended) || !slices.Equal(res.Stopped, st.stopped) || !slices.Equal(objects(res.Destroyed), st.destroyed) {
				t.Errorf("got ended %v stopped %v destroyed %v, want %v %v %v", res.Ended, res.Stopped, objects(res.Destroyed), st.ended, st.stopped, st.destroyed)
			}
			for _, d := range res.Destroyed {
				if d.Technique != Technique || !d.Time.Equal(st.at) || d.Files == 0 {
					t.Errorf("got destruction %+v, want technique %q at %v with files", d, Technique, st.at)
				}
			}
		})
	}
	for path, want := range map[string]bool{
		"jobs/j-done": false, "jobs/j-run": false, "jobs/j-glob": false, "exports/x-open": false,
		"jobs/j-keep/out/result.csv": true, "exports/x-out/files/0000": true,
	} {
		if got := exists(filepath.Join(e.data, path)); got != want {
			t.Errorf("%s: got exists=%v, want %v", path, got, want)
		}
	}
	// Every destruction is on the record before it happened, by "system".
	var destroyed []string
	for _, ev := range e.log.events {
		if ev.Actor != "system" || ev.Time.IsZero() {
			t.Errorf("got event %q by %q at %v, want actor system and a time", ev.Action, ev.Actor, ev.Time)
		}
		if ev.Action == "term.destroy" {
			if ev.Details["technique"] != Technique {
				t.Errorf("got technique %q, want %q", ev.Details["technique"], Technique)
			}
			destroyed = append(destroyed, ev.Objects[0])
		}
	}
	want := []string{"job:j-glob", "job:j-done", "export:x-open", "job:j-run"}
	if !slices.Equal(destroyed, want) {
		t.Errorf("got destruction events %v, want %v", destroyed, want)
	}
}

func TestRevokedGrantEndsAtOnce(t *testing.T) {
	e := newEnv(t)
	exec(t, e.db, `UPDATE grants SET status = 'revoked' WHERE id = 'g2'`)
	res, err := e.sw.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Ended, []string{"g2"}) || len(res.Destroyed) != 0 {
		t.Fatalf("got ended %v destroyed %v, want g2 ended and nothing destroyed yet", res.Ended, objects(res.Destroyed))
	}
	var cause string
	e.db.SQL().QueryRow(`SELECT cause FROM term_ends WHERE grant_id = 'g2'`).Scan(&cause)
	if cause != "grant revoked" {
		t.Errorf("got cause %q, want %q", cause, "grant revoked")
	}
	e.clock.set(e.clock.Now().Add(72 * time.Hour))
	res, err = e.sw.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(objects(res.Destroyed), []string{"job:j-keep"}) {
		t.Errorf("got destroyed %v, want job:j-keep", objects(res.Destroyed))
	}
}

func TestOverwrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	write(t, p, "secret-ish synthetic bytes")
	if err := overwrite(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	for _, c := range b {
		if c != 0 {
			t.Fatalf("got %q, want only zeros", b)
		}
	}
	if len(b) != len("secret-ish synthetic bytes") {
		t.Errorf("got %d bytes, want the original length", len(b))
	}
}
