package containerd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// TestAwaitGone: StartDaemon waits for the containerd of a previous daemon
// over the same directory (named by the pid file, recognised by its
// --config) to exit, gives up with failed-precondition when it does not,
// and waits for no other process.
func TestAwaitGone(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	pidFile := filepath.Join(dir, "containerd.pid")
	// fake starts a process whose command line reads as a containerd with
	// the given config, running for d.
	fake := func(t *testing.T, config string, d time.Duration) *exec.Cmd {
		t.Helper()
		cmd := exec.Command("sh", "-c", "sleep "+strconv.FormatFloat(d.Seconds(), 'f', 1, 64), "containerd", "--config", config)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		t.Cleanup(func() { cmd.Process.Kill() })
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	alive := func(cmd *exec.Cmd) bool {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		return err == nil && !containsState(string(st), 'Z')
	}
	ctx := context.Background()
	t.Run("no pid file", func(t *testing.T) {
		os.Remove(pidFile)
		if err := awaitGone(ctx, pidFile, cfg, time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("exits in time", func(t *testing.T) {
		cmd := fake(t, cfg, 500*time.Millisecond)
		if err := awaitGone(ctx, pidFile, cfg, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if alive(cmd) {
			t.Error("awaitGone returned while the previous containerd ran")
		}
	})
	t.Run("does not exit", func(t *testing.T) {
		cmd := fake(t, cfg, 30*time.Second)
		if err := awaitGone(ctx, pidFile, cfg, 300*time.Millisecond); !errdefs.IsFailedPrecondition(err) {
			t.Fatalf("got %v, want failed precondition", err)
		}
		if !alive(cmd) {
			t.Error("the process was stopped; awaitGone only waits")
		}
	})
	t.Run("another directory's", func(t *testing.T) {
		cmd := fake(t, filepath.Join(dir, "other.toml"), 30*time.Second)
		if err := awaitGone(ctx, pidFile, cfg, 30*time.Second); err != nil || !alive(cmd) {
			t.Fatalf("got %v (process alive %v), want nil at once and the process left alone", err, alive(cmd))
		}
	})
}

// containsState reports whether a /proc/PID/stat line shows state s.
func containsState(stat string, s byte) bool {
	for i := len(stat) - 1; i > 0; i-- {
		if stat[i] == ')' && i+2 < len(stat) {
			return stat[i+2] == s
		}
	}
	return false
}
