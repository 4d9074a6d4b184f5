package kubernetes

import (
	"context"
	"errors"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// waitRunning waits until the job's container runs.
func waitRunning(t *testing.T, rt *Runtime, id string) {
	t.Helper()
	for i := 0; i < 600; i++ {
		p, err := rt.client.CoreV1().Pods(rt.ns).Get(context.Background(), PodName(id), metav1.GetOptions{})
		if err == nil && len(p.Status.ContainerStatuses) > 0 {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name == jobContainer && cs.State.Running != nil {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("job %s did not start", id)
}

// detach runs spec until it runs and its first log line was read, then
// detaches from it as a stopping daemon does.
func detach(t *testing.T, rt *Runtime, spec sandbox.Spec, first string) string {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	var logs sandboxtest.SyncBuffer
	done := make(chan error, 1)
	go func() {
		_, err := rt.Run(ctx, spec, &logs)
		done <- err
	}()
	waitRunning(t, rt, spec.ID)
	for i := 0; i < 300 && !strings.Contains(logs.String(), first); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	cancel(sandbox.ErrDetached)
	if err := <-done; !errors.Is(err, sandbox.ErrDetached) {
		t.Fatalf("Run detached: got %v, want sandbox.ErrDetached", err)
	}
	return logs.String()
}

// TestReattachAfterRestart: a daemon detaches from two running jobs and
// goes; a new runtime finds their pods by label, keeps the one the caller
// wants (and deletes the other), and follows it to its end: the log goes
// on after what the first daemon read, its outputs are collected.
func TestReattachAfterRestart(t *testing.T) {
	rt := setup(t)
	ctx := context.Background()
	kept := newSpec(t, "toolbox", "sh", "-c", "echo before; sleep 4; echo after; echo done > /out/r.txt")
	kept.Outputs = []string{"r.txt"}
	dropped := newSpec(t, "toolbox", "sh", "-c", "echo x; sleep 3600")
	if got := detach(t, rt, kept, "before"); got != "before\n" {
		t.Fatalf("log before the restart: got %q, want %q", got, "before\n")
	}
	detach(t, rt, dropped, "x")

	rt2, err := newRuntime(ctx, env.cluster, rt.ns)
	if err != nil {
		t.Fatal(err)
	}
	defer rt2.Close()
	var asked []string
	ids, err := rt2.Recover(ctx, func(id string) bool {
		asked = append(asked, id)
		return id == kept.ID
	})
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if len(ids) != 1 || ids[0] != kept.ID || len(asked) < 2 {
		t.Fatalf("Recover: asked about %v, kept %v; want both asked and %s kept", asked, ids, kept.ID)
	}
	if _, err := rt2.client.CoreV1().Pods(rt2.ns).Get(ctx, PodName(dropped.ID), metav1.GetOptions{}); err == nil {
		t.Errorf("pod of the job not kept: still there, want deleted")
	}
	var logs sandboxtest.SyncBuffer
	ex, err := rt2.Reattach(ctx, kept, &logs)
	if err != nil || ex.Reason != sandbox.ReasonExited || ex.Code != 0 {
		t.Fatalf("Reattach: got %+v, %v; want exited/0", ex, err)
	}
	if logs.String() != "after\n" {
		t.Errorf("log after the restart: got %q, want %q", logs.String(), "after\n")
	}
	if b, err := os.ReadFile(filepath.Join(kept.OutDir, "r.txt")); err != nil || string(b) != "done\n" {
		t.Errorf("output: got %q (%v), want collected", b, err)
	}
	if ex.Usage.Wall < 4*time.Second {
		t.Errorf("wall: got %v, want the whole run counted from the job's start", ex.Usage.Wall)
	}
	if _, err := rt2.Reattach(ctx, dropped, nil); !errdefs.IsNotFound(err) {
		t.Errorf("Reattach of a deleted job: got %v, want not found", err)
	}
}

// TestRunInputs: an input directory reaches the job read-only at
// /in/NAME through its claim.
func TestRunInputs(t *testing.T) {
	setup(t)
	dir := filepath.Join(env.base, "inputs", "cat")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.arrow"), []byte("region,n\na,25\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := newSpec(t, "toolbox", "sh", "-c", "cat /in/credit/data.arrow; touch /in/credit/x 2>/dev/null && echo WRITABLE; true")
	spec.Inputs = []sandbox.Mount{{Name: "credit", HostDir: dir}}
	ex, logs := run(t, context.Background(), spec)
	if ex.Reason != sandbox.ReasonExited || ex.Code != 0 || logs != "region,n\na,25\n" {
		t.Fatalf("got %s/%d logs %q, want exited/0 and the input's content", ex.Reason, ex.Code, logs)
	}
	env.rt.pending.Wait()
	// A deleted volume goes once the controller released it from its claim.
	left := -1
	for i := 0; i < 300 && left != 0; i++ {
		pvs, err := env.rt.client.CoreV1().PersistentVolumes().List(context.Background(), metav1.ListOptions{LabelSelector: LabelJob + "=" + jobHash(spec.ID)})
		if err == nil {
			left = len(pvs.Items)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left != 0 {
		t.Errorf("volumes of the job after it: got %d, want none", left)
	}
}

func TestRunRefuses(t *testing.T) {
	rt := setup(t)
	ctx := context.Background()
	f, err := os.Open(filepath.Join(env.cluster.Dir, "pause.tar"))
	if err != nil {
		t.Fatal(err)
	}
	unprepared, err := rt.ImportImage(ctx, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	busy := newSpec(t, "toolbox", "sleep", "3600")
	bctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); rt.Run(bctx, busy, nil) }()
	defer func() { stop(); <-done }()
	waitRunning(t, rt, busy.ID)
	tests := []struct {
		name string
		spec func() sandbox.Spec
		want error
	}{
		{"bad id", func() sandbox.Spec { s := newSpec(t, "toolbox", "true"); s.ID = "../x"; return s }, errdefs.ErrInvalidArgument},
		{"no limits", func() sandbox.Spec { s := newSpec(t, "toolbox", "true"); s.Limits = sandbox.Limits{}; return s }, errdefs.ErrInvalidArgument},
		{"unknown image", func() sandbox.Spec {
			s := newSpec(t, "toolbox", "true")
			s.Image = "sha256:" + strings.Repeat("0", 64)
			return s
		}, errdefs.ErrNotFound},
		{"unprepared image", func() sandbox.Spec { s := newSpec(t, "toolbox", "true"); s.Image = unprepared; return s }, errdefs.ErrFailedPrecondition},
		{"duplicate id", func() sandbox.Spec { s := newSpec(t, "toolbox", "true"); s.ID = busy.ID; return s }, errdefs.ErrAlreadyExists},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rt.Run(ctx, tc.spec(), nil)
			if !errors.Is(err, tc.want) {
				t.Errorf("Run: got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("garbage archive", func(t *testing.T) {
		if _, err := rt.ImportImage(ctx, strings.NewReader("this is not a tar")); !errdefs.IsInvalidArgument(err) {
			t.Errorf("ImportImage: got %v, want invalid argument", err)
		}
	})
}
