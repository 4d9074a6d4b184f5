package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/release"
	"github.com/enclave-dev/enclave/enclave/services"
)

// serviceWorld is a world with an approved verify service "firms" over
// penalties (key uscc, kept; match legal_rep_id, a keyed pseudonym), a
// consumer organisation "bank" with an approved subscription and a
// credential for its system "loans".
type serviceWorld struct {
	*world
	officer2, consumer, bureau api.PersonCreated
	sub                        api.Subscription
	cred                       api.Credential
}

const (
	knownUSCC = "91990104A6N74W818W"
	knownRep  = "32058319900101007X"
)

func newServiceWorld(t *testing.T, rate string, misses int) *serviceWorld {
	w := &serviceWorld{world: newWorld(t)}
	w.officer2 = w.member("Qian Mo", "security", "officer")
	w.bureau = w.member("Sun Hao", "platform", "bureau")
	w.mustDo(w.authority.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "bank", Type: "company", LicenceFrom: "2026-01-01",
		LicenceUntil: "2027-12-31"}), nil)
	w.consumer = w.member("Ma Li", "bank", "consumer")
	var sv api.Service
	w.mustDo(w.custodian.Token, "POST", "/v1/services", api.ServiceRequest{Name: "firms", Mode: "verify", Dataset: "penalties", Key: "uscc",
		Match: []string{"legal_rep_id"}, Scenario: "loan checks", Rate: rate, DailyMisses: misses}, &sv)
	if sv.State != "pending" || sv.Needed != 2 {
		t.Fatalf("create: got %+v, want pending, two approvals (authorization-required data)", sv)
	}
	w.mustDo(w.officer.Token, "POST", "/v1/services/firms/approve", api.ServiceDecision{}, &sv)
	if sv.State != "pending" {
		t.Fatalf("one approval of two: got %s", sv.State)
	}
	w.mustDo(w.officer2.Token, "POST", "/v1/services/firms/approve", api.ServiceDecision{}, &sv)
	if sv.State != "approved" || !sv.Running {
		t.Fatalf("two approvals: got %+v", sv)
	}
	w.mustDo(w.consumer.Token, "POST", "/v1/services/firms/subscriptions", api.SubscribeRequest{Scenario: "loan checks", Until: "2026-12-31"}, &w.sub)
	w.mustDo(w.authority.Token, "POST", "/v1/subscriptions/"+w.sub.ID+"/approve", nil, &w.sub)
	w.mustDo(w.consumer.Token, "POST", "/v1/credentials", api.CredentialRequest{Subscription: w.sub.ID, System: "loans"}, &w.cred)
	if !strings.HasPrefix(w.cred.Token, services.TokenPrefix) {
		t.Fatalf("credential: got %+v", w.cred)
	}
	return w
}

func (w *serviceWorld) verify(token string, req api.VerifyRequest) (int, []byte) {
	return w.do(token, "POST", "/v1/services/firms/verify", req)
}

func TestServiceLifecycle(t *testing.T) {
	w := newServiceWorld(t, "", 0)

	// A lossy key is refused at create, naming the column and its rule.
	code, body := w.do(w.custodian.Token, "POST", "/v1/services", api.ServiceRequest{Name: "lossy", Mode: "verify", Dataset: "penalties",
		Key: "amount", Scenario: "loan checks"})
	if code != 400 || !strings.Contains(string(body), `key column \"amount\" is stored under the lossy rule generalize`) {
		t.Fatalf("lossy key: got %d %s", code, body)
	}
	// An operator without a grant for the scenario is refused.
	code, body = w.do(w.operator.Token, "POST", "/v1/services", api.ServiceRequest{Name: "op", Mode: "verify", Dataset: "penalties",
		Key: "uscc", Scenario: "loan checks"})
	if code != 403 || !strings.Contains(string(body), "no grant of organisation") {
		t.Fatalf("operator outside its grant: got %d %s", code, body)
	}
	// The custodian's own officer may not approve (independent review).
	code, _ = w.do(w.custodian.Token, "POST", "/v1/services/firms/approve", api.ServiceDecision{})
	if code != 403 {
		t.Fatalf("custodian approves own service: got %d", code)
	}

	// Matching key, matching and wrong claims; unknown key.
	var a api.VerifyAnswer
	code, body = w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC, Claims: map[string]string{"legal_rep_id": knownRep}})
	if code != 200 || json.Unmarshal(body, &a) != nil || !a.Match || !a.Columns["legal_rep_id"] {
		t.Fatalf("known key: got %d %s", code, body)
	}
	var raw map[string]any
	json.Unmarshal(body, &raw)
	if len(raw) != 2 {
		t.Fatalf("answer carries more than match and columns: %s", body)
	}
	code, body = w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC, Claims: map[string]string{"legal_rep_id": "110101199001011234"}})
	if json.Unmarshal(body, &a) != nil || !a.Match || a.Columns["legal_rep_id"] {
		t.Fatalf("wrong claim: got %d %s", code, body)
	}
	unknown := "91990104ZZZZZZZZZZ"
	code, body = w.verify(w.cred.Token, api.VerifyRequest{Key: unknown})
	if json.Unmarshal(body, &a) != nil || a.Match {
		t.Fatalf("unknown key: got %d %s", code, body)
	}
	// Batch: answers in order; more than 100 refused.
	var ba api.VerifyBatchAnswer
	code, body = w.verify(w.cred.Token, api.VerifyRequest{Keys: []api.VerifyItem{{Key: unknown}, {Key: knownUSCC}}})
	if code != 200 || json.Unmarshal(body, &ba) != nil || len(ba.Results) != 2 || ba.Results[0].Match || !ba.Results[1].Match {
		t.Fatalf("batch: got %d %s", code, body)
	}
	// The batch is audited per key, as consecutive entries in its order.
	if es := w.entries("service.verify"); len(es) < 2 || es[len(es)-1].Index != es[len(es)-2].Index+1 ||
		es[len(es)-2].Event.Details["result"] != "no-match" || es[len(es)-1].Event.Details["result"] != "match" ||
		es[len(es)-2].Event.Details["key_hash"] == es[len(es)-1].Event.Details["key_hash"] {
		t.Fatalf("the batch's audit entries: got %+v, want two consecutive, no-match then match", es)
	}
	many := make([]api.VerifyItem, 101)
	for i := range many {
		many[i].Key = "k"
	}
	if code, _ = w.verify(w.cred.Token, api.VerifyRequest{Keys: many}); code != 400 {
		t.Fatalf("batch of 101: got %d", code)
	}
	// Each key on the audit log by its keyed hash, never raw.
	if n := len(w.entries("service.verify")); n < 5 {
		t.Fatalf("service.verify entries: got %d, want at least 5 (one per key)", n)
	}
	// A person's token may not call; a credential may not do a consumer's work.
	if code, _ = w.verify(w.consumer.Token, api.VerifyRequest{Key: knownUSCC}); code != 403 {
		t.Fatalf("a person calls: got %d, want 403", code)
	}
	if code, _ = w.do(w.cred.Token, "POST", "/v1/credentials", api.CredentialRequest{Subscription: w.sub.ID, System: "more"}); code != 403 {
		t.Fatalf("a credential issues credentials: got %d, want 403", code)
	}

	// Usage: the consumer its own, the custodian on its datasets, the bureau all.
	var us []api.ServiceUsage
	w.mustDo(w.consumer.Token, "GET", "/v1/services/firms/usage", nil, &us)
	if len(us) != 1 || us[0].Calls != 5 || us[0].Matches != 3 || us[0].Misses != 2 || us[0].Refused != 0 || us[0].Charge != 0.05 {
		t.Fatalf("consumer usage: got %+v", us)
	}
	w.mustDo(w.bureau.Token, "GET", "/v1/services/firms/usage", nil, &us)
	if len(us) != 1 {
		t.Fatalf("bureau usage: got %+v", us)
	}
	w.mustDo(w.custodian.Token, "GET", "/v1/services/firms/usage", nil, &us)
	if len(us) != 1 {
		t.Fatalf("custodian usage: got %+v", us)
	}

	// The signed daily usage statement verifies with the enclave's key.
	var st api.SignedStatement
	w.mustDo(w.consumer.Token, "GET", "/v1/subscriptions/"+w.sub.ID+"/statement?day=2026-11-23", nil, &st)
	pub, _ := w.srv.Keyring.PublicKey(t.Context())
	env := &release.Envelope{PayloadType: st.PayloadType, Payload: st.Payload}
	for _, sg := range st.Signatures {
		env.Signatures = append(env.Signatures, release.Signature{KeyID: sg.KeyID, Sig: sg.Sig})
	}
	us0, err := services.VerifyStatement(env, pub)
	if err != nil || us0.Calls != 5 || us0.Subscription != w.sub.ID || us0.Charge != 0.05 {
		t.Fatalf("statement: got %+v %v", us0, err)
	}
	env.Payload = env.Payload[:len(env.Payload)-4] + "AAAA"
	if _, err := services.VerifyStatement(env, pub); err == nil {
		t.Fatal("a changed statement verifies")
	}
	if code, _ := w.do(w.bureau.Token, "GET", "/v1/subscriptions/"+w.sub.ID+"/statement?day=23-11-2026", nil); code != 400 {
		t.Fatalf("bad day: got %d, want 400", code)
	}

	// The generated API document loads and validates with kin-openapi.
	code, body = w.do(w.consumer.Token, "GET", "/v1/services/firms/openapi.json", nil)
	if code != 200 {
		t.Fatalf("openapi: got %d %s", code, body)
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil || doc.Validate(t.Context()) != nil || doc.Paths.Find("/v1/services/firms/verify") == nil {
		t.Fatalf("openapi: %v", err)
	}

	// The raw keys are nowhere in the data directory: audit log, database.
	w.srv.services.Flush(t.Context())
	var dbPath string
	w.db.SQL().QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&dbPath)
	dir := filepath.Dir(dbPath)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		for _, k := range []string{unknown, "110101199001011234"} {
			if bytes.Contains(data, []byte(k)) {
				t.Errorf("raw key found in %s", p)
			}
		}
		return nil
	})

	// Revoked credential: refused at once.
	w.mustDo(w.consumer.Token, "POST", "/v1/credentials/"+w.cred.ID+"/revoke", nil, nil)
	if code, _ = w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC}); code != 401 {
		t.Fatalf("revoked credential: got %d, want 401", code)
	}
}

func TestServiceStops(t *testing.T) {
	w := newServiceWorld(t, "", 0)
	if code, body := w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC}); code != 200 {
		t.Fatalf("call: got %d %s", code, body)
	}
	// Sealed dataset: the service stops (within services.Fresh).
	w.mustDo(w.custodian.Token, "POST", "/v1/datasets/penalties/seal", api.ReasonRequest{Reason: "review"}, nil)
	w.advance(2 * services.Fresh)
	code, body := w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC})
	if code != 412 || !strings.Contains(string(body), "sealed") {
		t.Fatalf("sealed dataset: got %d %s", code, body)
	}
	w.mustDo(w.custodian.Token, "POST", "/v1/datasets/penalties/unseal", api.ReasonRequest{Reason: "review done"}, nil)
	w.advance(2 * services.Fresh)
	if code, body = w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC}); code != 200 {
		t.Fatalf("unsealed: got %d %s", code, body)
	}
	// An open incident on the dataset stops it.
	var inc api.Incident
	w.mustDo(w.officer.Token, "POST", "/v1/incidents", api.IncidentRequest{Dataset: "penalties", Reason: "leak suspected"}, &inc)
	w.advance(2 * services.Fresh)
	if code, body = w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC}); code != 412 || !strings.Contains(string(body), "open incident") {
		t.Fatalf("incident: got %d %s", code, body)
	}
	w.mustDo(w.authority.Token, "POST", "/v1/incidents/"+inc.ID+"/close", api.DecisionRequest{Decision: "no leak"}, nil)
	w.advance(2 * services.Fresh)
	if code, body = w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC}); code != 200 {
		t.Fatalf("incident closed: got %d %s", code, body)
	}
	// The subscription ends: the credential expires with it.
	w.advance(40 * 24 * time.Hour)
	if code, _ = w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC}); code != 401 {
		t.Fatalf("subscription ended: got %d, want 401", code)
	}
}

func TestServiceRateLimitAndGuard(t *testing.T) {
	w := newServiceWorld(t, "3/m", 2)
	for i := 0; i < 3; i++ {
		if code, body := w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC}); code != 200 {
			t.Fatalf("call %d: got %d %s", i, code, body)
		}
	}
	req, _ := json.Marshal(api.VerifyRequest{Key: knownUSCC})
	hr, _ := http.NewRequest("POST", w.http.URL+"/v1/services/firms/verify", bytes.NewReader(req))
	hr.Header.Set("Authorization", "Bearer "+w.cred.Token)
	resp, err := w.http.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "20" || !strings.Contains(string(body), "rate limit") {
		t.Fatalf("4th call in a minute: got %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	var code int
	w.advance(time.Minute)
	// The enumeration guard: two misses a day, then refused until tomorrow.
	for i := 0; i < 2; i++ {
		if code, body := w.verify(w.cred.Token, api.VerifyRequest{Key: "nope"}); code != 200 {
			t.Fatalf("miss %d: got %d %s", i, code, body)
		}
	}
	code, body = w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC})
	if code != 429 || !strings.Contains(string(body), "enumeration guard") {
		t.Fatalf("after the budget of misses: got %d %s", code, body)
	}
	w.advance(24 * time.Hour)
	if code, body = w.verify(w.cred.Token, api.VerifyRequest{Key: knownUSCC}); code != 200 {
		t.Fatalf("next day: got %d %s", code, body)
	}
}

func TestQueryService(t *testing.T) {
	w := newServiceWorld(t, "", 0)
	// Personal information kept as it is would be refused; penalties has
	// legal_rep_id only as a keyed pseudonym, so a query returns it so.
	code, body := w.do(w.custodian.Token, "POST", "/v1/services", api.ServiceRequest{Name: "bad", Mode: "query", Dataset: "penalties",
		Key: "uscc", Match: []string{"district"}, Scenario: "loan checks"})
	if code != 400 {
		t.Fatalf("query with --match: got %d %s", code, body)
	}
	var sv api.Service
	w.mustDo(w.custodian.Token, "POST", "/v1/services", api.ServiceRequest{Name: "firm-info", Mode: "query", Dataset: "penalties",
		Key: "uscc", Columns: []string{"district", "legal_rep_id", "amount"}, Scenario: "loan checks"}, &sv)
	w.mustDo(w.officer.Token, "POST", "/v1/services/firm-info/approve", api.ServiceDecision{}, nil)
	w.mustDo(w.officer2.Token, "POST", "/v1/services/firm-info/approve", api.ServiceDecision{}, &sv)
	if sv.State != "approved" || len(sv.Columns) != 3 {
		t.Fatalf("query service: got %+v", sv)
	}
	var sub api.Subscription
	var cr api.Credential
	w.mustDo(w.consumer.Token, "POST", "/v1/services/firm-info/subscriptions", api.SubscribeRequest{Scenario: "loan checks", Until: "2026-12-31"}, &sub)
	w.mustDo(w.authority.Token, "POST", "/v1/subscriptions/"+sub.ID+"/approve", nil, nil)
	w.mustDo(w.consumer.Token, "POST", "/v1/credentials", api.CredentialRequest{Subscription: sub.ID, System: "loans"}, &cr)
	var a api.QueryAnswer
	code, body = w.do(cr.Token, "POST", "/v1/services/firm-info/query", api.QueryRequest{Key: knownUSCC})
	if code != 200 || json.Unmarshal(body, &a) != nil || !a.Found || len(a.Rows) != 3 {
		t.Fatalf("query: got %d %s", code, body)
	}
	for _, r := range a.Rows {
		if len(r) != 3 || r["legal_rep_id"] == knownRep || len(r["legal_rep_id"]) != 32 || strings.Contains(string(body), "12000") {
			t.Fatalf("query row: got %v, want the approved columns, personal information as its pseudonym, amounts generalized", r)
		}
	}
	code, body = w.do(cr.Token, "POST", "/v1/services/firm-info/query", api.QueryRequest{Key: "91990104ZZZZZZZZZZ"})
	if json.Unmarshal(body, &a) != nil || a.Found || len(a.Rows) != 0 {
		t.Fatalf("unknown subject: got %d %s", code, body)
	}
	// A query credential does not verify, and the other way round.
	if code, _ = w.do(cr.Token, "POST", "/v1/services/firms/verify", api.VerifyRequest{Key: knownUSCC}); code != 403 {
		t.Fatalf("query credential on the verify service: got %d", code)
	}
	if code, _ = w.do(w.cred.Token, "POST", "/v1/services/firms/query", api.QueryRequest{Key: knownUSCC}); code != 400 {
		t.Fatalf("query on a verify service: got %d", code)
	}
	outcomes := map[string]int{}
	for _, e := range w.entries("service.query") {
		outcomes[e.Event.Outcome]++
		if e.Event.Outcome == "ok" && (len(e.Event.Details["key_hash"]) != 32 || strings.Contains(fmt.Sprint(e.Event), knownUSCC)) {
			t.Fatalf("audit entry of a query: %+v", e.Event)
		}
	}
	if outcomes["ok"] != 2 || outcomes["failed"] != 1 {
		t.Fatalf("service.query entries: got %v, want 2 answered and 1 refused (a query on a verify service)", outcomes)
	}
	code, body = w.do(w.consumer.Token, "GET", "/v1/services/firm-info/openapi.json", nil)
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if code != 200 || err != nil || doc.Validate(t.Context()) != nil || doc.Paths.Find("/v1/services/firm-info/query") == nil {
		t.Fatalf("query API document: %d %v", code, err)
	}
}
