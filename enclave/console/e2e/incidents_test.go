package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/enclave-dev/enclave/enclave/api"
)

// TestIncidentsInBrowser (issue 18): the bureau's and the authority's
// Incidents page shows the register (who, what, when, the affected data),
// the authority closes an incident with a decision there, and the bureau
// sees it closed; an operator has no such page.
func TestIncidentsInBrowser(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("SKIP: browser tests in -short mode")
	}
	chromium(t)
	w := newWorld(t)
	var in api.Incident
	w.mustDo(w.people["bureau"].Token, "POST", "/v1/incidents", api.IncidentRequest{Dataset: "penalties", Reason: "a column looks unmasked"}, &in)
	row := `#incident-register tr[data-id="` + in.ID + `"]`

	b := w.browser(t)
	b.signIn(w.people["authority"].Token)
	b.open("incidents")
	var text string
	b.run("the register", chromedp.WaitVisible(row+` .state-open`), chromedp.Text(row, &text))
	if !strings.Contains(text, "dataset penalties") || !strings.Contains(text, "a column looks unmasked") || !strings.Contains(text, w.people["bureau"].ID) {
		t.Fatalf("incident row: got %q, want what, why and who", text)
	}
	b.shot("authority-incident-open")
	b.run("close it",
		chromedp.SendKeys(row+` input.decision`, "masking verified; use resumes"),
		chromedp.Click(row+` .close-incident`),
		chromedp.WaitVisible(row+` .state-closed`))
	b.shot("authority-incident-closed")
	b.clean()
	w.mustDo(w.people["bureau"].Token, "GET", "/v1/incidents/"+in.ID, nil, &in)
	if in.State != "closed" || in.Decision != "masking verified; use resumes" || in.ClosedBy != w.people["authority"].ID {
		t.Fatalf("after the close in the browser: got %+v", in)
	}

	b = w.browser(t)
	b.signIn(w.people["bureau"].Token)
	b.open("incidents")
	b.run("the bureau's register", chromedp.WaitVisible(row+` .state-closed`), chromedp.WaitVisible(`#halt-form`))
	b.shot("bureau-incidents")
	b.clean()

	// The authority revokes the application's grant on the Applications
	// page, with a reason.
	var a struct{ Status, Grant string }
	w.mustDo(w.people["authority"].Token, "POST", "/v1/applications/"+w.app+"/approve", api.CommentRequest{}, nil)
	b = w.browser(t)
	b.signIn(w.people["authority"].Token)
	b.open("applications")
	app := `#applications tr[data-id="` + w.app + `"]`
	b.run("revoke the grant",
		chromedp.WaitVisible(app+` .revoke-grant`),
		chromedp.SendKeys(app+` input.revoke-reason`, "the scenario was exceeded"),
		chromedp.Click(app+` .revoke-grant`),
		chromedp.WaitVisible(app+` .status-revoked`))
	b.shot("authority-grant-revoked")
	b.clean()
	w.mustDo(w.people["authority"].Token, "GET", "/v1/applications/"+w.app, nil, &a)
	var st api.GrantStanding
	w.mustDo(w.people["authority"].Token, "GET", "/v1/grants/"+a.Grant+"/standing", nil, &st)
	if a.Status != "revoked" || st.End == nil || st.End.Reason != "the scenario was exceeded" || st.End.By != w.people["authority"].ID {
		t.Fatalf("after the revocation in the browser: application %+v, grant %+v", a, st)
	}

	b = w.browser(t)
	b.signIn(w.people["operator"].Token)
	var navs int
	b.run("no incidents page for operators", chromedp.Evaluate(`document.querySelectorAll('#nav-incidents').length`, &navs))
	if navs != 0 {
		t.Fatalf("an operator's navigation offers the incident register")
	}
	b.clean()
}
