package api

import (
	"fmt"
	"regexp"
	"time"

	"github.com/containerd/errdefs"
)

// MaxOutputs is the most outputs one job may declare.
const MaxOutputs = 100

// OutputNameRule says in words which output names CheckOutputs accepts.
const OutputNameRule = "1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-'"

var outputNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$`)

// ValidOutputName reports whether name may be declared as a job's output
// (OutputNameRule). Such a name is a single file at the top of /out.
func ValidOutputName(name string) bool { return outputNameRE.MatchString(name) }

// CheckOutputs checks the declared outputs of a job: at most MaxOutputs
// names, each valid and given once. Its errors are of class
// errdefs.ErrInvalidArgument and name the rule that was broken.
func CheckOutputs(names []string) error {
	if len(names) > MaxOutputs {
		return fmt.Errorf("a job declares at most %d outputs, not %d: %w", MaxOutputs, len(names), errdefs.ErrInvalidArgument)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if !ValidOutputName(n) {
			return fmt.Errorf("output name %q is not %s: %w", clipName(n), OutputNameRule, errdefs.ErrInvalidArgument)
		}
		if seen[n] {
			return fmt.Errorf("output %q declared twice: %w", n, errdefs.ErrInvalidArgument)
		}
		seen[n] = true
	}
	return nil
}

// clipName shortens a refused name for a message.
func clipName(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// The outcomes of an ended job, as an operator sees them (never its exit
// status).
const (
	OutcomeComplete  = "complete"
	OutcomeFailed    = "failed"
	OutcomeTimeout   = "timeout"
	OutcomeOOM       = "oom"
	OutcomeCancelled = "cancelled"
)

// The views of a job, an export's files and an audit entry's figures.
const (
	// ViewExact is what officers of another organisation and the bureau
	// see: exact figures, sizes, hashes and exit statuses.
	ViewExact = "exact"
	// ViewCoarse is what everyone else sees: figures rounded up to
	// powers of two, sizes rounded up to 4 KiB and beyond that to powers
	// of two, no hashes until a release, how a job ended but not its exit
	// status.
	ViewCoarse = "coarse"
)

// JobInput is one dataset version a job reads.
type JobInput struct {
	Dataset string   `json:"dataset"`
	Version int      `json:"version"`
	Level   string   `json:"level"`
	Market  string   `json:"market"`
	HasPI   bool     `json:"has_pi"`
	Columns []string `json:"columns,omitempty"`
}

// JobLimits are a job's limits.
type JobLimits struct {
	CPUs           float64 `json:"cpus"`
	MemoryBytes    int64   `json:"memory_bytes"`
	TimeoutSeconds float64 `json:"timeout_seconds"`
	OutBytes       int64   `json:"out_bytes"`
	TmpBytes       int64   `json:"tmp_bytes"`
	Pids           int64   `json:"pids"`
}

// JobUsage is a job's metered resource use: exact, or in the coarse view
// each figure rounded up to a power of two of its unit (1 s, 1 MiB, or
// 4 KiB for output bytes).
type JobUsage struct {
	CPUSeconds      float64 `json:"cpu_seconds"`
	PeakMemoryBytes uint64  `json:"peak_memory_bytes"`
	IOReadBytes     uint64  `json:"io_read_bytes"`
	IOWriteBytes    uint64  `json:"io_write_bytes"`
	OutputBytes     uint64  `json:"output_bytes"`
	InputBytes      int64   `json:"input_bytes"`
	WallSeconds     float64 `json:"wall_seconds"`
}

// JobOutput is one collected output file. In the coarse view Size is
// rounded up and SHA256 is empty until the file was released.
type JobOutput struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// JobSkip is a declared output that was not collected, with the reason.
type JobSkip struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Job is a job as the API shows it (GET /v1/jobs/{id} and the other job
// answers). View says which view it is; Reason and ExitCode are set only
// in the exact view.
type Job struct {
	ID    string `json:"id"`
	Org   string `json:"org"`
	Owner string `json:"owner"`
	// OwnerName is the owner's name beside the id (issue 21).
	OwnerName string            `json:"owner_name,omitempty"`
	Image     string            `json:"image"`
	Args      []string          `json:"args"`
	Inputs    []JobInput        `json:"inputs"`
	Grants    map[string]string `json:"grants"`
	Limits    JobLimits         `json:"limits"`
	State     string            `json:"state"`
	Outcome   string            `json:"outcome,omitempty"` // once ended: complete, failed, timeout, oom, cancelled
	// Reason is the sandbox's exit reason (exact view only).
	Reason string `json:"reason,omitempty"`
	// ExitCode is the command's exit status (exact view only).
	ExitCode *int     `json:"exit_code,omitempty"`
	Message  string   `json:"message,omitempty"`
	Usage    JobUsage `json:"usage"`
	// DeclaredOutputs are the names given with the job; Outputs those of
	// them that were collected.
	DeclaredOutputs []string    `json:"declared_outputs"`
	Outputs         []JobOutput `json:"outputs"`
	Skipped         []JobSkip   `json:"skipped,omitempty"`
	// UndeclaredDropped counts what the job wrote to /out without
	// declaring it: dropped at collection, never named (rounded up to a
	// power of two in the coarse view).
	UndeclaredDropped int        `json:"undeclared_dropped"`
	View              string     `json:"view"`
	Revision          string     `json:"policy_revision"`
	CreatedAt         time.Time  `json:"created_at"`
	StartedAt         *time.Time `json:"started_at,omitempty"`
	EndedAt           *time.Time `json:"ended_at,omitempty"`
}

// Terminal reports whether the job has ended.
func (j Job) Terminal() bool {
	switch j.State {
	case "complete", "executor-error", "system-error", "canceled":
		return true
	}
	return false
}

// Image is a job image as the API shows it. It is pending until an
// officer of another organisation approves or rejects it. Operators of
// other organisations see an approved image without ImportedBy,
// DecidedBy and Comment.
type Image struct {
	Digest     string `json:"digest"`
	ID         string `json:"id"` // the digest
	Name       string `json:"name"`
	Size       int64  `json:"size"`
	Status     string `json:"status"`
	Org        string `json:"org"`
	ImportedBy string `json:"imported_by"`
	// ImportedByName and DecidedByName are the names beside the ids
	// (issue 21), where the ids are shown.
	ImportedByName string    `json:"imported_by_name,omitempty"`
	ImportedAt     time.Time `json:"imported_at"`
	DecidedBy      string    `json:"decided_by,omitempty"`
	DecidedByName  string    `json:"decided_by_name,omitempty"`
	DecidedAt      string    `json:"decided_at,omitempty"`
	Comment        string    `json:"comment,omitempty"`
	// Unpacked is what the image's layers unpack to, in bytes, and Layers
	// how many there are (0 for images imported before they were counted).
	Unpacked int64 `json:"unpacked_bytes"`
	Layers   int   `json:"layers"`
}
