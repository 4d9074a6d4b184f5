package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/exports"
)

// chromium returns the browser to drive. Without one the browser tests skip
// visibly, except under CI=true, where they fail.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run installs it with apt-get install -y chromium")
	}
	t.Skip("SKIP: chromium is not installed (apt-get install -y chromium); the console's browser tests did not run")
	return ""
}

// artifacts returns the directory for screenshots: build/test-artifacts/console
// at the top of the module.
func artifacts(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return t.TempDir()
		}
		dir = parent
	}
	out := filepath.Join(dir, "build", "test-artifacts", "console")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// tab is one fresh browser (its own profile, so its own cookies) with the
// page's script errors and security (CSP) violations collected.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
	mu   sync.Mutex
	errs []string
}

func (w *world) browser(t *testing.T) *tab { return w.browserAt(t, w.http.URL) }

func (w *world) browserAt(t *testing.T, base string) *tab {
	t.Helper()
	exe := chromium(t)
	// A fresh profile; removed after the browser exits (not t.TempDir, whose
	// check races with the browser's last writes).
	profile, err := os.MkdirTemp("", "enclave-console-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// The test server's certificate is made up for the test.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA(); os.RemoveAll(profile) })
	tb := &tab{t: t, ctx: ctx, base: base, dir: artifacts(t)}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			tb.fail("exception: " + ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value))
				}
				tb.fail("console error: " + strings.Join(parts, " "))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Source == cdplog.SourceSecurity || ev.Entry.Source == cdplog.SourceJavascript {
				tb.fail(string(ev.Entry.Source) + ": " + ev.Entry.Text)
			}
		}
	})
	if err := chromedp.Run(ctx, cdplog.Enable()); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return tb
}

func (tb *tab) fail(s string) {
	tb.mu.Lock()
	tb.errs = append(tb.errs, s)
	tb.mu.Unlock()
}

// run runs browser actions; a failure saves a screenshot of the moment.
func (tb *tab) run(what string, actions ...chromedp.Action) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		tb.shot(strings.ReplaceAll(tb.t.Name(), "/", "-") + "-failed")
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// shot saves a full-page screenshot as a test artifact.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	var png []byte
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil { // 100: PNG
		tb.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(tb.dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", p)
}

// clean fails the test if the page threw, logged an error or broke its
// content security policy.
func (tb *tab) clean() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.errs) > 0 {
		tb.t.Fatalf("the page reported errors: %q", tb.errs)
	}
}

func (tb *tab) signIn(token string) {
	tb.t.Helper()
	tb.run("sign in",
		chromedp.Navigate(tb.base+"/console/"),
		chromedp.WaitVisible(`#token`),
		chromedp.SendKeys(`#token`, token),
		chromedp.Click(`#signin-button`),
		chromedp.WaitVisible(`#signout`),
		chromedp.WaitVisible(`#page-title`))
	var loc string
	tb.run("location", chromedp.Location(&loc))
	if strings.Contains(loc, token) {
		tb.t.Fatal("the token is in the page's URL")
	}
}

// open switches to a page of the console and waits for its title.
func (tb *tab) open(page string) {
	tb.t.Helper()
	tb.run("open "+page,
		chromedp.Evaluate(`document.getElementById('view').replaceChildren(); location.hash = '#`+page+`'`, nil),
		chromedp.WaitVisible(`#page-title`))
}

// refused opens a page of another role and checks the server refused it.
func (tb *tab) refused(page string) {
	tb.t.Helper()
	tb.open(page)
	var txt string
	tb.run("refusal of "+page, chromedp.Text(`#refused`, &txt))
	if !strings.Contains(txt, "Refused") {
		tb.t.Fatalf("page %s: got %q, want a refusal", page, txt)
	}
	var navs int
	tb.run("nav", chromedp.Evaluate(`document.querySelectorAll('#nav-`+page+`').length`, &navs))
	if navs != 0 {
		tb.t.Fatalf("page %s: the navigation offers a page the role may not see", page)
	}
}

// fetchStatus runs fetch in the page and returns the status.
func (tb *tab) fetchStatus(method, path string, csrf bool) int {
	tb.t.Helper()
	hdr := `{'Content-Type': 'application/json'}`
	if csrf {
		hdr = `{'Content-Type': 'application/json', 'X-CSRF-Token': state.csrf}`
	}
	js := fmt.Sprintf(`fetch(%q, {method: %q, headers: %s, body: %s}).then((r) => r.status)`, path, method, hdr,
		map[bool]string{true: "undefined", false: "'{}'"}[method == "GET"])
	var code int
	tb.run("fetch "+path, chromedp.Evaluate(js, &code, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	return code
}

func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("SKIP: browser tests in -short mode")
	}
	chromium(t)
	w := newWorld(t)

	t.Run("authority decides an application", func(t *testing.T) {
		b := w.browser(t)
		b.signIn(w.people["authority"].Token)
		b.open("orgs")
		b.run("orgs", chromedp.WaitVisible(`#orgs tr[data-id="acme"]`))
		b.open("applications")
		row := `#applications tr[data-id="` + w.app + `"]`
		b.run("approve the application",
			chromedp.WaitVisible(row+` .approve-application`),
			chromedp.Click(row+` .approve-application`),
			chromedp.WaitVisible(row+` .status-approved`))
		b.shot("authority-application-approved")
		var a struct{ Status, Grant string }
		w.mustDo(w.people["authority"].Token, "GET", "/v1/applications/"+w.app, nil, &a)
		if a.Status != "approved" || a.Grant == "" {
			t.Fatalf("application: got %+v, want approved with a grant", a)
		}
		b.refused("jobs")
		b.shot("authority-jobs-refused")
		b.clean()
	})

	t.Run("officer approves an export", func(t *testing.T) {
		b := w.browser(t)
		b.signIn(w.people["officer"].Token)
		link := `#queue tr[data-id="` + w.export + `"] a`
		b.run("queue", chromedp.WaitVisible(link))
		b.shot("officer-queue")
		var checks, findings, preview string
		b.run("open the request",
			chromedp.Click(link),
			chromedp.WaitVisible(`#decision`),
			chromedp.Text(`#checks`, &checks),
			chromedp.Text(`#findings`, &findings),
			chromedp.TextContent(`.preview[data-file="districts.arrow"]`, &preview))
		if !strings.Contains(checks, "small-cells") || !strings.Contains(checks, "identifiers") || !strings.Contains(findings, "1 group counts fewer than 5 rows") {
			t.Fatalf("checks: got %q and %q, want every check with its evidence", checks, findings)
		}
		// The preview chart (Chart.js): the count by district, one bar per
		// sample row, labelled by the district, smallest first.
		var labels []string
		b.run("chart", chromedp.Poll(`(() => { const c = document.querySelector('.preview canvas'); return !!c && !!c.chart; })()`, nil),
			chromedp.Evaluate(`document.querySelector('.preview canvas').chart.data.labels`, &labels))
		if strings.Join(labels, ",") != "Beiyuan,Nanhu" {
			t.Fatalf("preview chart: got labels %q, want the districts smallest count first", labels)
		}
		if !strings.Contains(preview, "Beiyuan") || !strings.Contains(preview, "2 rows") {
			t.Fatalf("preview: got %q, want the file's shape and sample", preview)
		}
		var purpose string
		var pwned bool
		b.run("markup stays text", chromedp.Text(`#export-purpose`, &purpose),
			chromedp.Evaluate(`window.pwned === 1 || document.querySelectorAll('#view img').length > 0`, &pwned))
		if purpose != hostilePurpose || pwned {
			t.Fatalf("purpose: got %q (markup ran: %v), want the text %q", purpose, pwned, hostilePurpose)
		}
		b.shot("officer-export")
		var approvals string
		b.run("approve",
			chromedp.SendKeys(`#comment`, "aggregates by district only"),
			chromedp.Click(`#approve`),
			chromedp.WaitVisible(`#confirm-approve`),
			chromedp.Click(`#confirm-approve`),
			chromedp.WaitVisible(`#reviews`),
			chromedp.WaitVisible(`#decided`),
			chromedp.Text(`#export-approvals`, &approvals))
		if approvals != "1 of 2 needed" {
			t.Fatalf("approvals: got %q, want %q", approvals, "1 of 2 needed")
		}
		b.shot("officer-export-approved")
		var e exports.Export
		w.mustDo(w.people["officer"].Token, "GET", "/v1/exports/"+w.export, nil, &e)
		if len(e.Reviews) != 1 || e.Reviews[0].Person != w.people["officer"].ID || e.Reviews[0].Decision != exports.Approve || e.Reviews[0].Comment != "aggregates by district only" {
			t.Fatalf("reviews: got %+v, want the officer's approval with the comment", e.Reviews)
		}
		b.open("images")
		img := `#images tr[data-id="` + pendingImage + `"]`
		b.run("reject the pending image",
			chromedp.WaitVisible(img+` .reject-image`),
			chromedp.Click(img+` .reject-image`),
			chromedp.WaitVisible(img+` .status-rejected`))
		b.shot("officer-image-rejected")
		b.refused("audit")
		b.clean()
	})

	t.Run("operator follows their work", func(t *testing.T) {
		b := w.browser(t)
		b.signIn(w.people["operator"].Token)
		b.run("catalogue", chromedp.WaitVisible(`.dataset[data-id="penalties@1"]`))
		var html string
		b.run("page", chromedp.OuterHTML(`html`, &html))
		if !strings.Contains(html, "legal_rep_id") || !strings.Contains(html, "identity") {
			t.Fatal("catalogue: the schema and marks are missing")
		}
		for _, v := range rawValues {
			if strings.Contains(html, v) {
				t.Fatal("catalogue: the page shows a value from the rows")
			}
		}
		b.shot("operator-catalogue")
		b.open("jobs")
		var job string
		b.run("jobs", chromedp.Text(`#jobs tr[data-id="`+w.job+`"]`, &job))
		// The operator reads resource use coarsely (12.5 s of CPU, 96 MiB)
		// and how the job ended, not its exit status.
		if !strings.Contains(job, "complete") || !strings.Contains(job, "≤16.00") || !strings.Contains(job, "≤128.0 MiB") ||
			strings.Contains(job, "12.50") || strings.Contains(job, "(0") {
			t.Fatalf("job row: got %q, want its state and coarse resource use", job)
		}
		b.shot("operator-jobs")
		var logs string
		b.run("job page",
			chromedp.Click(`#jobs tr[data-id="`+w.job+`"] .job-link`),
			chromedp.WaitVisible(`#job-usage`),
			chromedp.Text(`#job-logs`, &logs))
		if !strings.Contains(logs, "counted 2 districts") || !strings.Contains(logs, "withheld") || strings.Contains(logs, "32058319900101007X") {
			t.Fatalf("operator's job log: got %q, want the clean lines and the line with an input value withheld", logs)
		}
		b.shot("operator-job")
		b.open("exports")
		var exp string
		b.run("exports", chromedp.Text(`#exports tr[data-id="`+w.export+`"]`, &exp))
		if !strings.Contains(exp, "pending-review") {
			t.Fatalf("export row: got %q, want its state", exp)
		}
		b.shot("operator-exports")
		b.refused("audit")
		b.refused("orgs")
		// The server decides, not the page: the operator's own approval is
		// refused by the policy, and without the CSRF token not even asked.
		approve := "/v1/exports/" + w.export + "/approve"
		if code := b.fetchStatus("POST", approve, true); code != 403 {
			t.Fatalf("operator approval with CSRF: got %d, want 403", code)
		}
		if code := b.fetchStatus("POST", approve, false); code != 401 {
			t.Fatalf("operator approval without CSRF: got %d, want 401", code)
		}
		b.run("sign out", chromedp.Click(`#signout`), chromedp.WaitVisible(`#signin`))
		if code := b.fetchStatus("GET", "/v1/whoami", false); code != 401 {
			t.Fatalf("after sign-out: got %d, want 401", code)
		}
		b.shot("operator-signed-out")
		b.clean()
	})

	t.Run("bureau searches the audit log", func(t *testing.T) {
		b := w.browser(t)
		b.signIn(w.people["bureau"].Token)
		b.open("audit")
		b.run("search",
			chromedp.WaitVisible(`#audit`),
			chromedp.SendKeys(`#audit-action`, "export.approve"),
			chromedp.Click(`#audit-go`),
			chromedp.Poll(`(() => { const t = document.querySelector('#audit'); return !!t && t.tBodies[0].rows.length > 0 &&
				[...t.tBodies[0].rows].every((r) => r.cells[4].textContent === 'export.approve'); })()`, nil))
		var txt string
		b.run("results", chromedp.Text(`#audit`, &txt))
		officer := w.people["officer"].ID
		if !strings.Contains(txt, officer) {
			t.Fatalf("audit search: got %q, want the officer's approval", txt)
		}
		b.shot("bureau-audit")
		b.open("jobs")
		var job string
		b.run("jobs", chromedp.WaitVisible(`#jobs tr[data-id="`+w.job+`"]`), chromedp.Text(`#jobs tr[data-id="`+w.job+`"]`, &job))
		if !strings.Contains(job, "12.50") || !strings.Contains(job, "96.0 MiB") || !strings.Contains(job, "complete (0") {
			t.Fatalf("bureau's job row: got %q, want the exact resource use and exit status", job)
		}
		b.open("usage")
		var incidents string
		b.run("usage", chromedp.WaitVisible(`#usage-org`), chromedp.WaitVisible(`#usage-person`), chromedp.Text(`#incidents`, &incidents))
		if !strings.Contains(incidents, w.people["operator"].ID) || !strings.Contains(incidents, "export.approve") {
			t.Fatalf("incidents: got %q, want the operator's refused approval", incidents)
		}
		b.shot("bureau-usage")
		b.refused("images")
		b.clean()
		// Every page the bureau read is on the record as the bureau's read.
		var reads int
		for _, e := range w.entries(audit.Filter{Action: "audit.list"}) {
			if e.Event.Actor == w.people["bureau"].ID && e.Event.Outcome == "ok" {
				reads++
			}
		}
		if reads < 2 {
			t.Fatalf("audit reads by the bureau: got %d, want at least 2", reads)
		}
	})

	// Sign-ins are on the record, never with the token.
	ents := w.entries(audit.Filter{Action: "console.signin"})
	if len(ents) < 4 {
		t.Fatalf("sign-ins: got %d audit entries, want at least 4", len(ents))
	}
	data, _ := json.Marshal(ents)
	for _, p := range w.people {
		if strings.Contains(string(data), p.Token) {
			t.Fatal("an audit entry carries a token")
		}
	}
}
