package kubernetes

import (
	"context"
	"fmt"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/k8stest"
)

// TestRunOwnLimits: the enclave's OCI runtime gives the job container the
// job's own pids limit (below the node's pod limit) and rlimits, as the
// containerd backend does.
func TestRunOwnLimits(t *testing.T) {
	setup(t)
	spec := newSpec(t, "probes", "probes", "forkbomb")
	spec.Limits.Pids = 12
	ex, logs := run(t, context.Background(), spec)
	if ex.Reason != sandbox.ReasonExited || !strings.Contains(logs, "CONTAINED pids-limit") {
		t.Fatalf("fork bomb: got %s/%d, logs %q; want exited and contained", ex.Reason, ex.Code, logs)
	}
	var n int
	for _, l := range strings.Split(logs, "\n") {
		if v, ok := strings.CutPrefix(l, "children "); ok {
			n, _ = strconv.Atoi(v)
		}
	}
	if n <= 0 || n >= 12 {
		t.Errorf("children started: got %d, want fewer than the job's pids limit 12 (the node's pod limit is %d)", n, k8stest.PodPidsLimit)
	}
	spec = newSpec(t, "toolbox", "sh", "-c", "ulimit -n; ulimit -f; ulimit -c")
	ex, logs = run(t, context.Background(), spec)
	want := fmt.Sprintf("%d\n%d\n0\n", spec.Limits.NoFile, spec.Limits.FileSizeBytes/512)
	if ex.Reason != sandbox.ReasonExited || logs != want {
		t.Errorf("rlimits: got %s/%d logs %q, want %q", ex.Reason, ex.Code, logs, want)
	}
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
				t.Errorf("logs: got %d bytes %.80q, want %d bytes %.80q", len(logs), logs, len(tc.wantLog), tc.wantLog)
			}
			if ex.Usage.Wall <= 0 || ex.Ended.Before(ex.Started) {
				t.Errorf("wall: got %v, want > 0", ex.Usage.Wall)
			}
			if ex.Usage.CPUNanos == 0 || ex.Usage.PeakMemoryBytes == 0 {
				t.Errorf("usage: got %+v, want CPU and memory metered from the pod's cgroup", ex.Usage)
			}
			sandboxtest.NoJobFigures(t, env.log.String(), spec.ID)
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

// TestNothingLeftOnTheNode: once Run returned and the runtime closed, the
// job's pod is gone and nothing of its /out or /tmp is mounted.
func TestNothingLeftOnTheNode(t *testing.T) {
	rt := setup(t)
	spec := newSpec(t, "toolbox", "sh", "-c", "echo secret-value > /out/a.txt; echo tmp > /tmp/b")
	spec.Outputs = []string{"a.txt"}
	ex, _ := run(t, context.Background(), spec)
	if ex.Reason != sandbox.ReasonExited || len(ex.Outputs) != 1 {
		t.Fatalf("exit: got %+v, want exited with one output", ex)
	}
	rt.pending.Wait()
	if _, err := rt.client.CoreV1().Pods(rt.ns).Get(context.Background(), PodName(spec.ID), metav1.GetOptions{}); err == nil {
		t.Errorf("pod of %s: still there after the job, want deleted", spec.ID)
	}
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		// No other job runs meanwhile: no pod's volume may be left.
		if strings.Contains(line, env.cluster.KubeletDir+"/pods/") && strings.Contains(line, "kubernetes.io~empty-dir") {
			t.Errorf("mount of a job's pod left on the node: %s", line)
		}
	}
}

func TestRunCancel(t *testing.T) {
	setup(t)
	spec := newSpec(t, "toolbox", "sh", "-c", "echo part > /out/p.txt; sleep 3600")
	spec.Outputs = []string{"p.txt"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once the job runs.
		for i := 0; i < 300; i++ {
			p, err := env.rt.client.CoreV1().Pods(env.rt.ns).Get(context.Background(), PodName(spec.ID), metav1.GetOptions{})
			if err == nil && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Running != nil {
				time.Sleep(500 * time.Millisecond)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	ex, _ := run(t, ctx, spec)
	if ex.Reason != sandbox.ReasonCanceled {
		t.Fatalf("reason: got %s, want canceled", ex.Reason)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("cancel took %v, want the job killed promptly", d)
	}
	if b, err := os.ReadFile(filepath.Join(spec.OutDir, "p.txt")); err != nil || string(b) != "part\n" {
		t.Errorf("output of a cancelled job: got %q (%v), want it collected", b, err)
	}
}

func TestRunTimeout(t *testing.T) {
	setup(t)
	spec := newSpec(t, "toolbox", "sleep", "3600")
	spec.Limits.Timeout = 2 * time.Second
	ex, _ := run(t, context.Background(), spec)
	if ex.Reason != sandbox.ReasonTimeout {
		t.Fatalf("reason: got %s, want timeout", ex.Reason)
	}
	if ex.Usage.Wall < 2*time.Second || ex.Usage.Wall > 30*time.Second {
		t.Errorf("wall: got %v, want about the 2 s timeout", ex.Usage.Wall)
	}
}
