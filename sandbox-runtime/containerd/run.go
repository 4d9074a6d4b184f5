package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	cgstats "github.com/containerd/cgroups/stats/v1"
	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/hardening"
	"github.com/enclave-dev/enclave/sandbox-runtime/outputs"
)

// cleanupTimeout bounds the removal of a job's container after it ended.
const cleanupTimeout = 30 * time.Second

// sampleEvery is how often task metrics are sampled while a job runs.
const sampleEvery = 500 * time.Millisecond

// Run runs one job; see sandbox.Runtime. The spec passes Spec.Validate and,
// once built, hardening.Validate, or no container is created.
//
// Input directories are bind-mounted inside the job's user namespace: they
// and every directory above them must be searchable by others (o+x) and
// data.arrow readable by others (o+r), or owned by the mapped range.
// spec.Args is the whole argv; the image's entrypoint and command are not
// used. Run returns once the job ended and its outputs are in spec.OutDir;
// the container, task, snapshot and work area are removed in the
// background (Close waits for that).
func (r *Runtime) Run(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	if err := spec.Validate(); err != nil {
		return sandbox.Exit{}, err
	}
	nctx := r.ctx(ctx)
	t0 := time.Now()
	var tCreated, tStarted, tExited time.Time
	defer func() {
		r.log.Debug("job phases", "job", spec.ID, "create", tCreated.Sub(t0), "start", tStarted.Sub(tCreated),
			"run", tExited.Sub(tStarted), "finish", time.Since(tExited))
	}()
	// Everything after the start survives cancellation of ctx: a cancelled
	// job is killed and cleaned up, not abandoned.
	bg := context.WithoutCancel(nctx)
	parent, err := r.parentSnapshot(nctx, spec.Image)
	if err != nil {
		return sandbox.Exit{}, err
	}
	area := filepath.Join(r.workDir, spec.ID)
	if err := os.Mkdir(area, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return sandbox.Exit{}, fmt.Errorf("job %q: %w", spec.ID, errdefs.ErrAlreadyExists)
		}
		return sandbox.Exit{}, fmt.Errorf("job %q work area: %w", spec.ID, err)
	}
	// Clean-up steps run in reverse order when Run returns: at once on an
	// error, in the background once the job ended and its outputs are
	// collected (Close waits for them).
	var undo []func()
	async := false
	defer func() {
		all := func() {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
		if !async {
			all()
			return
		}
		r.pending.Add(1)
		go func() {
			defer r.pending.Done()
			all()
		}()
	}()
	undo = append(undo, func() {
		if err := r.removeWorkArea(area); err != nil {
			r.log.Error("remove work area", "job", spec.ID, "err", err)
		}
	})
	outMnt := filepath.Join(area, "out")
	if err := r.mountOut(outMnt, spec.Limits); err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q output area: %w", spec.ID, err)
	}
	if err := os.MkdirAll(spec.OutDir, 0o750); err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q output directory: %w", spec.ID, err)
	}

	p := hardening.Params{
		Limits: spec.Limits, HostUID: r.uid, HostGID: r.gid, IDSize: r.idSize,
		OutDir: outMnt, Args: spec.Args,
	}
	for _, in := range spec.Inputs {
		p.Inputs = append(p.Inputs, hardening.Bind{HostDir: in.HostDir, Target: hardening.InputTarget(in.Name)})
	}
	opts := append(hardening.Options(p), validated(p))

	// A lease keeps the fresh snapshot from the garbage collector until the
	// container that references it exists.
	lctx, leaseDone, err := r.client.WithLease(nctx)
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q lease: %w", spec.ID, err)
	}
	sn := r.client.SnapshotService(r.snapshotter)
	key := jobSnapshot + spec.ID
	if _, err := sn.Prepare(lctx, key, parent); err != nil {
		_ = leaseDone(bg)
		return sandbox.Exit{}, fmt.Errorf("job %q snapshot: %w", spec.ID, err)
	}
	c, err := r.client.NewContainer(lctx, spec.ID,
		containerd.WithSnapshotter(r.snapshotter),
		containerd.WithSnapshot(key),
		containerd.WithContainerLabels(map[string]string{LabelJob: spec.ID, LabelImage: spec.Image}),
		containerd.WithRuntime(runcV2, nil),
		containerd.WithNewSpec(opts...))
	_ = leaseDone(bg)
	if err != nil {
		_ = sn.Remove(bg, key)
		return sandbox.Exit{}, fmt.Errorf("job %q container: %w", spec.ID, err)
	}
	undo = append(undo, func() {
		cctx, cancel := context.WithTimeout(bg, cleanupTimeout)
		defer cancel()
		if err := r.remove(cctx, c); err != nil {
			r.log.Error("remove job container", "job", spec.ID, "err", err)
		}
	})

	tCreated = time.Now()
	lw := &capWriter{w: logs, left: spec.Limits.LogBytes}
	fifos := filepath.Join(area, "fifo")
	task, err := c.NewTask(bg, cio.NewCreator(cio.WithStreams(nil, lw, lw), cio.WithFIFODir(fifos)))
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q task: %w", spec.ID, err)
	}
	exitCh, err := task.Wait(bg)
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q wait: %w", spec.ID, err)
	}
	m := &meter{}
	started := time.Now()
	if err := task.Start(bg); err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q start: %w", spec.ID, err)
	}
	tStarted = time.Now()
	r.log.Info("job started", "job", spec.ID, "image", spec.Image)

	timer := time.NewTimer(spec.Limits.Timeout)
	defer timer.Stop()
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	var reason sandbox.Reason
	var status containerd.ExitStatus
wait:
	for {
		select {
		case status = <-exitCh:
			break wait
		case <-tick.C:
			m.sample(bg, task)
		case <-timer.C:
			reason = sandbox.ReasonTimeout
			m.sample(bg, task)
			_ = task.Kill(bg, syscall.SIGKILL, containerd.WithKillAll)
		case <-ctx.Done():
			if reason == "" {
				reason = sandbox.ReasonCanceled
			}
			m.sample(bg, task)
			_ = task.Kill(bg, syscall.SIGKILL, containerd.WithKillAll)
			ctx = context.Background() // stop selecting on it
		}
	}
	ended := time.Now()
	tExited = ended
	m.sample(bg, task)
	// Let the job's last output reach the log before Run returns, then
	// detach the sink: the caller may close it as soon as Run returns.
	if tio := task.IO(); tio != nil {
		drained := make(chan struct{})
		go func() { tio.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(5 * time.Second):
		}
	}
	dropped := lw.detach()
	ex := sandbox.Exit{Reason: reason, Code: int(status.ExitCode()), Started: started, Ended: ended}
	if status.Error() != nil {
		ex.Reason, ex.Code = sandbox.ReasonSystemError, -1
	}
	// The job's init process is gone, and with its pid namespace every other
	// process of the job: nothing writes to /out any more.
	ex.Usage = m.usage(ended.Sub(started))
	if ex.Reason == "" && m.oom(spec.Limits, ex.Code) {
		ex.Reason = sandbox.ReasonOOM
	}
	full := outFull(outMnt)
	rep, err := outputs.CollectDeclared(outMnt, spec.OutDir, spec.Limits, spec.Outputs)
	if err != nil {
		return ex, fmt.Errorf("job %q collect outputs: %w", spec.ID, err)
	}
	ex.Outputs, ex.Skipped, ex.Undeclared = rep.Files, rep.Skipped, rep.Undeclared
	ex.Usage.OutputBytes = uint64(rep.Bytes)
	if ex.Reason == "" && (full || rep.Truncated) {
		ex.Reason = sandbox.ReasonOutputLimit
	}
	if ex.Reason == "" {
		ex.Reason = sandbox.ReasonExited
	}
	if dropped > 0 {
		r.log.Info("job logs capped", "job", spec.ID, "dropped_bytes", dropped)
	}
	r.log.Info("job ended", "job", spec.ID, "reason", ex.Reason, "code", ex.Code)
	async = true
	return ex, nil
}

// validated is the last spec option: it refuses a spec that fails the
// hardening validator, so the container is never created.
func validated(p hardening.Params) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		return hardening.Validate(s, p)
	}
}

// mountOut mounts a tmpfs of Limits.OutBytes (and an inode cap) owned by
// the job's root at dir: the hard cap on /out.
func (r *Runtime) mountOut(dir string, l sandbox.Limits) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	opts := fmt.Sprintf("size=%d,nr_inodes=%d,mode=0755,uid=%d,gid=%d",
		l.OutBytes, l.MaxOutputFiles+64, r.uid, r.gid)
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("mount output tmpfs: %w", err)
	}
	return nil
}

// outFull reports whether the /out tmpfs ran out of space or inodes.
func outFull(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Bfree == 0 || st.Ffree == 0
}

// removeWorkArea unmounts a job's /out tmpfs and removes its work area.
func (r *Runtime) removeWorkArea(area string) error {
	out := filepath.Join(area, "out")
	for i := 0; i < 8; i++ {
		if err := unix.Unmount(out, unix.MNT_DETACH); err != nil {
			break
		}
	}
	if err := os.RemoveAll(area); err != nil {
		return fmt.Errorf("remove work area: %w", err)
	}
	return nil
}

// capWriter passes through at most left bytes and drops the rest; it never
// fails, so that a chatty job cannot stall on its own output.
type capWriter struct {
	mu      sync.Mutex
	w       io.Writer
	left    int64
	dropped int64
}

// detach stops passing output on and returns how much was dropped.
func (c *capWriter) detach() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w = nil
	return c.dropped
}

func (c *capWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := int64(len(p))
	if n > c.left {
		c.dropped += n - c.left
		n = c.left
	}
	if n > 0 && c.w != nil {
		if _, err := c.w.Write(p[:n]); err != nil {
			c.w = nil // a failing sink is dropped, the job goes on
		}
	}
	c.left -= n
	return len(p), nil
}

// meter keeps the cgroup v1 statistics of a task across samples.
type meter struct {
	mu                sync.Mutex
	cpu, peak, rd, wr uint64
	failcnt, oomKill  uint64
	limit             uint64
}

// sample reads the task's metrics; errors leave the previous values.
func (m *meter) sample(ctx context.Context, t containerd.Task) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	mt, err := t.Metrics(ctx)
	if err != nil || mt == nil || mt.Data == nil {
		return
	}
	if mt.Data.GetTypeUrl() != "io.containerd.cgroups.v1.Metrics" {
		return // cgroup v2 metrics are not decoded yet
	}
	var s cgstats.Metrics
	if err := s.Unmarshal(mt.Data.GetValue()); err != nil {
		return
	}
	m.add(&s)
}

func (m *meter) add(s *cgstats.Metrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.CPU != nil && s.CPU.Usage != nil {
		m.cpu = max(m.cpu, s.CPU.Usage.Total)
	}
	if s.Memory != nil && s.Memory.Usage != nil {
		m.peak = max(m.peak, s.Memory.Usage.Max)
		m.failcnt = max(m.failcnt, s.Memory.Usage.Failcnt)
		m.limit = s.Memory.Usage.Limit
	}
	if s.MemoryOomControl != nil {
		m.oomKill = max(m.oomKill, s.MemoryOomControl.OomKill)
	}
	if s.Blkio != nil {
		var rd, wr uint64
		for _, e := range s.Blkio.IoServiceBytesRecursive {
			switch e.Op {
			case "Read", "read":
				rd += e.Value
			case "Write", "write":
				wr += e.Value
			}
		}
		m.rd, m.wr = max(m.rd, rd), max(m.wr, wr)
	}
}

func (m *meter) usage(wall time.Duration) sandbox.Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return sandbox.Usage{CPUNanos: m.cpu, PeakMemoryBytes: m.peak, IOReadBytes: m.rd, IOWriteBytes: m.wr, Wall: wall}
}

// oom reports whether a job that died by SIGKILL was killed by the memory
// cgroup: the kernel's oom_kill count, or failed charges with peak usage at
// the limit.
func (m *meter) oom(l sandbox.Limits, code int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if code != 128+int(syscall.SIGKILL) {
		return false
	}
	return m.oomKill > 0 || (m.failcnt > 0 && m.peak+(1<<20) >= uint64(l.MemoryBytes))
}
