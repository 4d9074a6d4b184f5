package client

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
)

// seen is one request as the fake daemon received it.
type seen struct {
	Method, Path, Query, Auth, ContentType string
	Body                                   string
}

// daemon is a fake daemon: it records each request and answers with the
// next of its answers (status and body).
type daemon struct {
	t       *testing.T
	got     []seen
	answers []answer
}

type answer struct {
	status int
	body   string
}

func (d *daemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d.got = append(d.got, seen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"),
		ContentType: r.Header.Get("Content-Type"), Body: string(body)})
	a := answer{status: 200, body: "{}"}
	if len(d.answers) > 0 {
		a, d.answers = d.answers[0], d.answers[1:]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

// overUnix serves d on a unix socket and returns a client of it acting
// with token.
func overUnix(t *testing.T, d http.Handler, token string) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "enclaved.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(d)
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	c, err := New(sock, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCalls: each call sends its method, path (escaped), query and body,
// with the token, and decodes the daemon's answer into its api type.
func TestCalls(t *testing.T) {
	ctx := context.Background()
	job := api.Job{ID: "j-1", State: "complete", Outputs: []api.JobOutput{{Name: "counts.csv", Size: 4096}}}
	tests := []struct {
		name string
		call func(c *Client) (any, error)
		body string // the daemon's answer
		want seen   // Auth is filled in
		out  any    // the decoded answer
	}{
		{"whoami", func(c *Client) (any, error) { return c.Whoami(ctx) },
			jsonOf(api.Whoami{Person: api.Person{ID: "p_1", Roles: []string{"operator"}}, Org: api.Org{ID: "acme", Name: "acme"}, TokenID: "t_1"}),
			seen{Method: "GET", Path: "/v1/whoami"},
			api.Whoami{Person: api.Person{ID: "p_1", Roles: []string{"operator"}}, Org: api.Org{ID: "acme", Name: "acme"}, TokenID: "t_1"}},
		{"add org", func(c *Client) (any, error) { return c.AddOrg(ctx, api.OrgRequest{Name: "acme", Type: "company"}) },
			jsonOf(api.Org{ID: "acme", Name: "acme", Type: "company"}),
			seen{Method: "POST", Path: "/v1/orgs", ContentType: "application/json", Body: jsonOf(api.OrgRequest{Name: "acme", Type: "company"})},
			api.Org{ID: "acme", Name: "acme", Type: "company"}},
		{"people of an org", func(c *Client) (any, error) { return c.ListPeople(ctx, "credit centre") },
			jsonOf([]api.Person{{ID: "p_1"}}), seen{Method: "GET", Path: "/v1/people", Query: "org=credit+centre"}, []api.Person{{ID: "p_1"}}},
		{"agreement of an odd id", func(c *Client) (any, error) {
			return c.RenewAgreement(ctx, "p/1?x", api.AgreementRequest{Until: "2027-01-01", Liability: "L"})
		}, jsonOf(api.Person{ID: "p/1?x"}),
			seen{Method: "POST", Path: "/v1/people/p%2F1%3Fx/agreement", ContentType: "application/json", Body: jsonOf(api.AgreementRequest{Until: "2027-01-01", Liability: "L"})},
			api.Person{ID: "p/1?x"}},
		{"token revoke", func(c *Client) (any, error) { return c.RevokeToken(ctx, "t_2") }, jsonOf(api.Token{ID: "t_2", RevokedAt: "2026-01-01"}),
			seen{Method: "POST", Path: "/v1/tokens/t_2/revoke"}, api.Token{ID: "t_2", RevokedAt: "2026-01-01"}},
		{"image import", func(c *Client) (any, error) { return c.ImportImage(ctx, "model", strings.NewReader("tar bytes")) },
			jsonOf(api.Image{Digest: "sha256:ab", Status: "pending"}),
			seen{Method: "POST", Path: "/v1/images", Query: "name=model", ContentType: "application/x-tar", Body: "tar bytes"},
			api.Image{Digest: "sha256:ab", Status: "pending"}},
		{"image approve", func(c *Client) (any, error) { return c.DecideImage(ctx, "sha256:ab", "approve", "ok") },
			jsonOf(api.Image{Digest: "sha256:ab", Status: "approved"}),
			seen{Method: "POST", Path: "/v1/images/sha256:ab/approve", ContentType: "application/json", Body: `{"comment":"ok"}`},
			api.Image{Digest: "sha256:ab", Status: "approved"}},
		{"job run", func(c *Client) (any, error) {
			return c.RunJob(ctx, api.JobRequest{Image: "sha256:ab", Inputs: []string{"credit"}, Args: []string{"run"}})
		}, jsonOf(job),
			seen{Method: "POST", Path: "/v1/jobs", ContentType: "application/json", Body: jsonOf(api.JobRequest{Image: "sha256:ab", Inputs: []string{"credit"}, Args: []string{"run"}})},
			job},
		{"job outputs", func(c *Client) (any, error) { return c.JobOutputs(ctx, "j-1") }, jsonOf(job.Outputs),
			seen{Method: "GET", Path: "/v1/jobs/j-1/outputs"}, job.Outputs},
		{"job halt", func(c *Client) (any, error) { return c.StopJob(ctx, "j-1", "halt", "leak") }, jsonOf(job),
			seen{Method: "POST", Path: "/v1/jobs/j-1/halt", ContentType: "application/json", Body: `{"reason":"leak"}`}, job},
		{"export request", func(c *Client) (any, error) {
			return c.RequestExport(ctx, api.ExportRequest{Job: "j-1", Files: []string{"counts.csv"}, Purpose: "p"})
		}, jsonOf(api.Export{ID: "x_1", Checks: api.ExportChecks{Verdict: "pass"}}),
			seen{Method: "POST", Path: "/v1/exports", ContentType: "application/json", Body: jsonOf(api.ExportRequest{Job: "j-1", Files: []string{"counts.csv"}, Purpose: "p"})},
			api.Export{ID: "x_1", Checks: api.ExportChecks{Verdict: "pass"}}},
		{"export changes", func(c *Client) (any, error) {
			return c.DecideExport(ctx, "x_1", "request-changes", api.ReviewRequest{Comment: "fewer rows"})
		}, jsonOf(api.Export{ID: "x_1", State: "changes-requested"}),
			seen{Method: "POST", Path: "/v1/exports/x_1/request-changes", ContentType: "application/json", Body: `{"comment":"fewer rows"}`},
			api.Export{ID: "x_1", State: "changes-requested"}},
		{"releases", func(c *Client) (any, error) { return c.ListReleases(ctx) }, `[]`, seen{Method: "GET", Path: "/v1/releases"}, []api.Export{}},
		{"application", func(c *Client) (any, error) {
			return c.FileApplication(ctx, api.ApplicationRequest{Datasets: []string{"credit"}, Purpose: "p", Scenario: "s", Until: "2027-01-01"})
		}, jsonOf(api.Application{ID: "a_1", Status: "pending"}),
			seen{Method: "POST", Path: "/v1/applications", ContentType: "application/json",
				Body: jsonOf(api.ApplicationRequest{Datasets: []string{"credit"}, Purpose: "p", Scenario: "s", Until: "2027-01-01"})},
			api.Application{ID: "a_1", Status: "pending"}},
		{"grant", func(c *Client) (any, error) { return c.ShowGrant(ctx, "g_1") }, jsonOf(api.Grant{ID: "g_1", Approvers: []string{"p_2"}}),
			seen{Method: "GET", Path: "/v1/grants/g_1"}, api.Grant{ID: "g_1", Approvers: []string{"p_2"}}},
		{"audit list", func(c *Client) (any, error) {
			return c.AuditList(ctx, AuditFilter{Actor: "p_1", Dataset: "credit", Limit: "5", Newest: true})
		}, `[{"index":7,"action":"job.run"}]`,
			seen{Method: "GET", Path: "/v1/audit", Query: "actor=p_1&dataset=credit&limit=5&order=newest"}, []api.AuditEvent{{Index: 7, Action: "job.run"}}},
		{"audit purge", func(c *Client) (any, error) { return c.AuditPurge(ctx, true) }, jsonOf(api.PurgeResult{DryRun: true, Entries: 3}),
			seen{Method: "POST", Path: "/v1/audit/purge", ContentType: "application/json", Body: `{"dry_run":true}`}, api.PurgeResult{DryRun: true, Entries: 3}},
		{"usage", func(c *Client) (any, error) { return c.UsageReport(ctx, UsageQuery{Org: "acme", By: "month"}) },
			jsonOf(api.UsageReport{Org: "acme", By: "month"}), seen{Method: "GET", Path: "/v1/usage", Query: "by=month&org=acme"},
			api.UsageReport{Org: "acme", By: "month"}},
		{"quota", func(c *Client) (any, error) {
			n := int64(2)
			return c.SetQuota(ctx, api.Quota{Org: "acme", ConcurrentJobs: &n})
		},
			`{"org":"acme","concurrent_jobs":2,"cpu_seconds_month":null,"memory_bytes_per_job":null}`,
			seen{Method: "PUT", Path: "/v1/orgs/acme/quota", ContentType: "application/json",
				Body: `{"org":"acme","concurrent_jobs":2,"cpu_seconds_month":null,"memory_bytes_per_job":null}`},
			func() api.Quota { n := int64(2); return api.Quota{Org: "acme", ConcurrentJobs: &n} }()},
		{"explain", func(c *Client) (any, error) { return c.Explain(ctx, "p_1", "job.run", []string{"a", "b"}, "") },
			jsonOf(api.Explanation{As: "p_1", Action: "job.run"}),
			seen{Method: "GET", Path: "/v1/policy/explain", Query: "action=job.run&as=p_1&dataset=a&dataset=b"},
			api.Explanation{As: "p_1", Action: "job.run"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &daemon{t: t, answers: []answer{{200, tc.body}}}
			c := overUnix(t, d, "tok-1")
			out, err := tc.call(c)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Auth = "Bearer tok-1"
			if len(d.got) != 1 || d.got[0] != want {
				t.Errorf("got requests %+v, want %+v", d.got, want)
			}
			if !reflect.DeepEqual(out, tc.out) {
				t.Errorf("got answer %#v, want %#v", out, tc.out)
			}
		})
	}
}

// TestWaitJob: waiting asks again until the job has ended.
func TestWaitJob(t *testing.T) {
	d := &daemon{t: t, answers: []answer{{200, `{"id":"j-1","state":"running"}`}, {200, `{"id":"j-1","state":"queued"}`},
		{200, `{"id":"j-1","state":"executor-error","outcome":"failed"}`}}}
	c := overUnix(t, d, "")
	j, err := c.WaitJob(context.Background(), "j-1")
	if err != nil || j.State != "executor-error" || j.Outcome != "failed" {
		t.Fatalf("got %+v, %v, want the ended job", j, err)
	}
	if len(d.got) != 3 || d.got[2].Path != "/v1/jobs/j-1/wait" || d.got[2].Query != "timeout=50s" || d.got[0].Auth != "" {
		t.Errorf("got requests %+v, want three waits without a token", d.got)
	}
}

// TestErrors: the daemon's error answers come back as *Error values that
// unwrap to their errdefs class; a 5xx names the request; an answer that
// is not the API's is an unknown error; a malformed success is an error.
func TestErrors(t *testing.T) {
	body := func(class, msg string, reasons ...string) string {
		return jsonOf(api.ErrorBody{Error: api.ErrorDetail{Class: class, Message: msg, RequestID: "req_1", Reasons: reasons}})
	}
	tests := []struct {
		name     string
		a        answer
		is       func(error) bool
		contains []string
		status   int
	}{
		{"denied with reasons", answer{403, body("permission-denied", "permission denied for action \"job.run\"", "grant.none: no grant")},
			errdefs.IsPermissionDenied, []string{`"job.run"`, "grant.none: no grant"}, 403},
		{"not found", answer{404, body("not-found", "job \"j-9\": not found")}, errdefs.IsNotFound, []string{`"j-9"`}, 404},
		{"invalid", answer{400, body("invalid-argument", "field \"cpus\" must be float64")}, errdefs.IsInvalidArgument, []string{"cpus"}, 400},
		{"exhausted", answer{429, body("resource-exhausted", "quota")}, errdefs.IsResourceExhausted, nil, 429},
		{"precondition", answer{412, body("failed-precondition", "already ended")}, errdefs.IsFailedPrecondition, nil, 412},
		{"unavailable", answer{503, body("unavailable", "the daemon failed to answer")}, errdefs.IsUnavailable, []string{"(request req_1)"}, 503},
		{"not the API's", answer{502, "<html>bad gateway</html>"}, errdefs.IsUnknown, []string{"daemon answered 502"}, 502},
		{"class unknown", answer{418, body("teapot", "short and stout")}, errdefs.IsUnknown, []string{"short and stout"}, 418},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := overUnix(t, &daemon{t: t, answers: []answer{tc.a}}, "tok")
			_, err := c.ShowJob(context.Background(), "j-9")
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || !tc.is(err) {
				t.Fatalf("got %v (%T), want an *Error of status %d and its class", err, err, tc.status)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("got %q, want it to name %q", err, s)
				}
			}
		})
	}
	c := overUnix(t, &daemon{t: t, answers: []answer{{200, `{"id": 7}`}}}, "tok")
	if _, err := c.ShowJob(context.Background(), "j-1"); err == nil || !strings.Contains(err.Error(), "GET /v1/jobs/j-1") {
		t.Errorf("malformed answer: got %v, want a decode error naming the call", err)
	}
}

// TestNew: addresses the client refuses, and https with the daemon's own
// certificate.
func TestNew(t *testing.T) {
	for _, tc := range []struct {
		addr string
		opts []Option
		want string
	}{
		{"http://enclave:8443", nil, "plain http is not supported"},
		{"https://", nil, "not a valid https URL"},
		{"", nil, "empty daemon address"},
		{"unix://", nil, "empty daemon address"},
		{"https://enclave:8443", []Option{WithCACert([]byte("not pem"))}, "holds no PEM certificate"},
	} {
		if _, err := New(tc.addr, "tok", tc.opts...); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q): got %v, want an invalid-argument error naming %q", tc.addr, err, tc.want)
		}
	}
	d := &daemon{t: t, answers: []answer{{200, `{"status":"ok","audit_entries":4}`}}}
	hs := httptest.NewTLSServer(d)
	t.Cleanup(hs.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})
	c, err := New(hs.URL, "tok", WithCACert(ca))
	if err != nil {
		t.Fatal(err)
	}
	if h, err := c.Health(context.Background()); err != nil || h.Status != "ok" || h.Audit != 4 {
		t.Fatalf("health over https: got %+v, %v", h, err)
	}
	untrusted, _ := New(hs.URL, "tok")
	if _, err := untrusted.Health(context.Background()); !errdefs.IsUnavailable(err) {
		t.Errorf("https without the daemon's certificate: got %v, want unavailable", err)
	}
	down, _ := New(filepath.Join(t.TempDir(), "none.sock"), "tok")
	if _, err := down.Health(context.Background()); !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), "cannot reach the daemon") {
		t.Errorf("no daemon: got %v, want unavailable", err)
	}
}

// importDaemon reads an import's multipart body (spec, then data) and
// answers with lines.
type importDaemon struct {
	spec, data string
	lines      string
}

func (d *importDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	mr := multipart.NewReader(r.Body, params["boundary"])
	for _, dst := range []*string{&d.spec, &d.data} {
		p, err := mr.NextPart()
		if err != nil {
			http.Error(w, "bad multipart", 400)
			return
		}
		b, _ := io.ReadAll(p)
		*dst = p.FormName() + ":" + string(b)
	}
	io.WriteString(w, d.lines)
}

// TestImportDataset: an import sends the spec and then the data as
// multipart parts, reports what it sent, and reads the answer's lines:
// progress, then the dataset or the error; an answer without a result is
// an error.
func TestImportDataset(t *testing.T) {
	ds := api.Dataset{ID: "credit@1", Name: "credit", Version: 1, Rows: 3}
	tests := []struct {
		name    string
		lines   string
		want    *api.Dataset
		wantErr func(error) bool
	}{
		{"published", jsonOf(api.ImportLine{Progress: &api.ImportProgress{Bytes: 4, Total: 8, Rows: 1}}) + "\n" + jsonOf(api.ImportLine{Dataset: &ds}) + "\n", &ds, nil},
		{"refused", jsonOf(api.ImportLine{Error: &api.ErrorDetail{Class: "invalid-argument", Message: "column \"id\": rule"}}) + "\n", nil, errdefs.IsInvalidArgument},
		{"a version without a name", `{"dataset":{"rows":3}}` + "\n", nil, errdefs.IsUnknown},
		{"no result", jsonOf(api.ImportLine{Progress: &api.ImportProgress{Bytes: 1}}) + "\n", nil, errdefs.IsUnknown},
		{"not JSON", "oops\n", nil, func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "decode the daemon's import answer")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &importDaemon{lines: tc.lines}
			c := overUnix(t, d, "tok")
			var sent int64
			var progress []api.ImportProgress
			got, err := c.ImportDataset(context.Background(), "credit", []byte("name: credit"), bytes.NewReader([]byte("a,b\n1,2\n")),
				func(n int64) { sent = n }, func(p api.ImportProgress) { progress = append(progress, p) })
			if d.spec != "spec:name: credit" || d.data != "data:a,b\n1,2\n" || sent != 8 {
				t.Errorf("the daemon got spec %q and data %q, %d bytes reported sent; want the spec first, then the data", d.spec, d.data, sent)
			}
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Fatalf("got %+v, %v, want the error", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, *tc.want) || len(progress) != 1 || progress[0].Total != 8 {
				t.Fatalf("got %+v, %v with progress %+v, want the dataset after one progress line", got, err, progress)
			}
		})
	}
}

// FuzzImportAnswer: whatever the daemon answers to an import, the client
// returns a dataset version that names itself or an error, and never
// panics.
func FuzzImportAnswer(f *testing.F) {
	ds := api.Dataset{ID: "credit@1"}
	f.Add(jsonOf(api.ImportLine{Dataset: &ds}) + "\n")
	f.Add(jsonOf(api.ImportLine{Error: &api.ErrorDetail{Class: "not-found"}}) + "\n")
	f.Add("{\"progress\":{\"bytes\":1}}\n{}\n")
	f.Add("\n\n{\"dataset\":null}\n")
	f.Fuzz(func(t *testing.T, lines string) {
		got, err := readImportAnswer(strings.NewReader(lines), func(api.ImportProgress) {})
		if err == nil && got.ID == "" {
			t.Fatalf("no error and no dataset version for answer %q", lines)
		}
	})
}
