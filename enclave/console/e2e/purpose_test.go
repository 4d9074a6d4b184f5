package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// TestPurposeInBrowser (issue 20 items 2, 3): the authority's
// Applications page shows that an application is filed as public-interest
// and the conditions it names; once approved, the bureau's Use page shows
// the part of the charge priced as public-interest and the application it
// rests on.
func TestPurposeInBrowser(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("SKIP: browser tests in -short mode")
	}
	chromium(t)
	w := newWorld(t)
	var a api.Application
	w.mustDo(w.people["operator"].Token, "POST", "/v1/applications", api.ApplicationRequest{Datasets: []string{"penalties"},
		Purpose: "flood relief planning", Scenario: "relief map", Until: "2027-06-30", PublicInterest: true,
		Conditions: "district aggregates only"}, &a)

	b := w.go1400(t, "after", w.people["authority"].Token)
	b.open("applications")
	var row string
	b.run("applications", chromedp.WaitVisible(`.conditions`), chromedp.Text(`#view`, &row))
	if !strings.Contains(row, "public interest") || !strings.Contains(row, "conditions: district aggregates only") {
		t.Fatalf("the authority's Applications page: got %q, want the public-interest mark and the conditions", row)
	}

	w.mustDo(w.people["authority"].Token, "POST", "/v1/applications/"+a.ID+"/approve", api.CommentRequest{}, &a)
	if _, err := w.db.SQL().Exec(`INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at)
		VALUES ('j_flood', 'acme', ?, 'sha256:x', '[]', '[{"dataset":"penalties","version":1}]', ?, '{}', 'complete', '{"cpu_seconds": 3600}', ?)`,
		w.people["operator"].ID, `{"penalties":"`+a.Grant+`"}`, storetime.Format(time.Now().Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	bb := w.go1400(t, "after", w.people["bureau"].Token)
	bb.open("usage")
	var charge string
	bb.run("use", chromedp.WaitVisible(`#usage-org .public-interest-charge`), chromedp.Text(`#usage-org .public-interest-charge`, &charge))
	if !strings.Contains(charge, "public interest: 0.00 for 1 job(s) under "+a.ID) {
		t.Fatalf("the bureau's Use page: got %q, want the public-interest part, free, naming %s", charge, a.ID)
	}
	bb.fits("usage", "Use")
}
