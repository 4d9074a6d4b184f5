package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/synth"
)

// TestServicesInBrowser (issue 19 item 7) walks a verify service through
// the console, each step by the role that owns it: the custodian creates
// it, an officer of another organisation approves it (the second approval
// of authorization-required data by API), a consumer subscribes claiming
// public-interest use, the authority sees the claim and approves, the
// consumer issues a system's credential and sees its token once, the
// system calls, and the bureau sees the call per service and consumer with
// its price class. The page shows a ready-to-use request for the service.
func TestServicesInBrowser(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("SKIP: browser tests in -short mode")
	}
	chromium(t)
	w := newWorld(t)
	for i, o := range []api.OrgRequest{
		{Name: "lender", Type: "company", LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31"},
		{Name: "audit-firm", Type: "agency", LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31"},
	} {
		o.USCC = synth.USCC(100 + i)
		o.BusinessScope, o.SecurityLead, o.Principal = "public data use", "Qian Yi", "Zhao Er"
		o.DataDisposal = "destroy every copy at the licence's end"
		w.mustDo(w.people["authority"].Token, "POST", "/v1/orgs", o, nil)
	}
	var consumer, officer2 api.PersonCreated
	for i, p := range []struct {
		name, org, role string
		out             *api.PersonCreated
	}{{"Hu Yan", "lender", "consumer", &consumer}, {"Ma Jun", "audit-firm", "officer", &officer2}} {
		w.mustDo(w.admin, "POST", "/v1/people", api.PersonRequest{Name: p.name, Org: p.org, Roles: []string{p.role}, IDNumber: synth.ResidentID(100 + i),
			AgreementUntil: "2027-06-30", AgreementLiability: "confidentiality agreement NDA-TEST, liability per its article 5"}, p.out)
	}

	// The custodian creates the service from the page's form.
	cb := w.go1400(t, "after", w.people["custodian"].Token)
	cb.open("services")
	cb.run("create",
		chromedp.WaitVisible(`#service-create`),
		chromedp.SendKeys(`#svc-name`, "firm-check"),
		chromedp.SendKeys(`#svc-dataset`, "penalties"),
		chromedp.SendKeys(`#svc-key`, "uscc"),
		chromedp.SendKeys(`#svc-scenario`, "loan checks"),
		chromedp.SendKeys(`#svc-rate`, "600/m"),
		chromedp.Click(`#service-create button[type=submit]`),
		chromedp.WaitVisible(`#service-list tr[data-id="firm-check"]`))
	var row, request string
	cb.run("created", chromedp.Text(`#service-list tr[data-id="firm-check"]`, &row),
		chromedp.Text(`#service-list tr[data-id="firm-check"] code.request`, &request))
	if !strings.Contains(row, "pending") || !strings.Contains(row, "0 of 2") {
		t.Fatalf("the created service's row: got %q, want pending with 0 of 2 approvals", row)
	}
	if !strings.Contains(request, "/v1/services/firm-check/verify") || !strings.Contains(request, `"key"`) {
		t.Fatalf("the ready-to-use request: got %q", request)
	}

	// An officer of another organisation approves on the page, a second by
	// the API.
	ob := w.go1400(t, "after", w.people["officer"].Token)
	ob.open("services")
	ob.run("approve", chromedp.WaitVisible(`#service-list tr[data-id="firm-check"] .approve-service`),
		chromedp.Click(`#service-list tr[data-id="firm-check"] .approve-service`),
		chromedp.WaitNotPresent(`#service-list tr[data-id="firm-check"] .approve-service`))
	var sv api.Service
	w.mustDo(officer2.Token, "POST", "/v1/services/firm-check/approve", api.ServiceDecision{}, &sv)
	if sv.State != "approved" || !sv.Running {
		t.Fatalf("after two approvals: got %+v", sv)
	}

	// The consumer subscribes, claiming public-interest use.
	until := time.Now().AddDate(0, 3, 0).Format("2006-01-02")
	kb := w.go1400(t, "after", consumer.Token)
	kb.open("services")
	kb.run("subscribe", chromedp.WaitVisible(`#service-list tr[data-id="firm-check"] .subscribe`),
		chromedp.SetValue(`#service-list tr[data-id="firm-check"] input.until`, until),
		chromedp.Click(`#service-list tr[data-id="firm-check"] input.public-interest`),
		chromedp.Click(`#service-list tr[data-id="firm-check"] .subscribe`),
		chromedp.WaitVisible(`#subscription-list tbody tr`))
	var subs []api.Subscription
	w.mustDo(consumer.Token, "GET", "/v1/subscriptions", nil, &subs)
	if len(subs) != 1 || !subs[0].PublicInterest || subs[0].State != "pending" || subs[0].Until != until {
		t.Fatalf("the consumer's subscription: got %+v, want one pending, claiming public interest, until %s", subs, until)
	}
	sub := subs[0].ID

	// The authority sees the claim and approves.
	ab := w.go1400(t, "after", w.people["authority"].Token)
	ab.open("services")
	sel := `#subscription-list tr[data-id="` + sub + `"]`
	ab.run("subscription", chromedp.WaitVisible(sel+` .approve-subscription`), chromedp.Text(sel, &row))
	if !strings.Contains(row, "claimed") || !strings.Contains(row, "lender") {
		t.Fatalf("the authority's view of the subscription: got %q, want the public-interest claim and the organisation", row)
	}
	ab.run("approve", chromedp.Click(sel+` .approve-subscription`), chromedp.WaitNotPresent(sel+` .approve-subscription`))

	// The consumer issues a system's credential: the token is shown once.
	// (The page is the one already open: render it again.)
	kb.run("reload", chromedp.Evaluate(`document.getElementById('view').replaceChildren(); route()`, nil))
	var shown string
	kb.run("credential", chromedp.WaitVisible(sel+` input.system`),
		chromedp.SendKeys(sel+` input.system`, "loan-desk"),
		chromedp.Click(sel+` .issue-credential`),
		chromedp.WaitVisible(sel+` code.token`),
		chromedp.Poll(`document.querySelector('`+sel+` code.token').textContent.includes('esvc_')`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Text(sel+` code.token`, &shown))
	token := strings.TrimSpace(strings.TrimPrefix(shown, "token (shown once):"))
	if !strings.HasPrefix(token, "esvc_") {
		t.Fatalf("the issued credential: got %q, want its token shown once", shown)
	}

	// The system calls with it.
	body, _ := json.Marshal(api.VerifyRequest{Key: "91990104A6N74W818W"})
	req, _ := http.NewRequest("POST", w.http.URL+"/v1/services/firm-check/verify", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := w.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ans api.VerifyAnswer
	json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if resp.StatusCode != 200 || !ans.Match {
		t.Fatalf("the system's call: got %d %+v, want 200 and a match", resp.StatusCode, ans)
	}

	// The bureau sees the call per service and consumer, with its class.
	bb := w.go1400(t, "after", w.people["bureau"].Token)
	bb.open("services")
	var usage string
	bb.run("usage", chromedp.WaitVisible(`#service-usage tbody tr`), chromedp.Text(`#service-usage`, &usage))
	if !strings.Contains(usage, "firm-check") || !strings.Contains(usage, sub) || !strings.Contains(usage, "lender") ||
		!strings.Contains(usage, "public-interest") {
		t.Fatalf("the bureau's calls per service and consumer: got %q, want the call of %s by lender at public-interest prices", usage, sub)
	}
	bb.fits("services", "Services")
}
