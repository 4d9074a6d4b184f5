package usage

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pdfText reads the text shown by the PDF's uncompressed content streams:
// the string operands of every Tj operator, in order.
func pdfText(t *testing.T, doc []byte) []string {
	t.Helper()
	if !bytes.HasPrefix(doc, []byte("%PDF-")) {
		t.Fatalf("not a PDF: starts %q", doc[:min(8, len(doc))])
	}
	var out []string
	for _, m := range regexp.MustCompile(`\(((?:\\.|[^\\)])*)\)\s*Tj`).FindAllSubmatch(doc, -1) {
		s := regexp.MustCompile(`\\(.)`).ReplaceAllString(string(m[1]), "$1")
		out = append(out, s)
	}
	return out
}

// TestAnnualPDF renders the report of the fixture's ledger as a PDF, reads
// its text back and checks each art. 18 section's figures against the
// report's JSON, the figures the server serves (issue 20 item 5).
func TestAnnualPDF(t *testing.T) {
	db := fixture(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO export_reviews (export, person, org, decision, comment, justification, decided_at) VALUES
			('x1', 'p-s1', 'security', 'approve', '', 'checked by hand', '2026-01-06T12:00:00.000000000Z'),
			('x2', 'p-s1', 'security', 'reject', '', '', '2026-01-21T12:00:00.000000000Z'),
			('x4', 'p-s1', 'security', 'approve', '', '', '2026-03-01T12:00:00.000000000Z')`,
		`INSERT INTO objections (id, dataset, org, text, filed_by, filer_org, filed_at, due_at, state) VALUES
			('o1', 'census', 'acme', 't', 'p-g1', 'globex', '2026-02-02T09:00:00.000000000Z', '2026-02-06T23:59:59.000000000Z', 'open'),
			('o2', 'trade', 'acme', 't', 'p-g1', 'globex', '2026-03-02T09:00:00.000000000Z', '2026-03-06T23:59:59.000000000Z', 'answered'),
			('o3', 'census', 'globex', 't', 'p-g1', 'globex', '2026-03-02T09:00:00.000000000Z', '2026-03-06T23:59:59.000000000Z', 'open')`,
		`INSERT INTO destructions (object, cause, process, technique, keyring, key_object, key_id, files, bytes, actor, reason, at)
			VALUES ('dataset:old@1', 'term-end', 'p', 't', 'k', 'ko', 'kid', 1, 10, 'sweeper', 'term ended', '2026-05-01T00:00:00.000000000Z')`,
	} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Annual(ctx, db.SQL(), "acme", 2026, DefaultPriceList(), false)
	if err != nil {
		t.Fatal(err)
	}
	rep.Generated = time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	if err := rep.WritePDF(&buf); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, buf.Bytes())
	joined := "\n" + strings.Join(text, "\n") + "\n"

	// The ledger as JSON, read without the report's own types.
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var led struct {
		Currency string
		Total    struct {
			Jobs        int64                   `json:"jobs"`
			CPUHours    float64                 `json:"cpu_hours"`
			InputBytes  int64                   `json:"input_bytes"`
			OutputBytes int64                   `json:"output_bytes"`
			Charge      struct{ Total float64 } `json:"charge"`
			Classes     []struct {
				Class  string                  `json:"class"`
				Jobs   int64                   `json:"jobs"`
				Charge struct{ Total float64 } `json:"charge"`
			} `json:"classes"`
		}
		CallCharge float64
		Months     []struct {
			CPUHours   float64 `json:"cpu_hours"`
			InputBytes int64   `json:"input_bytes"`
		}
		Art18 map[string]*int64
	}
	if err := json.Unmarshal(js, &led); err != nil {
		t.Fatal(err)
	}
	n := func(k string) string {
		v, ok := led.Art18[k]
		if !ok || v == nil {
			t.Fatalf("the report's JSON has no art. 18 figure %q: %s", k, js)
		}
		return strconv.FormatInt(*v, 10)
	}
	sections := map[string][]string{
		"Product development and storage": {"Datasets held: " + n("datasets_held"), "Dataset versions added: " + n("versions_added"), "Releases: " + n("releases")},
		"Security management": {"Reviews: " + n("reviews"), "Overrides: " + n("overrides"), "Incidents: " + n("incidents"),
			"Exports denied: " + n("exports_denied"), "Destructions (enclave-wide): " + n("destructions")},
		"Market operations": {"Calls: " + strconv.Itoa(func() int {
			if v := led.Art18["calls"]; v != nil {
				return int(*v)
			}
			return 0
		}()), "Charges (" + led.Currency + "): " + strconv.FormatFloat(led.Total.Charge.Total, 'f', 2, 64),
			"Service call charges (" + led.Currency + "): " + strconv.FormatFloat(led.CallCharge, 'f', 2, 64)},
		"Resource use": {"Jobs: " + strconv.FormatInt(led.Total.Jobs, 10), "CPU-hours: " + strconv.FormatFloat(led.Total.CPUHours, 'f', 2, 64),
			"Data read (GB): " + strconv.FormatFloat(float64(led.Total.InputBytes)/1e9, 'f', 3, 64),
			"Outputs (GB): " + strconv.FormatFloat(float64(led.Total.OutputBytes)/1e9, 'f', 3, 64)},
		"Objections": {"Objections filed: " + n("objections"), "Objections answered: " + n("objections_answered"), "Objections overdue: " + n("objections_overdue")},
	}
	// Prices by purpose (issue 20 item 3): each class's jobs and charge.
	if len(led.Total.Classes) == 0 {
		t.Fatalf("the report's total names no price class: %s", js)
	}
	for _, c := range led.Total.Classes {
		sections["Market operations"] = append(sections["Market operations"], "Jobs at "+c.Class+" prices: "+strconv.FormatInt(c.Jobs, 10),
			"Charges, "+c.Class+" use ("+led.Currency+"): "+strconv.FormatFloat(c.Charge.Total, 'f', 2, 64))
	}
	for title, figs := range sections {
		i := strings.Index(joined, "\n"+title+"\n")
		if i < 0 {
			t.Errorf("the PDF has no section %q; its text: %q", title, text)
			continue
		}
		for _, f := range figs {
			if !strings.Contains(joined[i:], "\n"+f+"\n") {
				t.Errorf("section %q: the PDF lacks %q", title, f)
			}
		}
	}
	// The fixture's ledger: acme's figures are not all zero, so a report
	// of zeros would fail.
	for k, want := range map[string]int64{"reviews": 2, "overrides": 1, "exports_denied": 1, "releases": 1, "destructions": 1,
		"objections": 2, "objections_answered": 1, "objections_overdue": 1} {
		if got := led.Art18[k]; got == nil || *got != want {
			t.Errorf("art. 18 figure %s: got %v, want %d", k, got, want)
		}
	}
	if led.Total.Jobs != 3 {
		t.Errorf("jobs: got %d, want acme's 3", led.Total.Jobs)
	}
	// The chart: each month's bar value, then its label, in month order.
	var cpu []string
	for _, m := range led.Months {
		cpu = append(cpu, strconv.FormatFloat(m.CPUHours, 'f', 2, 64))
	}
	chart := strings.Index(joined, "\nResource use: CPU-hours by month\n")
	if chart < 0 {
		t.Fatalf("the PDF has no CPU-hours chart")
	}
	for i, v := range cpu {
		pair := "\n" + v + "\n" + twoDigit(i+1) + "\n"
		j := strings.Index(joined[chart:], pair)
		if j < 0 {
			t.Errorf("CPU chart: month %d lacks its bar value %s", i+1, v)
			continue
		}
		chart += j + 1
	}
	if bytes.Count(buf.Bytes(), []byte(" re f")) == 0 && bytes.Count(buf.Bytes(), []byte(" re\nf")) == 0 {
		t.Errorf("the PDF draws no bars")
	}
}

func twoDigit(m int) string { return strconv.Itoa(m/10) + strconv.Itoa(m%10) }

// TestAnnualEscapes: names in the report are text in both documents, never
// markup (HTML) or operators (PDF).
func TestAnnualEscapes(t *testing.T) {
	db := fixture(t)
	rep, err := Annual(context.Background(), db.SQL(), "acme", 2026, DefaultPriceList(), false)
	if err != nil {
		t.Fatal(err)
	}
	rep.Org, rep.Currency = `<script>alert(1)</script>`, `<b>"&`
	var h bytes.Buffer
	if err := rep.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.String(), "<script>") || strings.Contains(h.String(), "<b>") ||
		!strings.Contains(h.String(), "Charges (&lt;b&gt;&#34;&amp;)") {
		t.Errorf("the HTML report does not escape the names")
	}
	rep.Org = `a) Tj (b`
	var p bytes.Buffer
	if err := rep.WritePDF(&p); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, p.Bytes())
	if !slices.Contains(text, "Organisation: a) Tj (b") {
		t.Errorf("the PDF does not keep the name as one string: %q", text[:3])
	}
}
