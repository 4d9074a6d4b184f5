package containerd

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/outputs"
)

// inputDir makes a host directory holding a small data.arrow-named file, as
// the daemon would for a granted dataset version.
func inputDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(env.base, "inputs", strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.arrow"), []byte("not really arrow"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// witness runs a normal job while a hostile one is running: it must
// succeed, so the runtime keeps serving other jobs.
func witness(t *testing.T) {
	t.Helper()
	spec := newSpec(t, "toolbox", "sh", "-c", "echo ok > /out/w.txt && cat /out/w.txt")
	ex, logs := run(t, context.Background(), spec)
	if ex.Reason != sandbox.ReasonExited || ex.Code != 0 || logs != "ok\n" {
		t.Errorf("witness job: got %s/%d logs %q, want exited/0 logs %q", ex.Reason, ex.Code, logs, "ok\n")
	}
}

func TestHostileJobs(t *testing.T) {
	setup(t)
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
	marker := filepath.Join(env.base, "host-secret.txt")
	if err := os.WriteFile(marker, []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		limits     func(*sandbox.Limits)
		input      bool
		outputs    []string // declared
		wantReason sandbox.Reason
		contained  bool // logs hold CONTAINED lines and no ESCAPED line; exit code 0
		check      func(t *testing.T, spec sandbox.Spec, ex sandbox.Exit, logs string)
	}{
		{name: "network", args: []string{"probes", "net", ln.Addr().String()},
			wantReason: sandbox.ReasonExited, contained: true},
		{name: "host paths and sockets", args: []string{"probes", "host", marker, "/etc/shadow",
			filepath.Join(env.base, "ctrd", "config.toml")}, wantReason: sandbox.ReasonExited, contained: true},
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
				// "..evil" was not declared (it cannot be): dropped and
				// counted, never named.
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
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := newSpec(t, "probes", tc.args...)
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
				var logs syncBuffer
				ex, err := env.rt.Run(context.Background(), spec, &logs)
				if err != nil {
					t.Errorf("Run: got error %v, want an exit", err)
				}
				done <- result{ex, logs.String()}
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
				if ex.Code != 0 || strings.Contains(logs, "ESCAPED") || !strings.Contains(logs, "CONTAINED") {
					t.Errorf("containment: got code %d, logs:\n%s\nwant code 0, CONTAINED lines and no ESCAPED line", ex.Code, logs)
				}
			}
			if tc.check != nil {
				tc.check(t, spec, ex, logs)
			}
		})
	}
	t.Cleanup(func() {
		if n := accepted.Load(); n != 0 {
			t.Errorf("host listener: got %d connections from jobs, want 0", n)
		}
	})
}
