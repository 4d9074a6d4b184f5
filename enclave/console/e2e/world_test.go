package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/console"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/pii"
	"github.com/enclave-dev/enclave/enclave/server"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/synth"
	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// noRuntime is a sandbox runtime that runs nothing: the console's tests
// seed the job and the export they review instead of running containers.
type noRuntime struct{}

var _ sandbox.Runtime = noRuntime{}

func (noRuntime) ImportImage(ctx context.Context, r io.Reader) (string, error) {
	return "", errdefs.ErrNotImplemented
}
func (noRuntime) PrepareImage(ctx context.Context, digest string) error {
	return errdefs.ErrNotImplemented
}
func (noRuntime) Run(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	return sandbox.Exit{}, errdefs.ErrNotImplemented
}
func (noRuntime) Reattach(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	return sandbox.Exit{}, errdefs.ErrNotFound
}
func (noRuntime) Recover(ctx context.Context, keep func(string) bool) ([]string, error) {
	return nil, nil
}
func (noRuntime) Close() error { return nil }

const spec = `name: penalties
category: credit/enterprise/penalty
market: authorized
sharing: unconditional
columns:
  uscc:         {level: general-2, rule: keep}
  legal_rep_id: {level: general-4, pi: identity, rule: {hash: {}}}
  amount:       {level: general-3, rule: {generalize: {bucket: 10000}}}
  district:     {level: general-1, rule: keep}
`

// Synthetic values with valid check digits; no real person.
const rawCSV = `uscc,legal_rep_id,amount,district
91990104A6N74W818W,32058319900101007X,12000,Donglin
91990104A6N74W818W,32058319900101007X,56000,Xiqiao
91990104A6N74W818W,32058319900101007X,3000,Donglin
`

// hostilePurpose is markup an operator could type: the pages must show it
// as text.
const hostilePurpose = `district risk model <img src=x onerror="window.pwned=1">`

// pendingImage is an image an operator imported that waits for an officer.
var pendingImage = "sha256:" + strings.Repeat("ef", 32)

// rawValues are values from the rows that no page may show.
var rawValues = []string{"32058319900101007X", "Xiqiao", "56000"}

// world is a small enclave with one person of each role, a dataset, a
// pending application, a finished job and an export waiting for review.
type world struct {
	t       *testing.T
	srv     *server.Server
	db      *store.DB
	log     *audit.Log
	http    *httptest.Server
	console *console.Console
	admin   string
	people  map[string]api.PersonCreated // by role
	app     string                       // the pending application
	job     string
	export  string
}

func newWorld(t *testing.T) *world { t.Helper(); return newWorldWith(t, nil) }

// newWorldWith is newWorld with tune applied to the export service before
// the server starts (its thresholds, say).
func newWorldWith(t *testing.T, tune func(*exports.Service)) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kr, err := local.Create(filepath.Join(dir, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kr.PublicKey(ctx)
	alog, err := audit.Open(filepath.Join(dir, "audit"), kr, pub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alog.Close() })
	eng, err := opa.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	az := &authz.Policy{Engine: eng, Config: policy.Config{AuthorizedOrgTypes: []string{"company", "agency"}}}
	cat, err := datasets.New(db, filepath.Join(dir, "datasets"), kr, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := t.TempDir() // outside the data directory, as the manager wants it
	mgr, err := jobs.NewManager(jobs.Config{Dir: filepath.Join(dir, "jobs"), InputDir: filepath.Join(dir, "inputs"), PlainDir: plain, Keyring: kr}, db, noRuntime{}, cat, alog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Close)
	exp := &exports.Service{Dir: filepath.Join(dir, "exports"), Jobs: mgr, Catalog: cat, Keyring: kr}
	if tune != nil {
		tune(exp)
	}
	con := console.New(db.SQL(), console.Options{Audit: alog})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(server.Deps{DB: db, Audit: alog, Keyring: kr, Authz: az, Log: log, Version: "test", TempDir: t.TempDir(),
		Catalog: cat, Jobs: mgr, Exports: exp, Console: con})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, srv: srv, db: db, log: alog, console: con, people: map[string]api.PersonCreated{}}
	w.http = httptest.NewTLSServer(srv.Handler())
	t.Cleanup(w.http.Close)

	// The first admin, as enclaved init makes it.
	now := time.Now().UTC()
	tok, hash, _ := people.NewToken()
	if err := db.Tx(ctx, func(tx *sql.Tx) error {
		if err := people.CreateOrg(ctx, tx, people.Org{Name: "platform", Type: people.Agency, USCC: synth.USCC(0), LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31",
			Status: people.Active, StatusReason: "platform", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if err := people.CreatePerson(ctx, tx, people.Person{ID: "p_admin", Name: "admin", Org: "platform", Roles: []people.Role{people.Admin},
			IDNumberMasked: pii.MaskResidentID(synth.ResidentID(0)), CreatedAt: now, CreatedBy: "system"}, "test-hash-of-admin"); err != nil {
			return err
		}
		return people.CreateToken(ctx, tx, people.Token{ID: "t_admin", Person: "p_admin", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}, hash)
	}, nil); err != nil {
		t.Fatal(err)
	}
	w.admin = tok
	seq := 0 // of the synthetic ID numbers and credit codes
	add := func(name, org, role string) {
		var out api.PersonCreated
		seq++
		w.mustDo(w.admin, "POST", "/v1/people", api.PersonRequest{Name: name, Org: org, Roles: []string{role}, IDNumber: synth.ResidentID(seq),
			AgreementUntil: "2027-06-30", AgreementLiability: "confidentiality agreement NDA-TEST, liability per its article 5"}, &out)
		w.people[role] = out
	}
	add("Zhou Min", "platform", "authority")
	for _, o := range []api.OrgRequest{
		{Name: "credit-centre", Type: "agency", LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31"},
		{Name: "acme", Type: "company", LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31"},
		{Name: "security", Type: "agency", LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31"},
		{Name: "bureau", Type: "agency", LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31"},
	} {
		seq++
		o.USCC = synth.USCC(seq)
		o.BusinessScope, o.SecurityLead, o.Principal = "public data operation", "Qian Yi", "Zhao Er"
		o.DataDisposal = "destroy every copy and derived product at the licence's end"
		w.mustDo(w.people["authority"].Token, "POST", "/v1/orgs", o, nil)
	}
	add("Li Na", "credit-centre", "custodian")
	add("Wang Lei", "acme", "operator")
	add("Chen Jing", "security", "officer")
	add("Sun Hui", "bureau", "bureau")
	w.importDataset()
	var a struct{ ID string }
	w.mustDo(w.people["operator"].Token, "POST", "/v1/applications", api.ApplicationRequest{Datasets: []string{"penalties"},
		Columns: []string{"penalties.district"}, Purpose: "district risk model", Scenario: "credit scoring", Until: "2027-06-30"}, &a)
	w.app = a.ID
	w.seedExport(mgr, plain)
	return w
}

func (w *world) importDataset() {
	w.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	f, _ := mw.CreateFormFile("spec", "spec.yaml")
	io.WriteString(f, spec)
	f, _ = mw.CreateFormFile("data", "data.csv")
	io.WriteString(f, rawCSV)
	mw.Close()
	req, _ := http.NewRequest("POST", w.http.URL+"/v1/datasets?name=penalties", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+w.people["custodian"].Token)
	resp, err := w.http.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var last api.ImportLine
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		last = api.ImportLine{}
		json.Unmarshal(sc.Bytes(), &last)
	}
	if resp.StatusCode != 200 || last.Dataset == nil {
		w.t.Fatalf("import: got %d %+v, want a dataset", resp.StatusCode, last.Error)
	}
}

// seedExport records a finished job of the operator and its export request
// directly in the store (running it would need containerd): the checks ran,
// one asks for review, and two officers must approve.
func (w *world) seedExport(mgr *jobs.Manager, plainDir string) {
	ctx := context.Background()
	op := w.people["operator"]
	j := mgr.New(jobs.NewJob{ID: "j_console0001", Org: "acme", Owner: op.ID, Image: "sha256:" + strings.Repeat("ab", 32), Args: []string{"/app/model"},
		Inputs: []jobs.Input{{Dataset: "penalties", Version: 1, Level: "general-4", Market: "authorized", HasPI: true}}, Grants: map[string]string{},
		Limits: sandbox.DefaultLimits(), Outputs: []string{"districts.arrow"}, Revision: "rev"})
	j.State = jobs.Complete
	e := &exports.Export{ID: "x_console0001", Job: j.ID, Org: "acme", Requester: op.ID, Purpose: hostilePurpose, Scenario: "credit scoring",
		Files: []exports.File{{Name: "districts.arrow", Size: 1234, SHA256: strings.Repeat("cd", 32)}}, Level: "general-1", State: exports.PendingReview,
		ApprovalsNeeded: 2, CreatedAt: time.Now().UTC(),
		Previews: []exports.Preview{{File: "districts.arrow", Kind: "arrow-file", Rows: 2,
			Columns: []exports.PreviewColumn{{Name: "district", Type: "utf8", Level: "general-1"}, {Name: "count", Type: "int64", Level: "general-1"}},
			Sample:  [][]string{{"Nanhu", "7"}, {"Beiyuan", "4"}}}},
		Result: review.Result{Verdict: review.VerdictReview,
			Checks: []review.CheckResult{{Name: "identifiers", Version: "1", Verdict: review.VerdictPass}, {Name: "small-cells", Version: "1", Verdict: review.VerdictReview}},
			Findings: []review.Finding{
				{Check: "identifiers", Verdict: review.VerdictPass, Evidence: "no identifier of any input found in 1 file"},
				{Check: "small-cells", Verdict: review.VerdictReview, File: "districts.arrow", Column: "count", Count: 1, Evidence: "1 group counts fewer than 5 rows"},
			}}}
	err := w.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := mgr.Insert(ctx, tx, j); err != nil {
			return err
		}
		usage, _ := json.Marshal(jobs.Usage{CPUSeconds: 12.5, PeakMemoryBytes: 96 << 20, WallSeconds: 14, OutputBytes: 1234})
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET usage = ?, exit_code = 0 WHERE id = ?`, string(usage), j.ID); err != nil {
			return err
		}
		if err := jobs.CreateImage(ctx, tx, &jobs.Image{Digest: pendingImage, ID: pendingImage, Name: "scorer", Size: 4096,
			Status: jobs.ImagePending, Org: "acme", ImportedBy: op.ID, ImportedAt: time.Now().UTC()}); err != nil {
			return err
		}
		return exports.Insert(ctx, tx, e)
	}, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	w.job, w.export = j.ID, e.ID
	// The job's log, as the manager keeps it until it is sealed: one line
	// holds an input value, which operators must not see.
	if err := os.MkdirAll(filepath.Join(plainDir, j.ID), 0o700); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plainDir, j.ID, "log"), []byte(jobLog), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

const jobLog = "read 3 rows\nfirst legal representative 32058319900101007X\ncounted 2 districts\n"

// do sends a request with a bearer token (or none) and returns the status
// and body.
func (w *world) do(token, method, path string, body any) (int, []byte) {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, w.http.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := w.http.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func (w *world) mustDo(token, method, path string, body, out any) {
	w.t.Helper()
	code, data := w.do(token, method, path, body)
	if code >= 300 {
		w.t.Fatalf("%s %s: got %d %s, want success", method, path, code, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) entries(f audit.Filter) []audit.Entry {
	w.t.Helper()
	ents, err := w.log.List(context.Background(), f)
	if err != nil {
		w.t.Fatal(err)
	}
	return ents
}

// cookieClient is a browser-like client: a cookie jar, the TLS server's
// certificate, and the Origin and Sec-Fetch-Site a browser sends.
type cookieClient struct {
	w    *world
	c    *http.Client
	csrf string
}

func (w *world) signIn(token string) *cookieClient {
	w.t.Helper()
	jar, _ := cookiejar.New(nil)
	// A client of its own: the test server's Client is shared.
	c := &http.Client{Transport: w.http.Client().Transport, Jar: jar}
	cc := &cookieClient{w: w, c: c}
	code, data := cc.do("POST", "/console/session", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode(), true)
	if code != 200 {
		w.t.Fatalf("sign in: got %d %s, want 200", code, data)
	}
	var info console.SessionInfo
	json.Unmarshal(data, &info)
	cc.csrf = info.CSRFToken
	return cc
}

func (cc *cookieClient) do(method, path, ctype, body string, csrf bool) (int, []byte) {
	req, _ := http.NewRequest(method, cc.w.http.URL+path, strings.NewReader(body))
	req.Header.Set("Origin", cc.w.http.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if csrf {
		req.Header.Set(console.CSRFHeader, cc.csrf)
	}
	resp, err := cc.c.Do(req)
	if err != nil {
		cc.w.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// TestSessionThroughTheAPI: a console session is the bearer token's
// equivalent for reads, and for changes only with the CSRF token; the
// policy and the audit are the same; a revoked token ends the session.
func TestSessionThroughTheAPI(t *testing.T) {
	w := newWorld(t)
	officer := w.signIn(w.people["officer"].Token)
	operator := w.signIn(w.people["operator"].Token)
	approve := "/v1/exports/" + w.export + "/approve"
	for _, tc := range []struct {
		name         string
		cc           *cookieClient
		method, path string
		body         string
		csrf         bool
		code         int
	}{
		{"read with the cookie", officer, "GET", "/v1/whoami", "", false, 200},
		{"change without CSRF", officer, "POST", approve, `{"comment":"ok"}`, false, 401},
		{"another role's change with CSRF", operator, "POST", approve, `{"comment":"mine"}`, true, 403},
		{"another role's read", operator, "GET", "/v1/audit", "", false, 403},
		{"change with CSRF", officer, "POST", approve, `{"comment":"ok"}`, true, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, data := tc.cc.do(tc.method, tc.path, "application/json", tc.body, tc.csrf)
			if code != tc.code {
				t.Fatalf("got %d %s, want %d", code, data, tc.code)
			}
		})
	}
	var who api.Whoami
	_, data := officer.do("GET", "/v1/whoami", "", "", false)
	json.Unmarshal(data, &who)
	if who.Person.ID != w.people["officer"].ID {
		t.Fatalf("whoami: got %q, want the officer %q", who.Person.ID, w.people["officer"].ID)
	}
	// The same audit as the CLI: the refused change without CSRF is on the
	// record as unauthenticated, the allowed one as the officer's.
	var unauth, ok int
	for _, e := range w.entries(audit.Filter{Action: "export.approve"}) {
		switch {
		case e.Event.Outcome == "denied" && e.Event.Reason == "unauthenticated":
			unauth++
		case e.Event.Outcome == "ok" && e.Event.Actor == w.people["officer"].ID:
			ok++
		}
	}
	if unauth != 1 || ok != 1 {
		t.Fatalf("audit: got %d unauthenticated and %d ok approvals, want 1 and 1", unauth, ok)
	}
	// Revoking the token ends the session at once.
	var toks []people.Token
	w.mustDo(w.admin, "GET", "/v1/people/"+w.people["operator"].ID+"/tokens", nil, &toks)
	w.mustDo(w.admin, "POST", "/v1/tokens/"+toks[0].ID+"/revoke", nil, nil)
	if code, _ := operator.do("GET", "/v1/whoami", "", "", false); code != 401 {
		t.Fatalf("after revocation: got %d, want 401", code)
	}
	// Signing out ends the session.
	if code, _ := officer.do("DELETE", "/console/session", "", "", true); code != 204 {
		t.Fatalf("sign out: got %d, want 204", code)
	}
	if code, _ := officer.do("GET", "/v1/whoami", "", "", false); code != 401 {
		t.Fatalf("after sign-out: got %d, want 401", code)
	}
	// The root sends a browser to the console; the API keeps its headers.
	resp, err := w.http.Client().Get(w.http.URL + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("API X-Frame-Options: got %q, want DENY", resp.Header.Get("X-Frame-Options"))
	}
}
