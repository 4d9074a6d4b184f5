package metrics

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	_ "github.com/enclave-dev/enclave/enclave/exports" // the exports table
	_ "github.com/enclave-dev/enclave/enclave/jobs"    // the jobs table
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("got status %d, want 200", rec.Code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

// value returns the value of the sample of family name whose labels
// include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestScrape(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, j := range []struct{ id, org, state, usage string }{
		{"j1", "acme", "complete", `{"cpu_seconds": 100, "input_bytes": 1000, "output_bytes": 10, "wall_seconds": 50, "peak_memory_bytes": 7000}`},
		{"j2", "acme", "executor-error", `{"cpu_seconds": 20, "input_bytes": 500, "wall_seconds": 4000, "peak_memory_bytes": 9000}`},
		{"j3", "globex", "running", `{}`},
	} {
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at)
			VALUES (?, ?, 'p', 'i', '[]', '[]', '{}', '{}', ?, ?, '2026-01-01T00:00:00Z')`, j.id, j.org, j.state, j.usage); err != nil {
			t.Fatal(err)
		}
	}
	// j4 ended a second ago after 9 s: its end is revealed 16 s after its
	// start, 6 s from now. Until then it counts as running and its use,
	// large enough to show, is left out.
	now := time.Now()
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at, started_at, ended_at)
		VALUES ('j4', 'globex', 'p', 'i', '[]', '[]', '{}', '{}', 'complete', '{"cpu_seconds": 1000, "wall_seconds": 9}', '2026-01-01T00:00:00Z', ?, ?)`,
		storetime.Format(now.Add(-10*time.Second)), storetime.Format(now.Add(-time.Second))); err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct{ id, state string }{{"x1", "released"}, {"x2", "released"}, {"x3", "rejected"}} {
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO exports(id, job, org, requester, purpose, scenario, files, declared, level, state, result, approvals_needed, created_at)
			VALUES (?, 'j1', 'acme', 'p', 'p', 's', '[]', '{}', 'general-1', ?, '{}', 1, '2026-01-02T00:00:00Z')`, e.id, e.state); err != nil {
			t.Fatal(err)
		}
	}
	size := uint64(42)
	m := New(db.SQL(), Options{AuditSize: func() uint64 { return size }})
	m.ObserveDecision("job.run", Allow)
	m.ObserveDecision("job.run", Deny)
	m.ObserveDecision("job.run", Deny)
	fams := scrape(t, m)
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"enclave_jobs", map[string]string{"state": "complete"}, 1},
		{"enclave_jobs", map[string]string{"state": "running"}, 2}, // j3, and j4 until its end is revealed
		{"enclave_exports", map[string]string{"state": "released"}, 2},
		{"enclave_exports", map[string]string{"state": "rejected"}, 1},
		// Each job's figures as the coarse view rounds them (jobs.Coarse):
		// 100 + 20 CPU seconds read as 128 + 32, 1000 and 500 input bytes as
		// 1 MiB each, 10 output bytes as 4 KiB, peaks of 7000 and 9000 bytes
		// as 1 MiB.
		{"enclave_org_cpu_seconds_total", map[string]string{"org": "acme"}, 160},
		{"enclave_org_input_bytes_total", map[string]string{"org": "acme"}, 2 << 20},
		{"enclave_org_output_bytes_total", map[string]string{"org": "acme"}, 4096},
		{"enclave_org_peak_memory_bytes", map[string]string{"org": "acme"}, 1 << 20},
		{"enclave_org_cpu_seconds_total", map[string]string{"org": "globex"}, 0},
		{"enclave_org_jobs_total", map[string]string{"org": "globex"}, 2},
		{"enclave_job_duration_seconds", nil, 2}, // ended and revealed jobs only
		{"enclave_policy_decisions_total", map[string]string{"action": "job.run", "outcome": "deny"}, 2},
		{"enclave_policy_decisions_total", map[string]string{"action": "job.run", "outcome": "allow"}, 1},
		{"enclave_audit_log_entries", nil, 42},
		{"enclave_metrics_state_up", nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := value(fams, tc.name, tc.labels)
			if !ok || got != tc.want {
				t.Errorf("got %v (present %v), want %v", got, ok, tc.want)
			}
		})
	}
	// The histogram's buckets: 50 s, read as 64, falls in <= 300, 4000 s,
	// read as 4096, in <= 14400.
	h := fams["enclave_job_duration_seconds"].Metric[0].Histogram
	for _, b := range h.Bucket {
		var want uint64
		switch ub := b.GetUpperBound(); {
		case ub >= 4*3600:
			want = 2
		case ub >= 300:
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v: got %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if h.GetSampleSum() != 4160 {
		t.Errorf("got duration sum %v, want 4160 (64 + 4096)", h.GetSampleSum())
	}
}

func TestScrapeDatabaseDown(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	m := New(db.SQL(), Options{})
	m.ObserveDecision("whoami", Allow)
	db.Close()
	fams := scrape(t, m)
	if _, ok := fams["enclave_metrics_state_up"]; ok {
		t.Errorf("got a state_up sample, want none when the database is closed")
	}
	if got, _ := value(fams, "enclave_policy_decisions_total", nil); got != 1 {
		t.Errorf("got %v decisions, want 1 (served even when the state is not)", got)
	}
}

// TestPolicyChecks: checks of decisions against topdown are counted by
// action and result, and each mismatch by action and evaluator too.
func TestPolicyChecks(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := New(db.SQL(), Options{})
	m.ObservePolicyCheck("job.run", "vm", CheckAgree)
	m.ObservePolicyCheck("job.run", "vm", CheckAgree)
	m.ObservePolicyCheck("job.run", "vm", CheckMismatch)
	m.ObservePolicyCheck("whoami", "vm", CheckSkipped)
	fams := scrape(t, m)
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"enclave_policy_shadow_checks_total", map[string]string{"action": "job.run", "result": "agree"}, 2},
		{"enclave_policy_shadow_checks_total", map[string]string{"action": "job.run", "result": "mismatch"}, 1},
		{"enclave_policy_shadow_checks_total", map[string]string{"action": "whoami", "result": "skipped"}, 1},
		{"enclave_policy_mismatches_total", map[string]string{"action": "job.run", "evaluator": "vm"}, 1},
	}
	for _, tc := range tests {
		if got, ok := value(fams, tc.name, tc.labels); !ok || got != tc.want {
			t.Errorf("%s%v: got %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if _, ok := value(fams, "enclave_policy_mismatches_total", map[string]string{"action": "whoami"}); ok {
		t.Error("a skipped check counted as a mismatch")
	}
}
