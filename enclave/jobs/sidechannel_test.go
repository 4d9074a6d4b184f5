package jobs

import (
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// TestQueueStartsAtReveal: a job that waits for a slot starts no sooner
// than the coarse view reveals the end of the job that held the slot. Were
// the slot freed at the real end, the queued job's start time (which its
// operator reads to the nanosecond) would time the first job exactly: in a
// run against the daemon, job B started 1.436 s after a job A that slept
// 1.234 s, and 2.912 s after one that slept 2.718 s, while A's coarse view
// said 2 s, and then nothing yet.
func TestQueueStartsAtReveal(t *testing.T) {
	d := newDaemon(t)
	run := func(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
		if spec.ID == "j-a" {
			time.Sleep(150 * time.Millisecond) // a short job: its end is revealed at start + 1 s
		}
		return sandbox.Exit{Reason: sandbox.ReasonExited}, nil
	}
	m := d.start(t, &sandboxtest.Fake{RunFunc: run}, 1)
	defer m.Close()
	record(t, m, "j-a", nil, sandbox.DefaultLimits())
	record(t, m, "j-b", nil, sandbox.DefaultLimits())
	a, err := m.Wait(context.Background(), "j-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Wait(context.Background(), "j-b")
	if err != nil {
		t.Fatal(err)
	}
	if a.StartedAt == nil || a.EndedAt == nil || b.StartedAt == nil {
		t.Fatalf("times: a %v-%v, b started %v", a.StartedAt, a.EndedAt, b.StartedAt)
	}
	if reveal := a.RevealAt(); b.StartedAt.Before(reveal) {
		t.Fatalf("b started %v after a's start, before a's end was revealed (%v after its start; a ran %v): "+
			"b's start times a's real end", b.StartedAt.Sub(*a.StartedAt), reveal.Sub(*a.StartedAt), a.EndedAt.Sub(*a.StartedAt))
	}
}

// TestCloseDoesNotWaitForReveal: a daemon that stops does not wait out the
// slot a job holds until its end is revealed. The clock jumps 1,000 s
// while the job runs, so its end is revealed 24 s after it ended.
func TestCloseDoesNotWaitForReveal(t *testing.T) {
	d := newDaemon(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rt := &sandboxtest.Fake{RunFunc: func(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
		mu.Lock()
		now = now.Add(1000 * time.Second)
		mu.Unlock()
		return sandbox.Exit{Reason: sandbox.ReasonExited}, nil
	}}
	m, err := NewManager(Config{Dir: filepath.Join(d.dir, "jobs"), InputDir: filepath.Join(d.dir, "inputs"), UID: os.Getuid(), GID: os.Getgid(),
		MaxRunning: 1, PlainDir: d.plain, Keyring: d.kr, Now: clock}, d.db, rt, nil, d.a)
	if err != nil {
		t.Fatal(err)
	}
	record(t, m, "j-a", nil, sandbox.DefaultLimits())
	j, err := m.Wait(context.Background(), "j-a")
	if err != nil {
		t.Fatal(err)
	}
	if held := j.RevealAt().Sub(clock()); held < 20*time.Second {
		t.Fatalf("the job's end is revealed %v after it ended, want about 24 s", held)
	}
	done := make(chan struct{})
	go func() { m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the slot a job holds until its end is revealed")
	}
}

// TestCoarseEventOfLogReadsAndDestructions: the counts and bytes a job
// sets reach the coarse view of the audit log rounded, in every event of
// a job or of its derived data, not only its start and end: the lines of
// its log withheld, the bytes shown, the files and bytes destroyed.
func TestCoarseEventOfLogReadsAndDestructions(t *testing.T) {
	for _, tc := range []struct {
		ev   audit.Event
		want map[string]string
	}{
		{audit.Event{Action: "job.logs.read", Details: map[string]string{"filtered": "true", "withheld_lines": "37", "bytes": "12345"}},
			map[string]string{"filtered": "true", "withheld_lines": "64", "bytes": "16384"}},
		{audit.Event{Action: "derived.destruction", Reason: "dataset destroyed", Details: map[string]string{"files": "5", "bytes": "1000001",
			"technique": "key shredded", "key_id": "k1"}},
			map[string]string{"files": "8", "bytes": "1048576", "technique": "key shredded", "key_id": "k1"}},
		// An event of no job keeps its figures (the operator chose them).
		{audit.Event{Action: "export.request", Details: map[string]string{"files": "3"}}, map[string]string{"files": "3"}},
		{audit.Event{Action: "dataset.import", Details: map[string]string{"bytes": "12345"}}, map[string]string{"bytes": "12345"}},
	} {
		got := CoarseEvent(tc.ev)
		if !maps.Equal(got.Details, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.ev.Action, got.Details, tc.want)
		}
		if tc.ev.Reason != got.Reason && tc.ev.Action != "job.end" {
			t.Errorf("%s: reason got %q, want it kept", tc.ev.Action, got.Reason)
		}
	}
}

// TestOrgUsageIsTheCoarseView: the quotas decide on the organisation's
// jobs as the coarse view shows them, since a refusal is read by the
// operator: a job that ended counts as running, and its CPU seconds as
// none, until its end is revealed; then its CPU seconds count rounded up.
// On the exact figures an operator at the concurrent-jobs limit, submitting
// every few milliseconds, would learn the moment a job ended.
func TestOrgUsageIsTheCoarseView(t *testing.T) {
	d := newDaemon(t)
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return storetime.Format(now.Add(d)) }
	for _, j := range []struct{ id, state, usage, started, ended string }{
		// Ran 5 s, ended 1 s ago: revealed 3 s from now.
		{"j-hidden", "complete", `{"cpu_seconds": 4.2}`, at(-6 * time.Second), at(-time.Second)},
		// Ran 5 s, ended 10 s ago: revealed 7 s ago. 4.2 s count as 8.
		{"j-shown", "executor-error", `{"cpu_seconds": 4.2}`, at(-15 * time.Second), at(-10 * time.Second)},
		{"j-running", "running", `{}`, at(-time.Minute), ""},
		// Another organisation's.
		{"j-other", "running", `{}`, at(-time.Minute), ""},
	} {
		org := "acme"
		if j.id == "j-other" {
			org = "globex"
		}
		if _, err := d.db.SQL().Exec(`INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at, started_at, ended_at)
			VALUES (?, ?, 'p_op', 'sha256:x', '[]', '[]', '{}', '{}', ?, ?, ?, ?, ?)`, j.id, org, j.state, j.usage, at(-time.Hour), j.started, j.ended); err != nil {
			t.Fatal(err)
		}
	}
	running, cpu, err := OrgUsage(context.Background(), d.db.SQL(), "acme", now)
	if err != nil || running != 2 || cpu != 8 {
		t.Fatalf("at the start: got %d running and %d CPU seconds (%v), want 2 (one ended but not revealed) and 8", running, cpu, err)
	}
	running, cpu, err = OrgUsage(context.Background(), d.db.SQL(), "acme", now.Add(3*time.Second))
	if err != nil || running != 1 || cpu != 16 {
		t.Fatalf("at the reveal: got %d running and %d CPU seconds (%v), want 1 and 16", running, cpu, err)
	}
}
