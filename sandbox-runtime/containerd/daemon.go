package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/errdefs"
)

// Daemon is a private containerd started as a child process, with its
// root, state, socket and configuration under one directory.
type Daemon struct {
	dir  string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *slog.Logger
}

// config is the generated containerd configuration: only the plugins the
// sandbox needs, no CRI, no metrics or debug listeners.
const config = `version = 2
root = %q
state = %q
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""

[metrics]
  address = ""
`

// StartDaemon starts the containerd binary found in PATH as a child, with
// root, state, socket (dir/containerd.sock), pid file and config under dir,
// and waits until it answers. Its output goes to dir/containerd.log. Call
// Stop on shutdown. The child receives SIGTERM if this process dies; the
// jobs' shims do not, and the next containerd started over dir finds them
// again (it waits up to previousGrace for the previous one to exit, and
// refuses with errdefs.ErrFailedPrecondition when it does not).
func StartDaemon(ctx context.Context, dir string, log *slog.Logger) (*Daemon, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("containerd binary: %w", errors.Join(errdefs.ErrFailedPrecondition, err))
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	addr := filepath.Join(dir, "containerd.sock")
	if len(addr) > 100 {
		return nil, fmt.Errorf("daemon directory path too long for a socket: %w", errdefs.ErrInvalidArgument)
	}
	for _, d := range []string{dir, filepath.Join(dir, "root"), filepath.Join(dir, "state")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("create daemon directory: %w", err)
		}
	}
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf(config, filepath.Join(dir, "root"), filepath.Join(dir, "state"), addr, addr+".ttrpc")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		return nil, fmt.Errorf("write daemon config: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "containerd.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open daemon log: %w", err)
	}
	defer logf.Close()
	// The containerd of a previous daemon that was killed gets SIGTERM
	// with it and exits: wait for that, so that two never share the root.
	pidFile := filepath.Join(dir, "containerd.pid")
	if err := awaitGone(ctx, pidFile, cfg, previousGrace); err != nil {
		return nil, err
	}
	_ = os.Remove(addr) // a stale socket of a previous run
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	d := &Daemon{dir: dir, addr: addr, cmd: cmd, done: make(chan struct{}), log: log}
	go func() {
		d.err = cmd.Wait()
		os.Remove(pidFile)
		close(d.done)
	}()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		_ = d.Stop()
		return nil, fmt.Errorf("write containerd's pid file: %w", err)
	}
	log.Info("containerd started", "pid", cmd.Process.Pid, "address", addr)
	if err := d.waitReady(ctx); err != nil {
		_ = d.Stop()
		return nil, err
	}
	return d, nil
}

func (d *Daemon) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-d.done:
			return fmt.Errorf("containerd exited during start-up (see %q): %w", filepath.Join(d.dir, "containerd.log"), errdefs.ErrUnavailable)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if _, err := os.Stat(d.addr); err == nil {
			c, err := containerd.New(d.addr, containerd.WithTimeout(time.Second))
			if err == nil {
				vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, err = c.Version(vctx)
				cancel()
				c.Close()
				if err == nil {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd did not answer: %w", errdefs.ErrUnavailable)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Address returns the daemon's gRPC socket path.
func (d *Daemon) Address() string { return d.addr }

// Stop asks containerd to exit (SIGTERM) and kills it after 10 seconds.
// Job shims are separate processes and survive; Runtime.Recover handles
// them on the next start. Stop is idempotent.
func (d *Daemon) Stop() error {
	select {
	case <-d.done:
		return nil
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.log.Info("containerd stopped")
	if d.err != nil && !strings.Contains(d.err.Error(), "signal") && !strings.Contains(d.err.Error(), "exit status") {
		return d.err
	}
	return nil
}

// previousGrace is how long StartDaemon waits for the containerd of a
// previous daemon over the same directory to exit.
const previousGrace = 15 * time.Second

// awaitGone waits until the process that pidFile names is gone, if it is a
// containerd started with cfg (a pid reused by another process is not
// waited for), for at most grace.
func awaitGone(ctx context.Context, pidFile, cfg string, grace time.Duration) error {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return nil
	}
	ours := func() bool {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			return false
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// A zombie is gone for our purpose: it holds nothing.
			if _, rest, ok := strings.Cut(string(st), ") "); ok && strings.HasPrefix(rest, "Z") {
				return false
			}
		}
		return strings.Contains(string(cmdline), "\x00--config\x00"+cfg+"\x00")
	}
	deadline := time.Now().Add(grace)
	for ours() {
		if time.Now().After(deadline) {
			return fmt.Errorf("the containerd of this sandbox (pid %d) is still running; is another enclaved using it? %w", pid, errdefs.ErrFailedPrecondition)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
