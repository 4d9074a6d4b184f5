package server

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestAnnualReportFormats serves the annual report as JSON, PDF and HTML
// from the same ledger (issue 20 item 5): the PDF's text carries each
// art. 18 section with the JSON's figures; a bad format is refused.
func TestAnnualReportFormats(t *testing.T) {
	w := newWorld(t)
	seedUsage(t, w)
	var rep struct {
		Currency string
		Total    struct {
			Jobs     int64   `json:"jobs"`
			CPUHours float64 `json:"cpu_hours"`
		}
		Art18 map[string]*int64
	}
	code, body := w.do(w.operator.Token, "GET", "/v1/reports/annual?org=acme&year=2026&format=json", nil)
	if code != 200 {
		t.Fatalf("annual report as JSON: got %d (%s)", code, body)
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Total.Jobs == 0 || rep.Art18 == nil {
		t.Fatalf("annual report as JSON: %s, want acme's jobs and the art. 18 figures", body)
	}
	code, body = w.do(w.operator.Token, "GET", "/v1/reports/annual?org=acme&year=2026&format=pdf", nil)
	if code != 200 || !strings.HasPrefix(string(body), "%PDF-") {
		t.Fatalf("annual report as PDF: got %d, starts %q", code, body[:min(8, len(body))])
	}
	var text []string
	for _, m := range regexp.MustCompile(`\(((?:\\.|[^\\)])*)\)\s*Tj`).FindAllSubmatch(body, -1) {
		text = append(text, regexp.MustCompile(`\\(.)`).ReplaceAllString(string(m[1]), "$1"))
	}
	joined := "\n" + strings.Join(text, "\n") + "\n"
	for _, want := range []string{
		"Product development and storage", "Security management", "Market operations", "Resource use", "Objections",
		"Jobs: " + strconv.FormatInt(rep.Total.Jobs, 10),
		"CPU-hours: " + strconv.FormatFloat(rep.Total.CPUHours, 'f', 2, 64),
		"Reviews: " + strconv.FormatInt(*rep.Art18["reviews"], 10),
		"Exports denied: " + strconv.FormatInt(*rep.Art18["exports_denied"], 10),
		"Releases: " + strconv.FormatInt(*rep.Art18["releases"], 10),
		"Objections filed: " + strconv.FormatInt(*rep.Art18["objections"], 10),
		"none recorded", // seedUsage files no objection
	} {
		if !strings.Contains(joined, "\n"+want+"\n") {
			t.Errorf("the served PDF lacks %q; its text: %q", want, text)
		}
	}
	code, body = w.do(w.operator.Token, "GET", "/v1/reports/annual?org=acme&year=2026&format=html", nil)
	if code != 200 || !strings.Contains(string(body), "<h2>Security management</h2>") ||
		!strings.Contains(string(body), "<tr><th>Jobs</th><td>"+strconv.FormatInt(rep.Total.Jobs, 10)+"</td></tr>") {
		t.Errorf("annual report as HTML: got %d, want the art. 18 sections with the JSON's figures", code)
	}
	if code, _ := w.do(w.operator.Token, "GET", "/v1/reports/annual?org=acme&year=2026&format=docx", nil); code != 400 {
		t.Errorf("annual report, bad format: got %d, want 400", code)
	}
	if code, _ := w.do(w.operator.Token, "GET", "/v1/reports/annual?org=security&year=2026&format=pdf", nil); code != 403 {
		t.Errorf("annual PDF of another org: got %d, want 403", code)
	}
}
