package server

import (
	"context"
	"strings"
	"testing"
	"time"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// TestAdminReadsJobFiguresCoarsely: admins run the platform and may never
// read data, so the figures of jobs reach them as they reach an operator:
// the audit entries of a job's end and the usage reports are rounded by
// jobs.Coarse; only the bureau reads them exactly.
func TestAdminReadsJobFiguresCoarsely(t *testing.T) {
	jw := newJobWorld(t)
	j := jw.runJob("fail", "counts.csv")
	end := func(token string) map[string]string {
		t.Helper()
		var evs []api.AuditEvent
		jw.mustDo(token, "GET", "/v1/audit?action=job.end", nil, &evs)
		for _, ev := range evs {
			if slicesContains(ev.Objects, "job:"+j.ID) {
				return ev.Details
			}
		}
		t.Fatalf("no job.end entry of %s among %+v", j.ID, evs)
		return nil
	}
	exact, admin := end(jw.bureau.Token), end(jw.admin)
	if exact["peak_memory_bytes"] != "5242881" || exact["exit_code"] != "3" {
		t.Errorf("bureau: got %v, want the exact figures", exact)
	}
	for k, want := range map[string]string{"exit_code": "", "reason": "", "peak_memory_bytes": "8388608", "wall_seconds": "4",
		"cpu_seconds": "2", "output_bytes": "8192", "undeclared_dropped": "4"} {
		if admin[k] != want {
			t.Errorf("admin: %s got %q, want %q", k, admin[k], want)
		}
	}
	// Usage reports: the admin's, of every organisation, rolls up the
	// coarse figures (1.5 s of CPU read as 2 s); the bureau's is exact.
	report := func(token string) api.UsageReport {
		t.Helper()
		var rep api.UsageReport
		jw.mustDo(token, "GET", "/v1/usage", nil, &rep)
		return rep
	}
	if got := report(jw.admin).Total.CPUSeconds; got != 2 {
		t.Errorf("admin's usage report: got %v CPU seconds, want the coarse 2", got)
	}
	if got := report(jw.bureau.Token).Total.CPUSeconds; got != 1.5 {
		t.Errorf("bureau's usage report: got %v CPU seconds, want the exact 1.5", got)
	}
}

// TestExportAnswerWaitsForCoarseCheckTime: an export request is recorded
// and answered at its start plus the time its checks took rounded up by
// jobs.Coarse in units of 100 ms, since the files' content, which a job
// chose, sets how long the checks take. A check that takes 820 ms is
// answered no sooner than 1.6 s after the request (a lower bound: load
// only makes it later).
func TestExportAnswerWaitsForCoarseCheckTime(t *testing.T) {
	jw := newJobWorld(t)
	j := jw.runJob("ok", "counts.csv")
	jw.srv.Exports.Runner = nil
	jw.srv.Exports.Checks = []review.Check{funcCheck{"slow", func(context.Context, *review.Request) ([]review.Finding, error) {
		time.Sleep(820 * time.Millisecond)
		return []review.Finding{{Verdict: review.VerdictPass, Evidence: "slow"}}, nil
	}}}
	start := time.Now()
	var x api.Export
	jw.mustDo(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: j.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"}, &x)
	if took := time.Since(start); took < 1600*time.Millisecond {
		t.Fatalf("answered %v after the request, want no sooner than 1.6 s (820 ms of checks rounded up)", took)
	}
}

func TestCoarseDeadline(t *testing.T) {
	start := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ took, want time.Duration }{
		{0, 0}, {time.Millisecond, 100 * time.Millisecond}, {100 * time.Millisecond, 100 * time.Millisecond},
		{101 * time.Millisecond, 200 * time.Millisecond}, {820 * time.Millisecond, 1600 * time.Millisecond},
		{3 * time.Second, 3200 * time.Millisecond}, {100 * time.Second, 102400 * time.Millisecond},
	} {
		if got := coarseDeadline(start, start.Add(tc.took), checkTimeUnit).Sub(start); got != tc.want {
			t.Errorf("took %v: answered after %v, want %v", tc.took, got, tc.want)
		}
	}
}

// TestCancelOfAnEndedJobWaitsForTheReveal: an operator's cancel of a job
// that ended but that their view still shows running is refused only when
// the view shows the end, and the refusal does not name how it ended; were
// it refused at once, cancelling would time the end to the millisecond.
func TestCancelOfAnEndedJobWaitsForTheReveal(t *testing.T) {
	jw := newJobWorld(t)
	j := jw.runJob("ok", "counts.csv")
	// The harness clock stands still; the job ran 0.6 s, so its end is
	// revealed 1 s after its start: 0.4 s from now.
	start := jw.now.Add(-600 * time.Millisecond)
	if _, err := jw.db.SQL().Exec(`UPDATE jobs SET started_at = ?, ended_at = ? WHERE id = ?`, storetime.Format(start),
		storetime.Format(jw.now), j.ID); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	code, body := jw.do(jw.operator.Token, "POST", "/v1/jobs/"+j.ID+"/cancel", api.ReasonRequest{})
	if took := time.Since(t0); took < 400*time.Millisecond {
		t.Errorf("cancel of a job whose end is not yet shown refused after %v, want no sooner than its reveal, 0.4 s", took)
	}
	if code != 412 || strings.Contains(string(body), "complete") {
		t.Errorf("got %d %s, want 412 not naming how the job ended", code, body)
	}
}
