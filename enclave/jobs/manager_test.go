package jobs

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/store"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// auditLog records appended events.
type auditLog struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (a *auditLog) Append(_ context.Context, ev audit.Event) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evs = append(a.evs, ev)
	return uint64(len(a.evs)), nil
}

func (a *auditLog) last(action string) (audit.Event, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.evs) - 1; i >= 0; i-- {
		if a.evs[i].Action == action {
			return a.evs[i], true
		}
	}
	return audit.Event{}, false
}

// newManager returns a manager over a fresh store and the fake runtime.
func newManager(t *testing.T, rt sandbox.Runtime) (*Manager, *auditLog) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := &auditLog{}
	m, err := NewManager(Config{Dir: filepath.Join(dir, "jobs"), InputDir: filepath.Join(dir, "inputs"), UID: os.Getuid(), GID: os.Getgid(),
		MaxRunning: 1, PlainDir: t.TempDir(), Keyring: testKeyring(t)}, db, rt, nil, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, a
}

// submit records and runs a job with the given declared outputs and waits
// for its end.
func submit(t *testing.T, m *Manager, id string, outputs []string) (*Job, error) {
	t.Helper()
	ctx := context.Background()
	j := m.New(NewJob{ID: id, Org: "acme", Owner: "p_op", Image: sandboxtest.FakeDigest, Args: []string{"job"}, Limits: sandbox.DefaultLimits(), Outputs: outputs, Revision: "r1"})
	if err := m.db.Tx(ctx, func(tx *sql.Tx) error { return m.Insert(ctx, tx, j) }, nil); err != nil {
		return nil, err
	}
	m.Enqueue(id)
	return m.Wait(ctx, id)
}

func TestDeclaredOutputs(t *testing.T) {
	// The fake plays a runtime that collects what it is told, and one
	// stray file besides, which the manager must drop all the same.
	rt := &sandboxtest.Fake{RunFunc: func(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
		if err := os.MkdirAll(spec.OutDir, 0o700); err != nil {
			return sandbox.Exit{}, err
		}
		ex := sandbox.Exit{Reason: sandbox.ReasonExited, Undeclared: 2}
		for _, n := range append(slices.Clone(spec.Outputs), "stray.txt") {
			if n == "missing.txt" {
				ex.Skipped = append(ex.Skipped, sandbox.Skip{Name: `"missing.txt"`, Reason: "not written"})
				continue
			}
			if err := os.WriteFile(filepath.Join(spec.OutDir, n), []byte("data of "+n), 0o600); err != nil {
				return sandbox.Exit{}, err
			}
			ex.Outputs = append(ex.Outputs, sandbox.File{Name: n, Size: int64(len("data of " + n))})
		}
		return ex, nil
	}}
	m, a := newManager(t, rt)
	j, err := submit(t, m, "j-1", []string{"counts.arrow", "missing.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if specs := rt.Specs(); len(specs) != 1 || strings.Join(specs[0].Outputs, ",") != "counts.arrow,missing.txt" {
		t.Fatalf("spec outputs: got %+v, want the declared names", specs)
	}
	if j.State != Complete || len(j.Outputs) != 1 || j.Outputs[0].Name != "counts.arrow" || j.Outputs[0].SHA256 == "" {
		t.Fatalf("job: got state %s, outputs %+v; want complete with counts.arrow only", j.State, j.Outputs)
	}
	if j.Undeclared != 3 {
		t.Errorf("undeclared: got %d, want the runtime's 2 and the stray file", j.Undeclared)
	}
	if strings.Join(j.Declared, ",") != "counts.arrow,missing.txt" {
		t.Errorf("declared: got %v", j.Declared)
	}
	if _, err := os.Stat(filepath.Join(m.cfg.Dir, "j-1", "out", "stray.txt")); !os.IsNotExist(err) {
		t.Errorf("the stray file is still kept: %v", err)
	}
	ev, ok := a.last("job.end")
	if !ok || ev.Details["undeclared_dropped"] != "3" || ev.Details["declared_outputs"] != "2" || ev.Details["outcome"] != "complete" {
		t.Errorf("job.end details: got %v", ev.Details)
	}
	for _, tc := range []struct {
		name    string
		ok      bool
		errText string
	}{
		{"counts.arrow", true, ""},
		{"missing.txt", false, "no output"},
		{"stray.txt", false, "no output"},
		{"MANIFEST.json", false, "no output"},
	} {
		r, err := m.OpenOutput(context.Background(), j, tc.name)
		if tc.ok != (err == nil) || (err != nil && (!errdefs.IsNotFound(err) || !strings.Contains(err.Error(), tc.errText))) {
			t.Errorf("OpenOutput(%q): got %v, want ok=%v (%s)", tc.name, err, tc.ok, tc.errText)
		}
		if err == nil {
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(b) != "data of "+tc.name {
				t.Errorf("OpenOutput(%q): read %q, %v", tc.name, b, err)
			}
		}
	}
}

func TestNoOutputsCollectsNothing(t *testing.T) {
	rt := &sandboxtest.Fake{}
	m, _ := newManager(t, rt)
	j, err := submit(t, m, "j-2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if specs := rt.Specs(); len(specs) != 1 || len(specs[0].Outputs) != 0 {
		t.Fatalf("spec outputs: got %+v, want none", specs)
	}
	if j.State != Complete || len(j.Outputs) != 0 || len(j.Declared) != 0 {
		t.Fatalf("job: got %s, outputs %v, declared %v; want complete with nothing", j.State, j.Outputs, j.Declared)
	}
}

func TestInsertRefusesBadOutputs(t *testing.T) {
	m, _ := newManager(t, &sandboxtest.Fake{})
	many := make([]string, 101)
	for i := range many {
		many[i] = "f" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	for _, tc := range []struct {
		name    string
		outputs []string
		want    string
	}{
		{"path", []string{"a/b.txt"}, "not 1-64 letters"},
		{"hidden", []string{".env"}, "not starting with '.'"},
		{"too long", []string{strings.Repeat("a", 65)}, "1-64"},
		{"twice", []string{"a", "a"}, "declared twice"},
		{"too many", many, "at most 100 outputs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := submit(t, m, "j-"+strings.ReplaceAll(tc.name, " ", "-"), tc.outputs)
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an invalid-argument error naming %q", err, tc.want)
			}
		})
	}
	var n int
	m.DB().QueryRow(`SELECT COUNT(*) FROM jobs`).Scan(&n)
	if n != 0 || len(m.rt.(*sandboxtest.Fake).Specs()) != 0 {
		t.Fatalf("refused jobs left %d rows and ran %d times, want none", n, len(m.rt.(*sandboxtest.Fake).Specs()))
	}
}

// TestJobEntriesRaiseTheWatermark: each life-cycle entry the manager
// writes moves the state's audit watermark (store.MarkAuditIndex), so that
// `audit verify` detects a log cut back before a job's last entry.
func TestJobEntriesRaiseTheWatermark(t *testing.T) {
	m, a := newManager(t, &sandboxtest.Fake{})
	if _, err := submit(t, m, "j-wm", nil); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	n := len(a.evs)
	a.mu.Unlock()
	if _, ok := a.last("job.end"); !ok || n < 3 {
		t.Fatalf("the manager wrote %d entries, want initialize, start and end", n)
	}
	wm, err := m.db.AuditWatermark(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if wm != int64(n) {
		t.Fatalf("watermark %d after the job's %d entries, want the index of its last, %d", wm, n, n)
	}
}
