package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/pii"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/synth"
	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa"
)

// policyEngine is the real policies, compiled once for the tests.
var policyEngine = sync.OnceValues(func() (*opa.Engine, error) { return opa.New(context.Background()) })

type harness struct {
	t     *testing.T
	srv   *Server
	db    *store.DB
	log   *audit.Log
	http  *httptest.Server
	admin string
	now   time.Time
	mu    sync.Mutex
}

func newHarness(t *testing.T, az authz.Authorizer) *harness {
	t.Helper()
	return newHarnessWith(t, az, nil)
}

// newHarnessWith is newHarness whose server gets the parts more sets in
// its deps (the job manager, the export service) before it is made.
func newHarnessWith(t *testing.T, az authz.Authorizer, more func(d *Deps)) *harness {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &harness{t: t, now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
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
	if az == nil {
		eng, err := policyEngine()
		if err != nil {
			t.Fatal(err)
		}
		az = &authz.Policy{Engine: eng, Config: policy.Config{AuthorizedOrgTypes: []string{"company", "agency"}}, Now: h.clock}
	}
	cat, err := datasets.New(db, filepath.Join(dir, "datasets"), kr, h.clock)
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{DB: db, Audit: alog, Keyring: kr, Authz: az, Version: "test", Now: h.clock, Catalog: cat, TempDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(tlogWriter{t}, nil))}
	if more != nil {
		more(&deps)
	}
	srv, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	h.srv, h.db, h.log = srv, db, alog
	h.http = httptest.NewServer(srv.Handler())
	t.Cleanup(h.http.Close)
	// The first admin, as enclaved init makes it.
	o := people.Org{Name: "platform", Type: people.Agency, USCC: nextUSCC(), LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31", Status: people.Active, StatusReason: "platform", CreatedAt: h.now, UpdatedAt: h.now}
	id := nextIDNumber()
	p := people.Person{ID: "p_admin", Name: "admin", Org: "platform", Roles: []people.Role{people.Admin}, IDNumberMasked: pii.MaskResidentID(id), CreatedAt: h.now, CreatedBy: "system"}
	tok, hash, _ := people.NewToken()
	if err := db.Tx(ctx, func(tx dbtx) error {
		if err := people.CreateOrg(ctx, tx, o); err != nil {
			return err
		}
		if err := people.CreatePerson(ctx, tx, p, "test-hash-of-"+p.ID); err != nil {
			return err
		}
		return people.CreateToken(ctx, tx, people.Token{ID: "t_admin", Person: p.ID, CreatedAt: h.now, ExpiresAt: h.now.Add(24 * time.Hour)}, hash)
	}, nil); err != nil {
		t.Fatal(err)
	}
	h.admin = tok
	return h
}

type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

// do sends a request and returns the status and the body.
func (h *harness) do(token, method, path string, body any) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, h.http.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func (h *harness) mustDo(token, method, path string, body, out any) {
	h.t.Helper()
	code, data := h.do(token, method, path, body)
	if code >= 300 {
		h.t.Fatalf("%s %s: status %d: %s", method, path, code, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatal(err)
		}
	}
}

// idSeq numbers the synthetic ID numbers and credit codes of the tests.
var idSeq atomic.Int64

// nextIDNumber returns a fresh synthetic resident ID number.
func nextIDNumber() string { return synth.ResidentID(int(idSeq.Add(1))) }

// nextUSCC returns a fresh synthetic unified social credit code.
func nextUSCC() string { return synth.USCC(int(idSeq.Add(1))) }

// registered fills in what registration requires and a test leaves out: a
// fresh ID number and, for the roles that need one, the liability of an
// agreement that lasts to the end of 2029 (or the test's end date).
func registered(req api.PersonRequest) api.PersonRequest {
	if req.IDNumber == "" {
		req.IDNumber = nextIDNumber()
	}
	var needs bool
	for _, r := range req.Roles {
		needs = needs || people.NeedsAgreement([]people.Role{people.Role(r)})
	}
	if req.AgreementUntil == "" && needs {
		req.AgreementUntil = "2029-12-31"
	}
	if req.AgreementUntil != "" && req.AgreementLiability == "" {
		req.AgreementLiability = "confidentiality agreement NDA-TEST, liability per its article 5"
	}
	return req
}

// licensed fills in what a licence application requires and a test leaves
// out: a fresh credit code and the fields of 001 art. 11.
func licensed(req api.OrgRequest) api.OrgRequest {
	if req.USCC == "" {
		req.USCC = nextUSCC()
	}
	if req.BusinessScope == "" {
		req.BusinessScope = "credit risk statistics"
	}
	if req.SecurityLead == "" {
		req.SecurityLead = "Qian Yi"
	}
	if req.Principal == "" {
		req.Principal = "Zhao Er"
	}
	if req.DataDisposal == "" {
		req.DataDisposal = "destroy every copy and derived product within 30 days of the licence's end"
	}
	return req
}

// person registers a person with roles in org and returns their token.
func (h *harness) person(name, org string, roles ...string) api.PersonCreated {
	h.t.Helper()
	var out api.PersonCreated
	h.mustDo(h.admin, "POST", "/v1/people", registered(api.PersonRequest{Name: name, Org: org, Roles: roles}), &out)
	return out
}

func (h *harness) count(table string) int {
	var n int
	if err := h.db.SQL().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) entries(action string) []audit.Entry {
	ents, err := h.log.List(context.Background(), audit.Filter{Action: action})
	if err != nil {
		h.t.Fatal(err)
	}
	return ents
}

func TestWhoamiAndTokens(t *testing.T) {
	h := newHarness(t, nil)
	auth := h.person("Zhou Min", "platform", "authority")
	var w api.Whoami
	h.mustDo(auth.Token, "GET", "/v1/whoami", nil, &w)
	if w.Person.ID != auth.ID || w.Org.Name != "platform" || len(w.Person.Roles) != 1 || w.Person.Roles[0] != string(people.Authority) {
		t.Fatalf("whoami: got %+v, want %s of platform with role authority", w, auth.ID)
	}
	if strings.Contains(fmt.Sprint(h.count("tokens")), auth.Token) {
		t.Fatal("token stored in clear")
	}
	var stored int
	h.db.SQL().QueryRow(`SELECT COUNT(*) FROM tokens WHERE hash = ?`, auth.Token).Scan(&stored)
	if stored != 0 {
		t.Fatal("a token is stored in clear")
	}

	// Revocation ends the token at once.
	h.mustDo(h.admin, "POST", "/v1/tokens/"+auth.TokenID+"/revoke", nil, nil)
	if code, _ := h.do(auth.Token, "GET", "/v1/whoami", nil); code != 401 {
		t.Fatalf("revoked token: got status %d, want 401", code)
	}
	if code, _ := h.do(h.admin, "POST", "/v1/tokens/"+auth.TokenID+"/revoke", nil); code != 412 {
		t.Fatalf("second revoke: got status %d, want 412", code)
	}
	// A new token works; it expires after the TTL.
	var issued api.TokenIssued
	h.mustDo(h.admin, "POST", "/v1/people/"+auth.ID+"/tokens", nil, &issued)
	if code, _ := h.do(issued.Token, "GET", "/v1/whoami", nil); code != 200 {
		t.Fatalf("new token: got status %d, want 200", code)
	}
	h.advance(91 * 24 * time.Hour)
	if code, _ := h.do(issued.Token, "GET", "/v1/whoami", nil); code != 401 {
		t.Fatalf("expired token: got status %d, want 401", code)
	}
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct{ name, token string }{
		{"none", ""},
		{"malformed", "hello"},
		{"unknown", "enc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.entries("whoami"))
			code, body := h.do(tc.token, "GET", "/v1/whoami", nil)
			if code != 401 {
				t.Fatalf("got status %d, want 401: %s", code, body)
			}
			if tc.token != "" && strings.Contains(string(body), tc.token) {
				t.Fatalf("the answer repeats the token: %s", body)
			}
			after := h.entries("whoami")
			if len(after) != before+1 || after[len(after)-1].Event.Outcome != "denied" {
				t.Fatalf("got %d whoami audit entries after, want %d with the last denied", len(after), before+1)
			}
		})
	}
	if code, _ := h.do("", "GET", "/v1/health", nil); code != 200 {
		t.Fatalf("health without token: got %d, want 200", code)
	}
}

func TestDenialIsAuditedAndChangesNothing(t *testing.T) {
	h := newHarness(t, nil)
	op := h.person("Wang Lei", "platform", "operator")
	orgs := h.count("orgs")
	code, body := h.do(op.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "rogue", Type: "company", LicenceUntil: "2027-01-01"}))
	if code != 403 {
		t.Fatalf("got status %d, want 403: %s", code, body)
	}
	var eb api.ErrorBody
	json.Unmarshal(body, &eb)
	if eb.Error.Class != "permission-denied" || len(eb.Error.Reasons) == 0 {
		t.Fatalf("got error %+v, want permission-denied with reasons", eb.Error)
	}
	if h.count("orgs") != orgs {
		t.Fatal("a denied request wrote an organisation")
	}
	ents := h.entries("org.add")
	if len(ents) != 1 || ents[0].Event.Outcome != "denied" || ents[0].Event.Actor != op.ID {
		t.Fatalf("got audit entries %+v, want one denied org.add by %s", ents, op.ID)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	h := newHarness(t, nil)
	auth := h.person("Zhou Min", "platform", "authority")
	h.mustDo(auth.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "acme", Type: "company", LicenceFrom: "2026-01-01", LicenceUntil: "2027-06-30"}), nil)
	for _, tc := range []struct {
		name, token, path string
		body              any
		code              int
		want              string
	}{
		{"unknown field", auth.Token, "/v1/orgs", `{"name":"x","type":"company","licence_until":"2027-01-01","colour":"red"}`, 400, `unknown field \"colour\"`},
		{"wrong type", auth.Token, "/v1/orgs", `{"name":7,"type":"company","licence_until":"2027-01-01"}`, 400, `field \"name\"`},
		{"syntax", auth.Token, "/v1/orgs", `{"name":`, 400, "JSON"},
		{"trailing", auth.Token, "/v1/orgs", `{"name":"x","type":"company","licence_until":"2027-01-01"} {}`, 400, "after the JSON"},
		{"empty body", auth.Token, "/v1/orgs", ``, 400, "empty"},
		{"licence over two years", auth.Token, "/v1/orgs", licensed(api.OrgRequest{Name: "long", Type: "company", LicenceFrom: "2026-01-01", LicenceUntil: "2028-01-02"}), 400, "longer than 2 years"},
		{"licence backwards", auth.Token, "/v1/orgs", licensed(api.OrgRequest{Name: "back", Type: "company", LicenceFrom: "2026-05-01", LicenceUntil: "2026-04-01"}), 400, "after licence_from"},
		{"bad date", auth.Token, "/v1/orgs", licensed(api.OrgRequest{Name: "d", Type: "company", LicenceUntil: "next year"}), 400, "licence_until"},
		{"bad type", auth.Token, "/v1/orgs", licensed(api.OrgRequest{Name: "t", Type: "club", LicenceUntil: "2027-01-01"}), 400, "organisation type"},
		{"duplicate org", auth.Token, "/v1/orgs", licensed(api.OrgRequest{Name: "acme", Type: "company", LicenceUntil: "2027-01-01"}), 409, "acme"},
		{"bad check digit", h.admin, "/v1/people", registered(api.PersonRequest{Name: "A", Org: "acme", Roles: []string{"operator"}, IDNumber: "320583199001010071"}), 400, "check digit"},
		{"unknown role", h.admin, "/v1/people", registered(api.PersonRequest{Name: "A", Org: "acme", Roles: []string{"king"}}), 400, "role"},
		{"missing org", h.admin, "/v1/people", registered(api.PersonRequest{Name: "A", Org: "nowhere", Roles: []string{"operator"}}), 400, "nowhere"},
		{"bad name", h.admin, "/v1/people", registered(api.PersonRequest{Name: "<script>", Org: "acme", Roles: []string{"operator"}}), 400, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orgs, ppl, toks := h.count("orgs"), h.count("people"), h.count("tokens")
			code, body := h.do(tc.token, "POST", tc.path, tc.body)
			if code != tc.code || !strings.Contains(string(body), tc.want) {
				t.Fatalf("got %d %s, want %d containing %q", code, body, tc.code, tc.want)
			}
			if h.count("orgs") != orgs || h.count("people") != ppl || h.count("tokens") != toks {
				t.Fatal("a refused request changed the state")
			}
			if strings.Contains(string(body), "320583199001010071") {
				t.Fatal("the error repeats the ID number")
			}
		})
	}
	// A valid ID number is stored only hashed and masked; a second person
	// with the same number is refused.
	var p api.PersonCreated
	h.mustDo(h.admin, "POST", "/v1/people", registered(api.PersonRequest{Name: "B", Org: "acme", Roles: []string{"operator"}, IDNumber: "32058319900101007X"}), &p)
	if p.IDNumberMasked != "320***********007X" {
		t.Fatalf("masked id: got %q", p.IDNumberMasked)
	}
	var raw int
	h.db.SQL().QueryRow(`SELECT COUNT(*) FROM people WHERE id_number_hash LIKE '%32058319900101007X%' OR id_number_mask = '32058319900101007X'`).Scan(&raw)
	if raw != 0 {
		t.Fatal("the ID number is stored in clear")
	}
	if code, _ := h.do(h.admin, "POST", "/v1/people", registered(api.PersonRequest{Name: "C", Org: "acme", Roles: []string{"operator"}, IDNumber: "32058319900101007x"})); code != 409 {
		t.Fatalf("duplicate ID number: got %d, want 409", code)
	}
}

func TestOrgStatusTransitions(t *testing.T) {
	h := newHarness(t, nil)
	auth := h.person("Zhou Min", "platform", "authority")
	h.mustDo(auth.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "acme", Type: "company", LicenceUntil: "2027-06-30"}), nil)
	steps := []struct {
		verb, reason string
		code         int
		status       people.OrgStatus
	}{
		{"suspend", "", 400, people.Active},
		{"suspend", "late report", 200, people.Suspended},
		{"reinstate", "report filed", 200, people.Active},
		{"blacklist", "data leak", 200, people.Blacklisted},
		{"reinstate", "appeal", 412, people.Blacklisted},
	}
	for _, st := range steps {
		code, body := h.do(auth.Token, "POST", "/v1/orgs/acme/"+st.verb, api.StatusRequest{Reason: st.reason})
		if code != st.code {
			t.Fatalf("%s: got %d %s, want %d", st.verb, code, body, st.code)
		}
		o, err := people.GetOrg(context.Background(), h.db.SQL(), "acme")
		if err != nil || o.Status != st.status {
			t.Fatalf("after %s: got status %s, want %s", st.verb, o.Status, st.status)
		}
	}
}

// TestEveryRouteIsAuthorized proves that no handler runs without asking
// the authz seam: with an authorizer that denies everything, every
// non-public route answers 403 after asking with its own action, or
// refuses a malformed request with 400 before anything is read or
// written; and nothing changes.
func TestEveryRouteIsAuthorized(t *testing.T) {
	rec := &recordingAuthz{}
	h := newHarness(t, rec)
	tables := []string{"orgs", "people", "tokens", "dataset_versions", "applications", "grants"}
	before := map[string]int{}
	for _, tb := range tables {
		before[tb] = h.count(tb)
	}
	for _, rt := range h.srv.routes {
		if rt.Public {
			continue
		}
		path := pathParamRE.ReplaceAllString(rt.Path, "x")
		for _, body := range []string{"{}", `{"name":"acme","type":"company","licence_until":"2027-01-01","datasets":["x"],"purpose":"p","scenario":"s","until":"2027-01-01","reason":"r"}`} {
			rec.reset()
			code, resp := h.do(h.admin, rt.Method, path, body)
			asked := rec.actions()
			switch {
			case code == 403 && len(asked) == 1 && asked[0] == rt.Action:
			case code == 400 && len(asked) == 0:
			default:
				t.Errorf("%s %s: got status %d after asking %v with a deny-all policy, want 403 after asking [%s] or 400 before: %s",
					rt.Method, rt.Path, code, asked, rt.Action, resp)
			}
		}
	}
	for _, tb := range tables {
		if n := h.count(tb); n != before[tb] {
			t.Errorf("table %s: %d rows, want %d: a denied request changed the state", tb, n, before[tb])
		}
	}
}

type recordingAuthz struct {
	mu  sync.Mutex
	got []string
}

func (r *recordingAuthz) Authorize(_ context.Context, _ people.Subject, action string, _ authz.Resource) (authz.Decision, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, action)
	return authz.Decision{Reasons: []authz.Reason{{Rule: "test.deny", Message: "denied by the test"}}}, nil
}

func (r *recordingAuthz) reset() { r.mu.Lock(); r.got = nil; r.mu.Unlock() }

func (r *recordingAuthz) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// TestPolicyErrorDenies: an authorizer that cannot decide denies.
func TestPolicyErrorDenies(t *testing.T) {
	h := newHarness(t, errAuthz{})
	if code, _ := h.do(h.admin, "GET", "/v1/whoami", nil); code != 403 {
		t.Fatalf("got %d, want 403 when the policy fails", code)
	}
}

type errAuthz struct{}

func (errAuthz) Authorize(context.Context, people.Subject, string, authz.Resource) (authz.Decision, error) {
	return authz.Decision{Allow: true}, fmt.Errorf("policy exploded")
}

// TestOpenAPIMatchesRoutes keeps the API document in step with the router.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := newHarness(t, nil)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	h.mustDo("", "GET", "/v1/openapi.json", nil, &doc)
	n := 0
	for path, ops := range doc.Paths {
		for method := range ops {
			n++
			code, body := h.do("", strings.ToUpper(method), pathParamRE.ReplaceAllString(path, "x"), nil)
			if code == 404 && strings.Contains(string(body), "no endpoint") {
				t.Errorf("documented %s %s is not served", method, path)
			}
		}
	}
	if n != len(h.srv.routes) {
		t.Fatalf("document has %d operations, router has %d routes", n, len(h.srv.routes))
	}
	for _, rt := range h.srv.routes {
		if _, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("route %s %s is missing from the document", rt.Method, rt.Path)
		}
	}
}

// TestStateChangeAuditedBeforeCommit: when the audit log refuses, the
// change does not happen.
func TestStateChangeAuditedBeforeCommit(t *testing.T) {
	h := newHarness(t, nil)
	auth := h.person("Zhou Min", "platform", "authority")
	h.srv.Audit = failingAudit{h.log}
	orgs := h.count("orgs")
	code, _ := h.do(auth.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "acme", Type: "company", LicenceUntil: "2027-06-30"}))
	if code != 500 {
		t.Fatalf("got %d, want 500 when the audit log fails", code)
	}
	if h.count("orgs") != orgs {
		t.Fatal("the change took effect without an audit entry")
	}
}

type failingAudit struct{ *audit.Log }

func (failingAudit) Append(context.Context, audit.Event) (uint64, error) {
	return 0, fmt.Errorf("disk full")
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"acme","type":"company","licence_until":"2027-01-01"}`,
		`{"name":"a","org":"b","roles":["operator"],"id_number":"32058319900101007X"}`,
		`{"reason":"x"}`, `{}`, `[]`, `null`, `{"name":1}`, `{"roles":[1,2]}`, "\xff", `{"a":{"b":[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []any{&api.OrgRequest{}, &api.PersonRequest{}, &api.StatusRequest{}, &api.AgreementRequest{}} {
			err := decodeJSON(bytes.NewReader(data), v)
			if err != nil && !errdefs.IsInvalidArgument(err) {
				t.Fatalf("decode error of class other than invalid argument: %v", err)
			}
		}
	})
}

// TestAuditVerifyDetectsCutTail: a log whose newest entries were removed
// verifies on its own (its remaining checkpoint is valid), but the state
// remembers the highest entry a committed change wrote.
func TestAuditVerifyDetectsCutTail(t *testing.T) {
	h := newHarness(t, nil)
	bureau := h.person("Sun Hao", "platform", "bureau")
	var rep api.AuditReport
	h.mustDo(bureau.Token, "GET", "/v1/audit/verify", nil, &rep)
	if !rep.OK {
		t.Fatalf("fresh log: %+v", rep)
	}
	// Pretend committed changes wrote far beyond the log's end.
	if _, err := h.db.SQL().Exec(`UPDATE audit_watermark SET idx = 1000000`); err != nil {
		t.Fatal(err)
	}
	h.mustDo(bureau.Token, "GET", "/v1/audit/verify", nil, &rep)
	if rep.OK || !strings.Contains(rep.Reason, "removed from its end") {
		t.Fatalf("cut tail: got %+v, want a failure naming the removed end", rep)
	}
}

// TestAuditPurgeIsAdminsAndRecorded: only an admin may purge, and every
// purge (even one with nothing to remove) is on the record first.
func TestAuditPurgeIsAdminsAndRecorded(t *testing.T) {
	h := newHarness(t, nil)
	bureau := h.person("Sun Hao", "platform", "bureau")
	if code, _ := h.do(bureau.Token, "POST", "/v1/audit/purge", api.PurgeRequest{DryRun: true}); code != 403 {
		t.Fatalf("bureau purge: got %d, want 403", code)
	}
	var out api.PurgeResult
	h.mustDo(h.admin, "POST", "/v1/audit/purge", api.PurgeRequest{}, &out)
	if out.Entries != 0 {
		t.Fatalf("a fresh log purged %d entries", out.Entries)
	}
	var ok int
	for _, e := range h.entries("audit.purge") {
		if e.Event.Outcome == "ok" && e.Event.Details["entries"] == "0" {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("got %d recorded purges, want 1", ok)
	}
}
