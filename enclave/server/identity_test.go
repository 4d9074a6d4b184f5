package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/people"
)

// errorOf decodes an error body.
func errorOf(t *testing.T, body []byte) api.ErrorDetail {
	t.Helper()
	var eb api.ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return eb.Error
}

// lastEntry is the newest audit entry of action.
func (h *harness) lastEntry(action string) audit.Event {
	h.t.Helper()
	ents := h.entries(action)
	if len(ents) == 0 {
		h.t.Fatalf("no audit entry of %s", action)
	}
	return ents[len(ents)-1].Event
}

// TestRegistrationRules: every person has a valid resident ID number, and
// every role but admin a confidentiality agreement with its term and
// liability; refusals name the rule, never the number, and change nothing.
func TestRegistrationRules(t *testing.T) {
	h := newHarness(t, nil)
	// h.now is 2026-11-23
	ok := func(r api.PersonRequest) api.PersonRequest {
		r.Name, r.Org = "Li Si", "platform"
		return r
	}
	agreement := func(r api.PersonRequest) api.PersonRequest {
		r.AgreementUntil, r.AgreementLiability = "2027-11-22", "NDA-2026-11, liability per article 5"
		return r
	}
	for _, tc := range []struct {
		name string
		req  api.PersonRequest
		code int
		want string
	}{
		{"no id number", agreement(ok(api.PersonRequest{Roles: []string{"bureau"}})), 400, people.RuleIDNumber},
		{"wrong check digit", agreement(ok(api.PersonRequest{Roles: []string{"bureau"}, IDNumber: "990100196001010030"})), 400, "check digit"},
		{"birth date in the future", agreement(ok(api.PersonRequest{Roles: []string{"bureau"}, IDNumber: "990100202611240012"})), 400, "future"},
		{"officer without agreement", ok(api.PersonRequest{Roles: []string{"officer"}, IDNumber: nextIDNumber()}), 400, people.RuleAgreement},
		{"authority without liability", ok(api.PersonRequest{Roles: []string{"authority"}, IDNumber: nextIDNumber(), AgreementUntil: "2027-01-01"}), 400, "agreement_liability"},
		{"agreement already ended", ok(api.PersonRequest{Roles: []string{"custodian"}, IDNumber: nextIDNumber(), AgreementFrom: "2025-01-01",
			AgreementUntil: "2026-11-22", AgreementLiability: "NDA"}), 400, "has passed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.count("people")
			code, body := h.do(h.admin, "POST", "/v1/people", tc.req)
			e := errorOf(t, body)
			if code != tc.code || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("got %d %q, want %d naming %q", code, e.Message, tc.code, tc.want)
			}
			if tc.req.IDNumber != "" && strings.Contains(string(body), tc.req.IDNumber) {
				t.Fatalf("got a body with the ID number: %s", body)
			}
			if n := h.count("people"); n != before {
				t.Fatalf("got %d people, want %d", n, before)
			}
			if ev := h.lastEntry("person.add"); ev.Outcome != audit.OutcomeFailed || ev.Reason != "invalid-argument" {
				t.Fatalf("got audit %+v, want the refusal recorded as failed invalid-argument", ev)
			}
		})
	}
	// An admin needs no agreement; an operator's is recorded with its term.
	id := nextIDNumber()
	var admin2 api.PersonCreated
	h.mustDo(h.admin, "POST", "/v1/people", api.PersonRequest{Name: "Ma Yi", Org: "platform", Roles: []string{"admin"}, IDNumber: id}, &admin2)
	if admin2.IDNumberMasked != id[:3]+"***********"+id[14:] || admin2.AgreementUntil != "" {
		t.Errorf("got admin %+v, want the masked number and no agreement", admin2.Person)
	}
	var op api.PersonCreated
	h.mustDo(h.admin, "POST", "/v1/people", agreement(ok(api.PersonRequest{Roles: []string{"operator"}, IDNumber: nextIDNumber()})), &op)
	if op.AgreementFrom != "2026-11-23" || op.AgreementUntil != "2027-11-22" || op.AgreementLiability != "NDA-2026-11, liability per article 5" {
		t.Errorf("got agreement %q..%q %q, want 2026-11-23..2027-11-22 with its liability", op.AgreementFrom, op.AgreementUntil, op.AgreementLiability)
	}
	ev := h.lastEntry("person.add")
	if ev.Details["agreement_from"] != "2026-11-23" || ev.Details["agreement_until"] != "2027-11-22" {
		t.Errorf("got audit details %v, want the agreement's term", ev.Details)
	}
	for _, e := range h.entries("") {
		data, _ := json.Marshal(e)
		if strings.Contains(string(data), id) {
			t.Fatalf("got an audit entry with an ID number: %s", data)
		}
	}
	var list []people.Person
	h.mustDo(h.admin, "GET", "/v1/people", nil, &list)
	found := false
	for _, p := range list {
		found = found || p.ID == op.ID && p.AgreementFrom == "2026-11-23" && p.AgreementUntil == "2027-11-22"
	}
	if !found {
		t.Errorf("got people %+v, want the operator listed with the agreement's term", list)
	}
}

// TestExpiredAgreementDeniesAllButWhoami: once a person's agreement ends,
// every action but whoami is denied naming the rule and audited, until an
// admin records a renewed one.
func TestExpiredAgreementDeniesAllButWhoami(t *testing.T) {
	h := newHarness(t, nil)
	var off api.PersonCreated
	h.mustDo(h.admin, "POST", "/v1/people", api.PersonRequest{Name: "Chen Jing", Org: "platform", Roles: []string{"officer"},
		IDNumber: nextIDNumber(), AgreementUntil: "2026-11-23", AgreementLiability: "NDA-1"}, &off)
	if code, body := h.do(off.Token, "GET", "/v1/orgs", nil); code != 200 {
		t.Fatalf("within the agreement: got %d %s, want 200", code, body)
	}
	h.advance(16 * time.Hour) // 2026-11-24 01:00, the agreement ended with the 23rd
	for _, path := range []string{"/v1/orgs", "/v1/datasets", "/v1/keys/public", "/v1/orgs/platform"} {
		code, body := h.do(off.Token, "GET", path, nil)
		e := errorOf(t, body)
		if code != 403 || len(e.Reasons) == 0 || !strings.HasPrefix(e.Reasons[0], "agreement.not_valid") {
			t.Errorf("GET %s after the agreement: got %d %v, want 403 naming agreement.not_valid", path, code, e.Reasons)
		}
	}
	denied := h.lastEntry("org.show")
	if denied.Outcome != audit.OutcomeDenied || denied.Actor != off.ID || !strings.Contains(denied.Reason, "agreement.not_valid") {
		t.Errorf("got audit %+v, want the denial of %s recorded naming the rule", denied, off.ID)
	}
	if code, body := h.do(off.Token, "GET", "/v1/whoami", nil); code != 200 {
		t.Errorf("whoami after the agreement: got %d %s, want 200", code, body)
	}
	// The person cannot renew it; an admin can, and not to a day passed.
	if code, _ := h.do(off.Token, "POST", "/v1/people/"+off.ID+"/agreement", api.AgreementRequest{Until: "2027-12-31", Liability: "NDA-2"}); code != 403 {
		t.Errorf("renewal by the person: got %d, want 403", code)
	}
	if code, body := h.do(h.admin, "POST", "/v1/people/"+off.ID+"/agreement", api.AgreementRequest{From: "2026-01-01", Until: "2026-11-23", Liability: "NDA-2"}); code != 400 || !strings.Contains(string(body), "has passed") {
		t.Errorf("renewal to a day passed: got %d %s, want 400", code, body)
	}
	if code, body := h.do(h.admin, "POST", "/v1/people/"+off.ID+"/agreement", api.AgreementRequest{Until: "2027-12-31"}); code != 400 || !strings.Contains(string(body), "agreement_liability") {
		t.Errorf("renewal without liability: got %d %s, want 400", code, body)
	}
	var p people.Person
	h.mustDo(h.admin, "POST", "/v1/people/"+off.ID+"/agreement", api.AgreementRequest{Until: "2027-12-31", Liability: "NDA-2, liability per article 5"}, &p)
	if p.Agreement != (people.Agreement{AgreementFrom: "2026-11-24", AgreementUntil: "2027-12-31", AgreementLiability: "NDA-2, liability per article 5"}) {
		t.Errorf("got agreement %+v, want 2026-11-24..2027-12-31 with the new liability", p.Agreement)
	}
	if ev := h.lastEntry("person.agreement"); ev.Details["was_until"] != "2026-11-23" || ev.Details["until"] != "2027-12-31" {
		t.Errorf("got audit details %v, want the old and the new end", ev.Details)
	}
	if code, body := h.do(off.Token, "GET", "/v1/orgs", nil); code != 200 {
		t.Errorf("after the renewal: got %d %s, want 200", code, body)
	}
}

// TestUnverifiedPersonDenied: a person recorded before ID numbers were
// required (no number on record) is denied all but whoami.
func TestUnverifiedPersonDenied(t *testing.T) {
	h := newHarness(t, nil)
	b := h.person("Sun Hao", "platform", "bureau")
	if _, err := h.db.SQL().Exec(`UPDATE people SET id_number_hash = NULL, id_number_mask = '' WHERE id = ?`, b.ID); err != nil {
		t.Fatal(err)
	}
	code, body := h.do(b.Token, "GET", "/v1/orgs", nil)
	if e := errorOf(t, body); code != 403 || len(e.Reasons) != 1 || !strings.HasPrefix(e.Reasons[0], "person.id_not_verified") {
		t.Errorf("got %d %v, want 403 naming person.id_not_verified", code, e.Reasons)
	}
	if code, _ := h.do(b.Token, "GET", "/v1/whoami", nil); code != 200 {
		t.Errorf("whoami: got %d, want 200", code)
	}
}

// TestLicensingByUSCC: organisations are licensed on a valid code and a
// complete application; a code held, blacklisted under any name or revoked
// less than three years ago is refused naming the rule, and the refusal is
// audited.
func TestLicensingByUSCC(t *testing.T) {
	h := newHarness(t, nil)
	auth := h.person("Zhou Min", "platform", "authority")
	post := func(req api.OrgRequest) (int, api.ErrorDetail, []byte) {
		code, body := h.do(auth.Token, "POST", "/v1/orgs", req)
		if code >= 300 {
			return code, errorOf(t, body), body
		}
		return code, api.ErrorDetail{}, body
	}
	acme := licensed(api.OrgRequest{Name: "acme", Type: "company", LicenceUntil: "2027-06-30"})
	code, _, body := post(acme)
	var o api.Org
	json.Unmarshal(body, &o)
	if code != 201 || o.USCC != acme.USCC || o.BusinessScope != acme.BusinessScope || o.SecurityLead != acme.SecurityLead ||
		o.Principal != acme.Principal || o.DataDisposal != acme.DataDisposal || len(o.Licences) != 1 {
		t.Fatalf("org add: got %d %s, want 201 with the code, the application and one term", code, body)
	}
	if ev := h.lastEntry("org.add"); ev.Outcome != "ok" || len(ev.Details["uscc_digest"]) != 16 || strings.Contains(strings.Join(ev.Objects, " ")+ev.Details["uscc_digest"], acme.USCC) {
		t.Errorf("got audit %+v, want a digest of the code, not the code", ev)
	}
	var shown api.Org
	h.mustDo(auth.Token, "GET", "/v1/orgs/acme", nil, &shown)
	if shown.USCC != acme.USCC || shown.DataDisposal != acme.DataDisposal || len(shown.Licences) != 1 || shown.Licences[0].Until != "2027-06-30" {
		t.Errorf("org show: got %+v, want the application and the licence's term", shown)
	}
	lower := acme
	lower.Name, lower.USCC = "acme-lower", strings.ToLower(acme.USCC)
	for _, tc := range []struct {
		name  string
		req   api.OrgRequest
		code  int
		class string
		want  string
	}{
		{"no code", licensed(api.OrgRequest{Name: "a1", Type: "company", LicenceUntil: "2027-06-30", USCC: " "}), 400, "invalid-argument", "18 characters"},
		{"wrong check character", licensed(api.OrgRequest{Name: "a2", Type: "company", LicenceUntil: "2027-06-30", USCC: acme.USCC[:17] + otherCheck(acme.USCC[17])}), 400, "invalid-argument", "check character"},
		{"no business scope", licensed(api.OrgRequest{Name: "a3", Type: "company", LicenceUntil: "2027-06-30", BusinessScope: " "}), 400, "invalid-argument", "business_scope"},
		{"bad security lead", licensed(api.OrgRequest{Name: "a4", Type: "company", LicenceUntil: "2027-06-30", SecurityLead: "<b>"}), 400, "invalid-argument", "security_lead"},
		{"code held by another name", lower, 409, "already-exists", `already held by organisation "acme"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, e, _ := post(tc.req)
			if code != tc.code || e.Class != tc.class || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("got %d %s %q, want %d %s naming %q", code, e.Class, e.Message, tc.code, tc.class, tc.want)
			}
		})
	}
	if ev := h.lastEntry("org.add"); ev.Outcome != audit.OutcomeFailed || ev.Reason != "already-exists" {
		t.Errorf("got audit %+v, want the held code's refusal recorded", ev)
	}

	// Blacklisted: never again, under any name.
	bad := licensed(api.OrgRequest{Name: "bad-co", Type: "company", LicenceUntil: "2027-06-30"})
	h.mustDo(auth.Token, "POST", "/v1/orgs", bad, nil)
	h.mustDo(auth.Token, "POST", "/v1/orgs/bad-co/blacklist", api.StatusRequest{Reason: "fraud"}, nil)
	again := bad
	again.Name = "good-co"
	code, e, _ := post(again)
	if code != 403 || len(e.Reasons) != 1 || e.Reasons[0] != `licence.uscc_blacklisted: the unified social credit code of organisation "good-co" was blacklisted (as "bad-co"): it is never licensed again` {
		t.Fatalf("blacklisted code: got %d %v, want 403 naming licence.uscc_blacklisted", code, e.Reasons)
	}
	if ev := h.lastEntry("org.add"); ev.Outcome != audit.OutcomeDenied || !strings.Contains(ev.Reason, "licence.uscc_blacklisted") {
		t.Errorf("got audit %+v, want the denial recorded naming the rule", ev)
	}

	// Revoked: not for three years, then again.
	gone := licensed(api.OrgRequest{Name: "gone-co", Type: "company", LicenceUntil: "2027-06-30"})
	h.mustDo(auth.Token, "POST", "/v1/orgs", gone, nil)
	h.mustDo(auth.Token, "POST", "/v1/orgs/gone-co/revoke", api.StatusRequest{Reason: "breach"}, nil)
	back := gone
	back.Name, back.LicenceFrom, back.LicenceUntil = "back-co", "", "2028-06-30"
	if code, e, _ := post(back); code != 403 || len(e.Reasons) != 1 || !strings.HasPrefix(e.Reasons[0], "licence.uscc_revoked") {
		t.Fatalf("revoked code: got %d %v, want 403 naming licence.uscc_revoked", code, e.Reasons)
	}
	h.advance(3*365*24*time.Hour + 24*time.Hour) // 2029-11-23
	auth.Token = h.freshToken(auth.ID)           // the first expired meanwhile
	back.LicenceUntil = "2030-06-30"
	if code, e, body := post(back); code != 201 {
		t.Fatalf("three years after the revocation: got %d %v %s, want 201", code, e, body)
	}
}

// TestLicenceRenewal: a licence is renewed only in its last three months,
// by an active organisation, for at most two years from the day after it
// ends; the terms are kept.
func TestLicenceRenewal(t *testing.T) {
	h := newHarness(t, nil) // 2026-11-23
	auth := h.person("Zhou Min", "platform", "authority")
	h.mustDo(auth.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "acme", Type: "company", LicenceFrom: "2026-01-01", LicenceUntil: "2027-06-30"}), nil)
	h.mustDo(auth.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "beta", Type: "company", LicenceFrom: "2026-01-01", LicenceUntil: "2027-01-31"}), nil)
	h.mustDo(auth.Token, "POST", "/v1/orgs/beta/suspend", api.StatusRequest{Reason: "inspection"}, nil)
	h.mustDo(auth.Token, "POST", "/v1/orgs", licensed(api.OrgRequest{Name: "gamma", Type: "company", LicenceFrom: "2026-01-01", LicenceUntil: "2027-01-31"}), nil)
	renew := func(name, until string) (int, api.ErrorDetail, api.Org) {
		code, body := h.do(auth.Token, "POST", "/v1/orgs/"+name+"/renew", api.RenewRequest{LicenceUntil: until})
		var o api.Org
		if code >= 300 {
			return code, errorOf(t, body), o
		}
		json.Unmarshal(body, &o)
		return code, api.ErrorDetail{}, o
	}
	for _, tc := range []struct {
		name, org, until string
		code             int
		want             string // the rule or a part of the message
	}{
		{"seven months early", "acme", "2029-06-30", 403, "licence.renewal_window"},
		{"suspended", "beta", "2029-01-31", 403, "licence.renewal_not_active"},
		{"longer than two years", "gamma", "2029-02-02", 400, "longer than 2 years"},
		{"not a date", "gamma", "soon", 400, "licence_until"},
		// The policy is asked about an organisation that does not exist
		// too (nothing is learned of what exists): no licence, no renewal.
		{"unknown organisation", "nobody", "2029-01-31", 403, "licence.renewal_window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, e, _ := renew(tc.org, tc.until)
			if code != tc.code || !strings.Contains(e.Message+strings.Join(e.Reasons, ";"), tc.want) {
				t.Fatalf("got %d %q %v, want %d naming %q", code, e.Message, e.Reasons, tc.code, tc.want)
			}
		})
	}
	if ev := h.lastEntry("org.renew"); ev.Outcome != audit.OutcomeDenied || !strings.Contains(ev.Reason, "licence.renewal_not_active") {
		t.Errorf("got audit %+v, want the denied renewal recorded naming the rule", ev)
	}
	code, e, o := renew("gamma", "2029-01-31")
	if code != 200 || o.LicenceFrom != "2026-01-01" || o.LicenceUntil != "2029-01-31" || len(o.Licences) != 2 ||
		o.Licences[1] != (api.LicenceTerm{Kind: "renewal", From: "2027-02-01", Until: "2029-01-31", RecordedAt: h.now, RecordedBy: auth.ID}) {
		t.Fatalf("renewal in the last months: got %d %v %+v, want 200 with a second term 2027-02-01..2029-01-31", code, e, o)
	}
	if ev := h.lastEntry("org.renew"); ev.Outcome != "ok" || ev.Details["licence_until_was"] != "2027-01-31" || ev.Details["term_until"] != "2029-01-31" {
		t.Errorf("got audit %+v, want the renewal recorded with the old end and the new term", ev)
	}
	// The renewed licence is now far from its end: a second renewal waits.
	if code, e, _ := renew("gamma", "2030-01-31"); code != 403 || !strings.Contains(strings.Join(e.Reasons, ";"), "licence.renewal_window") {
		t.Errorf("second renewal at once: got %d %v, want 403 naming licence.renewal_window", code, e.Reasons)
	}
}

// freshToken stores a new token for a person straight into the state and
// returns it (for tests that move the clock past every token).
func (h *harness) freshToken(person string) string {
	h.t.Helper()
	tok, hash, _ := people.NewToken()
	if err := people.CreateToken(context.Background(), h.db.SQL(), people.Token{ID: people.NewID("t_"), Person: person, CreatedAt: h.clock(),
		ExpiresAt: h.clock().Add(time.Hour)}, hash); err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// otherCheck returns a check character other than c.
func otherCheck(c byte) string {
	if c == '1' {
		return "2"
	}
	return "1"
}
