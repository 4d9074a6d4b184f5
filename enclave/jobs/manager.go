package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// Auditor is what the manager needs of the audit log.
type Auditor interface {
	Append(ctx context.Context, ev audit.Event) (uint64, error)
}

// Config configures a Manager.
type Config struct {
	// Dir keeps each job's logs and collected outputs (under the data
	// directory, mode 0700).
	Dir string
	// InputDir holds the private read-only input areas of running jobs.
	// It must be traversable (mode 0711 all the way up) because the
	// sandbox resolves bind mounts as the job's unprivileged host uid.
	InputDir string
	// PlainDir holds each job's plaintext while it runs and until it is
	// sealed (its log, its collected outputs): a private directory (mode
	// 0700) outside the data directory, in the sandbox's. Required.
	PlainDir string
	// Keyring wraps each job's data key (DataKeys). Required.
	Keyring keys.Keyring
	// UID and GID are the host ids a job's root maps to: the input files
	// are readable by that uid only.
	UID, GID int
	// MaxRunning is the number of jobs that run at once; more wait queued.
	MaxRunning int
	// MaxQueued bounds the queue; a submission beyond it is refused.
	MaxQueued int
	Log       *slog.Logger
	Now       func() time.Time
}

// Manager queues and runs jobs. It is safe for concurrent use.
type Manager struct {
	cfg     Config
	db      *store.DB
	rt      sandbox.Runtime
	catalog *datasets.Catalog
	audit   Auditor
	keys    *DataKeys

	queue chan string
	// slots holds one token per job that runs, queued jobs and reattached
	// ones alike: at most MaxRunning.
	slots chan struct{}
	mu    sync.Mutex
	// cancels holds the cancel functions of jobs that were started, and
	// why they were cancelled.
	cancels map[string]context.CancelCauseFunc
	waiters map[string][]chan struct{}
	wg      sync.WaitGroup
	// closing is closed by Close, which also cancels every tracked job
	// with sandbox.ErrDetached; closed says it was (under mu).
	closing chan struct{}
	closed  bool
}

// NewManager returns a manager and starts its workers.
func NewManager(cfg Config, db *store.DB, rt sandbox.Runtime, cat *datasets.Catalog, a Auditor) (*Manager, error) {
	if cfg.MaxRunning <= 0 {
		cfg.MaxRunning = 4
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = 1000
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Keyring == nil {
		return nil, fmt.Errorf("jobs: a keyring is required to seal job outputs: %w", errdefs.ErrInvalidArgument)
	}
	if err := checkPlainDir(cfg.PlainDir, cfg.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.PlainDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(cfg.PlainDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.InputDir, 0o711); err != nil {
		return nil, err
	}
	if err := os.Chmod(cfg.InputDir, 0o711); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, db: db, rt: rt, catalog: cat, audit: a, keys: NewDataKeys(db.SQL(), cfg.Keyring), queue: make(chan string, cfg.MaxQueued),
		slots:   make(chan struct{}, cfg.MaxRunning),
		cancels: map[string]context.CancelCauseFunc{}, waiters: map[string][]chan struct{}{}, closing: make(chan struct{})}
	for i := 0; i < cfg.MaxRunning; i++ {
		m.wg.Add(1)
		go m.worker()
	}
	return m, nil
}

// DB returns the state database's handle for reads.
func (m *Manager) DB() *sql.DB { return m.db.SQL() }

// Runtime returns the sandbox runtime the manager runs jobs on.
func (m *Manager) Runtime() sandbox.Runtime { return m.rt }

// NewJob is what a job is made of (Manager.New).
type NewJob struct {
	ID         string
	Org, Owner string
	// Image is the digest of an approved image; Args its command.
	Image string
	Args  []string
	// Inputs are the dataset versions the job reads, and Grants the
	// grant the decision used for each dataset (dataset -> grant id).
	Inputs []Input
	Grants map[string]string
	Limits sandbox.Limits
	// Outputs are the files the job declares, the only ones collected.
	Outputs []string
	// Revision is the policy revision that admitted the job.
	Revision string
}

// New makes a queued job of r, created now; Insert records it.
func (m *Manager) New(r NewJob) *Job {
	return &Job{ID: r.ID, Org: r.Org, Owner: r.Owner, Image: r.Image, Args: r.Args, Inputs: r.Inputs, Grants: r.Grants, limits: r.Limits,
		Limits: limitsView(r.Limits), State: Queued, ExitCode: -1, Revision: r.Revision, CreatedAt: m.cfg.Now().UTC(),
		Declared: append([]string{}, r.Outputs...), Outputs: []Output{}}
}

// Insert records a queued job in tx. After the transaction commits the
// caller calls Enqueue. Declared outputs that break api.CheckOutputs are
// refused with errdefs.ErrInvalidArgument.
func (m *Manager) Insert(ctx context.Context, tx *sql.Tx, j *Job) error {
	if err := api.CheckOutputs(j.Declared); err != nil {
		return err
	}
	if len(m.queue) >= cap(m.queue) {
		return fmt.Errorf("the job queue is full (%d jobs): %w", cap(m.queue), errdefs.ErrResourceExhausted)
	}
	if err := insert(ctx, tx, j); err != nil {
		return err
	}
	return insertLineage(ctx, tx, j)
}

// Enqueue hands a recorded job to the workers.
func (m *Manager) Enqueue(id string) {
	select {
	case m.queue <- id:
	default:
		m.finish(context.Background(), id, nil, SystemError, "", "the job queue is full", sandbox.Exit{})
	}
}

func (m *Manager) worker() {
	defer m.wg.Done()
	for {
		select {
		case <-m.closing:
			return
		case id := <-m.queue:
			select {
			case m.slots <- struct{}{}:
			case <-m.closing:
				return // the job stays queued for the next start
			}
			m.run(id)
			m.holdUntilRevealed(id)
			<-m.slots
		}
	}
}

// holdUntilRevealed keeps the slot of a job that ended until the coarse
// view shows its end (Job.RevealAt). A slot freed at the real end would
// start the next queued job at that moment, and whoever reads that job's
// start time (its operator, or another organisation's) would time the
// ended job to the millisecond: the queue acts only on what the coarse
// view shows, so a queued job's start carries nothing the coarse view of
// the jobs before it does not (README: "Side channels").
func (m *Manager) holdUntilRevealed(id string) {
	j, err := Get(context.Background(), m.db.SQL(), id)
	if err != nil || !j.State.Terminal() {
		return // gone, or left running for the next start
	}
	d := j.RevealAt().Sub(m.cfg.Now())
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-m.closing:
	}
}

// event records a job's life-cycle step, by the system, before it takes
// effect.
func (m *Manager) event(ctx context.Context, j *Job, action, outcome, reason string, details map[string]string) error {
	ev := audit.Event{Time: m.cfg.Now().UTC(), Actor: "system", Org: j.Org, Action: action, Outcome: outcome, Reason: reason,
		Objects: []string{"job:" + j.ID}, Retention: audit.Retention3y, Details: details}
	for _, in := range j.Inputs {
		ev.Objects = append(ev.Objects, fmt.Sprintf("dataset:%s@%d", in.Dataset, in.Version))
		if in.Market == "authorized" || in.Market == "withheld" {
			ev.Retention = audit.Retention5y
		}
	}
	idx, err := m.audit.Append(ctx, ev)
	if err != nil {
		return err
	}
	// The state change this entry precedes commits after it: note the
	// entry in the audit watermark, as the server's changes do, so that
	// `audit verify` detects a log whose tail of job entries was removed.
	return store.MarkAuditIndex(ctx, m.db.SQL(), idx)
}

func (m *Manager) setState(ctx context.Context, id string, st State, started bool) error {
	now := storetime.Format(m.cfg.Now())
	q := `UPDATE jobs SET state = ? WHERE id = ? AND state NOT IN ('complete', 'executor-error', 'system-error', 'canceled')`
	args := []any{st, id}
	if started {
		q = `UPDATE jobs SET state = ?, started_at = ? WHERE id = ? AND state NOT IN ('complete', 'executor-error', 'system-error', 'canceled')`
		args = []any{st, now, id}
	}
	res, err := m.db.SQL().ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("job %q already ended: %w", id, errdefs.ErrFailedPrecondition)
	}
	return nil
}

func (m *Manager) run(id string) {
	ctx := context.Background()
	j, err := Get(ctx, m.db.SQL(), id)
	if err != nil || j.State != Queued {
		return // cancelled while queued, or gone
	}
	jctx, done := m.track(id)
	defer done()
	log := m.cfg.Log.With("job", id)

	if err := m.event(ctx, j, "job.initialize", "ok", "", nil); err != nil {
		m.finish(ctx, id, j, SystemError, "", "audit log unavailable", sandbox.Exit{})
		return
	}
	if err := m.setState(ctx, id, Initializing, false); err != nil {
		return
	}
	area := filepath.Join(m.cfg.InputDir, id)
	mounts, inBytes, err := m.prepareInputs(jctx, j, area)
	if err != nil {
		m.removeInputs(area, log)
		if cause := context.Cause(jctx); cause != nil && jctx.Err() != nil {
			if errors.Is(cause, sandbox.ErrDetached) {
				m.requeue(ctx, j, "the daemon stopped before the job started")
				return
			}
			m.finish(ctx, id, j, Canceled, string(sandbox.ReasonCanceled), cause.Error(), sandbox.Exit{})
			return
		}
		log.Error("prepare inputs", "err", err)
		m.finish(ctx, id, j, SystemError, string(sandbox.ReasonSystemError), "the inputs could not be prepared: "+classOf(err), sandbox.Exit{})
		return
	}
	dir := filepath.Join(m.cfg.Dir, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		m.removeInputs(area, log)
		m.finish(ctx, id, j, SystemError, string(sandbox.ReasonSystemError), "job directory", sandbox.Exit{})
		return
	}
	logf, err := m.openPlainLog(id, true)
	if err != nil {
		m.removeInputs(area, log)
		m.finish(ctx, id, j, SystemError, string(sandbox.ReasonSystemError), "job log", sandbox.Exit{})
		return
	}
	defer logf.Close()
	if err := m.event(ctx, j, "job.start", "ok", "", map[string]string{"image": j.Image, "input_bytes": fmt.Sprint(inBytes)}); err != nil {
		m.removeInputs(area, log)
		m.finish(ctx, id, j, SystemError, "", "audit log unavailable", sandbox.Exit{})
		return
	}
	if err := m.setState(ctx, id, Running, true); err != nil {
		m.removeInputs(area, log)
		return
	}
	j.Usage.InputBytes = inBytes
	ex, err := m.rt.Run(jctx, m.spec(j, mounts), logf)
	m.conclude(ctx, jctx, j, ex, err)
}

// track registers a started job's cancel function, for Cancel and for
// Close (which cancels it with sandbox.ErrDetached), and returns its
// context and the function to call when the job is done. After Close the
// context is born cancelled.
func (m *Manager) track(id string) (context.Context, func()) {
	jctx, cancel := context.WithCancelCause(context.Background())
	m.mu.Lock()
	if m.closed {
		cancel(sandbox.ErrDetached)
	} else {
		m.cancels[id] = cancel
	}
	m.mu.Unlock()
	return jctx, func() {
		cancel(nil)
		m.mu.Lock()
		delete(m.cancels, id)
		m.mu.Unlock()
	}
}

// spec is the sandbox's description of a job whose inputs are mounts.
func (m *Manager) spec(j *Job, mounts []sandbox.Mount) sandbox.Spec {
	return sandbox.Spec{ID: j.ID, Image: j.Image, Args: j.Args, Inputs: mounts, OutDir: m.plainOut(j.ID),
		Outputs: j.Declared, Limits: j.limits}
}

// conclude records the end of a job the sandbox ran (or reattached to)
// and removes its inputs, unless the manager detached from the job while
// the daemon stops: then the job is left running, its inputs in place,
// for the next start to reattach to.
func (m *Manager) conclude(ctx, jctx context.Context, j *Job, ex sandbox.Exit, err error) {
	id := j.ID
	log := m.cfg.Log.With("job", id)
	if err != nil && (errors.Is(err, sandbox.ErrDetached) || errors.Is(context.Cause(jctx), sandbox.ErrDetached)) {
		log.Info("the daemon stops; the job is left to the next start", "err", err)
		return
	}
	m.removeInputs(filepath.Join(m.cfg.InputDir, id), log)
	if err != nil {
		log.Error("run", "err", err)
		state := SystemError
		msg := "the sandbox failed around the job: " + classOf(err)
		if errdefs.IsInvalidArgument(err) || errdefs.IsFailedPrecondition(err) {
			msg = "the sandbox refused the job: " + err.Error()
		}
		m.finish(ctx, id, j, state, string(sandbox.ReasonSystemError), msg, ex)
		return
	}
	state, msg := Complete, ""
	switch ex.Reason {
	case sandbox.ReasonExited:
		if ex.Code != 0 {
			state, msg = ExecutorError, fmt.Sprintf("the command exited with status %d", ex.Code)
		}
	case sandbox.ReasonTimeout:
		state, msg = ExecutorError, "the job ran past its timeout and was killed"
	case sandbox.ReasonOOM:
		state, msg = ExecutorError, "the job ran out of memory and was killed"
	case sandbox.ReasonOutputLimit:
		state, msg = ExecutorError, "the job's outputs exceeded their limit"
	case sandbox.ReasonCanceled:
		state, msg = Canceled, "canceled"
		if cause := context.Cause(jctx); cause != nil {
			msg = cause.Error()
		}
	default:
		state, msg = SystemError, "the sandbox reported "+string(ex.Reason)
	}
	m.finish(ctx, id, j, state, string(ex.Reason), msg, ex)
}

// lostMessage is the end of a job that ran when the daemon stopped and
// that the sandbox no longer had at the next start (containerd lost it,
// for example in a reboot).
const lostMessage = "the daemon restarted while the job ran and the sandbox no longer had it; it was stopped"

// requeue puts a job that was initializing back in the queue, audited, for
// the next start to run.
func (m *Manager) requeue(ctx context.Context, j *Job, why string) {
	if err := m.event(ctx, j, "job.requeue", "ok", why, nil); err != nil {
		m.cfg.Log.Error("audit a job's return to the queue; it stays initializing", "job", j.ID, "err", err)
		return
	}
	if _, err := m.db.SQL().ExecContext(ctx, `UPDATE jobs SET state = 'queued' WHERE id = ? AND state = 'initializing'`, j.ID); err != nil {
		m.cfg.Log.Error("return a job to the queue", "job", j.ID, "err", err)
	}
}

func classOf(err error) string {
	switch {
	case errdefs.IsNotFound(err):
		return "not found"
	case errdefs.IsDataLoss(err):
		return "data loss"
	case errdefs.IsUnavailable(err):
		return "unavailable"
	}
	return "internal error"
}

// prepareInputs decrypts each input version into the job's private area:
// AREA/NAME/data.arrow, readable only by the job's mapped root.
func (m *Manager) prepareInputs(ctx context.Context, j *Job, area string) ([]sandbox.Mount, int64, error) {
	if err := os.Mkdir(area, 0o711); err != nil {
		return nil, 0, err
	}
	var mounts []sandbox.Mount
	var total int64
	for _, in := range j.Inputs {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		v, err := m.catalog.Get(ctx, nil, in.Dataset, in.Version)
		if err != nil {
			return nil, 0, err
		}
		dir := filepath.Join(area, in.Dataset)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, 0, err
		}
		dst := filepath.Join(dir, "data.arrow")
		if err := m.catalog.DecryptColumns(ctx, v, dst, in.Columns); err != nil {
			return nil, 0, err
		}
		fi, err := os.Stat(dst)
		if err != nil {
			return nil, 0, err
		}
		total += fi.Size()
		if err := os.Chown(dst, m.cfg.UID, m.cfg.GID); err != nil {
			return nil, 0, err
		}
		if err := os.Chmod(dst, 0o400); err != nil {
			return nil, 0, err
		}
		if err := os.Chown(dir, m.cfg.UID, m.cfg.GID); err != nil {
			return nil, 0, err
		}
		if err := os.Chmod(dir, 0o500); err != nil {
			return nil, 0, err
		}
		mounts = append(mounts, sandbox.Mount{Name: in.Dataset, HostDir: dir})
	}
	return mounts, total, nil
}

func (m *Manager) removeInputs(area string, log *slog.Logger) {
	// The plaintext exists only while the job runs.
	filepath.Walk(area, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(area); err != nil {
		log.Error("remove input area", "err", err)
	}
}

// finish records a job's end: audited first, then stored, then waiters
// are woken.
func (m *Manager) finish(ctx context.Context, id string, j *Job, st State, reason, msg string, ex sandbox.Exit) {
	if j == nil {
		var err error
		if j, err = Get(ctx, m.db.SQL(), id); err != nil {
			return
		}
	}
	u := j.Usage
	u.CPUSeconds = float64(ex.Usage.CPUNanos) / 1e9
	u.PeakMemoryBytes, u.IOReadBytes, u.IOWriteBytes, u.OutputBytes = ex.Usage.PeakMemoryBytes, ex.Usage.IOReadBytes, ex.Usage.IOWriteBytes, ex.Usage.OutputBytes
	u.WallSeconds = ex.Usage.Wall.Seconds()
	// The log and the outputs are sealed under the job's key and their
	// plaintext removed before the end is recorded.
	outs, undeclared, note := m.sealJob(ctx, j, ex)
	if note != "" {
		if msg != "" {
			msg += "; "
		}
		msg += note
	}
	code := -1
	if ex.Reason != "" {
		code = ex.Code
	}
	j.State, j.Reason = st, reason
	details := map[string]string{"state": string(st), "outcome": j.Outcome(), "reason": reason, "exit_code": fmt.Sprint(code),
		"cpu_seconds": fmt.Sprintf("%.3f", u.CPUSeconds), "wall_seconds": fmt.Sprintf("%.3f", u.WallSeconds),
		"peak_memory_bytes": fmt.Sprint(u.PeakMemoryBytes), "io_read_bytes": fmt.Sprint(u.IOReadBytes), "io_write_bytes": fmt.Sprint(u.IOWriteBytes),
		"output_bytes": fmt.Sprint(u.OutputBytes), "declared_outputs": fmt.Sprint(len(j.Declared)), "outputs": fmt.Sprint(len(outs)),
		"skipped": fmt.Sprint(len(ex.Skipped)), "undeclared_dropped": fmt.Sprint(undeclared)}
	outcome := "ok"
	if st != Complete {
		outcome = "failed"
	}
	if err := m.event(ctx, j, "job.end", outcome, msg, details); err != nil {
		m.cfg.Log.Error("audit append of a job end failed; the end is stored anyway", "job", id, "err", err)
	}
	usage, _ := json.Marshal(u)
	outsJSON, _ := json.Marshal(outs)
	skipped, _ := json.Marshal(ex.Skipped)
	_, err := m.db.SQL().ExecContext(ctx, `UPDATE jobs SET state = ?, reason = ?, exit_code = ?, message = ?, usage = ?, outputs = ?, skipped = ?, undeclared = ?, ended_at = ?
		WHERE id = ? AND state NOT IN ('complete', 'executor-error', 'system-error', 'canceled')`,
		st, reason, code, msg, string(usage), string(outsJSON), string(skipped), undeclared, storetime.Format(m.cfg.Now()), id)
	if err != nil {
		m.cfg.Log.Error("store job end", "job", id, "err", err)
	}
	m.mu.Lock()
	ws := m.waiters[id]
	delete(m.waiters, id)
	m.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// Cancel stops a job with a reason: a queued job ends at once, a started
// one is killed by the sandbox and ends canceled.
func (m *Manager) Cancel(ctx context.Context, id, why string) error {
	j, err := Get(ctx, m.db.SQL(), id)
	if err != nil {
		return err
	}
	if j.State.Terminal() {
		return fmt.Errorf("job %q already ended (%s): %w", id, j.State, errdefs.ErrFailedPrecondition)
	}
	m.mu.Lock()
	cancel, started := m.cancels[id]
	m.mu.Unlock()
	if started {
		cancel(errors.New(why))
		return nil
	}
	m.finish(ctx, id, j, Canceled, string(sandbox.ReasonCanceled), why, sandbox.Exit{})
	return nil
}

// Wait blocks until the job ends or ctx is done, and returns it.
func (m *Manager) Wait(ctx context.Context, id string) (*Job, error) {
	for {
		ch := make(chan struct{})
		m.mu.Lock()
		m.waiters[id] = append(m.waiters[id], ch)
		m.mu.Unlock()
		j, err := Get(ctx, m.db.SQL(), id)
		if err == nil && !j.State.Terminal() {
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
		m.dropWaiter(id, ch)
		if err != nil || j.State.Terminal() {
			return j, err
		}
	}
}

// dropWaiter removes a waiter that left before the job ended, so that
// waits on a long job do not pile up channels until it finishes.
func (m *Manager) dropWaiter(id string, ch chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ws := m.waiters[id]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(m.waiters, id)
	} else {
		m.waiters[id] = ws
	}
}

// Logs opens a job's log: as it is written while the job runs, decrypted
// from its sealed form once the job ended (sealed.go).
func (m *Manager) Logs(id string) (io.ReadCloser, error) {
	return m.openLog(id)
}

// Recover runs once at start. The jobs a previous daemon left running
// that the sandbox still has are reattached to and end as if nothing had
// happened (collected, metered, audited); running jobs the sandbox lost
// end as system errors; jobs that were being prepared when that daemon
// died end as system errors too (a job that crashed the daemon must not
// do it at every start); queued jobs are queued again. Input areas of no
// running job are removed.
func (m *Manager) Recover(ctx context.Context) error {
	// Outputs an earlier daemon kept as plaintext are sealed (sealed.go).
	if err := m.sealLegacy(ctx); err != nil {
		return err
	}
	rows, err := m.db.SQL().QueryContext(ctx, `SELECT id, state FROM jobs WHERE state IN ('queued', 'initializing', 'running') ORDER BY created_at`)
	if err != nil {
		return err
	}
	type js struct {
		id    string
		state State
	}
	var open []js
	running := map[string]bool{}
	for rows.Next() {
		var x js
		if err := rows.Scan(&x.id, &x.state); err != nil {
			rows.Close()
			return err
		}
		open = append(open, x)
		if x.state == Running {
			running[x.id] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	ids, err := m.rt.Recover(ctx, func(id string) bool { return running[id] })
	if err != nil {
		return fmt.Errorf("recover the sandbox: %w", err)
	}
	kept := map[string]bool{}
	for _, id := range ids {
		kept[id] = true
	}
	if areas, err := os.ReadDir(m.cfg.InputDir); err == nil {
		for _, a := range areas {
			if !kept[a.Name()] {
				m.removeInputs(filepath.Join(m.cfg.InputDir, a.Name()), m.cfg.Log)
			}
		}
	}
	openIDs := map[string]bool{}
	for _, x := range open {
		openIDs[x.id] = true
	}
	if err := m.tidyPlain(openIDs); err != nil {
		return err
	}
	var queued []string
	for _, x := range open {
		switch {
		case x.state == Queued:
			queued = append(queued, x.id)
		case x.state == Running && kept[x.id]:
			j, err := Get(ctx, m.db.SQL(), x.id)
			if err != nil {
				return err
			}
			m.wg.Add(1)
			go m.reattach(j)
		case x.state == Running:
			m.finish(ctx, x.id, nil, SystemError, string(sandbox.ReasonSystemError), lostMessage, sandbox.Exit{})
		default:
			m.finish(ctx, x.id, nil, SystemError, string(sandbox.ReasonSystemError), "the daemon stopped while the job was being prepared; it did not start", sandbox.Exit{})
		}
	}
	for _, id := range queued {
		m.Enqueue(id)
	}
	return nil
}

// reattach follows a job a previous daemon started, from its inputs and
// log left in place, until it ends, and records the end as run does. It
// holds a slot when one is free: the job runs whether or not one is.
func (m *Manager) reattach(j *Job) {
	defer m.wg.Done()
	select {
	case m.slots <- struct{}{}:
		defer func() { m.holdUntilRevealed(j.ID); <-m.slots }()
	default:
	}
	ctx := context.Background()
	jctx, done := m.track(j.ID)
	defer done()
	log := m.cfg.Log.With("job", j.ID)
	area := filepath.Join(m.cfg.InputDir, j.ID)
	var mounts []sandbox.Mount
	for _, in := range j.Inputs {
		dir := filepath.Join(area, in.Dataset)
		mounts = append(mounts, sandbox.Mount{Name: in.Dataset, HostDir: dir})
		if fi, err := os.Stat(filepath.Join(dir, "data.arrow")); err == nil {
			j.Usage.InputBytes += fi.Size()
		}
	}
	if err := m.event(ctx, j, "job.reattach", "ok", "the daemon restarted while the job ran", nil); err != nil {
		// Followed all the same: its end is audited.
		log.Error("audit the reattach", "err", err)
	}
	dir := filepath.Join(m.cfg.Dir, j.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		log.Error("the job's directory", "err", err)
	}
	// The job is followed even without its log: left alone, it would run
	// on unrecorded.
	w := &budgetWriter{w: io.Discard, left: j.limits.LogBytes}
	if logf, err := m.openPlainLog(j.ID, false); err != nil {
		log.Error("open the job's log; its output is dropped", "err", err)
	} else {
		defer logf.Close()
		w.w = logf
		if fi, err := logf.Stat(); err == nil {
			w.left -= fi.Size()
		}
	}
	log.Info("reattaching to a job the previous daemon started")
	ex, err := m.rt.Reattach(jctx, m.spec(j, mounts), w)
	if errdefs.IsNotFound(err) {
		log.Warn("the sandbox lost the job", "err", err)
		m.removeInputs(area, log)
		m.finish(ctx, j.ID, j, SystemError, string(sandbox.ReasonSystemError), lostMessage, sandbox.Exit{})
		return
	}
	m.conclude(ctx, jctx, j, ex, err)
}

// budgetWriter passes on at most left bytes, the rest of a job's log
// limit after a restart, and drops the rest without failing.
type budgetWriter struct {
	w    io.Writer
	left int64
}

func (b *budgetWriter) Write(p []byte) (int, error) {
	n := min(int64(len(p)), max(b.left, 0))
	if n > 0 {
		if _, err := b.w.Write(p[:n]); err != nil {
			return 0, err
		}
		b.left -= n
	}
	return len(p), nil
}

// Close detaches from every running job, which goes on in the sandbox
// for the next start to reattach to, stops the workers and leaves queued
// jobs (and jobs that were being prepared, returned to the queue) for the
// next start.
func (m *Manager) Close() {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.closing)
		for _, cancel := range m.cancels {
			cancel(sandbox.ErrDetached)
		}
	}
	m.mu.Unlock()
	m.wg.Wait()
}
