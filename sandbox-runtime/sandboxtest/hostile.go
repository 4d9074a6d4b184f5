package sandboxtest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/outputs"
)

// Hostile is what the hostile-job suite needs of a backend.
type Hostile struct {
	Runtime sandbox.Runtime
	// NewSpec returns a spec of small limits for the built-in image of that
	// name ("toolbox", "probes") with fresh directories.
	NewSpec func(t testing.TB, image string, args ...string) sandbox.Spec
	// Base is a directory of the test's own: the suite writes a host file
	// the jobs must not read and their input directories there.
	Base string
	// HostFiles are further host files no job may read.
	HostFiles []string
	// Gaps are the probes (the word after ESCAPED) that this backend does
	// not stop, each with the reason README.md gives. A gap listed here
	// that a job does not in fact escape fails the suite, so that the
	// list (and README's table) stays true.
	Gaps map[string]string
}

// RunHostile runs the hostile-job suite of DESIGN.md section 8: jobs that
// try to reach the network, read host files, make privileged syscalls,
// fork-bomb, eat memory, fill disks, plant links in their outputs and run
// forever; each must be stopped (or be a gap the backend names) while a
// normal job beside it still runs.
func RunHostile(t *testing.T, h Hostile) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	marker := filepath.Join(h.Base, "host-secret.txt")
	if err := os.WriteFile(marker, []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	inputDir := func(t *testing.T) string {
		dir := filepath.Join(h.Base, "inputs", strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "data.arrow"), []byte("not really arrow"), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	run := func(t *testing.T, ctx context.Context, spec sandbox.Spec) (sandbox.Exit, string) {
		var logs SyncBuffer
		ex, err := h.Runtime.Run(ctx, spec, &logs)
		if err != nil {
			t.Errorf("Run %v: got error %v, want an exit", spec.Args, err)
		}
		return ex, logs.String()
	}
	witness := func(t *testing.T) {
		spec := h.NewSpec(t, "toolbox", "sh", "-c", "echo ok > /out/w.txt && cat /out/w.txt")
		ex, logs := run(t, context.Background(), spec)
		if ex.Reason != sandbox.ReasonExited || ex.Code != 0 || logs != "ok\n" {
			t.Errorf("witness job: got %s/%d logs %q, want exited/0 logs %q", ex.Reason, ex.Code, logs, "ok\n")
		}
	}
	var escapedGaps stringSet
	tests := []struct {
		name       string
		args       []string
		limits     func(*sandbox.Limits)
		input      bool
		outputs    []string
		wantReason sandbox.Reason
		contained  bool // CONTAINED lines and no ESCAPED line but the backend's gaps
		check      func(t *testing.T, spec sandbox.Spec, ex sandbox.Exit, logs string)
	}{
		{name: "network", args: []string{"probes", "net", ln.Addr().String()},
			wantReason: sandbox.ReasonExited, contained: true},
		{name: "host paths and sockets", args: append([]string{"probes", "host", marker, "/etc/shadow"}, h.HostFiles...),
			wantReason: sandbox.ReasonExited, contained: true},
		{name: "privileged syscalls", args: []string{"probes", "syscalls"},
			wantReason: sandbox.ReasonExited, contained: true},
		{name: "process status", args: []string{"probes", "status"},
			wantReason: sandbox.ReasonExited, contained: true},
		{name: "writes and exec", args: []string{"probes", "writes"}, input: true,
			wantReason: sandbox.ReasonExited, contained: true},
		{name: "fork bomb", args: []string{"probes", "forkbomb"},
			wantReason: sandbox.ReasonExited, contained: true},
		{name: "fd exhaustion", args: []string{"probes", "fds"},
			wantReason: sandbox.ReasonExited, contained: true},
		{name: "fill tmp", args: []string{"probes", "fill", "/tmp"},
			wantReason: sandbox.ReasonExited, contained: true},
		{name: "fill out", args: []string{"probes", "fill", "/out"},
			wantReason: sandbox.ReasonOutputLimit},
		{name: "memory balloon", args: []string{"probes", "balloon"},
			limits:     func(l *sandbox.Limits) { l.MemoryBytes = 64 << 20 },
			wantReason: sandbox.ReasonOOM,
			check: func(t *testing.T, _ sandbox.Spec, ex sandbox.Exit, _ string) {
				if ex.Usage.PeakMemoryBytes < 32<<20 {
					t.Errorf("peak memory: got %d, want near the 64 MiB limit", ex.Usage.PeakMemoryBytes)
				}
			}},
		{name: "cpu spin", args: []string{"probes", "spin"},
			limits:     func(l *sandbox.Limits) { l.Timeout = 2 * time.Second; l.CPUs = 0.5 },
			wantReason: sandbox.ReasonTimeout,
			check: func(t *testing.T, _ sandbox.Spec, ex sandbox.Exit, _ string) {
				if ex.Usage.CPUNanos < uint64(20*time.Millisecond) {
					t.Errorf("cpu: got %v, want the spin metered", time.Duration(ex.Usage.CPUNanos))
				}
				if ex.Usage.CPUNanos > uint64(ex.Usage.Wall)*3/4 {
					t.Errorf("cpu: got %v of %v wall, want the 0.5 CPU quota to hold", time.Duration(ex.Usage.CPUNanos), ex.Usage.Wall)
				}
			}},
		{name: "escaping outputs", args: []string{"probes", "outputs", "100000", "50000000"},
			outputs:    []string{"good.txt", "shadow", "root", "orig", "hardlink", "fifo", "sparse", "many"},
			wantReason: sandbox.ReasonOutputLimit,
			check: func(t *testing.T, spec sandbox.Spec, ex sandbox.Exit, logs string) {
				// seccomp refuses mknod, so a job cannot even plant a fifo;
				// the collector's fifo handling is unit-tested in outputs.
				fifoPlanted := !strings.Contains(logs, "SETUP-FAILED fifo")
				for _, l := range strings.Split(logs, "\n") {
					if strings.HasPrefix(l, "SETUP-FAILED") && !strings.HasPrefix(l, "SETUP-FAILED fifo") {
						t.Errorf("probe setup: %s", l)
					}
				}
				got := map[string]string{}
				for _, s := range ex.Skipped {
					got[s.Name] = s.Reason
				}
				want := map[string]string{`"shadow"`: outputs.SkipSymlink, `"root"`: outputs.SkipSymlink,
					`"orig"`: outputs.SkipHardlink, `"hardlink"`: outputs.SkipHardlink,
					`"fifo"`: outputs.SkipSpecial, `"sparse"`: outputs.SkipSizeLimit, `"many"`: outputs.SkipDirectory}
				if !fifoPlanted {
					want[`"fifo"`] = outputs.SkipMissing
				}
				if _, named := got[`"..evil"`]; named || ex.Undeclared != 1 {
					t.Errorf("undeclared: got %d dropped and ..evil named %v, want 1 and not named", ex.Undeclared, named)
				}
				for n, r := range want {
					if got[n] != r {
						t.Errorf("skip of %s: got %q, want %q", n, got[n], r)
					}
				}
				if len(ex.Outputs) > spec.Limits.MaxOutputFiles {
					t.Errorf("outputs: got %d files, want at most %d", len(ex.Outputs), spec.Limits.MaxOutputFiles)
				}
				b, err := os.ReadFile(filepath.Join(spec.OutDir, "good.txt"))
				if err != nil || string(b) != "ok\n" {
					t.Errorf("good.txt: got %q (%v), want %q", b, err, "ok\n")
				}
				filepath.Walk(spec.OutDir, func(p string, fi os.FileInfo, err error) error {
					if err == nil && !fi.IsDir() && !fi.Mode().IsRegular() {
						t.Errorf("collected %q is not a regular file", p)
					}
					return nil
				})
			}},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				spec := h.NewSpec(t, "probes", tc.args...)
				if tc.limits != nil {
					tc.limits(&spec.Limits)
				}
				if tc.input {
					spec.Inputs = []sandbox.Mount{{Name: "credit", HostDir: inputDir(t)}}
				}
				spec.Outputs = tc.outputs
				type result struct {
					ex   sandbox.Exit
					logs string
				}
				done := make(chan result, 1)
				go func() {
					ex, logs := run(t, context.Background(), spec)
					done <- result{ex, logs}
				}()
				time.Sleep(300 * time.Millisecond)
				witness(t)
				res := <-done
				ex, logs := res.ex, res.logs
				if ex.Reason != tc.wantReason {
					t.Fatalf("reason: got %s (code %d), want %s; logs:\n%s", ex.Reason, ex.Code, tc.wantReason, logs)
				}
				t.Logf("%s ended %s/%d, usage %+v, logs:\n%s", tc.name, ex.Reason, ex.Code, ex.Usage, logs)
				if tc.contained {
					gapped := 0
					for _, l := range strings.Split(logs, "\n") {
						probe, ok := strings.CutPrefix(l, "ESCAPED ")
						if !ok {
							continue
						}
						probe, _, _ = strings.Cut(probe, " ")
						if _, gap := h.Gaps[probe]; gap {
							escapedGaps.add(probe)
							gapped++
							continue
						}
						t.Errorf("escaped: %s", l)
					}
					// The probes exit 3 when anything escaped, 0 otherwise.
					if !strings.Contains(logs, "CONTAINED") || gapped == 0 && ex.Code != 0 {
						t.Errorf("containment: got code %d, logs:\n%s\nwant CONTAINED lines and code 0", ex.Code, logs)
					}
				}
				if tc.check != nil {
					tc.check(t, spec, ex, logs)
				}
			})
		}
	})
	if n := accepted.Load(); n != 0 {
		t.Errorf("host listener: got %d connections from jobs, want 0", n)
	}
	if t.Failed() {
		return
	}
	for probe, why := range h.Gaps {
		if !escapedGaps.has(probe) {
			t.Errorf("gap %q (%s): no job escaped that way; remove it from the backend's gaps and README's table", probe, why)
		}
	}
}

// stringSet is a set of strings safe for concurrent use.
type stringSet struct {
	mu  sync.Mutex
	set []string
}

func (s *stringSet) add(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.set, v) {
		s.set = append(s.set, v)
	}
}

func (s *stringSet) has(v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.set, v)
}
