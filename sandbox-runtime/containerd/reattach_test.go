package containerd

import (
	"context"
	"errors"
	"fmt"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/errdefs"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// detached runs spec on rt until its log holds mark, then detaches from it
// as a stopping daemon does, and returns what was logged until then. The
// job keeps running.
func detached(t *testing.T, rt *Runtime, spec sandbox.Spec, mark string) string {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var logs sandboxtest.SyncBuffer
	done := make(chan error, 1)
	go func() {
		_, err := rt.Run(ctx, spec, &logs)
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), mark) {
		select {
		case err := <-done:
			t.Fatalf("Run ended before %q was logged: %v (logs %q)", mark, err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not log %q within 30s", mark)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel(sandbox.ErrDetached)
	select {
	case err := <-done:
		if !errors.Is(err, sandbox.ErrDetached) {
			t.Fatalf("Run detached: got %v, want sandbox.ErrDetached", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of being detached")
	}
	st := taskStatus(t, rt, spec.ID)
	if st != containerd.Running && st != containerd.Stopped {
		t.Fatalf("task after the detach: got %q, want it running (or ended by itself)", st)
	}
	return logs.String()
}

func taskStatus(t *testing.T, rt *Runtime, id string) containerd.ProcessStatus {
	t.Helper()
	ctx := rt.ctx(context.Background())
	c, err := rt.client.LoadContainer(ctx, id)
	if err != nil {
		t.Fatalf("container %s: %v", id, err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		t.Fatalf("task %s: %v", id, err)
	}
	st, err := task.Status(ctx)
	if err != nil {
		t.Fatalf("task %s status: %v", id, err)
	}
	return st.Status
}

// leftovers lists what the runtime still holds of a job: its container,
// its snapshot and its work area.
func leftovers(rt *Runtime, id string) []string {
	ctx := rt.ctx(context.Background())
	var left []string
	if _, err := rt.client.LoadContainer(ctx, id); !errdefs.IsNotFound(err) {
		left = append(left, "container")
	}
	if _, err := rt.client.SnapshotService(rt.snapshotter).Stat(ctx, jobSnapshot+id); !errdefs.IsNotFound(err) {
		left = append(left, "snapshot")
	}
	if _, err := os.Stat(filepath.Join(rt.workDir, id)); !os.IsNotExist(err) {
		left = append(left, "work area")
	}
	// The holder of the job's fifos: a process with a file of the work
	// area open.
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			if l, _ := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name())); strings.HasPrefix(l, filepath.Join(rt.workDir, id)+"/") {
				left = append(left, "process "+p.Name())
				break
			}
		}
	}
	return left
}

// TestReattachAfterRestart: the daemon detaches from a running job and
// stops its private containerd, as enclaved does when it stops; the job
// goes on in its shim. A new containerd over the same directory and a new
// runtime find the job again (Recover keeps it), and Reattach follows it to
// its end: the rest of its log, its outputs, its wall time from its real
// start. Nothing of it is left afterwards.
func TestReattachAfterRestart(t *testing.T) {
	setup(t)
	ctx := context.Background()
	dir := filepath.Join(env.base, "reattach")
	work := filepath.Join(env.base, "reattach-work")
	const ns = "enclave-reattach"
	d1, err := StartDaemon(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d1.Stop()
	r1, err := New(ctx, d1.Address(), ns, WithWorkDir(work))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(filepath.Join(env.base, "images", "toolbox.tar"))
	dg, err := r1.ImportImage(ctx, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.PrepareImage(ctx, dg); err != nil {
		t.Fatal(err)
	}
	in := inputDir(t)
	spec := newSpec(t, "toolbox", "sh", "-c", "echo begin; sleep 5; cat /in/x/data.arrow > /out/result.txt; echo end")
	spec.Image = dg
	spec.Inputs = []sandbox.Mount{{Name: "x", HostDir: in}}
	spec.Outputs = []string{"result.txt"}
	before := detached(t, r1, spec, "begin")
	detachedAt := time.Now()
	r1.Close()
	if err := d1.Stop(); err != nil {
		t.Fatal(err)
	}

	d2, err := StartDaemon(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Stop()
	r2, err := New(ctx, d2.Address(), ns, WithWorkDir(work))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Recover(ctx, nil) // what a failure left running
	ids, err := r2.Recover(ctx, func(id string) bool { return id == spec.ID })
	if err != nil || len(ids) != 1 || ids[0] != spec.ID {
		t.Fatalf("Recover: got %v, %v; want [%s] kept", ids, err, spec.ID)
	}
	if st := taskStatus(t, r2, spec.ID); st != containerd.Running {
		t.Fatalf("the job after containerd restarted: got %q, want running", st)
	}
	var logs sandboxtest.SyncBuffer
	ex, err := r2.Reattach(ctx, spec, &logs)
	if err != nil {
		t.Fatalf("Reattach: %v", err)
	}
	if ex.Reason != sandbox.ReasonExited || ex.Code != 0 {
		t.Fatalf("exit: got %s/%d, want exited/0 (logs %q)", ex.Reason, ex.Code, logs.String())
	}
	if before != "begin\n" || logs.String() != "end\n" {
		t.Errorf("logs: got %q before the restart and %q after, want %q and %q", before, logs.String(), "begin\n", "end\n")
	}
	if len(ex.Outputs) != 1 || ex.Outputs[0].Name != "result.txt" {
		t.Fatalf("outputs: got %+v, want result.txt", ex.Outputs)
	}
	if b, err := os.ReadFile(filepath.Join(spec.OutDir, "result.txt")); err != nil || string(b) != "not really arrow" {
		t.Errorf("output: got %q, %v; want the input's content", b, err)
	}
	if !ex.Started.Before(detachedAt) || ex.Usage.Wall < 5*time.Second || ex.Usage.Wall > time.Minute {
		t.Errorf("times: started %v (detached at %v), wall %v; want the real start and a wall of 5s or more", ex.Started, detachedAt, ex.Usage.Wall)
	}
	r2.pending.Wait()
	if left := leftovers(r2, spec.ID); len(left) != 0 {
		t.Errorf("after the job: got %v left, want nothing", left)
	}
	r2.Close()
}

// TestReattach follows jobs detached from on the same containerd: one that
// ended while nobody watched, one whose timeout passed meanwhile, one
// cancelled after the reattach, and one whose task the containerd lost.
func TestReattach(t *testing.T) {
	rt := setup(t)
	t.Run("ended meanwhile", func(t *testing.T) {
		t.Parallel()
		spec := newSpec(t, "toolbox", "sh", "-c", "echo begin; echo data > /out/r.txt; sleep 1; echo end")
		spec.Outputs = []string{"r.txt"}
		detached(t, rt, spec, "begin")
		for taskStatus(t, rt, spec.ID) != containerd.Stopped {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		var logs sandboxtest.SyncBuffer
		ex, err := rt.Reattach(context.Background(), spec, &logs)
		if err != nil || ex.Reason != sandbox.ReasonExited || ex.Code != 0 || len(ex.Outputs) != 1 {
			t.Fatalf("Reattach: got %+v, %v; want exited/0 with r.txt", ex, err)
		}
		if logs.String() != "end\n" {
			t.Errorf("logs after the detach: got %q, want %q (kept in the fifo)", logs.String(), "end\n")
		}
		// The end is when the job ended, not when it was found ended.
		if ex.Usage.Wall < time.Second || ex.Usage.Wall > 2500*time.Millisecond {
			t.Errorf("wall: got %v, want about 1s", ex.Usage.Wall)
		}
	})
	t.Run("wrote more than a pipe holds meanwhile", func(t *testing.T) {
		t.Parallel()
		// 168,894 bytes: more than the fifo and the job's pipe hold, so the
		// job waits for a reader and loses nothing.
		spec := newSpec(t, "toolbox", "sh", "-c", "echo begin; sleep 1; seq 1 30000; echo end")
		spec.Limits.LogBytes = 1 << 20
		detached(t, rt, spec, "begin")
		time.Sleep(3 * time.Second)
		var logs sandboxtest.SyncBuffer
		ex, err := rt.Reattach(context.Background(), spec, &logs)
		if err != nil || ex.Reason != sandbox.ReasonExited || ex.Code != 0 {
			t.Fatalf("Reattach: got %+v, %v; want exited/0", ex, err)
		}
		var want strings.Builder
		for i := 1; i <= 30000; i++ {
			fmt.Fprintf(&want, "%d\n", i)
		}
		want.WriteString("end\n")
		if got := logs.String(); got != want.String() {
			t.Errorf("logs after the detach: got %d bytes, want the %d the job wrote", len(got), want.Len())
		}
	})
	t.Run("timeout passed meanwhile", func(t *testing.T) {
		t.Parallel()
		spec := newSpec(t, "toolbox", "sh", "-c", "echo begin; sleep 3600")
		spec.Limits.Timeout = 2 * time.Second
		detached(t, rt, spec, "begin")
		time.Sleep(3 * time.Second)
		start := time.Now()
		ex, err := rt.Reattach(context.Background(), spec, nil)
		if err != nil || ex.Reason != sandbox.ReasonTimeout {
			t.Fatalf("Reattach: got %+v, %v; want timeout", ex, err)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("the overdue job was killed after %v, want at once", d)
		}
	})
	t.Run("cancelled after the reattach", func(t *testing.T) {
		t.Parallel()
		spec := newSpec(t, "toolbox", "sh", "-c", "echo begin; sleep 3600")
		detached(t, rt, spec, "begin")
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		ex, err := rt.Reattach(ctx, spec, nil)
		if err != nil || ex.Reason != sandbox.ReasonCanceled {
			t.Fatalf("Reattach: got %+v, %v; want canceled", ex, err)
		}
	})
	t.Run("lost by containerd", func(t *testing.T) {
		t.Parallel()
		spec := newSpec(t, "toolbox", "sh", "-c", "echo begin; sleep 3600")
		detached(t, rt, spec, "begin")
		// The task goes, as when containerd lost its shim (a reboot).
		ctx := rt.ctx(context.Background())
		c, err := rt.client.LoadContainer(ctx, spec.ID)
		if err != nil {
			t.Fatal(err)
		}
		task, err := c.Task(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		task.Kill(ctx, syscall.SIGKILL)
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil {
			t.Fatal(err)
		}
		ex, err := rt.Reattach(context.Background(), spec, nil)
		if !errdefs.IsNotFound(err) {
			t.Fatalf("Reattach: got %+v, %v; want not found", ex, err)
		}
		if left := leftovers(rt, spec.ID); len(left) != 0 {
			t.Errorf("after the lost job: got %v left, want nothing", left)
		}
	})
	t.Run("another job's spec", func(t *testing.T) {
		t.Parallel()
		spec := newSpec(t, "toolbox", "sh", "-c", "echo begin; sleep 3600")
		detached(t, rt, spec, "begin")
		other := spec
		other.Image = env.digests["probes"]
		if _, err := rt.Reattach(context.Background(), other, nil); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Reattach with another image: got %v, want invalid argument", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if ex, err := rt.Reattach(ctx, spec, nil); err != nil || ex.Reason != sandbox.ReasonCanceled {
			t.Errorf("Reattach cancelled: got %+v, %v; want canceled", ex, err)
		}
	})
}

// TestRecoverKeepsOnlyWhatItIsTold: Recover leaves the jobs the caller
// keeps untouched and removes the others, with their snapshots and work
// areas.
func TestRecoverKeepsOnlyWhatItIsTold(t *testing.T) {
	setup(t)
	ctx := context.Background()
	dir := filepath.Join(env.base, "recover-keep")
	work := filepath.Join(env.base, "recover-keep-work")
	d, err := StartDaemon(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	rt, err := New(ctx, d.Address(), "enclave-recover-keep", WithWorkDir(work))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	defer rt.Recover(ctx, nil) // what a failure left running
	f, _ := os.Open(filepath.Join(env.base, "images", "toolbox.tar"))
	dg, err := rt.ImportImage(ctx, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.PrepareImage(ctx, dg); err != nil {
		t.Fatal(err)
	}
	keep, drop := newSpec(t, "toolbox", "sh", "-c", "echo begin; sleep 3600"), newSpec(t, "toolbox", "sh", "-c", "echo begin; sleep 3600")
	keep.Image, drop.Image = dg, dg
	detached(t, rt, keep, "begin")
	detached(t, rt, drop, "begin")
	ids, err := rt.Recover(ctx, func(id string) bool { return id == keep.ID })
	if err != nil || len(ids) != 1 || ids[0] != keep.ID {
		t.Fatalf("Recover: got %v, %v; want [%s]", ids, err, keep.ID)
	}
	if left := leftovers(rt, drop.ID); len(left) != 0 {
		t.Errorf("the job not kept: got %v left, want nothing", left)
	}
	if st := taskStatus(t, rt, keep.ID); st != containerd.Running {
		t.Errorf("the job kept: got %q, want running", st)
	}
	var snaps []string
	rt.client.SnapshotService(rt.snapshotter).Walk(rt.ctx(ctx), func(_ context.Context, i snapshots.Info) error {
		if strings.HasPrefix(i.Name, jobSnapshot) {
			snaps = append(snaps, i.Name)
		}
		return nil
	})
	if len(snaps) != 1 || snaps[0] != jobSnapshot+keep.ID {
		t.Errorf("job snapshots: got %v, want only the kept job's", snaps)
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if ex, err := rt.Reattach(ctx2, keep, nil); err != nil || ex.Reason != sandbox.ReasonCanceled {
		t.Errorf("Reattach cancelled: got %+v, %v; want canceled", ex, err)
	}
}
