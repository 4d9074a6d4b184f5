// Package jobs runs operators' jobs: a queue with a concurrency limit, the
// job life cycle in the GA4GH TES state names (queued, initializing,
// running, then complete, executor-error, system-error or canceled), the
// private read-only input areas that hold decrypted dataset versions only
// while a job runs, logs and collected outputs kept under the data
// directory, and the metered resource use of each job. Containers
// are the sandbox runtime's business (sandbox-runtime/).
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// State is where a job is in its life.
type State string

// The states, after GA4GH TES.
const (
	Queued        State = "queued"
	Initializing  State = "initializing"
	Running       State = "running"
	Complete      State = "complete"
	ExecutorError State = "executor-error"
	SystemError   State = "system-error"
	Canceled      State = "canceled"
)

// Terminal reports whether a job in s has ended.
func (s State) Terminal() bool {
	return s == Complete || s == ExecutorError || s == SystemError || s == Canceled
}

func init() {
	store.Register(store.Schema{Part: "jobs", Migrations: []store.Migration{
		{Version: 1, Name: "images and jobs", SQL: `
CREATE TABLE images (
	digest      TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	size        INTEGER NOT NULL,
	status      TEXT NOT NULL,
	org         TEXT NOT NULL,
	imported_by TEXT NOT NULL,
	imported_at TEXT NOT NULL,
	decided_by  TEXT NOT NULL DEFAULT '',
	decided_at  TEXT NOT NULL DEFAULT '',
	comment     TEXT NOT NULL DEFAULT ''
);
CREATE TABLE jobs (
	id          TEXT PRIMARY KEY,
	org         TEXT NOT NULL,
	owner       TEXT NOT NULL,
	image       TEXT NOT NULL,
	args        TEXT NOT NULL,
	inputs      TEXT NOT NULL,
	grants      TEXT NOT NULL,
	limits      TEXT NOT NULL,
	state       TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	exit_code   INTEGER NOT NULL DEFAULT -1,
	message     TEXT NOT NULL DEFAULT '',
	usage       TEXT NOT NULL DEFAULT '{}',
	outputs     TEXT NOT NULL DEFAULT '[]',
	skipped     TEXT NOT NULL DEFAULT '[]',
	revision    TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL,
	started_at  TEXT NOT NULL DEFAULT '',
	ended_at    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX jobs_org ON jobs(org, created_at);
CREATE INDEX jobs_state ON jobs(state);`},
		{Version: 2, Name: "declared outputs", SQL: `
ALTER TABLE jobs ADD COLUMN declared TEXT NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN undeclared INTEGER NOT NULL DEFAULT 0;`},
		{Version: 3, Name: "image unpacked sizes", SQL: `
ALTER TABLE images ADD COLUMN unpacked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN layers INTEGER NOT NULL DEFAULT 0;`},
		// Issue 17 item 4: RFC 3339 with trimmed fractions did not sort as
		// text; every stored time is rewritten in the codec. (The usage
		// ledger's triggers follow the jobs' created_at.)
		{Version: 4, Name: "stored times in the fixed-width codec", Func: store.RewriteTimesOf(map[string][]string{
			"images": {"imported_at", "decided_at"},
			"jobs":   {"created_at", "started_at", "ended_at"},
		})},
	}})
	store.Register(derivedSchema) // lineage, derived keys, destructions (derived.go)
}

// Input is one dataset version a job reads, as /in/NAME/data.arrow.
type Input struct {
	Dataset string `json:"dataset"`
	Version int    `json:"version"`
	Level   string `json:"level"`
	Market  string `json:"market"`
	HasPI   bool   `json:"has_pi"`
	// Columns, when set, are the only columns the job's input file holds.
	Columns []string `json:"columns,omitempty"`
}

// Usage is a job's metered resource use.
type Usage struct {
	CPUSeconds      float64 `json:"cpu_seconds"`
	PeakMemoryBytes uint64  `json:"peak_memory_bytes"`
	IOReadBytes     uint64  `json:"io_read_bytes"`
	IOWriteBytes    uint64  `json:"io_write_bytes"`
	OutputBytes     uint64  `json:"output_bytes"`
	InputBytes      int64   `json:"input_bytes"`
	WallSeconds     float64 `json:"wall_seconds"`
}

// Limits are a job's limits as the API shows them.
type Limits struct {
	CPUs           float64 `json:"cpus"`
	MemoryBytes    int64   `json:"memory_bytes"`
	TimeoutSeconds float64 `json:"timeout_seconds"`
	OutBytes       int64   `json:"out_bytes"`
	TmpBytes       int64   `json:"tmp_bytes"`
	Pids           int64   `json:"pids"`
}

// Output is one collected output file.
type Output struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Job is one run of an approved image over granted dataset versions.
type Job struct {
	ID       string            `json:"id"`
	Org      string            `json:"org"`
	Owner    string            `json:"owner"`
	Image    string            `json:"image"`
	Args     []string          `json:"args"`
	Inputs   []Input           `json:"inputs"`
	Grants   map[string]string `json:"grants"` // dataset -> grant id
	Limits   Limits            `json:"limits"`
	State    State             `json:"state"`
	Reason   string            `json:"reason,omitempty"` // the sandbox's exit reason
	ExitCode int               `json:"exit_code"`
	Message  string            `json:"message,omitempty"`
	Usage    Usage             `json:"usage"`
	// Declared are the outputs named with the job (api.CheckOutputs): the
	// only files collected. A job recorded before outputs were declared
	// has none, and nothing of it can be exported.
	Declared []string `json:"declared_outputs"`
	// Outputs are the declared outputs that were collected.
	Outputs []Output       `json:"outputs"`
	Skipped []sandbox.Skip `json:"skipped,omitempty"`
	// Undeclared counts the entries of /out the job did not declare,
	// dropped at collection.
	Undeclared int    `json:"undeclared_dropped"`
	Revision   string `json:"policy_revision"`

	CreatedAt time.Time  `json:"created_at"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`

	limits sandbox.Limits
}

// MaxLevel returns the highest classification level among the inputs.
func (j *Job) MaxLevel() string {
	order := map[string]int{"general-1": 1, "general-2": 2, "general-3": 3, "general-4": 4, "important": 5}
	best := ""
	for _, in := range j.Inputs {
		if order[in.Level] > order[best] {
			best = in.Level
		}
	}
	return best
}

// SandboxLimits returns the limits the job runs with.
func (j *Job) SandboxLimits() sandbox.Limits { return j.limits }

func limitsView(l sandbox.Limits) Limits {
	return Limits{CPUs: l.CPUs, MemoryBytes: l.MemoryBytes, TimeoutSeconds: l.Timeout.Seconds(), OutBytes: l.OutBytes,
		TmpBytes: l.TmpBytes, Pids: l.Pids}
}

// Querier is a *sql.DB or a *sql.Tx.
type Querier = store.Querier

func insert(ctx context.Context, q Querier, j *Job) error {
	args, _ := json.Marshal(j.Args)
	ins, _ := json.Marshal(j.Inputs)
	gr, _ := json.Marshal(j.Grants)
	lim, _ := json.Marshal(j.limits)
	decl, _ := json.Marshal(j.Declared)
	_, err := q.ExecContext(ctx, `INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, revision, created_at, declared)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, j.ID, j.Org, j.Owner, j.Image, string(args), string(ins), string(gr), string(lim),
		j.State, j.Revision, storetime.Format(j.CreatedAt), string(decl))
	return err
}

const jobCols = `id, org, owner, image, args, inputs, grants, limits, state, reason, exit_code, message, usage, outputs, skipped, revision, created_at, started_at, ended_at, declared, undeclared`

func scanJob(sc interface{ Scan(...any) error }) (*Job, error) {
	var j Job
	var args, ins, gr, lim, usage, outs, skipped, created, started, ended, decl string
	if err := sc.Scan(&j.ID, &j.Org, &j.Owner, &j.Image, &args, &ins, &gr, &lim, &j.State, &j.Reason, &j.ExitCode, &j.Message,
		&usage, &outs, &skipped, &j.Revision, &created, &started, &ended, &decl, &j.Undeclared); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		column, text string
		into         any
	}{{"declared", decl, &j.Declared}, {"args", args, &j.Args}, {"inputs", ins, &j.Inputs}, {"grants", gr, &j.Grants},
		{"limits", lim, &j.limits}, {"usage", usage, &j.Usage}, {"outputs", outs, &j.Outputs}, {"skipped", skipped, &j.Skipped}} {
		if err := json.Unmarshal([]byte(f.text), f.into); err != nil {
			return nil, fmt.Errorf("job %q %s: stored JSON unreadable: %w", j.ID, f.column, errdefs.ErrDataLoss)
		}
	}
	if j.Declared == nil {
		j.Declared = []string{}
	}
	j.Limits = limitsView(j.limits)
	var err error
	if j.CreatedAt, err = storetime.Column("job", j.ID, "created_at", created); err != nil {
		return nil, err
	}
	if j.StartedAt, err = storetime.OptionalColumn("job", j.ID, "started_at", started); err != nil {
		return nil, err
	}
	if j.EndedAt, err = storetime.OptionalColumn("job", j.ID, "ended_at", ended); err != nil {
		return nil, err
	}
	if j.Outputs == nil {
		j.Outputs = []Output{}
	}
	return &j, nil
}

// Get returns a job.
func Get(ctx context.Context, q Querier, id string) (*Job, error) {
	j, err := scanJob(q.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("job %q: %w", id, errdefs.ErrNotFound)
	}
	return j, err
}

// List returns jobs, newest first, of one organisation when org is not
// empty.
func List(ctx context.Context, q Querier, org string, limit int) ([]*Job, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := q.QueryContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE ? = '' OR org = ? ORDER BY created_at DESC LIMIT ?`, org, org, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// OrgUsage returns an organisation's running (and queued) jobs and the
// CPU seconds its jobs used since the start of the month of now, as the
// coarse view shows them at now, since the quotas decide on them and a
// refusal is read by the operator: a job that ended counts as running, and
// its CPU seconds as none, until its end is revealed (RevealAt), and then
// its CPU seconds count rounded up by Coarse. On the exact figures, an
// operator at the organisation's concurrent-jobs limit could submit every
// few milliseconds and learn the moment a job ended from the first
// admission, and a CPU quota would answer on exact seconds.
func OrgUsage(ctx context.Context, q Querier, org string, now time.Time) (running int64, cpuSeconds int64, err error) {
	now = now.UTC()
	month := storetime.Format(time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC))
	// An end is revealed at most as long after it as the job ran, and the
	// sandbox refuses timeouts beyond 7 days: ends older than 30 days are
	// revealed.
	recent := storetime.Format(now.Add(-30 * 24 * time.Hour))
	rows, err := q.QueryContext(ctx, `SELECT id, state, usage, created_at, started_at, ended_at FROM jobs WHERE org = ?
		AND (created_at >= ? OR state IN ('queued', 'initializing', 'running') OR ended_at >= ?)`, org, month, recent)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	var cpu float64
	for rows.Next() {
		var id, state, use, created, started, ended string
		if err := rows.Scan(&id, &state, &use, &created, &started, &ended); err != nil {
			return 0, 0, err
		}
		j := Job{ID: id, State: State(state)}
		if j.StartedAt, err = storetime.OptionalColumn("job", id, "started_at", started); err != nil {
			return 0, 0, err
		}
		if j.EndedAt, err = storetime.OptionalColumn("job", id, "ended_at", ended); err != nil {
			return 0, 0, err
		}
		if !j.State.Terminal() || now.Before(j.RevealAt()) {
			running++
			continue
		}
		if created < month {
			continue
		}
		var u Usage
		if use != "" {
			if err := json.Unmarshal([]byte(use), &u); err != nil {
				return 0, 0, fmt.Errorf("job %q: usage: %w", id, err)
			}
		}
		cpu += Coarse(u.CPUSeconds, SecondUnit)
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	return running, int64(cpu), nil
}
