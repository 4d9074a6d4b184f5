package containerd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// env is the shared real-runtime environment of this test binary.
var env struct {
	once    sync.Once
	err     error
	base    string
	daemon  *Daemon
	rt      *Runtime
	digests map[string]string // image name -> digest
	// log is what the runtime logged, at every level, as JSON lines.
	log sandboxtest.SyncBuffer
}

func TestMain(m *testing.M) {
	code := m.Run()
	if env.rt != nil {
		// Jobs a failed test detached from and left running.
		env.rt.Recover(context.Background(), nil)
		env.rt.Close()
	}
	if env.daemon != nil {
		env.daemon.Stop()
	}
	if env.base != "" {
		os.RemoveAll(env.base)
	}
	os.Exit(code)
}

// setup starts one private containerd, builds, imports and prepares the
// built-in images, once per test binary.
func setup(t testing.TB) *Runtime {
	t.Helper()
	if testing.Short() {
		// A private containerd, the built-in images and real jobs cost most
		// of a minute of CPU; make test (without -short) runs them, and
		// fails there when CI=true and they cannot run.
		t.Skip("real runtime: not under -short")
	}
	sandboxtest.Require(t)
	env.once.Do(func() {
		ctx := context.Background()
		env.base, env.err = os.MkdirTemp("", "sbx-")
		if env.err != nil {
			return
		}
		os.Chmod(env.base, 0o711)
		env.daemon, env.err = StartDaemon(ctx, filepath.Join(env.base, "ctrd"), nil)
		if env.err != nil {
			return
		}
		env.rt, env.err = New(ctx, env.daemon.Address(), "enclave-test",
			WithWorkDir(filepath.Join(env.base, "work")),
			WithLogger(slog.New(slog.NewJSONHandler(&env.log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		if env.err != nil {
			return
		}
		var archives map[string]string
		archives, env.err = sandboxtest.Images(filepath.Join(env.base, "images"))
		if env.err != nil {
			return
		}
		env.digests = map[string]string{}
		for name, path := range archives {
			f, err := os.Open(path)
			if err != nil {
				env.err = err
				return
			}
			d, err := env.rt.ImportImage(ctx, f)
			f.Close()
			if err != nil {
				env.err = fmt.Errorf("import %s: %w", name, err)
				return
			}
			if err := env.rt.PrepareImage(ctx, d); err != nil {
				env.err = fmt.Errorf("prepare %s: %w", name, err)
				return
			}
			env.digests[name] = d
		}
	})
	if env.err != nil {
		t.Fatalf("real runtime setup: %v", env.err)
	}
	return env.rt
}

var jobSeq struct {
	sync.Mutex
	n int
}

// newSpec returns a spec for image with small limits and fresh directories.
func newSpec(t testing.TB, image string, args ...string) sandbox.Spec {
	t.Helper()
	jobSeq.Lock()
	jobSeq.n++
	id := fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e9, jobSeq.n)
	jobSeq.Unlock()
	l := sandbox.DefaultLimits()
	l.MemoryBytes = 128 << 20
	l.OutBytes = 16 << 20
	l.TmpBytes = 16 << 20
	l.FileSizeBytes = 64 << 20
	l.Pids = 64
	l.NoFile = 256
	l.Timeout = 60 * time.Second
	l.MaxOutputFiles = 100
	l.LogBytes = 64 << 10
	dir := filepath.Join(env.base, "jobs", id)
	return sandbox.Spec{ID: id, Image: env.digests[image], Args: args, OutDir: filepath.Join(dir, "out"), Limits: l}
}

// run runs spec and returns its exit and logs.
func run(t testing.TB, ctx context.Context, spec sandbox.Spec) (sandbox.Exit, string) {
	t.Helper()
	var logs sandboxtest.SyncBuffer
	ex, err := env.rt.Run(ctx, spec, &logs)
	if err != nil {
		t.Fatalf("Run %v: got error %v, want an exit", spec.Args, err)
	}
	return ex, logs.String()
}

func TestRunNoop(t *testing.T) {
	setup(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantLog  string
	}{
		{"true", []string{"true"}, 0, ""},
		{"exit code", []string{"sh", "-c", "echo hello; exit 7"}, 7, "hello\n"},
		{"writes an output", []string{"sh", "-c", "echo data > /out/result.txt; echo x > /out/undeclared.txt"}, 0, ""},
		{"logs capped", []string{"sh", "-c", "yes | head -c 300000; echo done"}, 0, strings.Repeat("y\n", 64<<10/2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := newSpec(t, "toolbox", tc.args...)
			spec.Outputs = []string{"result.txt"}
			ex, logs := run(t, context.Background(), spec)
			if ex.Reason != sandbox.ReasonExited || ex.Code != tc.wantCode {
				t.Fatalf("exit: got %s/%d, want exited/%d (logs %q)", ex.Reason, ex.Code, tc.wantCode, logs)
			}
			if logs != tc.wantLog {
				t.Errorf("logs: got %q, want %q", logs, tc.wantLog)
			}
			if ex.Usage.Wall <= 0 || ex.Ended.Before(ex.Started) {
				t.Errorf("wall: got %v, want > 0", ex.Usage.Wall)
			}
			noJobFigures(t, spec.ID)
			if strings.Contains(tc.name, "output") {
				b, err := os.ReadFile(filepath.Join(spec.OutDir, "result.txt"))
				if err != nil || string(b) != "data\n" {
					t.Errorf("output: got %q (%v), want %q", b, err, "data\n")
				}
				if _, err := os.Stat(filepath.Join(spec.OutDir, "undeclared.txt")); err == nil || ex.Undeclared != 1 {
					t.Errorf("undeclared output: got collected %v, counted %d; want dropped and counted 1", err == nil, ex.Undeclared)
				}
			}
		})
	}
}

// noJobFigures: see sandboxtest.NoJobFigures.
func noJobFigures(t *testing.T, id string) {
	t.Helper()
	sandboxtest.NoJobFigures(t, env.log.String(), id)
}
