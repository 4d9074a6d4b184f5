package usage

import (
	"bytes"
	"context"
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svgRect is a bar as it appears in the rendered document.
type svgRect struct {
	Class  string `xml:"class,attr"`
	Label  string `xml:"data-label,attr"`
	Series int    `xml:"data-series,attr"`
	Value  string `xml:"data-value,attr"`
	Height string `xml:"height,attr"`
}

type svgDoc struct {
	Rects []svgRect `xml:"rect"`
}

// charts parses every inline SVG of the document by the id of its figure.
func charts(t *testing.T, doc string) map[string][]svgRect {
	t.Helper()
	out := map[string][]svgRect{}
	re := regexp.MustCompile(`(?s)<figure id="chart-([a-z]+)">.*?(<svg.*?</svg>)`)
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		var d svgDoc
		if err := xml.Unmarshal([]byte(m[2]), &d); err != nil {
			t.Fatalf("chart %q is not well-formed SVG: %v", m[1], err)
		}
		for _, r := range d.Rects {
			if r.Class == "bar" {
				out[m[1]] = append(out[m[1]], r)
			}
		}
	}
	return out
}

func TestAnnualHTML(t *testing.T) {
	db := fixture(t)
	ctx := context.Background()
	rep, err := Annual(ctx, db.SQL(), "acme", 2026, DefaultPriceList(), false)
	if err != nil {
		t.Fatal(err)
	}
	rep.Generated = time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	doc := buf.String()
	for _, banned := range []string{"<script", "<img", "<link", "@import", "url(", "src="} {
		if strings.Contains(doc, banned) {
			t.Errorf("got %q in the document, want no external or active content", banned)
		}
	}
	if n := strings.Count(doc, "http"); n != strings.Count(doc, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Errorf("got %d references to http, want only the SVG namespace", n)
	}
	cs := charts(t, doc)
	// The figures, from the ledger (acme in the fixture): months January
	// and February have jobs; January has one approved and one rejected export.
	month := func(q Query, key string) Row {
		r, err := Compute(ctx, db.SQL(), q, DefaultPriceList())
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range r.Rows {
			if row.Key == key {
				return row
			}
		}
		return Row{}
	}
	q := Query{Org: "acme", By: ByMonth}
	jan, feb := month(q, "2026-01"), month(q, "2026-02")
	tests := []struct {
		chart, label string
		series       int
		want         float64
	}{
		{"cpu", "01", 0, jan.CPUHours},
		{"cpu", "02", 0, feb.CPUHours},
		{"cpu", "03", 0, 0},
		{"data", "01", 0, float64(jan.InputBytes) / 1e9},
		{"data", "02", 0, float64(feb.InputBytes) / 1e9},
		{"jobs", "complete", 0, 3},
		{"jobs", "canceled", 0, 0},
		{"exports", "01", 0, float64(jan.ExportsApproved)},
		{"exports", "01", 1, float64(jan.ExportsRejected)},
		{"exports", "02", 0, 0},
		{"datasets", "census", 0, float64(month(Query{Org: "acme", By: ByDataset}, "census").Jobs)},
		{"datasets", "trade", 0, float64(month(Query{Org: "acme", By: ByDataset}, "trade").Jobs)},
	}
	for _, tc := range tests {
		t.Run(tc.chart+"/"+tc.label, func(t *testing.T) {
			for _, r := range cs[tc.chart] {
				if r.Label != tc.label || r.Series != tc.series {
					continue
				}
				got, err := strconv.ParseFloat(r.Value, 64)
				if err != nil || got != mustRound(tc.want, r.Value) {
					t.Errorf("got %q, want %v", r.Value, tc.want)
				}
				h, _ := strconv.ParseFloat(r.Height, 64)
				if (h > 0) != (tc.want > 0) {
					t.Errorf("got bar height %v for value %v", h, tc.want)
				}
				return
			}
			t.Errorf("got no bar %q series %d in chart %q", tc.label, tc.series, tc.chart)
		})
	}
	if len(cs["cpu"]) != 12 || len(cs["exports"]) != 24 {
		t.Errorf("got %d CPU bars and %d export bars, want 12 and 24", len(cs["cpu"]), len(cs["exports"]))
	}
	if jan.CPUHours == 0 || jan.ExportsRejected == 0 {
		t.Fatalf("fixture changed: January has no CPU or no rejected export")
	}
}

// mustRound rounds want to the decimals of the rendered text.
func mustRound(want float64, text string) float64 {
	dec := 0
	if i := strings.IndexByte(text, '.'); i >= 0 {
		dec = len(text) - i - 1
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(want, 'f', dec, 64), 64)
	return v
}

func TestAnnualYearRange(t *testing.T) {
	db := openDB(t)
	for _, y := range []int{0, 10000} {
		if _, err := Annual(context.Background(), db.SQL(), "", y, DefaultPriceList(), false); err == nil {
			t.Errorf("year %d: got no error, want invalid argument", y)
		}
	}
}
