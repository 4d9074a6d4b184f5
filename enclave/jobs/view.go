package jobs

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
)

// Whatever an operator reads of a job is a way out of the enclave (DESIGN.md
// section 5, promise 4): a job that chooses how much memory it takes or how
// long it sleeps sends bits without any export. So everyone but officers of
// another organisation and the bureau sees a job through the coarse view:
// how it ended but not its exit status, each metered figure rounded up by
// Coarse, output sizes rounded up and no hashes until a release.

// The units the coarse view rounds each figure to (see Coarse).
const (
	// SecondUnit is the unit of CPU and wall time: 1 second.
	SecondUnit = 1
	// ByteUnit is the unit of memory, IO and input bytes: 1 MiB.
	ByteUnit = 1 << 20
	// SizeUnit is the unit of output sizes: 4 KiB.
	SizeUnit = 4 << 10
)

// Coarse is the one rounding rule of the coarse view: v rounded up to unit
// times the next power of two (unit, 2·unit, 4·unit, ...). Zero and
// negative figures are 0, anything up to unit is unit. A figure that can
// range up to M·unit thus takes one of about 2 + log2(M) values, so it
// carries at most log2 of that in bits (README: "Side channels").
func Coarse(v, unit float64) float64 {
	switch {
	case !(v > 0): // zero, negative or NaN
		return 0
	case math.IsInf(v, 1) || v <= unit:
		return max(v, unit)
	}
	frac, exp := math.Frexp(v / unit) // v/unit = frac · 2^exp, frac in [0.5, 1)
	if frac == 0.5 {
		exp-- // already a power of two
	}
	return unit * math.Ldexp(1, exp)
}

func coarseBytes(n uint64, unit float64) uint64 { return uint64(Coarse(float64(n), unit)) }

// Coarse returns the use as the coarse view shows it: every figure rounded
// up by Coarse, times to SecondUnit, output bytes to SizeUnit, the other
// bytes to ByteUnit.
func (u Usage) Coarse() Usage {
	return Usage{
		CPUSeconds:      Coarse(u.CPUSeconds, SecondUnit),
		PeakMemoryBytes: coarseBytes(u.PeakMemoryBytes, ByteUnit),
		IOReadBytes:     coarseBytes(u.IOReadBytes, ByteUnit),
		IOWriteBytes:    coarseBytes(u.IOWriteBytes, ByteUnit),
		OutputBytes:     coarseBytes(u.OutputBytes, SizeUnit),
		InputBytes:      int64(Coarse(float64(u.InputBytes), ByteUnit)),
		WallSeconds:     Coarse(u.WallSeconds, SecondUnit),
	}
}

// CoarseSize is an output's size as the coarse view shows it.
func CoarseSize(n int64) int64 { return int64(Coarse(float64(n), SizeUnit)) }

// Outcome says how an ended job ended, in the words an operator sees
// (api.OutcomeComplete, ...), or "" while it has not ended.
func (j *Job) Outcome() string {
	switch j.State {
	case Complete:
		return api.OutcomeComplete
	case Canceled:
		return api.OutcomeCancelled
	case ExecutorError:
		switch j.Reason {
		case "timeout":
			return api.OutcomeTimeout
		case "oom":
			return api.OutcomeOOM
		}
		return api.OutcomeFailed
	case SystemError:
		return api.OutcomeFailed
	}
	return ""
}

// coarseMessage is the job's message in the coarse view: the job's own
// failures are told by outcome only (the message of a failed command names
// its exit status); cancellations and the daemon's own failures are not
// the job's to choose and are kept.
func (j *Job) coarseMessage() string {
	if j.State != ExecutorError {
		return j.Message
	}
	switch j.Outcome() {
	case api.OutcomeTimeout:
		return "the job ran past its timeout and was killed"
	case api.OutcomeOOM:
		return "the job ran out of memory and was killed"
	}
	return "the job failed"
}

// RevealAt is when the coarse view lets a job's end be seen: its start
// plus the time it ran (start to end) rounded up by Coarse. Until then it
// shows the job as still running, so that neither the end time nor a
// reader polling for the end learns how long the job ran more exactly than
// its coarse wall time. A job that never started is revealed when it ended.
func (j *Job) RevealAt() time.Time {
	if j.EndedAt == nil {
		return time.Time{}
	}
	if j.StartedAt == nil || j.EndedAt.Before(*j.StartedAt) {
		return *j.EndedAt
	}
	ran := j.EndedAt.Sub(*j.StartedAt).Seconds()
	return j.StartedAt.Add(time.Duration(Coarse(ran, SecondUnit) * float64(time.Second)))
}

// View returns the job as the API shows it at now. exact is for officers of
// another organisation and the bureau. In the coarse view, released names
// the outputs whose exact size and hash may be shown because an export of
// them was released (the bundle carries both), and a job that ended is
// shown as running until RevealAt, then as ending at RevealAt.
func (j *Job) View(exact bool, released map[string]bool, now time.Time) api.Job {
	if !exact && j.State.Terminal() && now.Before(j.RevealAt()) {
		return j.running().View(false, nil, now)
	}
	v := api.Job{ID: j.ID, Org: j.Org, Owner: j.Owner, Image: j.Image, Args: j.Args, Grants: j.Grants, State: string(j.State),
		Outcome: j.Outcome(), Message: j.Message, DeclaredOutputs: j.Declared, Outputs: []api.JobOutput{}, UndeclaredDropped: j.Undeclared,
		Revision: j.Revision, CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, EndedAt: j.EndedAt, View: api.ViewExact,
		Limits: api.JobLimits{CPUs: j.Limits.CPUs, MemoryBytes: j.Limits.MemoryBytes, TimeoutSeconds: j.Limits.TimeoutSeconds,
			OutBytes: j.Limits.OutBytes, TmpBytes: j.Limits.TmpBytes, Pids: j.Limits.Pids}}
	if v.DeclaredOutputs == nil {
		v.DeclaredOutputs = []string{}
	}
	for _, in := range j.Inputs {
		v.Inputs = append(v.Inputs, api.JobInput{Dataset: in.Dataset, Version: in.Version, Level: in.Level, Market: in.Market, HasPI: in.HasPI,
			Columns: in.Columns})
	}
	declared := map[string]bool{}
	for _, n := range j.Declared {
		declared[n] = true
	}
	for _, s := range j.Skipped {
		name := s.Name // quoted by the collector; declared names need no quotes
		if n, err := strconv.Unquote(name); err == nil && declared[n] {
			name = n
		} else if !exact {
			continue // not a declared name (a job recorded before outputs were declared): never shown
		}
		v.Skipped = append(v.Skipped, api.JobSkip{Name: name, Reason: s.Reason})
	}
	u := j.Usage
	if exact {
		if j.State.Terminal() {
			code := j.ExitCode
			v.ExitCode = &code
		}
		v.Reason = j.Reason
		for _, o := range j.Outputs {
			v.Outputs = append(v.Outputs, api.JobOutput{Name: o.Name, Size: o.Size, SHA256: o.SHA256})
		}
	} else {
		v.View = api.ViewCoarse
		v.Message = j.coarseMessage()
		if at := j.RevealAt(); !at.IsZero() {
			v.EndedAt = &at
		}
		u = u.Coarse()
		v.UndeclaredDropped = int(Coarse(float64(j.Undeclared), 1))
		for _, o := range j.Outputs {
			if !declared[o.Name] {
				continue // collected before outputs were declared: never shown
			}
			if released[o.Name] {
				v.Outputs = append(v.Outputs, api.JobOutput{Name: o.Name, Size: o.Size, SHA256: o.SHA256})
				continue
			}
			v.Outputs = append(v.Outputs, api.JobOutput{Name: o.Name, Size: CoarseSize(o.Size)})
		}
	}
	v.Usage = api.JobUsage{CPUSeconds: u.CPUSeconds, PeakMemoryBytes: u.PeakMemoryBytes, IOReadBytes: u.IOReadBytes,
		IOWriteBytes: u.IOWriteBytes, OutputBytes: u.OutputBytes, InputBytes: u.InputBytes, WallSeconds: u.WallSeconds}
	return v
}

// running is j as it was while it ran: no end, no use, no outputs.
func (j *Job) running() *Job {
	r := &Job{ID: j.ID, Org: j.Org, Owner: j.Owner, Image: j.Image, Args: j.Args, Inputs: j.Inputs, Grants: j.Grants, Limits: j.Limits,
		State: Running, ExitCode: -1, Declared: j.Declared, Revision: j.Revision, CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, limits: j.limits}
	if r.StartedAt == nil {
		r.State = Queued
	}
	return r
}

// coarseDetails maps the figures the audit events of jobs and derived data
// carry to how they are rounded in the coarse view: the unit of each. The
// counts a job sets (outputs written or skipped, log lines withheld, files
// destroyed) and the bytes of its log and outputs are figures too.
var coarseDetails = map[string]float64{
	"cpu_seconds": SecondUnit, "wall_seconds": SecondUnit, "peak_memory_bytes": ByteUnit, "io_read_bytes": ByteUnit,
	"io_write_bytes": ByteUnit, "input_bytes": ByteUnit, "output_bytes": SizeUnit, "undeclared_dropped": 1,
	"outputs": 1, "skipped": 1, "withheld_lines": 1, "files": 1, "bytes": SizeUnit,
}

// CoarseEvent returns an audit event of a job (job.*) or of derived data
// (derived.*: a job's outputs and log destroyed) as the coarse view shows
// it (for readers of the audit log other than the bureau): its figures
// rounded by Coarse; for job.start and job.end the exit status and the
// sandbox's reason left out, and the end's message told by outcome only.
// Other events are returned unchanged.
func CoarseEvent(ev audit.Event) audit.Event {
	if !strings.HasPrefix(ev.Action, "job.") && !strings.HasPrefix(ev.Action, "derived.") {
		return ev
	}
	life := ev.Action == "job.start" || ev.Action == "job.end"
	d := make(map[string]string, len(ev.Details))
	for k, v := range ev.Details {
		switch unit, figure := coarseDetails[k]; {
		case life && (k == "exit_code" || k == "reason"):
			continue
		case figure:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue // not a figure: left out rather than shown
			}
			d[k] = strconv.FormatFloat(Coarse(f, unit), 'f', -1, 64)
		default:
			d[k] = v
		}
	}
	ev.Details = d
	if ev.Action == "job.end" {
		j := Job{State: State(ev.Details["state"]), Reason: "", Message: ev.Reason}
		switch ev.Details["outcome"] {
		case api.OutcomeTimeout:
			j.Reason = "timeout"
		case api.OutcomeOOM:
			j.Reason = "oom"
		}
		ev.Reason = j.coarseMessage()
	}
	return ev
}
