package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/metrics"
)

// seedUsage records metered jobs and exports of two organisations.
func seedUsage(t *testing.T, w *world) {
	t.Helper()
	for _, j := range []struct{ id, org, created, usage string }{
		{"j_u1", "acme", "2026-03-02T10:00:00Z", `{"cpu_seconds": 7200, "input_bytes": 2000000000, "output_bytes": 1000, "wall_seconds": 3600, "peak_memory_bytes": 1000000}`},
		{"j_u2", "acme", "2026-04-02T10:00:00Z", `{"cpu_seconds": 3600, "input_bytes": 1000000000, "wall_seconds": 60, "peak_memory_bytes": 3000000}`},
		{"j_u3", "security", "2026-04-05T10:00:00Z", `{"cpu_seconds": 36, "wall_seconds": 10}`},
	} {
		if _, err := w.db.SQL().Exec(`INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at)
			VALUES (?, ?, 'p_x', 'sha256:x', '[]', '[{"dataset":"penalties","version":1}]', '{}', '{}', 'complete', ?, ?)`, j.id, j.org, j.usage, j.created); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []struct{ id, state string }{{"x_u1", "released"}, {"x_u2", "rejected"}} {
		if _, err := w.db.SQL().Exec(`INSERT INTO exports(id, job, org, requester, purpose, scenario, files, declared, level, state, result, approvals_needed, created_at)
			VALUES (?, 'j_u1', 'acme', 'p_x', 'p', 's', '[]', '{}', 'general-2', ?, '{}', 1, '2026-03-03T10:00:00Z')`, e.id, e.state); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUsageReport(t *testing.T) {
	w := newWorld(t)
	seedUsage(t, w)
	bureau := w.person("Sun Hao", "platform", "bureau")
	tests := []struct {
		name, token, query string
		status             int
		rows               map[string]float64 // key -> CPU-hours
	}{
		{"bureau, every org", bureau.Token, "", 200, map[string]float64{"acme": 3, "security": 0.01}},
		{"bureau, period", bureau.Token, "?from=2026-04-01&to=2026-04-30", 200, map[string]float64{"acme": 1, "security": 0.01}},
		{"bureau, to is inclusive", bureau.Token, "?to=2026-03-02", 200, map[string]float64{"acme": 2}},
		// Operators roll up each job's coarse figures: 7200 s and 3600 s
		// of CPU are read as 8192 s and 4096 s.
		{"operator, own org by month", w.operator.Token, "?org=acme&by=month", 200, map[string]float64{"2026-03": 8192.0 / 3600, "2026-04": 4096.0 / 3600}},
		{"operator, another org", w.operator.Token, "?org=security", 403, nil},
		// Without org, an operator's report is their own organisation's
		// (issue 21), not a refusal the bureau's incident list would show.
		{"operator, no org: their own", w.operator.Token, "", 200, map[string]float64{"acme": 12288.0 / 3600}},
		{"custodian", w.custodian.Token, "?org=acme", 403, nil},
		{"unknown key", bureau.Token, "?by=colour", 400, nil},
		{"bad date", bureau.Token, "?from=March", 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := w.do(tc.token, "GET", "/v1/usage"+tc.query, nil)
			if code != tc.status {
				t.Fatalf("got status %d (%s), want %d", code, body, tc.status)
			}
			if tc.rows == nil {
				return
			}
			var rep api.UsageReport
			if err := json.Unmarshal(body, &rep); err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, r := range rep.Rows {
				got[r.Key] = r.CPUHours
				if r.Charge.Total <= 0 {
					t.Errorf("row %q: got charge %v, want a positive charge under the default prices", r.Key, r.Charge.Total)
				}
			}
			if len(got) != len(tc.rows) {
				t.Errorf("got rows %v, want %v", got, tc.rows)
			}
			for k, v := range tc.rows {
				if got[k] != v {
					t.Errorf("row %q: got %v CPU-hours, want %v", k, got[k], v)
				}
			}
		})
	}
	// Every allowed report is on the record.
	if n := len(w.entries("usage.report")); n != 9 {
		t.Errorf("got %d usage.report audit entries, want 9 (allowed, denied and refused)", n)
	}
}

func TestQuotaAndAnnualReport(t *testing.T) {
	w := newWorld(t)
	seedUsage(t, w)
	four := int64(4)
	code, body := w.do(w.operator.Token, "PUT", "/v1/orgs/acme/quota", api.Quota{ConcurrentJobs: &four})
	if code != http.StatusForbidden {
		t.Errorf("operator sets quota: got %d (%s), want 403", code, body)
	}
	var q api.Quota
	w.mustDo(w.authority.Token, "PUT", "/v1/orgs/acme/quota", api.Quota{ConcurrentJobs: &four}, &q)
	w.mustDo(w.authority.Token, "GET", "/v1/orgs/acme/quota", nil, &q)
	if q.ConcurrentJobs == nil || *q.ConcurrentJobs != 4 || q.CPUSecondsMonth != nil {
		t.Errorf("got quota %+v, want 4 concurrent jobs and no CPU limit", q)
	}
	if code, _ := w.do(w.authority.Token, "PUT", "/v1/orgs/nowhere/quota", api.Quota{ConcurrentJobs: &four}); code != 404 {
		t.Errorf("quota of an unknown org: got %d, want 404", code)
	}
	if n := len(w.entries("org.quota")); n < 3 {
		t.Errorf("got %d org.quota audit entries, want at least 3", n)
	}

	code, body = w.do(w.operator.Token, "GET", "/v1/reports/annual?org=acme&year=2026", nil)
	if code != 200 || !strings.Contains(string(body), "<svg") || !strings.Contains(string(body), `data-label="03" data-series="0" data-value="2.28"`) {
		t.Errorf("annual report: got %d, %d bytes, want 200 and an SVG chart with March's 2 CPU-hours, read coarsely as 8192 s", code, len(body))
	}
	bureau := w.person("Sun Hao", "platform", "bureau")
	code, body = w.do(bureau.Token, "GET", "/v1/reports/annual?org=acme&year=2026", nil)
	if code != 200 || !strings.Contains(string(body), `data-label="03" data-series="0" data-value="2.00"`) {
		t.Errorf("annual report for the bureau: got %d, want March's exact 2 CPU-hours", code)
	}
	if code, _ := w.do(w.operator.Token, "GET", "/v1/reports/annual?org=security&year=2026", nil); code != 403 {
		t.Errorf("annual report of another org: got %d, want 403", code)
	}
	if code, _ := w.do(w.operator.Token, "GET", "/v1/reports/annual?org=acme&year=twenty", nil); code != 400 {
		t.Errorf("annual report, bad year: got %d, want 400", code)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	w := newWorld(t)
	seedUsage(t, w)
	bureau := w.person("Sun Hao", "platform", "bureau")
	if code, _ := w.do(bureau.Token, "GET", "/metrics", nil); code != 404 {
		t.Errorf("metrics not enabled: got %d, want 404", code)
	}
	w.srv.Metrics = metrics.New(w.db.SQL(), metrics.Options{AuditSize: w.log.Size})
	w.do(w.operator.Token, "GET", "/v1/usage?org=security", nil) // a deny
	for _, tc := range []struct {
		name, token string
		status      int
	}{{"operator", w.operator.Token, 403}, {"anonymous", "", 401}, {"bureau", bureau.Token, 200}} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := w.do(tc.token, "GET", "/metrics", nil)
			if code != tc.status {
				t.Fatalf("got %d, want %d", code, tc.status)
			}
			if code != 200 {
				return
			}
			p := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			var denies float64
			for _, m := range fams["enclave_policy_decisions_total"].GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["action"] == "usage.report" && labels["outcome"] == "deny" {
					denies = m.GetCounter().GetValue()
				}
			}
			if denies != 1 {
				t.Errorf("got %v usage.report denies, want 1", denies)
			}
			var jobs float64
			for _, m := range fams["enclave_jobs"].GetMetric() {
				jobs += m.GetGauge().GetValue()
			}
			if jobs != 3 {
				t.Errorf("got %v jobs, want 3", jobs)
			}
			if n := fams["enclave_audit_log_entries"].GetMetric()[0].GetGauge().GetValue(); n < 10 {
				t.Errorf("got %v audit entries, want the log's size", n)
			}
		})
	}
}

func TestAuditByDataset(t *testing.T) {
	w := newWorld(t)
	other := w.person("Ma Li", "acme", "custodian")
	bureau := w.person("Sun Hao", "platform", "bureau")
	tests := []struct {
		name, token, query string
		status             int
	}{
		{"custodian, own dataset", w.custodian.Token, "?dataset=penalties", 200},
		{"custodian, whole log", w.custodian.Token, "", 403},
		{"custodian of another org", other.Token, "?dataset=penalties", 403},
		{"custodian, unknown dataset", w.custodian.Token, "?dataset=nothing", 403},
		{"bureau, dataset", bureau.Token, "?dataset=penalties&limit=1", 200},
		{"operator", w.operator.Token, "?dataset=penalties", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := w.do(tc.token, "GET", "/v1/audit"+tc.query, nil)
			if code != tc.status {
				t.Fatalf("got %d (%s), want %d", code, body, tc.status)
			}
			if code != 200 {
				return
			}
			var evs []api.AuditEvent
			if err := json.Unmarshal(body, &evs); err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 || strings.Contains(tc.query, "limit=1") && len(evs) != 1 {
				t.Fatalf("got %d events, want some (one with limit=1)", len(evs))
			}
			for _, e := range evs {
				if !aboutDataset(e.Objects, "penalties") {
					t.Errorf("got event %d %q on %v, want only events about dataset penalties", e.Index, e.Action, e.Objects)
				}
			}
		})
	}
}

func TestAboutDataset(t *testing.T) {
	tests := []struct {
		objects []string
		want    bool
	}{
		{[]string{"dataset:penalties"}, true},
		{[]string{"job:j1", "dataset:penalties@2"}, true},
		{[]string{"dataset:penalties-2024"}, false},
		{[]string{"dataset:pen"}, false},
		{nil, false},
	}
	for _, tc := range tests {
		if got := aboutDataset(tc.objects, "penalties"); got != tc.want {
			t.Errorf("%v: got %v, want %v", tc.objects, got, tc.want)
		}
	}
}

func TestAuditByDatasetPages(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	for i := 0; i < 40; i++ {
		obj := fmt.Sprintf("dataset:other@%d", i)
		if i%3 == 0 {
			obj = fmt.Sprintf("dataset:penalties@%d", i)
		}
		if _, err := h.log.Append(ctx, audit.Event{Time: h.now, Actor: "p", Action: "job.run", Outcome: "ok", Retention: "3y", Objects: []string{obj}}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := h.log.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for _, e := range all {
		if aboutDataset(e.Event.Objects, "penalties") {
			want = append(want, e.Index)
		}
	}
	defer func(p int) { auditPage = p }(auditPage)
	for _, page := range []int{1, 2, 5, 4096} {
		for _, newest := range []bool{false, true} {
			for _, limit := range []int{1, 4, 13, 14, 100} {
				t.Run(fmt.Sprintf("page %d newest %v limit %d", page, newest, limit), func(t *testing.T) {
					auditPage = page
					c := &call{r: httptest.NewRequest("GET", "/v1/audit?dataset=penalties", nil)}
					got, err := h.srv.auditEntries(ctx, c, audit.Filter{Limit: limit, Newest: newest})
					if err != nil {
						t.Fatal(err)
					}
					exp := slices.Clone(want)
					if newest {
						slices.Reverse(exp)
					}
					exp = exp[:min(limit, len(exp))]
					var idx []uint64
					for _, e := range got {
						idx = append(idx, e.Index)
					}
					if !slices.Equal(idx, exp) {
						t.Errorf("got %v, want %v", idx, exp)
					}
				})
			}
		}
	}
}

// TestUsageByPersonNamesPeople: a report by person gives each person's name
// beside the id in key (issue 21), and a key that names no person keeps the
// id alone.
func TestUsageByPersonNamesPeople(t *testing.T) {
	w := newWorld(t)
	seedUsage(t, w)
	bureau := w.person("Sun Hao", "platform", "bureau")
	analyst := w.person("Li Na", "acme", "operator")
	if _, err := w.db.SQL().Exec(`INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at)
		VALUES ('j_u9', 'acme', ?, 'sha256:x', '[]', '[{"dataset":"penalties","version":1}]', '{}', '{}', 'complete', '{"cpu_seconds": 36}', '2026-03-05T10:00:00Z')`,
		analyst.ID); err != nil {
		t.Fatal(err)
	}
	code, body := w.do(bureau.Token, "GET", "/v1/usage?by=person", nil)
	if code != 200 {
		t.Fatalf("got status %d (%s)", code, body)
	}
	var rep api.UsageReport
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, r := range rep.Rows {
		names[r.Key] = r.Name
	}
	if names[analyst.ID] != "Li Na" {
		t.Errorf("row %s: got name %q, want Li Na (rows %v)", analyst.ID, names[analyst.ID], names)
	}
	if n, ok := names["p_x"]; !ok || n != "" {
		t.Errorf("row p_x (no such person): got name %q (present %v), want the id alone", n, ok)
	}
	// Other groupings carry no names.
	_, body = w.do(bureau.Token, "GET", "/v1/usage?by=org", nil)
	if strings.Contains(string(body), `"name"`) {
		t.Errorf("a report by organisation carries names: %s", body)
	}
}
