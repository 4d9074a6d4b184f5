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

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// TestOutcomes: how the sandbox says a job ended decides the job's state,
// message and exit code, stored and audited.
func TestOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		exit      sandbox.Exit
		err       error
		wantState State
		wantMsg   string
		wantCode  int
	}{
		{"exit 0", sandbox.Exit{Reason: sandbox.ReasonExited}, nil, Complete, "", 0},
		{"exit 3", sandbox.Exit{Reason: sandbox.ReasonExited, Code: 3}, nil, ExecutorError, "the command exited with status 3", 3},
		{"timeout", sandbox.Exit{Reason: sandbox.ReasonTimeout, Code: -1}, nil, ExecutorError, "the job ran past its timeout and was killed", -1},
		{"out of memory", sandbox.Exit{Reason: sandbox.ReasonOOM, Code: 137}, nil, ExecutorError, "the job ran out of memory and was killed", 137},
		{"outputs too big", sandbox.Exit{Reason: sandbox.ReasonOutputLimit}, nil, ExecutorError, "the job's outputs exceeded their limit", 0},
		{"a reason the manager does not know", sandbox.Exit{Reason: "vanished"}, nil, SystemError, "the sandbox reported vanished", 0},
		{"the runtime is unavailable", sandbox.Exit{}, fmt.Errorf("dial: %w", errdefs.ErrUnavailable), SystemError,
			"the sandbox failed around the job: unavailable", -1},
		{"the runtime refuses the spec", sandbox.Exit{}, sandboxtest.ErrFakeRefused, SystemError,
			"the sandbox refused the job: " + sandboxtest.ErrFakeRefused.Error(), -1},
		{"an error of no class", sandbox.Exit{}, fmt.Errorf("containerd said something /var/lib/secret"), SystemError,
			"the sandbox failed around the job: internal error", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &sandboxtest.Fake{RunFunc: func(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
				ex := tc.exit
				ex.Started, ex.Ended = time.Now(), time.Now()
				ex.Usage = sandbox.Usage{CPUNanos: 1_500_000_000, PeakMemoryBytes: 1 << 20}
				return ex, tc.err
			}}
			m, a := newManager(t, rt)
			j, err := submit(t, m, "j-1", nil)
			if err != nil {
				t.Fatal(err)
			}
			if j.State != tc.wantState || j.Message != tc.wantMsg || j.ExitCode != tc.wantCode {
				t.Fatalf("got %s %q exit %d, want %s %q exit %d", j.State, j.Message, j.ExitCode, tc.wantState, tc.wantMsg, tc.wantCode)
			}
			if j.StartedAt == nil || j.EndedAt == nil || j.EndedAt.Before(*j.StartedAt) {
				t.Errorf("times: started %v ended %v", j.StartedAt, j.EndedAt)
			}
			ev, ok := a.last("job.end")
			wantOutcome := "ok"
			if tc.wantState != Complete {
				wantOutcome = "failed"
			}
			if !ok || ev.Outcome != wantOutcome || ev.Reason != tc.wantMsg || ev.Details["state"] != string(tc.wantState) {
				t.Errorf("job.end: got %+v, want %s %q", ev, wantOutcome, tc.wantMsg)
			}
			if tc.err == nil && (j.Usage.CPUSeconds != 1.5 || ev.Details["cpu_seconds"] != "1.500") {
				t.Errorf("usage: got %v CPU seconds, audited %q; want 1.5", j.Usage.CPUSeconds, ev.Details["cpu_seconds"])
			}
		})
	}
}

// gate is a fake Run that holds each job until released, counting how
// many run at once.
type gate struct {
	mu       sync.Mutex
	running  int
	most     int
	release  chan struct{}
	started  chan string
	finished []string
}

func newGate() *gate { return &gate{release: make(chan struct{}), started: make(chan string, 100)} }

func (g *gate) run(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	g.mu.Lock()
	g.running++
	g.most = max(g.most, g.running)
	g.mu.Unlock()
	g.started <- spec.ID
	defer func() {
		g.mu.Lock()
		g.running--
		g.finished = append(g.finished, spec.ID)
		g.mu.Unlock()
	}()
	select {
	case <-g.release:
		return sandbox.Exit{Reason: sandbox.ReasonExited}, nil
	case <-ctx.Done():
		return blockingRun(ctx, spec, io.Discard)
	}
}

func (g *gate) waitStarted(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for len(ids) < n {
		select {
		case id := <-g.started:
			ids = append(ids, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d jobs started, want %d", len(ids), n)
		}
	}
	return ids
}

// TestQueueHoldsToMaxRunning: with room for two, five jobs run two at a
// time, the rest wait queued, and all end.
func TestQueueHoldsToMaxRunning(t *testing.T) {
	d := newDaemon(t)
	g := newGate()
	m := d.start(t, &sandboxtest.Fake{RunFunc: g.run}, 2)
	defer m.Close()
	ids := []string{"j-1", "j-2", "j-3", "j-4", "j-5"}
	for _, id := range ids {
		record(t, m, id, nil, sandbox.DefaultLimits())
	}
	first := g.waitStarted(t, 2)
	time.Sleep(100 * time.Millisecond) // room for a third to start, were the limit broken
	var queued int
	m.DB().QueryRow(`SELECT COUNT(*) FROM jobs WHERE state = 'queued'`).Scan(&queued)
	if queued != 3 || len(g.started) != 0 {
		t.Fatalf("with %v running: %d queued and %d more started, want 3 and none", first, queued, len(g.started))
	}
	close(g.release)
	for _, id := range ids {
		if j, err := m.Wait(context.Background(), id); err != nil || j.State != Complete {
			t.Fatalf("%s: got %v, %v; want complete", id, j.State, err)
		}
	}
	if g.most != 2 {
		t.Errorf("at most %d jobs ran at once, want 2", g.most)
	}
}

// TestQueueFull: a submission beyond the queue's bound is refused and
// leaves no row.
func TestQueueFull(t *testing.T) {
	d := newDaemon(t)
	g := newGate()
	defer close(g.release)
	m, err := NewManager(Config{Dir: filepath.Join(d.dir, "jobs"), InputDir: filepath.Join(d.dir, "inputs"), UID: os.Getuid(), GID: os.Getgid(),
		MaxRunning: 1, MaxQueued: 1, PlainDir: d.plain, Keyring: d.kr}, d.db, &sandboxtest.Fake{RunFunc: g.run}, nil, d.a)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	record(t, m, "j-1", nil, sandbox.DefaultLimits())
	g.waitStarted(t, 1)
	record(t, m, "j-2", nil, sandbox.DefaultLimits()) // waits in the queue
	ctx := context.Background()
	j := m.New(NewJob{ID: "j-3", Org: "acme", Owner: "p_op", Image: sandboxtest.FakeDigest, Args: []string{"job"}, Limits: sandbox.DefaultLimits(), Revision: "r1"})
	err = d.db.Tx(ctx, func(tx *sql.Tx) error { return m.Insert(ctx, tx, j) }, nil)
	if !errdefs.IsResourceExhausted(err) || !strings.Contains(err.Error(), "queue is full") {
		t.Fatalf("a third job: got %v, want resource exhausted naming the full queue", err)
	}
	if _, err := Get(ctx, m.DB(), "j-3"); !errdefs.IsNotFound(err) {
		t.Errorf("the refused job: got %v, want no row", err)
	}
}

// TestCancel: a queued job ends canceled at once and never runs; a running
// one is killed and ends canceled with the reason; an ended or unknown job
// cannot be cancelled.
func TestCancel(t *testing.T) {
	ctx := context.Background()
	d := newDaemon(t)
	g := newGate()
	rt := &sandboxtest.Fake{RunFunc: g.run}
	m := d.start(t, rt, 1)
	defer m.Close()
	record(t, m, "j-running", nil, sandbox.DefaultLimits())
	g.waitStarted(t, 1)
	waitState(t, m, "j-running", Running)
	record(t, m, "j-queued", nil, sandbox.DefaultLimits())
	for _, tc := range []struct {
		id, why   string
		wantErr   func(error) bool
		wantState State
	}{
		{"j-queued", "the operator changed their mind", nil, Canceled},
		{"j-running", "incident inc_1 stops it", nil, Canceled},
		{"j-running", "again", errdefs.IsFailedPrecondition, Canceled},
		{"j-none", "x", errdefs.IsNotFound, ""},
	} {
		err := m.Cancel(ctx, tc.id, tc.why)
		if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !tc.wantErr(err)) {
			t.Fatalf("Cancel(%s): got %v", tc.id, err)
		}
		if tc.wantState == "" {
			continue
		}
		j, err := m.Wait(ctx, tc.id)
		if err != nil || j.State != tc.wantState {
			t.Fatalf("%s: got %v, %v; want %s", tc.id, j.State, err, tc.wantState)
		}
		if tc.wantErr == nil && j.Message != tc.why {
			t.Errorf("%s: got message %q, want the reason %q", tc.id, j.Message, tc.why)
		}
	}
	for _, s := range rt.Specs() {
		if s.ID == "j-queued" {
			t.Errorf("the job cancelled while queued ran")
		}
	}
	if n := d.a.count("job.end"); n != 2 {
		t.Errorf("job.end events: got %d, want one per job", n)
	}
}

// TestRecoverRequeuesInTimeOrder: the queued jobs a stopped daemon left run
// at the next start oldest first, to the nanosecond (the stored time's
// text order is its time order).
func TestRecoverRequeuesInTimeOrder(t *testing.T) {
	ctx := context.Background()
	d := newDaemon(t)
	m0 := d.start(t, &sandboxtest.Fake{}, 1)
	m0.Close() // no workers: the jobs stay queued
	base := time.Date(2026, 3, 5, 10, 0, 5, 0, time.UTC)
	for _, j := range []struct {
		id string
		at time.Duration
	}{{"j-c", 120 * time.Millisecond}, {"j-a", 0}, {"j-b", 100 * time.Millisecond}, {"j-d", time.Second}} {
		m0.cfg.Now = func() time.Time { return base.Add(j.at) }
		record(t, m0, j.id, nil, sandbox.DefaultLimits())
	}
	rt := &sandboxtest.Fake{}
	m := d.start(t, rt, 1)
	defer m.Close()
	for _, id := range []string{"j-a", "j-b", "j-c", "j-d"} {
		if j, err := m.Wait(ctx, id); err != nil || j.State != Complete {
			t.Fatalf("%s: got %v, %v", id, j.State, err)
		}
	}
	var order []string
	for _, s := range rt.Specs() {
		order = append(order, s.ID)
	}
	if got := strings.Join(order, " "); got != "j-a j-b j-c j-d" {
		t.Errorf("ran in the order %s, want j-a j-b j-c j-d", got)
	}
}

// TestRecoverFailsClosed: when the sandbox cannot say which jobs it has,
// Recover fails and ends no job.
func TestRecoverFailsClosed(t *testing.T) {
	d := newDaemon(t)
	m0 := d.start(t, &sandboxtest.Fake{RunFunc: blockingRun}, 1)
	record(t, m0, "j-1", nil, sandbox.DefaultLimits())
	waitState(t, m0, "j-1", Running)
	m0.Close()
	m, err := NewManager(Config{Dir: filepath.Join(d.dir, "jobs"), InputDir: filepath.Join(d.dir, "inputs"), UID: os.Getuid(), GID: os.Getgid(),
		MaxRunning: 1, PlainDir: d.plain, Keyring: d.kr}, d.db, &sandboxtest.Fake{RecoverFunc: func(context.Context, func(string) bool) ([]string, error) {
		return nil, fmt.Errorf("containerd: %w", errdefs.ErrUnavailable)
	}}, nil, d.a)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Recover(context.Background()); !errdefs.IsUnavailable(err) {
		t.Fatalf("Recover: got %v, want the sandbox's unavailable error", err)
	}
	if j, err := Get(context.Background(), m.DB(), "j-1"); err != nil || j.State != Running {
		t.Errorf("j-1 after a failed recovery: got %v, %v; want still running", j.State, err)
	}
}

// TestWaitThatTimesOutLeavesNoWaiter: a caller that waits in short turns
// on a long job (as GET /v1/jobs/{id}/wait does) gets the job back, not
// ended, at each deadline, and leaves no channel behind; the last wait
// sees the end.
func TestWaitThatTimesOutLeavesNoWaiter(t *testing.T) {
	d := newDaemon(t)
	g := newGate()
	m := d.start(t, &sandboxtest.Fake{RunFunc: g.run}, 1)
	defer m.Close()
	record(t, m, "j-1", nil, sandbox.DefaultLimits())
	g.waitStarted(t, 1)
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		j, err := m.Wait(ctx, "j-1")
		cancel()
		// The deadline may fall inside the wait's read of the job (no job
		// then, as under -race): the server's route reads it again.
		if !errors.Is(err, context.DeadlineExceeded) || j != nil && j.State.Terminal() {
			t.Fatalf("a wait that timed out on a running job: got %v, %v; want the deadline and the job, if read, not ended", j, err)
		}
	}
	m.mu.Lock()
	left := len(m.waiters["j-1"])
	m.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d waiters left behind by waits that ended, want 0", left)
	}
	close(g.release)
	if j, err := m.Wait(context.Background(), "j-1"); err != nil || j.State != Complete {
		t.Fatalf("got %v, %v; want complete", j.State, err)
	}
}
