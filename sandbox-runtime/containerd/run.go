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
	"github.com/containerd/containerd/snapshots"
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
// Input directories are mounted read-only inside the job's work area and
// bound from there (see the work area's layout in mounts.go); they and
// every directory above them must be searchable by others (o+x) and
// data.arrow readable by others (o+r), or owned by the mapped range.
// spec.Args is the whole argv; the image's entrypoint and command are not
// used. Run returns once the job ended and its outputs are in spec.OutDir;
// the container, task, snapshot and work area are removed in the
// background (Close waits for that).
func (r *Runtime) Run(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	if err := spec.Validate(); err != nil {
		return sandbox.Exit{}, err
	}
	// Setting the job up is not cut short by ctx: a job cancelled (or
	// detached from) while it is set up is started and then killed (or
	// left running), never abandoned half made.
	bg := context.WithoutCancel(r.ctx(ctx))
	t0 := time.Now()
	parent, err := r.parentSnapshot(bg, spec.Image)
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
	// Until the job started, a failure removes everything made so far.
	started := false
	defer func() {
		if !started {
			r.cleanupLogged(bg, spec.ID)
		}
	}()
	outMnt := filepath.Join(area, areaOut)
	if err := r.mountOut(outMnt, spec.Limits); err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q output area: %w", spec.ID, err)
	}
	if err := os.MkdirAll(spec.OutDir, 0o750); err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q output directory: %w", spec.ID, err)
	}
	binds, err := mountInputs(area, spec.Inputs)
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q inputs: %w", spec.ID, err)
	}
	// The job's snapshot is a garbage-collection root of its own: the
	// container does not name it (its root is mounted here, not by the
	// shim) and it must outlive this daemon while the job runs.
	sn := r.client.SnapshotService(r.snapshotter)
	mounts, err := sn.Prepare(bg, jobSnapshot+spec.ID, parent, snapshots.WithLabels(map[string]string{
		gcRootLabel: time.Now().UTC().Format(time.RFC3339), LabelJob: spec.ID}))
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q snapshot: %w", spec.ID, err)
	}
	rootfs, err := mountRoot(area, mounts)
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q: %w", spec.ID, err)
	}

	p := hardening.Params{
		Limits: spec.Limits, HostUID: r.uid, HostGID: r.gid, IDSize: r.idSize,
		OutDir: outMnt, Args: spec.Args, Inputs: binds,
	}
	opts := append(hardening.Options(p), oci.WithRootFSPath(rootfs), validated(p))
	c, err := r.client.NewContainer(bg, spec.ID,
		containerd.WithContainerLabels(map[string]string{LabelJob: spec.ID, LabelImage: spec.Image}),
		containerd.WithRuntime(runcV2, nil),
		containerd.WithNewSpec(opts...))
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q container: %w", spec.ID, err)
	}
	tCreated := time.Now()
	lw := &capWriter{w: logs, left: spec.Limits.LogBytes}
	task, err := c.NewTask(bg, fifoCreator(filepath.Join(area, areaFIFO), lw))
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q task: %w", spec.ID, err)
	}
	if err := holdFIFOs(area, task.IO().Config()); err != nil {
		// Only the output of a job that ends while no daemon runs is at
		// stake: the job runs without the holder.
		r.log.Warn("hold the job's fifos", "job", spec.ID, "err", err)
	}
	exitCh, err := task.Wait(bg)
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q wait: %w", spec.ID, err)
	}
	t, err := r.start(bg, c, task)
	if err != nil {
		return sandbox.Exit{}, err
	}
	started = true
	r.log.Info("job started", "job", spec.ID, "image", spec.Image)
	r.log.Debug("job phases", "job", spec.ID, "create", tCreated.Sub(t0), "start", time.Since(tCreated))
	return r.follow(ctx, spec, area, task, exitCh, lw, t)
}

// start starts a created task and records when on its container (the
// label LabelStarted), for a later Reattach to count the timeout and the
// wall time from. Wait must have been called on the task.
func (r *Runtime) start(ctx context.Context, c containerd.Container, task containerd.Task) (time.Time, error) {
	t := time.Now()
	if err := task.Start(ctx); err != nil {
		return t, fmt.Errorf("job %q start: %w", c.ID(), err)
	}
	if _, err := c.SetLabels(ctx, map[string]string{LabelStarted: t.UTC().Format(time.RFC3339Nano)}); err != nil {
		// A reattach falls back to the container's creation time.
		r.log.Warn("record the job's start", "job", c.ID(), "err", err)
	}
	return t, nil
}

// follow watches a started task until it ends (killing it at the timeout,
// counted from started, or when ctx is cancelled), collects its outputs
// from its work area, reached by the path area (see mountedArea), and
// reports the job; the container and the work area are then removed in
// the background. When ctx is cancelled with the cause sandbox.ErrDetached
// it returns at once, without killing or removing anything.
func (r *Runtime) follow(ctx context.Context, spec sandbox.Spec, area string, task containerd.Task, exitCh <-chan containerd.ExitStatus,
	lw *capWriter, started time.Time) (sandbox.Exit, error) {
	bg := context.WithoutCancel(r.ctx(ctx))
	outMnt := filepath.Join(area, areaOut)
	detached := false
	defer func() {
		if detached {
			return
		}
		r.pending.Add(1)
		go func() {
			defer r.pending.Done()
			r.cleanupLogged(bg, spec.ID)
		}()
	}()
	deadline := started.Add(spec.Limits.Timeout)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	m := &meter{}
	m.sample(bg, task)
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
			if errors.Is(context.Cause(ctx), sandbox.ErrDetached) {
				// Stop reading: what the job writes from now on stays in
				// its fifo (which the shim and the holder keep open) for
				// the next reader; what was read is written out first.
				if tio := task.IO(); tio != nil {
					tio.Close()
					drained := make(chan struct{})
					go func() { tio.Wait(); close(drained) }()
					select {
					case <-drained:
					case <-time.After(5 * time.Second):
					}
				}
				lw.detach()
				detached = true
				r.log.Info("detached from the job; it keeps running", "job", spec.ID)
				return sandbox.Exit{}, fmt.Errorf("job %q: %w", spec.ID, sandbox.ErrDetached)
			}
			if reason == "" {
				reason = sandbox.ReasonCanceled
			}
			m.sample(bg, task)
			_ = task.Kill(bg, syscall.SIGKILL, containerd.WithKillAll)
			ctx = context.Background() // stop selecting on it
		}
	}
	ended := time.Now()
	// Hold /out by a descriptor: reached through the holder's root (see
	// mountedArea), it would go with the holder, whose end lets the reader
	// see the end of the job's output.
	outFD, err := unix.Open(outMnt, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q output area: %w", spec.ID, err)
	}
	defer unix.Close(outFD)
	outMnt = fmt.Sprintf("/proc/self/fd/%d/.", outFD)
	releaseFIFOs(filepath.Join(r.workDir, spec.ID))
	if et := status.ExitTime(); et.After(started) && et.Before(ended) {
		ended = et // it ended while nobody watched
	}
	if reason == "" && status.Error() == nil && ended.After(deadline) {
		reason = sandbox.ReasonTimeout // it ran past its time while nobody watched
	}
	m.sample(bg, task)
	// Let the job's last output reach the log before returning, then
	// detach the sink: the caller may close it as soon as this returns.
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
	if err := outputs.Finish(outMnt, spec, &ex); err != nil {
		return ex, err
	}
	// The daemon's log is read outside the review (by the platform's
	// staff, by log collectors): it names the job and how the sandbox saw
	// it end, never a figure the job sets (its exit status, the bytes of
	// log it dropped), and only at debug level, since the moment of a
	// line is the moment the job ended.
	if dropped > 0 {
		r.log.Debug("job logs capped", "job", spec.ID)
	}
	r.log.Debug("job ended", "job", spec.ID, "reason", ex.Reason)
	return ex, nil
}

// Reattach follows a job that Recover kept; see sandbox.Runtime. A job
// whose task was created but not started when the previous daemon stopped
// is started now, as Run would have.
func (r *Runtime) Reattach(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	if err := spec.Validate(); err != nil {
		return sandbox.Exit{}, err
	}
	bg := context.WithoutCancel(r.ctx(ctx))
	gone := func(what string) (sandbox.Exit, error) {
		r.cleanupLogged(bg, spec.ID)
		return sandbox.Exit{}, fmt.Errorf("job %q %s: %w", spec.ID, what, errdefs.ErrNotFound)
	}
	c, err := r.client.LoadContainer(bg, spec.ID)
	if errdefs.IsNotFound(err) {
		return gone("has no container")
	} else if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q container: %w", spec.ID, err)
	}
	info, err := c.Info(bg, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q container: %w", spec.ID, err)
	}
	if info.Labels[LabelJob] != spec.ID || info.Labels[LabelImage] != spec.Image {
		return sandbox.Exit{}, fmt.Errorf("job %q: the container is not of this job and image: %w", spec.ID, errdefs.ErrInvalidArgument)
	}
	area := mountedArea(filepath.Join(r.workDir, spec.ID))
	if area == "" {
		return gone("has lost its output area")
	}
	lw := &capWriter{w: logs, left: spec.Limits.LogBytes}
	task, err := c.Task(bg, cio.NewAttach(cio.WithStreams(nil, lw, lw)))
	if errdefs.IsNotFound(err) {
		return gone("has no task")
	} else if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q task: %w", spec.ID, err)
	}
	st, err := task.Status(bg)
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q task status: %w", spec.ID, err)
	}
	exitCh, err := task.Wait(bg)
	if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q wait: %w", spec.ID, err)
	}
	started := info.CreatedAt
	if t, err := time.Parse(time.RFC3339Nano, info.Labels[LabelStarted]); err == nil {
		started = t
	}
	switch st.Status {
	case containerd.Running, containerd.Paused, containerd.Pausing, containerd.Stopped:
	case containerd.Created:
		if started, err = r.start(bg, c, task); err != nil {
			r.cleanupLogged(bg, spec.ID)
			return sandbox.Exit{}, err
		}
	default:
		return gone(fmt.Sprintf("task is %q", st.Status))
	}
	r.log.Info("job reattached", "job", spec.ID, "status", st.Status, "started", started)
	return r.follow(ctx, spec, area, task, exitCh, lw, started)
}

// fifoCreator makes a job's stdout and stderr fifos in dir and copies
// both to w. Unlike cio.NewCreator's, closing its IO leaves the fifos in
// place, so that a later Reattach finds them (and what the job wrote
// meanwhile); they go with the work area.
func fifoCreator(dir string, w io.Writer) cio.Creator {
	return func(id string) (cio.IO, error) {
		fs, err := cio.NewFIFOSetInDir(dir, id, false)
		if err != nil {
			return nil, err
		}
		return cio.NewAttach(cio.WithStreams(nil, w, w))(cio.NewFIFOSet(fs.Config, nil))
	}
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
