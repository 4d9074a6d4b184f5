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

// TestAnnualCallChargeByClass: the year's service calls are charged by
// their subscription's price class (001 art. 23): those of a subscription
// the authority approved for public-interest use at the public-interest
// call price, the rest (an unapproved claim among them) at the industry
// price.
func TestAnnualCallChargeByClass(t *testing.T) {
	db := fixture(t)
	ctx := context.Background()
	for _, q := range []string{
		// The services part's tables, as far as the report reads them
		// (package services registers them; it imports this package).
		`CREATE TABLE services (name TEXT PRIMARY KEY, org TEXT NOT NULL, created_at TEXT NOT NULL)`,
		`CREATE TABLE subscriptions (id TEXT PRIMARY KEY, service TEXT NOT NULL, state TEXT NOT NULL, public_interest INTEGER NOT NULL DEFAULT 0)`,
		`CREATE TABLE service_meter (service TEXT, subscription TEXT, org TEXT, day TEXT, calls INTEGER, matches INTEGER, misses INTEGER, refused INTEGER)`,
		`INSERT INTO services VALUES ('firm-check', 'acme', '2026-01-01T00:00:00.000000000Z')`,
		`INSERT INTO subscriptions VALUES ('sub_pub', 'firm-check', 'approved', 1), ('sub_ind', 'firm-check', 'approved', 0), ('sub_rej', 'firm-check', 'rejected', 1)`,
		`INSERT INTO service_meter VALUES ('firm-check', 'sub_pub', 'welfare', '2026-02-01', 100, 60, 40, 0),
			('firm-check', 'sub_ind', 'bank', '2026-02-01', 30, 20, 10, 1), ('firm-check', 'sub_rej', 'bank', '2026-03-01', 10, 5, 5, 0),
			('firm-check', 'sub_pub', 'welfare', '2025-12-31', 1000, 0, 1000, 0)`,
	} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	prices := DefaultPriceList()
	prices.Call, prices.PublicInterest.Call = 0.05, 0.02
	rep, err := Annual(ctx, db.SQL(), "acme", 2026, prices, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Art18.Calls == nil || *rep.Art18.Calls != 140 || rep.Art18.PublicCalls == nil || *rep.Art18.PublicCalls != 100 {
		t.Fatalf("calls %v, public-interest calls %v: want 140 and 100", rep.Art18.Calls, rep.Art18.PublicCalls)
	}
	if want := 40*0.05 + 100*0.02; rep.CallCharge != want {
		t.Errorf("call charge %v, want %v (40 industry calls at 0.05, 100 public-interest at 0.02)", rep.CallCharge, want)
	}
}
