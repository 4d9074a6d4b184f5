package e2e

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/exports"
)

// failedExport is a second request of the seeded job whose checks failed:
// the page an officer must read before overriding (issue 21).
const failedExport = "x_console0002"

// seedFailedExport records an export of the seeded job whose checks failed
// (a quasi-identifier and small cells), with a 20-row preview.
func (w *world) seedFailedExport() {
	w.t.Helper()
	var sample [][]string
	for i := 0; i < 20; i++ {
		sample = append(sample, []string{"D" + string(rune('A'+i)), string(rune('1' + i%9))})
	}
	e := &exports.Export{ID: failedExport, Job: w.job, Org: "acme", Requester: w.people["operator"].ID, Purpose: "district counts for the risk model",
		Scenario: "credit scoring", Files: []exports.File{{Name: "counts.arrow", Size: 4321, SHA256: strings.Repeat("ef", 32)}}, Level: "general-1",
		State: exports.ChecksFailed, ApprovalsNeeded: 2, CreatedAt: time.Now().UTC(),
		Previews: []exports.Preview{{File: "counts.arrow", Kind: "arrow-file", Rows: 20,
			Columns: []exports.PreviewColumn{{Name: "district", Type: "utf8", Level: "general-1"}, {Name: "count", Type: "int64", Level: "general-1"}},
			Sample:  sample}},
		Result: review.Result{Verdict: review.VerdictFail,
			Checks: []review.CheckResult{{Name: "identifiers", Version: "1", Verdict: review.VerdictPass},
				{Name: "small-cells", Version: "1", Verdict: review.VerdictFail}, {Name: "dominance", Version: "1", Verdict: review.VerdictReview}},
			Findings: []review.Finding{
				{Check: "identifiers", Verdict: review.VerdictPass, Evidence: "no identifier of any input found in 1 file"},
				{Check: "small-cells", Verdict: review.VerdictFail, File: "counts.arrow", Column: "count", Count: 12, Evidence: "12 groups count fewer than 5 rows"},
				{Check: "dominance", Verdict: review.VerdictReview, File: "counts.arrow", Column: "count", Count: 1, Evidence: "1 group is dominated by one contributor"},
			}}}
	if err := w.db.Tx(context.Background(), func(tx *sql.Tx) error { return exports.Insert(context.Background(), tx, e) }, nil); err != nil {
		w.t.Fatal(err)
	}
}

// shotsIn points the tab's screenshots at build/test-artifacts/SUB
// (before/ and after/ of issue 21's redesign).
func (tb *tab) shotsIn(sub string) {
	tb.t.Helper()
	dir := filepath.Join(filepath.Dir(tb.dir), sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	tb.dir = dir
}

// fits checks that the page is no wider than the window and that focus
// is on the view's heading (kept, not dropped to the body, after a
// navigation), with the navigation marking the page and the tab titled.
func (tb *tab) fits(page, title string) {
	tb.t.Helper()
	var r struct {
		Scroll, Inner         int
		Focus, Current, Title string
	}
	tb.run("layout of "+page, chromedp.Evaluate(`({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
		focus: document.activeElement ? document.activeElement.id : '',
		current: (document.querySelector('#nav a[aria-current="page"]') || {}).id || '', title: document.title})`, &r))
	if r.Scroll > r.Inner {
		tb.shot(strings.ReplaceAll(tb.t.Name(), "/", "-") + "-too-wide")
		tb.t.Fatalf("page %s is %d px wide in a window of %d", page, r.Scroll, r.Inner)
	}
	if r.Focus != "page-title" {
		tb.t.Fatalf("page %s: focus is on %q after the navigation, want the page's heading", page, r.Focus)
	}
	if nav := strings.SplitN(page, "/", 2)[0]; pages[nav] && r.Current != "nav-"+nav {
		tb.t.Fatalf("page %s: aria-current is on %q, want nav-%s", page, r.Current, nav)
	}
	if !strings.HasPrefix(r.Title, title) {
		tb.t.Fatalf("page %s: document title %q, want it to start with %q", page, r.Title, title)
	}
}

// viewShot saves what the window shows (the decision bar kept in view
// at its foot), where shot saves the whole page.
func (tb *tab) viewShot(name string) {
	tb.t.Helper()
	var png []byte
	tb.run("screenshot "+name, chromedp.Evaluate(`window.scrollTo(0, 0)`, nil), chromedp.CaptureScreenshot(&png))
	p := filepath.Join(tb.dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", p)
}

// pages are the pages with an entry in the navigation.
var pages = map[string]bool{"queue": true, "history": true, "images": true, "jobs": true, "exports": true, "usage": true, "audit": true, "incidents": true, "releases": true}

// go1400 opens the console in a window of 1400x900, as issue 21 tried it.
func (w *world) go1400(t *testing.T, sub, token string) *tab {
	t.Helper()
	b := w.browser(t)
	b.shotsIn(sub)
	b.run("window", chromedp.EmulateViewport(1400, 900))
	b.signIn(token)
	return b
}

// TestRedesignInBrowser (issue 21) walks the officer, the operator and the
// bureau through the redesigned pages: the decision-first review page of a
// failed export and its decision bar, the history of decisions, the
// operator's Use page and job meters, the bureau's dashboard and audit
// search with paging. Every page fits a 1400x900 window and keeps focus.
// Screenshots go to build/test-artifacts/$CONSOLE_SHOTS (after/ unless
// told; before/ holds those of the console before the redesign).
func TestRedesignInBrowser(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("SKIP: browser tests in -short mode")
	}
	chromium(t)
	// A deployer's threshold (data.enclave.egress_thresholds): the review
	// page states the figure in force, not the default.
	w := newWorldWith(t, func(e *exports.Service) { e.Params.MinCell = 17 })
	w.seedFailedExport()
	sub := os.Getenv("CONSOLE_SHOTS")
	if sub == "" {
		sub = "after"
	}
	officer := w.people["officer"]

	t.Run("officer decides a failed export", func(t *testing.T) {
		b := w.go1400(t, sub, officer.Token)
		b.fits("queue", "Review queue")
		b.open("export/" + failedExport)
		b.run("failed export", chromedp.WaitVisible(`#decision`))
		b.fits("export/"+failedExport, "Export")
		b.shot("officer-review-failed-export")
		b.viewShot("officer-review-failed-export-window")
		var requester string
		b.run("requester", chromedp.Text(`#request-h + p + dl dd`, &requester))
		if !strings.Contains(requester, "Wang Lei") || !strings.Contains(requester, w.people["operator"].ID) {
			t.Fatalf("requester: got %q, want the name beside the id", requester)
		}
		// Decision first: the request, the checks (failed first, with what
		// each tests and its threshold), the evidence, the previews last.
		var order struct {
			Sections []string
			First    string
			Info     string
			BarIn    bool
		}
		b.run("order", chromedp.Evaluate(`({sections: [...document.querySelectorAll('#view h3')].map((h) => h.id),
			first: document.querySelector('#checks li').dataset.check,
			info: document.querySelector('#checks li[data-check="small-cells"] .check-info').textContent,
			barIn: (() => { window.scrollTo(0, 0); const r = document.getElementById('decision').getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; })()})`, &order))
		if strings.Join(order.Sections, ",") != "request-h,checks-h,evidence-h,,previews-h" || order.First != "small-cells" || !strings.Contains(order.Info, "fewer than 17 records") || !order.BarIn {
			t.Fatalf("review page: got %+v, want request, checks with the failed one first and its threshold in force (17), evidence, reviews, previews, and the decision bar in view", order)
		}
		// A rejection needs a comment; nothing is recorded without one.
		var errText string
		b.run("reject without a comment", chromedp.Click(`#reject`), chromedp.WaitVisible(`#decision-error`), chromedp.Text(`#decision-error`, &errText))
		var e exports.Export
		w.mustDo(officer.Token, "GET", "/v1/exports/"+failedExport, nil, &e)
		if !strings.Contains(errText, "comment") || len(e.Reviews) != 0 {
			t.Fatalf("reject without a comment: page says %q, reviews %+v; want a request for a comment and no review", errText, e.Reviews)
		}
		// Approve asks to confirm; cancelling records nothing.
		b.run("approve asks", chromedp.Click(`#approve`), chromedp.WaitVisible(`#confirm-approve`), chromedp.Click(`#cancel-approve`),
			chromedp.WaitNotVisible(`#confirm-approve`))
		w.mustDo(officer.Token, "GET", "/v1/exports/"+failedExport, nil, &e)
		if len(e.Reviews) != 0 {
			t.Fatalf("a cancelled approval recorded %+v", e.Reviews)
		}
		var live, decided string
		b.run("reject",
			chromedp.SendKeys(`#comment`, "twelve groups under ten records"),
			chromedp.Click(`#reject`),
			chromedp.WaitVisible(`#decided`),
			chromedp.Poll(`document.getElementById('live').textContent.startsWith('Recorded')`, nil),
			chromedp.Text(`#live`, &live), chromedp.Text(`#decided`, &decided))
		if !strings.Contains(live, "reject") || !strings.Contains(decided, "Rejected") || strings.Contains(decided, "another officer") {
			t.Fatalf("after the rejection: message %q, state %q; want Recorded and a final rejection", live, decided)
		}
		var inView bool
		b.run("live region holds messages only", chromedp.Evaluate(`!document.getElementById('view').hasAttribute('aria-live') && document.getElementById('live').getAttribute('role') === 'status'`, &inView))
		if !inView {
			t.Fatal("the view is a live region, or the message region is not one")
		}
		b.shot("officer-review-rejected")
		w.mustDo(officer.Token, "GET", "/v1/exports/"+failedExport, nil, &e)
		if e.State != exports.Rejected || len(e.Reviews) != 1 || e.Reviews[0].Comment != "twelve groups under ten records" {
			t.Fatalf("after the rejection in the browser: %+v", e)
		}
		b.open("history")
		var hist string
		b.run("history", chromedp.Text(`#history tr[data-id="`+failedExport+`"]`, &hist))
		if !strings.Contains(hist, "rejected") || !strings.Contains(hist, officer.ID) || !strings.Contains(hist, "Chen Jing") {
			t.Fatalf("history: got %q, want the rejected request and who decided", hist)
		}
		b.fits("history", "Decided")
		b.shot("officer-history")
		b.clean()
	})

	t.Run("operator reads their use and a job", func(t *testing.T) {
		before := len(w.entries(audit.Filter{Action: "usage.report"}))
		b := w.go1400(t, sub, w.people["operator"].Token)
		b.open("usage")
		var org string
		b.run("use", chromedp.WaitVisible(`#usage-org`), chromedp.Text(`#usage-org`, &org),
			chromedp.Poll(`!!document.querySelector('#usage-time').chart`, nil))
		if !strings.Contains(org, "acme") {
			t.Fatalf("operator's use: got %q, want their organisation", org)
		}
		b.fits("usage", "Use")
		b.shot("operator-usage")
		for _, e := range w.entries(audit.Filter{Action: "usage.report"})[before:] {
			if e.Event.Outcome != "ok" {
				t.Fatalf("the operator's Use page left a %s usage.report on the record: %+v", e.Event.Outcome, e.Event)
			}
		}
		b.open("job/" + w.job)
		var meters int
		b.run("meters", chromedp.WaitVisible(`#job-usage`), chromedp.Poll(`!!document.querySelector('#job-chart').chart`, nil),
			chromedp.Evaluate(`document.querySelectorAll('#job-usage meter').length`, &meters))
		var owner string
		b.run("owner", chromedp.Text(`#view .card dl`, &owner))
		if !strings.Contains(owner, "Wang Lei") {
			t.Fatalf("job page: got %q, want the owner by name", owner)
		}
		if meters < 3 {
			t.Fatalf("job page: got %d meters, want one per limited resource", meters)
		}
		b.fits("job/"+w.job, "Job")
		b.shot("operator-job")
		b.open("jobs")
		var mark string
		b.run("job state", chromedp.Text(`#jobs tr[data-id="`+w.job+`"] .badge .mark`, &mark))
		if mark != "✓" {
			t.Fatalf("job state: got mark %q, want ✓ beside the word", mark)
		}
		b.fits("jobs", "Jobs")
		b.clean()
	})

	t.Run("bureau reads the dashboard and pages the audit log", func(t *testing.T) {
		for i := 0; i < 60; i++ {
			if _, err := w.log.Append(context.Background(), audit.Event{Time: time.Now().UTC(), Actor: officer.ID, Org: "security", Action: "export.show",
				Outcome: "ok", Retention: "3y", Objects: []string{"export:" + failedExport}}); err != nil {
				t.Fatal(err)
			}
		}
		b := w.go1400(t, sub, w.people["bureau"].Token)
		b.open("usage")
		var series int
		b.run("dashboard", chromedp.WaitVisible(`#usage-person`), chromedp.WaitVisible(`#usage-dataset`),
			chromedp.Poll(`!!document.querySelector('#usage-time').chart`, nil),
			chromedp.Evaluate(`document.querySelector('#usage-time').chart.data.datasets.length`, &series))
		if series < 1 {
			t.Fatal("dashboard: no series of use over time")
		}
		b.fits("usage", "Use")
		b.shot("bureau-usage")
		from := time.Now().UTC().AddDate(0, 0, -7).Format("2006-01-02")
		var hash, shown string
		b.run("range", chromedp.SetValue(`#usage-from`, from), chromedp.Click(`#usage-go`),
			chromedp.Poll(`document.title.includes('`+from+`')`, nil), chromedp.WaitVisible(`#usage-org`), chromedp.Location(&hash),
			chromedp.Value(`#usage-from`, &shown))
		if !strings.Contains(hash, from) || shown != from {
			t.Fatalf("range picker: got %q showing %q, want the chosen start %s", hash, shown, from)
		}
		b.fits("usage/"+from, "Use")
		b.open("audit")
		var first, second []int
		b.run("first page", chromedp.WaitVisible(`#audit`),
			chromedp.Evaluate(`[...document.querySelectorAll('#audit tbody tr')].map((r) => Number(r.dataset.id))`, &first))
		b.fits("audit", "Audit")
		b.shot("bureau-audit")
		b.run("older", chromedp.Click(`#audit-older`), chromedp.Poll(`document.getElementById('audit-page').textContent.startsWith('page 2')`, nil),
			chromedp.Evaluate(`[...document.querySelectorAll('#audit tbody tr')].map((r) => Number(r.dataset.id))`, &second))
		if len(first) != 50 || len(second) == 0 || second[0] >= first[len(first)-1] {
			t.Fatalf("audit pages: got %d then %d entries (%v..., %v...), want 50 and then older ones", len(first), len(second), first[:min(3, len(first))], second[:min(3, len(second))])
		}
		var actors []string
		b.run("actor by name", chromedp.SendKeys(`#audit-actor`, "Chen Jing"), chromedp.Click(`#audit-go`),
			chromedp.Poll(`document.getElementById('audit-page').textContent.startsWith('page 1')`, nil),
			chromedp.Evaluate(`[...document.querySelectorAll('#audit tbody tr')].map((r) => r.cells[2].textContent)`, &actors))
		if len(actors) == 0 {
			t.Fatal("audit search by name: no entry")
		}
		for _, a := range actors {
			if !strings.Contains(a, "Chen Jing") || !strings.Contains(a, officer.ID) {
				t.Fatalf("audit search by name: an entry's actor is %q, want Chen Jing %s", a, officer.ID)
			}
		}
		var dates int
		b.run("date picker", chromedp.Evaluate(`document.querySelectorAll('#audit-search input[type=date]').length`, &dates))
		if dates != 2 {
			t.Fatalf("audit search: got %d date inputs, want from and to", dates)
		}
		b.open("incidents")
		b.fits("incidents", "Incidents")
		b.clean()
	})
}
