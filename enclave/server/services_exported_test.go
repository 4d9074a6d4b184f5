package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/release"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// releasedTable runs a job whose output counts.csv is table and releases
// it (two officers, overriding the test world's checks), for the purpose
// "dashboard"; it returns the export.
func (jw *jobWorld) releasedTable(table string) exports.Export {
	jw.t.Helper()
	jw.rt.RunFunc = func(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
		os.MkdirAll(spec.OutDir, 0o700)
		if err := os.WriteFile(filepath.Join(spec.OutDir, "counts.csv"), []byte(table), 0o600); err != nil {
			return sandbox.Exit{}, err
		}
		return sandbox.Exit{Reason: sandbox.ReasonExited, Outputs: []sandbox.File{{Name: "counts.csv", Size: int64(len(table))}}}, nil
	}
	j := jw.runJob("ok", "counts.csv")
	var x exports.Export
	jw.mustDo(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: j.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"}, &x)
	jw.mustDo(jw.officer.Token, "POST", "/v1/exports/"+x.ID+"/approve", overrideReview, nil)
	jw.mustDo(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", overrideReview, &x)
	if x.State != exports.Released {
		jw.t.Fatalf("export: got %s, want released", x.State)
	}
	return x
}

// publishOnExport has acme's operator create a service over an export,
// both officers of security approve it, the bank's consumer subscribe,
// the authority approve, and issues a token credential.
func (jw *jobWorld) publishOnExport(consumer api.PersonCreated, req api.ServiceRequest) api.Credential {
	jw.t.Helper()
	var sv api.Service
	jw.mustDo(jw.operator.Token, "POST", "/v1/services", req, &sv)
	if sv.State != "pending" || sv.Export != req.Export {
		jw.t.Fatalf("create: got %+v", sv)
	}
	for _, o := range []api.PersonCreated{jw.officer, jw.officer2} {
		if sv.State == "pending" {
			jw.mustDo(o.Token, "POST", "/v1/services/"+req.Name+"/approve", api.ServiceDecision{}, &sv)
		}
	}
	if sv.State != "approved" || !sv.Running {
		jw.t.Fatalf("approved: got %+v", sv)
	}
	var sub api.Subscription
	jw.mustDo(consumer.Token, "POST", "/v1/services/"+req.Name+"/subscriptions", api.SubscribeRequest{Scenario: "dashboard", Until: "2026-12-31"}, &sub)
	jw.mustDo(jw.authority.Token, "POST", "/v1/subscriptions/"+sub.ID+"/approve", nil, nil)
	var cr api.Credential
	jw.mustDo(consumer.Token, "POST", "/v1/credentials", api.CredentialRequest{Subscription: sub.ID, System: "stats"}, &cr)
	return cr
}

// TestServicesOverExport: bulk copy of a released export and its later
// releases of the same product, and query-reference over a released
// table; who may create them, what they answer, audit and meter, and
// their stop with the basis of the export's job.
func TestServicesOverExport(t *testing.T) {
	jw := newJobWorld(t)
	jw.mustDo(jw.authority.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "bank", Type: "company", LicenceFrom: "2026-01-01",
		LicenceUntil: "2027-12-31"}), nil)
	consumer := jw.member("Ma Li", "bank", "consumer")
	jw.mustDo(jw.authority.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "beta", Type: "company", LicenceFrom: "2026-01-01",
		LicenceUntil: "2027-12-31"}), nil)
	rival := jw.member("Zhang Fei", "beta", "operator")
	x := jw.releasedTable("district,count\nnorth,12\nsouth,30\n")

	// Refusals, each naming what is wrong and creating nothing.
	for _, tc := range []struct {
		name  string
		token string
		req   api.ServiceRequest
		code  int
		want  string
	}{
		{"another organisation's operator", rival.Token, api.ServiceRequest{Name: "b1", Mode: "bulk", Export: x.ID, Scenario: "dashboard"}, 404, "not found or not yours"},
		{"custodian", jw.custodian.Token, api.ServiceRequest{Name: "b1", Mode: "bulk", Export: x.ID, Scenario: "dashboard"}, 404, "not found or not yours"},
		{"unknown export", jw.operator.Token, api.ServiceRequest{Name: "b1", Mode: "bulk", Export: "x_nope", Scenario: "dashboard"}, 404, "not found or not yours"},
		{"other scenario", jw.operator.Token, api.ServiceRequest{Name: "b1", Mode: "bulk", Export: x.ID, Scenario: "marketing"}, 400, "another scenario"},
		{"bulk with a key", jw.operator.Token, api.ServiceRequest{Name: "b1", Mode: "bulk", Export: x.ID, Key: "district", Scenario: "dashboard"}, 400, "takes no --key"},
		{"bulk over a dataset", jw.operator.Token, api.ServiceRequest{Name: "b1", Mode: "bulk", Dataset: "penalties", Scenario: "dashboard"}, 400, "--export"},
		{"verify over an export", jw.operator.Token, api.ServiceRequest{Name: "b1", Mode: "verify", Export: x.ID, Key: "district", Scenario: "dashboard"}, 400, "runs over a dataset"},
		{"query, no such column", jw.operator.Token, api.ServiceRequest{Name: "q1", Mode: "query", Export: x.ID, Key: "district", Columns: []string{"nope"}, Scenario: "dashboard"}, 400, "has no column"},
		{"query, no such file", jw.operator.Token, api.ServiceRequest{Name: "q1", Mode: "query", Export: x.ID, File: "other.csv", Key: "district", Columns: []string{"count"}, Scenario: "dashboard"}, 400, "no file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := jw.do(tc.token, "POST", "/v1/services", tc.req)
			if code != tc.code || !strings.Contains(string(body), tc.want) {
				t.Fatalf("got %d %s, want %d naming %q", code, body, tc.code, tc.want)
			}
		})
	}
	var all []api.Service
	jw.mustDo(jw.officer.Token, "GET", "/v1/services", nil, &all)
	if len(all) != 0 {
		t.Fatalf("refused creates left services: %+v", all)
	}

	// Bulk: the bundle, verified offline, and its download audited and metered.
	cr := jw.publishOnExport(consumer, api.ServiceRequest{Name: "counts", Mode: "bulk", Export: x.ID, Scenario: "dashboard", Rate: "5/m"})
	pub, _ := jw.srv.Keyring.PublicKey(t.Context())
	latest := func() (int, []byte) { return jw.do(cr.Token, "GET", "/v1/services/counts/bulk/latest", nil) }
	code, body := latest()
	if code != 200 {
		t.Fatalf("bulk: got %d %s", code, body)
	}
	v, err := release.Verify(bytes.NewReader(body), pub)
	if err != nil || v.Predicate.Export != x.ID {
		t.Fatalf("bulk bundle: got %+v %v, want export %s verified", v, err, x.ID)
	}
	if code, _ := jw.do(jw.operator.Token, "GET", "/v1/services/counts/bulk/latest", nil); code != 403 {
		t.Fatalf("a person's token: got %d, want 403", code)
	}

	// The generated document (validated by kin-openapi before it is served)
	// names the bulk operation and nothing else.
	code, body = jw.do(consumer.Token, "GET", "/v1/services/counts/openapi.json", nil)
	if code != 200 || !strings.Contains(string(body), "/v1/services/counts/bulk/latest") || strings.Contains(string(body), "/verify") {
		t.Fatalf("bulk service document: got %d %s", code, body)
	}

	// A later release of the same product is what the subscriber gets next.
	jw.advance(time.Second)
	x2 := jw.releasedTable("district,count\nnorth,13\nsouth,31\n")
	if code, body = latest(); code != 200 {
		t.Fatalf("bulk after a second release: got %d %s", code, body)
	}
	if v, err = release.Verify(bytes.NewReader(body), pub); err != nil || v.Predicate.Export != x2.ID {
		t.Fatalf("bulk after a second release: got export %s %v, want %s", v.Predicate.Export, err, x2.ID)
	}
	// Each download: its intent before, its outcome (naming the export
	// sent) after the last byte, which the client may read first.
	var got []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got = got[:0]
		for _, e := range jw.entries("service.bulk") {
			got = append(got, e.Event.Outcome+":"+strings.Join(e.Event.Objects, ","))
		}
		if len(got) >= 5 || time.Now().After(deadline) {
			break
		}
	}
	if len(got) != 5 || got[0] != "intent:service:counts" || !strings.HasPrefix(got[1], "ok:") || !strings.Contains(got[1], "export:"+x.ID) ||
		!strings.HasPrefix(got[2], "denied:") || got[3] != "intent:service:counts" || !strings.HasPrefix(got[4], "ok:") ||
		!strings.Contains(got[4], "export:"+x2.ID) || !strings.Contains(got[4], "credential:"+cr.ID) {
		t.Fatalf("service.bulk audit entries: got %v, want intent and ok for each download naming the export, the person's call denied", got)
	}
	var us []api.ServiceUsage
	jw.mustDo(consumer.Token, "GET", "/v1/services/counts/usage", nil, &us)
	if len(us) != 1 || us[0].Calls != 2 {
		t.Fatalf("bulk usage: got %+v, want 2 calls", us)
	}

	// Query over the released table: one subject's approved columns.
	qc := jw.publishOnExport(consumer, api.ServiceRequest{Name: "district-counts", Mode: "query", Export: x.ID, Key: "district",
		Columns: []string{"count"}, Scenario: "dashboard"})
	if code, body := jw.do(consumer.Token, "GET", "/v1/services/district-counts/openapi.json", nil); code != 200 || !strings.Contains(string(body), "released export "+x.ID) {
		t.Fatalf("query service document: got %d %s", code, body)
	}
	var qa api.QueryAnswer
	jw.mustDo(qc.Token, "POST", "/v1/services/district-counts/query", api.QueryRequest{Key: "south"}, &qa)
	if !qa.Found || len(qa.Rows) != 1 || qa.Rows[0]["count"] != "30" || len(qa.Rows[0]) != 1 {
		t.Fatalf("query south: got %+v, want count 30 only", qa)
	}
	jw.mustDo(qc.Token, "POST", "/v1/services/district-counts/query", api.QueryRequest{Key: "east"}, &qa)
	if qa.Found || len(qa.Rows) != 0 {
		t.Fatalf("query east: got %+v, want not found", qa)
	}
	if ents := jw.entries("service.query"); len(ents) != 2 || ents[0].Event.Details["key_hash"] == "" || strings.Contains(ents[0].Event.Details["key_hash"], "south") {
		t.Fatalf("query audit: got %+v", ents)
	}

	// The subscription's rate (5 a minute) holds downloads too: 429 with Retry-After.
	for i := 0; i < 3; i++ {
		if code, _ := latest(); code != 200 {
			t.Fatalf("download %d of 5 in a minute: got %d", i+3, code)
		}
	}
	req, _ := http.NewRequest("GET", jw.http.URL+"/v1/services/counts/bulk/latest", nil)
	req.Header.Set("Authorization", "Bearer "+cr.Token)
	resp, err := jw.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("6th download in a minute: got %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	jw.advance(time.Minute)

	// Both stop with the basis of the export's job: an open incident on
	// the dataset, then a sealed dataset, then the grant revoked.
	var inc api.Incident
	jw.mustDo(jw.officer.Token, "POST", "/v1/incidents", api.IncidentRequest{Dataset: "penalties", Reason: "leak suspected"}, &inc)
	jw.advance(2e9)
	if code, body = latest(); code != 412 || !strings.Contains(string(body), "open incident") {
		t.Fatalf("incident: got %d %s, want 412", code, body)
	}
	jw.mustDo(jw.authority.Token, "POST", "/v1/incidents/"+inc.ID+"/close", api.DecisionRequest{Decision: "no leak"}, nil)
	jw.advance(2e9)
	if code, body = latest(); code != 200 {
		t.Fatalf("incident closed: got %d %s", code, body[:min(len(body), 200)])
	}
	jw.mustDo(jw.custodian.Token, "POST", "/v1/datasets/penalties/seal", api.ReasonRequest{Reason: "review"}, nil)
	jw.advance(2e9)
	if code, body = jw.do(qc.Token, "POST", "/v1/services/district-counts/query", api.QueryRequest{Key: "south"}); code != 412 || !strings.Contains(string(body), "sealed") {
		t.Fatalf("sealed dataset: got %d %s, want 412 naming it", code, body)
	}
	jw.mustDo(jw.custodian.Token, "POST", "/v1/datasets/penalties/unseal", api.ReasonRequest{Reason: "review done"}, nil)
	// An incident on the job the export came from stops the service too.
	jw.mustDo(jw.officer.Token, "POST", "/v1/incidents", api.IncidentRequest{Job: x2.Job, Reason: "its output looks wrong"}, &inc)
	jw.advance(2e9)
	if code, body = latest(); code != 412 || !strings.Contains(string(body), "on job") {
		t.Fatalf("incident on the job: got %d %s, want 412 naming it", code, body)
	}
	jw.mustDo(jw.authority.Token, "POST", "/v1/incidents/"+inc.ID+"/close", api.DecisionRequest{Decision: "checked"}, nil)
	jw.mustDo(jw.authority.Token, "POST", "/v1/applications/"+jw.grantID()+"/revoke", api.ReasonRequest{Reason: "licence breach"}, nil)
	jw.advance(2e9)
	if code, body = latest(); code != 412 || !strings.Contains(string(body), "revoked") {
		t.Fatalf("grant revoked: got %d %s, want 412 naming it", code, body)
	}
}
