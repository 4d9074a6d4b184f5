package jobs

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

func TestCoarse(t *testing.T) {
	tests := []struct {
		v, unit, want float64
	}{
		{0, 1, 0},
		{-3, 1, 0},
		{math.NaN(), 1, 0},
		{0.001, 1, 1},
		{1, 1, 1},
		{1.0001, 1, 2},
		{2, 1, 2},
		{3, 1, 4},
		{1000, 1, 1024},
		{1024, 1, 1024},
		{1025, 1, 2048},
		{1, SizeUnit, SizeUnit},
		{4096, SizeUnit, 4096},
		{5000, SizeUnit, 8192},
		{9000, SizeUnit, 16384},
		{1 << 20, SizeUnit, 1 << 20},
		{(1 << 20) + 1, SizeUnit, 2 << 20},
		{5 << 20, ByteUnit, 8 << 20},
		{(512 << 20) - 1, ByteUnit, 512 << 20},
		{1 << 40, ByteUnit, 1 << 40},
		{math.Inf(1), 1, math.Inf(1)},
	}
	for _, tc := range tests {
		if got := Coarse(tc.v, tc.unit); got != tc.want {
			t.Errorf("Coarse(%v, %v): got %v, want %v", tc.v, tc.unit, got, tc.want)
		}
	}
}

// TestCoarseSteps counts the values Coarse can give between 0 and a limit:
// the README's count of bits per figure rests on it.
func TestCoarseSteps(t *testing.T) {
	tests := []struct {
		name        string
		limit, unit float64
		want        int
	}{
		{"memory, default 512 MiB", 512 << 20, ByteUnit, 11},
		{"wall, default 30 min", 1800, SecondUnit, 13},
		{"outputs, default 256 MiB", 256 << 20, SizeUnit, 18},
		{"undeclared entries, 1000", 1000, 1, 12},
		// The README's table of bits per job.
		{"CPU, default 1 CPU for 30 min", 1800, SecondUnit, 13},
		{"CPU, 64 CPUs for 7 days", 64 * 7 * 24 * 3600, SecondUnit, 28},
		{"wall, 7 days", 7 * 24 * 3600, SecondUnit, 22},
		{"memory, 1 TiB", 1 << 40, ByteUnit, 22},
		{"undeclared entries, the 1,064 inodes of /out", 1064, 1, 13},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[float64]bool{}
			for v := 0.0; v <= tc.limit; v = math.Max(v+tc.unit/4, v*1.01) {
				seen[Coarse(v, tc.unit)] = true
			}
			seen[Coarse(tc.limit, tc.unit)] = true
			if len(seen) != tc.want {
				t.Errorf("distinct values up to %v: got %d, want %d", tc.limit, len(seen), tc.want)
			}
		})
	}
}

func TestUsageCoarse(t *testing.T) {
	u := Usage{CPUSeconds: 2.5, PeakMemoryBytes: 5<<20 + 17, IOReadBytes: 0, IOWriteBytes: 1, OutputBytes: 5000, InputBytes: 3 << 20, WallSeconds: 0.05}
	got := u.Coarse()
	want := Usage{CPUSeconds: 4, PeakMemoryBytes: 8 << 20, IOReadBytes: 0, IOWriteBytes: 1 << 20, OutputBytes: 8192, InputBytes: 4 << 20, WallSeconds: 1}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		state       State
		reason      string
		message     string
		want        string
		wantMessage string // in the coarse view
	}{
		{Queued, "", "", "", ""},
		{Running, "", "", "", ""},
		{Complete, "exited", "", api.OutcomeComplete, ""},
		{ExecutorError, "exited", "the command exited with status 42", api.OutcomeFailed, "the job failed"},
		{ExecutorError, "output-limit", "the job's outputs exceeded their limit", api.OutcomeFailed, "the job failed"},
		{ExecutorError, "timeout", "the job ran past its timeout and was killed", api.OutcomeTimeout, "the job ran past its timeout and was killed"},
		{ExecutorError, "oom", "the job ran out of memory and was killed", api.OutcomeOOM, "the job ran out of memory and was killed"},
		{SystemError, "system-error", "the daemon restarted while the job ran; it was stopped", api.OutcomeFailed,
			"the daemon restarted while the job ran; it was stopped"},
		{Canceled, "canceled", "halted: risk", api.OutcomeCancelled, "halted: risk"},
	}
	for _, tc := range tests {
		t.Run(string(tc.state)+"/"+tc.reason, func(t *testing.T) {
			j := &Job{State: tc.state, Reason: tc.reason, Message: tc.message}
			if got := j.Outcome(); got != tc.want {
				t.Errorf("outcome: got %q, want %q", got, tc.want)
			}
			if got := j.coarseMessage(); got != tc.wantMessage {
				t.Errorf("coarse message: got %q, want %q", got, tc.wantMessage)
			}
		})
	}
}

func viewJob() *Job {
	return &Job{ID: "j-1", Org: "acme", Owner: "p_op", State: ExecutorError, Reason: "exited", ExitCode: 42,
		Message:  "the command exited with status 42",
		Usage:    Usage{CPUSeconds: 1.234, PeakMemoryBytes: 3_000_001, IOReadBytes: 7 << 20, OutputBytes: 9000, WallSeconds: 12.345},
		Declared: []string{"counts.arrow", "notes.txt", "missing.txt"},
		Outputs: []Output{
			{Name: "counts.arrow", Size: 5000, SHA256: strings.Repeat("a", 64)},
			{Name: "notes.txt", Size: 4000, SHA256: strings.Repeat("b", 64)},
			{Name: "legacy.bin", Size: 10, SHA256: strings.Repeat("c", 64)}, // recorded before outputs were declared
		},
		Skipped:    []sandbox.Skip{{Name: `"missing.txt"`, Reason: "not written"}, {Name: `"91990104A6N74W818W"`, Reason: "symlink"}},
		Undeclared: 3,
	}
}

func TestViewExact(t *testing.T) {
	v := viewJob().View(true, nil, time.Now())
	if v.View != api.ViewExact || v.ExitCode == nil || *v.ExitCode != 42 || v.Reason != "exited" || v.Outcome != api.OutcomeFailed {
		t.Errorf("exit: got view %q, code %v, reason %q, outcome %q; want exact, 42, exited, failed", v.View, v.ExitCode, v.Reason, v.Outcome)
	}
	if v.Usage.PeakMemoryBytes != 3_000_001 || v.Usage.WallSeconds != 12.345 || v.Usage.CPUSeconds != 1.234 {
		t.Errorf("usage: got %+v, want the exact figures", v.Usage)
	}
	if len(v.Outputs) != 3 || v.Outputs[0].Size != 5000 || v.Outputs[0].SHA256 == "" || v.UndeclaredDropped != 3 {
		t.Errorf("outputs: got %+v and %d undeclared, want every output exact and 3", v.Outputs, v.UndeclaredDropped)
	}
	if len(v.Skipped) != 2 || v.Skipped[0].Name != "missing.txt" || v.Skipped[0].Reason != "not written" {
		t.Errorf("skipped: got %+v, want both, the declared name unquoted", v.Skipped)
	}
}

func TestViewCoarse(t *testing.T) {
	v := viewJob().View(false, map[string]bool{"notes.txt": true}, time.Now())
	if v.View != api.ViewCoarse || v.ExitCode != nil || v.Reason != "" || v.Outcome != api.OutcomeFailed || v.Message != "the job failed" {
		t.Errorf("exit: got view %q, code %v, reason %q, outcome %q, message %q; want coarse, none, none, failed, the job failed",
			v.View, v.ExitCode, v.Reason, v.Outcome, v.Message)
	}
	want := api.JobUsage{CPUSeconds: 2, PeakMemoryBytes: 4 << 20, IOReadBytes: 8 << 20, OutputBytes: 16384, WallSeconds: 16}
	if v.Usage != want {
		t.Errorf("usage: got %+v, want %+v", v.Usage, want)
	}
	wantOut := []api.JobOutput{{Name: "counts.arrow", Size: 8192}, {Name: "notes.txt", Size: 4000, SHA256: strings.Repeat("b", 64)}}
	if len(v.Outputs) != len(wantOut) {
		t.Fatalf("outputs: got %+v, want %+v", v.Outputs, wantOut)
	}
	for i := range wantOut {
		if v.Outputs[i] != wantOut[i] {
			t.Errorf("output %d: got %+v, want %+v", i, v.Outputs[i], wantOut[i])
		}
	}
	if len(v.Skipped) != 1 || v.Skipped[0].Name != "missing.txt" {
		t.Errorf("skipped: got %+v, want only the declared name", v.Skipped)
	}
	if v.UndeclaredDropped != 4 {
		t.Errorf("undeclared: got %d, want 3 rounded up to 4", v.UndeclaredDropped)
	}
	// Nothing of the exit status reaches the wire.
	b, _ := json.Marshal(v)
	for _, leak := range []string{"exit_code", "42", `"reason":"exited"`, strings.Repeat("a", 64), "legacy.bin", "3000001", "12.345", "91990104A6N74W818W"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("the coarse view carries %q: %s", leak, b)
		}
	}
}

func TestRevealAt(t *testing.T) {
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := start.Add(d); return &x }
	tests := []struct {
		name           string
		started, ended *time.Time
		want           time.Time
	}{
		{"not ended", at(0), nil, time.Time{}},
		{"never started", nil, at(5 * time.Second), start.Add(5 * time.Second)},
		{"ran 0.3 s", at(0), at(300 * time.Millisecond), start.Add(time.Second)},
		{"ran 5.05 s", at(0), at(5050 * time.Millisecond), start.Add(8 * time.Second)},
		{"ran 8 s", at(0), at(8 * time.Second), start.Add(8 * time.Second)},
		{"ran 100 s", at(0), at(100 * time.Second), start.Add(128 * time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := &Job{StartedAt: tc.started, EndedAt: tc.ended}
			if got := j.RevealAt(); !got.Equal(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestViewRevealsTheEndCoarsely: a job that ran 5.05 s looks, in the coarse
// view, as if it were running until 8 s after its start, and then as if it
// had ended at 8 s; the exact view shows its end at once.
func TestViewRevealsTheEndCoarsely(t *testing.T) {
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	end := start.Add(5050 * time.Millisecond)
	j := viewJob()
	j.StartedAt, j.EndedAt = &start, &end
	for _, tc := range []struct {
		name      string
		exact     bool
		now       time.Time
		wantState string
		wantEnd   time.Time
	}{
		{"coarse, just after the end", false, end.Add(time.Millisecond), "running", time.Time{}},
		{"coarse, before the reveal", false, start.Add(7999 * time.Millisecond), "running", time.Time{}},
		{"coarse, at the reveal", false, start.Add(8 * time.Second), "executor-error", start.Add(8 * time.Second)},
		{"exact, just after the end", true, end.Add(time.Millisecond), "executor-error", end},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := j.View(tc.exact, nil, tc.now)
			var gotEnd time.Time
			if v.EndedAt != nil {
				gotEnd = *v.EndedAt
			}
			if v.State != tc.wantState || !gotEnd.Equal(tc.wantEnd) {
				t.Errorf("got state %s ended %v, want %s ended %v", v.State, gotEnd, tc.wantState, tc.wantEnd)
			}
			if v.State == "running" && (v.Outcome != "" || len(v.Outputs) != 0 || v.Usage != (api.JobUsage{}) || v.UndeclaredDropped != 0 || v.Message != "") {
				t.Errorf("a job shown running shows how it ended: %+v", v)
			}
		})
	}
}

func TestCoarseEvent(t *testing.T) {
	ev := audit.Event{Action: "job.end", Reason: "the command exited with status 42", Details: map[string]string{
		"state": "executor-error", "outcome": "failed", "reason": "exited", "exit_code": "42", "cpu_seconds": "1.234",
		"wall_seconds": "12.345", "peak_memory_bytes": "3000001", "io_read_bytes": "0", "io_write_bytes": "5", "output_bytes": "9000",
		"outputs": "1", "undeclared_dropped": "3"}}
	got := CoarseEvent(ev)
	want := map[string]string{"state": "executor-error", "outcome": "failed", "cpu_seconds": "2", "wall_seconds": "16",
		"peak_memory_bytes": "4194304", "io_read_bytes": "0", "io_write_bytes": "1048576", "output_bytes": "16384", "outputs": "1",
		"undeclared_dropped": "4"}
	if len(got.Details) != len(want) {
		t.Errorf("details: got %v, want %v", got.Details, want)
	}
	for k, v := range want {
		if got.Details[k] != v {
			t.Errorf("detail %s: got %q, want %q", k, got.Details[k], v)
		}
	}
	if got.Reason != "the job failed" {
		t.Errorf("reason: got %q, want %q", got.Reason, "the job failed")
	}
	if ev.Details["exit_code"] != "42" {
		t.Error("CoarseEvent changed the event it was given")
	}
	start := CoarseEvent(audit.Event{Action: "job.start", Details: map[string]string{"image": "sha256:x", "input_bytes": "3145729"}})
	if start.Details["input_bytes"] != "4194304" || start.Details["image"] != "sha256:x" {
		t.Errorf("job.start: got %v", start.Details)
	}
	other := audit.Event{Action: "export.request", Details: map[string]string{"files": "2"}}
	if got := CoarseEvent(other); got.Details["files"] != "2" {
		t.Errorf("other event: got %v, want it unchanged", got.Details)
	}
}

// TestOutputNameRules is the watchdog over the two spellings of the output
// name rule: every name the API accepts, the sandbox collects (the CLI may
// not link the sandbox package, and the sandbox may not import the API).
func TestOutputNameRules(t *testing.T) {
	names := []string{"counts.arrow", "MANIFEST.json", "_x", "a-b_c.d", "9", strings.Repeat("a", 64), strings.Repeat("a", 65),
		".hidden", "-rf", "a/b", "..", ".", "", "a b", "é.txt", "a\x00", "a=b", "a+b"}
	for _, n := range names {
		if api.ValidOutputName(n) && !sandbox.ValidFileName(n) {
			t.Errorf("%q: the API accepts it, the sandbox would not collect it", n)
		}
	}
}

func FuzzOutputNameRules(f *testing.F) {
	for _, s := range []string{"counts.arrow", "..", "-x", "a/b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		if api.ValidOutputName(n) && !sandbox.ValidFileName(n) {
			t.Errorf("%q: the API accepts it, the sandbox would not collect it", n)
		}
	})
}
