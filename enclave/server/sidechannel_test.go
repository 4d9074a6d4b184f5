package server

import (
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
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
