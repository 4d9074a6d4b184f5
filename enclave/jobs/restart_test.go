package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/store"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// daemon is the state that outlives one manager: the database, the
// directories and the audit log, as a data directory outlives enclaved.
type daemon struct {
	dir   string
	plain string // the sandbox's plaintext directory, outside dir
	kr    keys.Keyring
	db    *store.DB
	a     *auditLog
}

func newDaemon(t *testing.T) *daemon {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(context.Background(), filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &daemon{dir: dir, plain: t.TempDir(), kr: testKeyring(t), db: db, a: &auditLog{}}
}

// start makes a manager over the daemon's state, as enclaved does at start
// (Recover included). Its Close is the caller's.
func (d *daemon) start(t *testing.T, rt sandbox.Runtime, maxRunning int) *Manager {
	t.Helper()
	m, err := NewManager(Config{Dir: filepath.Join(d.dir, "jobs"), InputDir: filepath.Join(d.dir, "inputs"), UID: os.Getuid(), GID: os.Getgid(),
		MaxRunning: maxRunning, PlainDir: d.plain, Keyring: d.kr}, d.db, rt, nil, d.a)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Recover(context.Background()); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	return m
}

// record inserts a queued job and hands it to the workers.
func record(t *testing.T, m *Manager, id string, outputs []string, limits sandbox.Limits) {
	t.Helper()
	ctx := context.Background()
	j := m.New(NewJob{ID: id, Org: "acme", Owner: "p_op", Image: sandboxtest.FakeDigest, Args: []string{"job"},
		Limits: limits, Outputs: outputs, Revision: "r1"})
	if err := m.db.Tx(ctx, func(tx *sql.Tx) error { return m.Insert(ctx, tx, j) }, nil); err != nil {
		t.Fatal(err)
	}
	m.Enqueue(id)
}

func waitState(t *testing.T, m *Manager, id string, want State) *Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := Get(context.Background(), m.DB(), id)
		if err == nil && j.State == want {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: got %+v (%v), want %s", id, j, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// blockingRun is a fake Run that logs "before\n" and then runs until its
// context ends, as the real runtime does: killed, or left running when the
// cause is sandbox.ErrDetached.
func blockingRun(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	fmt.Fprint(logs, "before\n")
	<-ctx.Done()
	if errors.Is(context.Cause(ctx), sandbox.ErrDetached) {
		return sandbox.Exit{}, fmt.Errorf("job %q: %w", spec.ID, sandbox.ErrDetached)
	}
	return sandbox.Exit{Reason: sandbox.ReasonCanceled, Code: -1}, nil
}

func (a *auditLog) count(action string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, ev := range a.evs {
		if ev.Action == action {
			n++
		}
	}
	return n
}

// TestRestartReattaches: a daemon that stops (Close) leaves its running
// job running, unrecorded, with its input area and log in place; the next
// daemon keeps it in the sandbox, reattaches, and records its end as if
// nothing had happened: collected outputs, usage, the log continued, the
// reattach and the end audited, the inputs removed.
func TestRestartReattaches(t *testing.T) {
	d := newDaemon(t)
	m1 := d.start(t, &sandboxtest.Fake{RunFunc: blockingRun}, 1)
	record(t, m1, "j-1", []string{"counts.arrow"}, sandbox.DefaultLimits())
	waitState(t, m1, "j-1", Running)
	for i := 0; ; i++ {
		if b, _ := os.ReadFile(filepath.Join(d.plain, "j-1", "log")); string(b) == "before\n" {
			break
		}
		if i > 500 {
			t.Fatal("the job did not log")
		}
		time.Sleep(10 * time.Millisecond)
	}
	m1.Close()
	j := waitState(t, m1, "j-1", Running)
	if j.EndedAt != nil || d.a.count("job.end") != 0 {
		t.Fatalf("after the stop: got %+v and %d job.end events, want the job running and no end", j, d.a.count("job.end"))
	}
	area := filepath.Join(d.dir, "inputs", "j-1")
	if _, err := os.Stat(area); err != nil {
		t.Fatalf("the job's input area after the stop: %v, want it kept", err)
	}

	var asked []string
	rt := &sandboxtest.Fake{
		RecoverFunc: func(_ context.Context, keep func(string) bool) ([]string, error) {
			var kept []string
			for _, id := range []string{"j-1", "j-gone"} {
				asked = append(asked, id)
				if keep(id) {
					kept = append(kept, id)
				}
			}
			return kept, nil
		},
		ReattachFunc: func(_ context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
			fmt.Fprint(logs, "after\n")
			if err := os.MkdirAll(spec.OutDir, 0o700); err != nil {
				return sandbox.Exit{}, err
			}
			if err := os.WriteFile(filepath.Join(spec.OutDir, "counts.arrow"), []byte("counts"), 0o600); err != nil {
				return sandbox.Exit{}, err
			}
			return sandbox.Exit{Reason: sandbox.ReasonExited, Outputs: []sandbox.File{{Name: "counts.arrow", Size: 6}},
				Usage: sandbox.Usage{CPUNanos: 3e9, PeakMemoryBytes: 1 << 20, OutputBytes: 6, Wall: 15 * time.Second}}, nil
		},
	}
	m2 := d.start(t, rt, 1)
	defer m2.Close()
	j, err := m2.Wait(context.Background(), "j-1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(asked, ",") != "j-1,j-gone" {
		t.Errorf("Recover asked about %v", asked)
	}
	if j.State != Complete || len(j.Outputs) != 1 || j.Outputs[0].SHA256 == "" || j.Usage.CPUSeconds != 3 || j.Usage.WallSeconds != 15 {
		t.Fatalf("the reattached job: got %+v, want complete with counts.arrow and the sandbox's usage", j)
	}
	specs := rt.ReattachedSpecs()
	if len(specs) != 1 || specs[0].ID != "j-1" || specs[0].Image != sandboxtest.FakeDigest || strings.Join(specs[0].Outputs, ",") != "counts.arrow" ||
		specs[0].OutDir != filepath.Join(d.plain, "j-1", "out") || specs[0].Limits != sandbox.DefaultLimits() {
		t.Errorf("reattached spec: got %+v, want the job's", specs)
	}
	if b := readLog(t, m2, "j-1"); string(b) != "before\nafter\n" {
		t.Errorf("log: got %q, want what the job wrote before and after the restart", b)
	}
	if _, err := os.Stat(area); !os.IsNotExist(err) {
		t.Errorf("the input area after the end: %v, want it removed", err)
	}
	if d.a.count("job.reattach") != 1 || d.a.count("job.start") != 1 || d.a.count("job.end") != 1 {
		t.Errorf("audit: got %d job.reattach, %d job.start, %d job.end; want one each", d.a.count("job.reattach"), d.a.count("job.start"), d.a.count("job.end"))
	}
	if ev, _ := d.a.last("job.end"); ev.Outcome != "ok" || ev.Details["cpu_seconds"] != "3.000" || ev.Details["outputs"] != "1" {
		t.Errorf("job.end: got %+v", ev)
	}
}

// TestRestartLostAndPrepared: at start, a running job the sandbox no longer
// has, or cannot be followed (not found), ends as a system error saying so;
// a job that was being prepared when the daemon died ends as a system
// error; a queued job runs.
func TestRestartLostAndPrepared(t *testing.T) {
	d := newDaemon(t)
	ctx := context.Background()
	m0, err := NewManager(Config{Dir: filepath.Join(d.dir, "jobs"), InputDir: filepath.Join(d.dir, "inputs"), MaxRunning: 1, PlainDir: d.plain, Keyring: d.kr},
		d.db, &sandboxtest.Fake{}, nil, d.a)
	if err != nil {
		t.Fatal(err)
	}
	m0.Close() // no workers: jobs are recorded only
	for id, st := range map[string]State{"j-lost": Running, "j-notfound": Running, "j-prep": Initializing, "j-queued": Queued} {
		j := m0.New(NewJob{ID: id, Org: "acme", Owner: "p_op", Image: sandboxtest.FakeDigest, Args: []string{"job"},
			Limits: sandbox.DefaultLimits(), Revision: "r1"})
		if err := m0.db.Tx(ctx, func(tx *sql.Tx) error { return m0.Insert(ctx, tx, j) }, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := d.db.SQL().Exec(`UPDATE jobs SET state = ? WHERE id = ?`, st, id); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(d.dir, "inputs", id), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	rt := &sandboxtest.Fake{RecoverFunc: func(_ context.Context, keep func(string) bool) ([]string, error) {
		if keep("j-prep") || keep("j-queued") || !keep("j-notfound") {
			t.Errorf("keep: only running jobs are kept")
		}
		return []string{"j-notfound"}, nil
	}}
	m := d.start(t, rt, 1)
	defer m.Close()
	for _, tc := range []struct {
		id, state, msg string
	}{
		{"j-lost", "system-error", lostMessage},
		{"j-notfound", "system-error", lostMessage},
		{"j-prep", "system-error", "the daemon stopped while the job was being prepared; it did not start"},
		{"j-queued", "complete", ""},
	} {
		j, err := m.Wait(ctx, tc.id)
		if err != nil || string(j.State) != tc.state || j.Message != tc.msg {
			t.Errorf("%s: got %+v, %v; want %s %q", tc.id, j, err, tc.state, tc.msg)
		}
		if _, err := os.Stat(filepath.Join(d.dir, "inputs", tc.id)); !os.IsNotExist(err) {
			t.Errorf("%s: input area %v, want removed", tc.id, err)
		}
	}
	if r := rt.ReattachedSpecs(); len(r) != 1 || r[0].ID != "j-notfound" {
		t.Errorf("reattached: got %+v, want j-notfound only", r)
	}
}

// TestStopWhilePreparing: a job whose inputs are being prepared when the
// daemon stops goes back to the queue, audited, and its input area goes.
func TestStopWhilePreparing(t *testing.T) {
	d := newDaemon(t)
	m := d.start(t, &sandboxtest.Fake{}, 1)
	m.Close()
	ctx := context.Background()
	j := m.New(NewJob{ID: "j-1", Org: "acme", Owner: "p_op", Image: sandboxtest.FakeDigest, Args: []string{"job"},
		Inputs: []Input{{Dataset: "credit", Version: 1}},
		Limits: sandbox.DefaultLimits(), Revision: "r1"})
	if err := m.db.Tx(ctx, func(tx *sql.Tx) error { return m.Insert(ctx, tx, j) }, nil); err != nil {
		t.Fatal(err)
	}
	m.run("j-1") // as a worker that took it just before the stop
	if j := waitState(t, m, "j-1", Queued); j.StartedAt != nil {
		t.Errorf("job: got %+v, want queued and not started", j)
	}
	if ev, ok := d.a.last("job.requeue"); !ok || ev.Reason != "the daemon stopped before the job started" {
		t.Errorf("job.requeue: got %+v, %v", ev, ok)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "inputs", "j-1")); !os.IsNotExist(err) {
		t.Errorf("input area: %v, want removed", err)
	}
}

// TestReattachedJobsHoldSlots: a reattached job counts against MaxRunning,
// so a new job waits until it ended; the log of a reattached job stays
// within the job's log limit, counting what was logged before.
func TestReattachedJobsHoldSlots(t *testing.T) {
	d := newDaemon(t)
	limits := sandbox.DefaultLimits()
	limits.LogBytes = 1024
	m1 := d.start(t, &sandboxtest.Fake{RunFunc: blockingRun}, 1)
	record(t, m1, "j-old", nil, limits)
	waitState(t, m1, "j-old", Running)
	m1.Close()
	if err := os.WriteFile(filepath.Join(d.plain, "j-old", "log"), []byte(strings.Repeat("x", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	var once sync.Once
	rt := &sandboxtest.Fake{
		RecoverFunc: func(_ context.Context, keep func(string) bool) ([]string, error) { return []string{"j-old"}, nil },
		ReattachFunc: func(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
			logs.Write([]byte(strings.Repeat("y", 100)))
			<-release
			return sandbox.Exit{Reason: sandbox.ReasonExited}, nil
		},
	}
	m2 := d.start(t, rt, 1)
	defer m2.Close()
	defer once.Do(func() { close(release) })
	record(t, m2, "j-new", nil, sandbox.DefaultLimits())
	time.Sleep(300 * time.Millisecond)
	if j, _ := Get(context.Background(), m2.DB(), "j-new"); j.State != Queued || len(rt.Specs()) != 0 {
		t.Fatalf("the new job while the reattached one runs: got %s, %d runs; want queued", j.State, len(rt.Specs()))
	}
	once.Do(func() { close(release) })
	if j, err := m2.Wait(context.Background(), "j-new"); err != nil || j.State != Complete {
		t.Fatalf("the new job: got %+v, %v; want complete", j, err)
	}
	if _, err := m2.Wait(context.Background(), "j-old"); err != nil {
		t.Fatal(err)
	}
	b := readLog(t, m2, "j-old")
	if want := strings.Repeat("x", 1000) + strings.Repeat("y", 24); string(b) != want {
		t.Errorf("log: got %d bytes, want the limit of 1024 (%d before the restart)", len(b), 1000)
	}
}

// TestCancelReattached: a reattached job can be cancelled.
func TestCancelReattached(t *testing.T) {
	d := newDaemon(t)
	m1 := d.start(t, &sandboxtest.Fake{RunFunc: blockingRun}, 1)
	record(t, m1, "j-1", nil, sandbox.DefaultLimits())
	waitState(t, m1, "j-1", Running)
	m1.Close()
	rt := &sandboxtest.Fake{
		RecoverFunc:  func(context.Context, func(string) bool) ([]string, error) { return []string{"j-1"}, nil },
		ReattachFunc: blockingRun,
	}
	m2 := d.start(t, rt, 1)
	defer m2.Close()
	for len(m2.cancelsOf()) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := m2.Cancel(context.Background(), "j-1", "the operator cancelled"); err != nil {
		t.Fatal(err)
	}
	j, err := m2.Wait(context.Background(), "j-1")
	if err != nil || j.State != Canceled || j.Message != "the operator cancelled" {
		t.Fatalf("got %+v, %v; want canceled by the operator", j, err)
	}
	if !errdefs.IsFailedPrecondition(m2.Cancel(context.Background(), "j-1", "again")) {
		t.Error("a second cancel: want failed precondition")
	}
}

func (m *Manager) cancelsOf() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id := range m.cancels {
		ids = append(ids, id)
	}
	return ids
}
