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
// the audit entries of a job (its start here; its end is not listed to
// them at all, see TestCoarseAuditHasNoJobEnds) and the usage reports are
// rounded by jobs.Coarse; only the bureau reads them exactly.
func TestAdminReadsJobFiguresCoarsely(t *testing.T) {
	jw := newJobWorld(t)
	j := jw.runJob("fail", "counts.csv")
	entry := func(token, action string) map[string]string {
		t.Helper()
		var evs []api.AuditEvent
		jw.mustDo(token, "GET", "/v1/audit?action="+action, nil, &evs)
		for _, ev := range evs {
			if slicesContains(ev.Objects, "job:"+j.ID) {
				return ev.Details
			}
		}
		t.Fatalf("no %s entry of %s among %+v", action, j.ID, evs)
		return nil
	}
	if exact := entry(jw.bureau.Token, "job.end"); exact["peak_memory_bytes"] != "5242881" || exact["exit_code"] != "3" {
		t.Errorf("bureau: got %v, want the exact figures", exact)
	}
	exact, admin := entry(jw.bureau.Token, "job.start")["input_bytes"], entry(jw.admin, "job.start")["input_bytes"]
	if exact == "" || exact == "1048576" || admin != "1048576" {
		t.Errorf("input bytes of the job's start: bureau %q, admin %q; want exact and 1 MiB", exact, admin)
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

// TestCoarseAuditHasNoJobEnds: to a reader of the coarse view of the
// audit log (admins, custodians) the entries of jobs' ends are not listed,
// by any filter, time window or cursor: the entry is written at the real
// end, so its time, index, place among entries an operator can add at will,
// and whether a window selects it would each time the job. The bureau
// reads them.
func TestCoarseAuditHasNoJobEnds(t *testing.T) {
	jw := newJobWorld(t)
	j := jw.runJob("ok", "counts.csv")
	has := func(token, query, action string) bool {
		t.Helper()
		var evs []api.AuditEvent
		jw.mustDo(token, "GET", "/v1/audit"+query, nil, &evs)
		for _, ev := range evs {
			if ev.Action == action && slicesContains(ev.Objects, "job:"+j.ID) {
				return true
			}
		}
		return false
	}
	since := jw.now.Add(-time.Hour).Format(time.RFC3339)
	for _, q := range []string{"", "?action=job.end", "?since=" + since, "?cursor=1", "?order=newest&limit=1000", "?dataset=penalties"} {
		if !has(jw.bureau.Token, q, "job.end") {
			t.Errorf("bureau, %q: the job's end is not listed", q)
		}
		if q != "?dataset=penalties" && has(jw.admin, q, "job.end") {
			t.Errorf("admin, %q: the job's end is listed", q)
		}
		if q == "?dataset=penalties" && has(jw.custodian.Token, q, "job.end") {
			t.Errorf("custodian, %q: the job's end is listed", q)
		}
	}
	if !has(jw.admin, "", "job.start") || !has(jw.custodian.Token, "?dataset=penalties", "job.start") {
		t.Error("coarse readers: the job's start is not listed")
	}
	code, body := jw.do(jw.admin, "GET", "/v1/audit/export", nil)
	if code != 200 || strings.Contains(string(body), `"action":"job.end"`) {
		t.Errorf("admin's export: got %d with a job end: %.200s", code, body)
	}
}

// TestExportOfAnUnrevealedJobIsRefused: a job whose end its operator's
// view does not show yet cannot be exported yet, and the refusal says it
// is running: an export request accepted at once would time the end.
func TestExportOfAnUnrevealedJobIsRefused(t *testing.T) {
	jw := newJobWorld(t)
	j := jw.runJob("ok", "counts.csv")
	// The harness clock stands still; the job ran 5 s: its end is
	// revealed 3 s from now.
	if _, err := jw.db.SQL().Exec(`UPDATE jobs SET started_at = ?, ended_at = ? WHERE id = ?`, storetime.Format(jw.now.Add(-5*time.Second)),
		storetime.Format(jw.now), j.ID); err != nil {
		t.Fatal(err)
	}
	req := api.ExportRequest{Job: j.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"}
	code, body := jw.do(jw.operator.Token, "POST", "/v1/exports", req)
	if code != 412 || !strings.Contains(string(body), "is running") {
		t.Fatalf("before the reveal: got %d %s, want 412 saying the job is running", code, body)
	}
	jw.advance(3 * time.Second)
	if code, body := jw.do(jw.operator.Token, "POST", "/v1/exports", req); code != 201 && code != 200 {
		t.Fatalf("at the reveal: got %d %s, want the request accepted", code, body)
	}
}
