// Package sandbox is the contract for running one operator job in a
// hardened, network-less container: the Runtime interface, the job Spec and
// its Limits, and the Exit a finished job reports. Implementations live in
// subpackages (sandbox-runtime/containerd); hardening spec options live in
// sandbox-runtime/hardening and safe output collection in
// sandbox-runtime/outputs.
//
// The package imports nothing of the enclave: the daemon translates its
// decisions into a Spec and stores the Exit.
package sandbox

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// Runtime runs jobs. Implementations are safe for concurrent use.
//
// Errors: ImportImage returns errdefs.ErrInvalidArgument for a malformed
// archive; PrepareImage returns errdefs.ErrNotFound for an unknown digest;
// Run returns errdefs.ErrInvalidArgument for a spec that fails Validate or
// the hardening validator, errdefs.ErrFailedPrecondition when the image was
// not prepared, errdefs.ErrAlreadyExists for a reused ID. Any other error
// means "no answer": the job did not run (or its fate is unknown) and the
// caller treats it as a system error. A job that ran and failed is not an
// error: it is an Exit with a Reason.
type Runtime interface {
	// ImportImage loads an OCI image-layout archive into the content store
	// and returns its digest ("sha256:..."). The image is not runnable until
	// PrepareImage is called for it (after an officer approved it).
	ImportImage(ctx context.Context, r io.Reader) (digest string, err error)
	// PrepareImage unpacks an imported image and remaps its files to the
	// unprivileged user range once, so that jobs start from a cheap child
	// snapshot. It is idempotent.
	PrepareImage(ctx context.Context, digest string) error
	// Run starts the job described by spec and blocks until it ends. Job
	// output (stdout and stderr, interleaved) is written to logs, capped at
	// Limits.LogBytes. Cancelling ctx kills the job and yields ReasonCanceled,
	// unless its cause is ErrDetached.
	// Outputs are collected into spec.OutDir before Run returns and the
	// job's container, task and snapshot are removed.
	Run(ctx context.Context, spec Spec, logs io.Writer) (Exit, error)
	// Recover is called once after a daemon restart, before any Run or
	// Reattach. It finds the jobs a previous daemon left in the runtime:
	// each one for which keep returns true is left as it is (running, or
	// ended with nobody watching) for Reattach; every other one is killed
	// and removed with its work area. It returns the IDs it kept.
	Recover(ctx context.Context, keep func(id string) bool) ([]string, error)
	// Reattach follows a job that Recover kept, given the spec Run was given,
	// until the job ends, and reports it as Run would have: output from now
	// on (including what the job wrote while nobody watched, up to the pipe's
	// capacity) to logs, capped at Limits.LogBytes; the timeout counted from
	// the job's real start; the metered use of its whole run; its collected
	// outputs. A job that ended meanwhile is reported at once, with its real
	// end. Errors: errdefs.ErrNotFound when the runtime no longer has the
	// job (its containerd lost it, for example in a reboot): the job's fate
	// is unknown and nothing of it is left; otherwise as Run.
	Reattach(ctx context.Context, spec Spec, logs io.Writer) (Exit, error)
	// Close releases the runtime's connection. Running jobs are not killed.
	Close() error
}

// ErrDetached is the cause to cancel the context of Run or Reattach with
// (context.WithCancelCause) when the caller goes away but the job should
// not, as when the daemon stops: the call returns an error wrapping
// ErrDetached, the job keeps running in the runtime, and a later Recover
// and Reattach follow it again. Cancelling with any other cause kills the
// job.
var ErrDetached = fmt.Errorf("detached from the job: %w", errdefs.ErrAborted)

// Limits are the hard resource limits of one job.
type Limits struct {
	CPUs           float64       // CPU quota in cores (cgroup cpu.cfs_quota_us)
	MemoryBytes    int64         // memory limit; swap limit is equal (no swap)
	TmpBytes       int64         // size of the /tmp tmpfs
	OutBytes       int64         // size of /out (a host tmpfs, hard cap)
	FileSizeBytes  int64         // RLIMIT_FSIZE
	Pids           int64         // pids cgroup limit
	NoFile         uint64        // RLIMIT_NOFILE
	Timeout        time.Duration // wall-clock limit from start
	MaxOutputFiles int           // files collected from /out (also its inode cap)
	LogBytes       int64         // bytes of stdout+stderr kept
}

// DefaultLimits returns the limits a job gets when the caller names none.
func DefaultLimits() Limits {
	return Limits{
		CPUs:           1,
		MemoryBytes:    512 << 20,
		TmpBytes:       64 << 20,
		OutBytes:       256 << 20,
		FileSizeBytes:  256 << 20,
		Pids:           128,
		NoFile:         1024,
		Timeout:        30 * time.Minute,
		MaxOutputFiles: 1000,
		LogBytes:       1 << 20,
	}
}

// Validate reports an errdefs.ErrInvalidArgument error when a limit is
// missing or out of range. Every limit must be set: there is no "unlimited".
func (l Limits) Validate() error {
	bad := func(name string) error {
		return fmt.Errorf("limit %q out of range: %w", name, errdefs.ErrInvalidArgument)
	}
	switch {
	case !(l.CPUs >= 0.01 && l.CPUs <= 64):
		return bad("cpus")
	case l.MemoryBytes < 4<<20 || l.MemoryBytes > 1<<40:
		return bad("memory")
	case l.TmpBytes < 1<<20 || l.TmpBytes > 1<<40:
		return bad("tmp")
	case l.OutBytes < 1<<20 || l.OutBytes > 1<<40:
		return bad("out")
	case l.FileSizeBytes < 1<<20 || l.FileSizeBytes > 1<<40:
		return bad("file-size")
	case l.Pids < 8 || l.Pids > 1<<16:
		return bad("pids")
	case l.NoFile < 16 || l.NoFile > 1<<20:
		return bad("nofile")
	case l.Timeout < time.Second || l.Timeout > 7*24*time.Hour:
		return bad("timeout")
	case l.MaxOutputFiles < 1 || l.MaxOutputFiles > 1<<20:
		return bad("max-output-files")
	case l.LogBytes < 1024 || l.LogBytes > 1<<30:
		return bad("log-bytes")
	}
	return nil
}

// Mount is one input dataset version: the directory HostDir (holding
// data.arrow) appears read-only at /in/Name.
type Mount struct {
	Name    string
	HostDir string
}

// Spec describes one job.
type Spec struct {
	ID     string   // job id: [a-z0-9][a-z0-9-]{0,62}, also the container id
	Image  string   // digest of an approved, prepared image
	Args   []string // argv; Args[0] is resolved against PATH in the image
	Inputs []Mount
	OutDir string // empty host directory that receives the collected outputs
	// Outputs are the files the job declared: names of regular files at the
	// top of /out, each a ValidFileName. Only these are collected into
	// OutDir; every other entry of /out is dropped and only counted
	// (Exit.Undeclared). No outputs means nothing is collected.
	Outputs []string
	Limits  Limits
}

var (
	idRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	fileRE   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.=+-]{0,127}$`)
)

// ValidFileName reports whether name may be one path element of a
// collected output: 1-128 bytes of letters, digits and "_.=+-", not
// starting with a dot or dash (so never "." or "..").
func ValidFileName(name string) bool { return fileRE.MatchString(name) }

// ValidDigest reports whether d has the form "sha256:" and 64 lowercase hex
// digits.
func ValidDigest(d string) bool { return digestRE.MatchString(d) }

// Validate reports an errdefs.ErrInvalidArgument error when the spec is
// malformed. It does not touch the file system.
func (s Spec) Validate() error {
	inv := func(format string, a ...any) error {
		return fmt.Errorf(format+": %w", append(a, errdefs.ErrInvalidArgument)...)
	}
	if !idRE.MatchString(s.ID) {
		return inv("job id %q invalid", s.ID)
	}
	if !ValidDigest(s.Image) {
		return inv("job %q image digest invalid", s.ID)
	}
	if len(s.Args) == 0 || s.Args[0] == "" {
		return inv("job %q has no command", s.ID)
	}
	for _, a := range s.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return inv("job %q argument contains nul", s.ID)
		}
	}
	seen := map[string]bool{}
	for _, m := range s.Inputs {
		if !nameRE.MatchString(m.Name) || m.Name == "." || m.Name == ".." || strings.Contains(m.Name, "..") {
			return inv("job %q input name %q invalid", s.ID, m.Name)
		}
		if seen[m.Name] {
			return inv("job %q input %q given twice", s.ID, m.Name)
		}
		seen[m.Name] = true
		if !filepath.IsAbs(m.HostDir) || filepath.Clean(m.HostDir) != m.HostDir {
			return inv("job %q input %q host dir not absolute and clean", s.ID, m.Name)
		}
	}
	if !filepath.IsAbs(s.OutDir) || filepath.Clean(s.OutDir) != s.OutDir {
		return inv("job %q out dir not absolute and clean", s.ID)
	}
	if err := s.Limits.Validate(); err != nil {
		return fmt.Errorf("job %q: %w", s.ID, err)
	}
	if len(s.Outputs) > s.Limits.MaxOutputFiles {
		return inv("job %q declares %d outputs, more than its limit of %d files", s.ID, len(s.Outputs), s.Limits.MaxOutputFiles)
	}
	declared := map[string]bool{}
	for _, o := range s.Outputs {
		if !ValidFileName(o) {
			return inv("job %q output name %q invalid", s.ID, o)
		}
		if declared[o] {
			return inv("job %q output %q declared twice", s.ID, o)
		}
		declared[o] = true
	}
	return nil
}

// Reason says why a job ended.
type Reason string

// The reasons a job ends.
const (
	ReasonExited      Reason = "exited"       // the process exited by itself (see Exit.Code)
	ReasonTimeout     Reason = "timeout"      // killed at Limits.Timeout
	ReasonOOM         Reason = "oom"          // killed by the memory cgroup
	ReasonOutputLimit Reason = "output-limit" // /out filled up or outputs exceeded a cap
	ReasonCanceled    Reason = "canceled"     // the caller cancelled
	ReasonSystemError Reason = "system-error" // the runtime failed around the job
)

// Usage is the metered resource use of one job.
type Usage struct {
	CPUNanos        uint64        // user+system CPU time
	PeakMemoryBytes uint64        // cgroup memory max usage
	IOReadBytes     uint64        // block IO read
	IOWriteBytes    uint64        // block IO written
	OutputBytes     uint64        // bytes of collected outputs
	Wall            time.Duration // start to end
}

// File is one collected output file; Name is relative to /out with "/"
// separators.
type File struct {
	Name string
	Size int64
}

// Skip is an entry of /out that was not collected, with the reason (for
// example "symlink", "hardlink", "fifo", "bad name", "count limit").
type Skip struct {
	Name   string // as found, possibly sanitized for display
	Reason string
}

// Exit is the outcome of a job that ran.
type Exit struct {
	Reason  Reason
	Code    int // exit status when Reason is ReasonExited, else -1 or the status seen
	Usage   Usage
	Started time.Time
	Ended   time.Time
	Outputs []File // collected into Spec.OutDir
	Skipped []Skip // declared outputs not collected, with the reason
	// Undeclared counts the entries at the top of /out that the job did
	// not declare: dropped uncollected, never named.
	Undeclared int
}
