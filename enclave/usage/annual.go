package usage

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
)

// AnnualReport is the annual operation report of an organisation:
// its use month by month, its jobs by state, its exports approved and
// rejected, and the datasets it used. WriteHTML renders it.
type AnnualReport struct {
	Org       string
	Year      int
	Currency  string
	Generated time.Time
	// Months has twelve rows, "YYYY-01" to "YYYY-12".
	Months []Row
	// JobStates counts the year's jobs by their state, in state order.
	JobStates []Count
	// Datasets is the use of each dataset read in the year.
	Datasets []Row
	// Total is the year's use and charge.
	Total Row
	// Incidents are the incidents reported in the year on or affecting
	// the organisation, and GrantEnds its grants that ended in the year or
	// are suspended (issue 18).
	Incidents []AnnualIncident
	GrantEnds []AnnualGrantEnd
	// Art18 are the figures of 001 art. 18 beyond the ledger (issue 20
	// item 5); Sections lays them out.
	Art18 Art18
	// CallCharge is what the year's answered service calls cost under the
	// price list (issue 19 item 4).
	CallCharge float64
}

// Count is a number of things of one kind.
type Count struct {
	Key   string
	Count int64
}

// jobStates orders the job states in the report.
var jobStates = []string{"queued", "initializing", "running", "complete", "executor-error", "system-error", "canceled"}

// Annual gathers the annual report of org ("" = every organisation) for
// year from the ledger; coarse rolls up the jobs' coarse figures (see
// Query.Coarse).
func Annual(ctx context.Context, db Querier, org string, year int, prices PriceList, coarse bool) (*AnnualReport, error) {
	if year < 1 || year > 9999 {
		return nil, fmt.Errorf("year %d is out of range: %w", year, errdefs.ErrInvalidArgument)
	}
	from := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	q := Query{Org: org, From: from, Until: from.AddDate(1, 0, 0), By: ByMonth, Coarse: coarse}
	months, err := Compute(ctx, db, q, prices)
	if err != nil {
		return nil, err
	}
	rep := &AnnualReport{Org: org, Year: year, Currency: prices.Currency, Total: months.Total}
	byKey := map[string]Row{}
	for _, r := range months.Rows {
		byKey[r.Key] = r
	}
	for m := 1; m <= 12; m++ {
		k := fmt.Sprintf("%04d-%02d", year, m)
		r, ok := byKey[k]
		if !ok {
			r = Row{Key: k}
		}
		rep.Months = append(rep.Months, r)
	}
	q.By = ByDataset
	ds, err := Compute(ctx, db, q, prices)
	if err != nil {
		return nil, err
	}
	rep.Datasets = ds.Rows
	w, args := where("j", q)
	rows, err := db.QueryContext(ctx, `SELECT j.state, COUNT(*) FROM jobs j`+w+` GROUP BY 1`, args...)
	if err != nil {
		return nil, fmt.Errorf("query job states: %w", err)
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("read job states: %w", err)
		}
		counts[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read job states: %w", err)
	}
	for _, st := range jobStates {
		rep.JobStates = append(rep.JobStates, Count{st, counts[st]})
	}
	if rep.Incidents, err = annualIncidents(ctx, db, org, from, from.AddDate(1, 0, 0)); err != nil {
		return nil, err
	}
	if rep.GrantEnds, err = annualGrantEnds(ctx, db, org, from, from.AddDate(1, 0, 0)); err != nil {
		return nil, err
	}
	if rep.Art18, err = annualArt18(ctx, db, org, from, int64(len(rep.Incidents))); err != nil {
		return nil, err
	}
	if rep.Art18.Calls != nil {
		// A call is public-interest use when its subscription was approved
		// with that claim (services.Subscription.Class); the rest are
		// charged at the industry price per call.
		var public int64
		if rep.Art18.PublicCalls != nil {
			public = *rep.Art18.PublicCalls
		}
		rep.CallCharge = cents(prices.Of(Industry).CallCharge(*rep.Art18.Calls-public) + prices.Of(PublicInterest).CallCharge(public))
	}
	return rep, nil
}

// Chart is one bar chart of the report as inline SVG: a series of bars,
// each with its label and value; a grouped chart has two series.
type Chart struct {
	ID, Title, Unit string
	Series          []string
	Bars            []Bar
	Width, Height   int
	Max             float64
	// AxisY is the baseline of the bars.
	AxisY float64
}

// Bar is one bar of a chart, with its place in the picture.
type Bar struct {
	Label          string
	Series         int
	Value          float64
	Text           string
	X, Y, W, H     float64
	LabelX, LabelY float64
}

var seriesColours = []string{"#2b6cb0", "#c53030"}

// chart lays out values as vertical bars, grouped when there are several
// series (values[series][i]).
func chart(id, title, unit string, labels []string, series []string, values [][]float64, format func(float64) string) Chart {
	c := Chart{ID: id, Title: title, Unit: unit, Series: series, Width: 720, Height: 260}
	for _, s := range values {
		for _, v := range s {
			c.Max = max(c.Max, v)
		}
	}
	const left, top, bottom = 50.0, 20.0, 40.0
	plotH := float64(c.Height) - top - bottom
	c.AxisY = top + plotH
	slot := (float64(c.Width) - left - 10) / float64(max(len(labels), 1))
	bw := slot * 0.7 / float64(len(series))
	for i, l := range labels {
		for si := range series {
			v := values[si][i]
			h := 0.0
			if c.Max > 0 {
				h = v / c.Max * plotH
			}
			x := left + float64(i)*slot + slot*0.15 + float64(si)*bw
			c.Bars = append(c.Bars, Bar{Label: l, Series: si, Value: v, Text: format(v), X: x, Y: top + plotH - h, W: bw, H: h,
				LabelX: left + float64(i)*slot + slot/2, LabelY: float64(c.Height) - bottom + 16})
		}
	}
	return c
}

func fixed(n int) func(float64) string {
	return func(v float64) string { return strconv.FormatFloat(v, 'f', n, 64) }
}

// Charts returns the report's charts: CPU-hours and data read by month,
// jobs by state, exports approved and rejected by month, jobs per dataset.
func (r *AnnualReport) Charts() []Chart {
	var months []string
	cpu, read := []float64{}, []float64{}
	approved, rejected := []float64{}, []float64{}
	for _, m := range r.Months {
		months = append(months, m.Key[5:])
		cpu = append(cpu, m.CPUHours)
		read = append(read, float64(m.InputBytes)/1e9)
		approved = append(approved, float64(m.ExportsApproved))
		rejected = append(rejected, float64(m.ExportsRejected))
	}
	var states []string
	var stateN []float64
	for _, s := range r.JobStates {
		states = append(states, s.Key)
		stateN = append(stateN, float64(s.Count))
	}
	var ds []string
	var dsN []float64
	for _, d := range r.Datasets {
		ds = append(ds, d.Key)
		dsN = append(dsN, float64(d.Jobs))
	}
	return []Chart{
		chart("cpu", "CPU-hours by month", "CPU-hours", months, []string{"CPU-hours"}, [][]float64{cpu}, fixed(2)),
		chart("data", "Data read by month", "GB", months, []string{"GB read"}, [][]float64{read}, fixed(3)),
		chart("jobs", "Jobs by state", "jobs", states, []string{"jobs"}, [][]float64{stateN}, fixed(0)),
		chart("exports", "Exports approved and rejected by month", "exports", months, []string{"approved", "rejected"}, [][]float64{approved, rejected}, fixed(0)),
		chart("datasets", "Jobs per dataset used", "jobs", ds, []string{"jobs"}, [][]float64{dsN}, fixed(0)),
	}
}

var annualTemplate = template.Must(template.New("annual").Funcs(template.FuncMap{
	"colour":  func(i int) string { return seriesColours[i%len(seriesColours)] },
	"f":       func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"gb":      func(v int64) string { return strconv.FormatFloat(float64(v)/1e9, 'f', 3, 64) },
	"money":   func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"plus":    func(a, b int) int { return a + b },
	"legendX": func(i int) int { return 520 + 100*i },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Annual operation report {{.Year}}{{if .Org}}: {{.Org}}{{end}}</title>
<style>
body{font-family:sans-serif;margin:2em;color:#1a202c}
table{border-collapse:collapse}td,th{border:1px solid #cbd5e0;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
figure{margin:1.5em 0}svg text{font-size:11px;font-family:sans-serif}
</style></head>
<body>
<h1>Annual operation report {{.Year}}</h1>
<p>Organisation: {{if .Org}}{{.Org}}{{else}}all organisations{{end}}. Generated {{.Generated.Format "2006-01-02 15:04 UTC"}} from the enclave's usage ledger.</p>
<h2>Summary</h2>
<table id="summary">
<tr><th>Jobs</th><td>{{.Total.Jobs}}</td></tr>
<tr><th>CPU-hours</th><td>{{printf "%.2f" .Total.CPUHours}}</td></tr>
<tr><th>Peak memory (bytes)</th><td>{{.Total.PeakMemoryBytes}}</td></tr>
<tr><th>Data read (GB)</th><td>{{gb .Total.InputBytes}}</td></tr>
<tr><th>Outputs (GB)</th><td>{{gb .Total.OutputBytes}}</td></tr>
<tr><th>Exports requested / approved / rejected</th><td>{{.Total.ExportsRequested}} / {{.Total.ExportsApproved}} / {{.Total.ExportsRejected}}</td></tr>
<tr><th>Charges ({{.Currency}})</th><td>{{money .Total.Charge.Total}}</td></tr>
</table>
{{range .Charts}}
<figure id="chart-{{.ID}}">
<figcaption><h2>{{.Title}}</h2></figcaption>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Title}}">
<line x1="50" y1="{{f .AxisY}}" x2="{{.Width}}" y2="{{f .AxisY}}" stroke="#4a5568"/>
{{range .Bars}}<rect class="bar" data-label="{{.Label}}" data-series="{{.Series}}" data-value="{{.Text}}" x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}" fill="{{colour .Series}}"><title>{{.Label}}: {{.Text}}</title></rect>
{{if eq .Series 0}}<text x="{{f .LabelX}}" y="{{f .LabelY}}" text-anchor="middle">{{.Label}}</text>{{end}}
{{end}}<text x="4" y="14">{{.Unit}} (max {{printf "%.2f" .Max}})</text>
{{range $i, $s := .Series}}<rect x="{{legendX $i}}" y="6" width="10" height="10" fill="{{colour $i}}"/><text class="legend" x="{{plus (legendX $i) 14}}" y="15">{{$s}}</text>{{end}}
</svg>
</figure>
{{end}}
{{range .Sections}}<section class="art18"><h2>{{.Title}}</h2>
{{with .Note}}<p>{{.}}</p>{{end}}{{if .Figures}}<table>{{range .Figures}}<tr><th>{{.Label}}</th><td>{{.Value}}</td></tr>{{end}}</table>{{end}}
</section>
{{end}}<h2>Use by month</h2>
<table id="months"><tr><th>Month</th><th>Jobs</th><th>CPU-hours</th><th>Data read (GB)</th><th>Exports approved</th><th>Exports rejected</th><th>Charge</th></tr>
{{range .Months}}<tr><td>{{.Key}}</td><td>{{.Jobs}}</td><td>{{printf "%.2f" .CPUHours}}</td><td>{{gb .InputBytes}}</td><td>{{.ExportsApproved}}</td><td>{{.ExportsRejected}}</td><td>{{money .Charge.Total}}</td></tr>
{{end}}</table>
<h2>Datasets used</h2>
<table id="datasets"><tr><th>Dataset</th><th>Jobs</th><th>CPU-hours</th><th>Data read (GB)</th></tr>
{{range .Datasets}}<tr><td>{{.Key}}</td><td>{{.Jobs}}</td><td>{{printf "%.2f" .CPUHours}}</td><td>{{gb .InputBytes}}</td></tr>
{{end}}</table>
<h2>Incidents</h2>
<table id="incidents"><tr><th>Incident</th><th>On</th><th>Reported</th><th>By</th><th>Reason</th><th>Jobs stopped</th><th>State</th><th>Decision</th></tr>
{{range .Incidents}}<tr><td>{{.ID}}</td><td>{{.Kind}} {{.Target}}</td><td>{{.ReportedAt.Format "2006-01-02"}}</td><td>{{.ReportedBy}} ({{.ReporterOrg}})</td><td>{{.Reason}}</td><td>{{.Stopped}}</td><td>{{.State}}</td><td>{{.Decision}}</td></tr>
{{else}}<tr><td colspan="8">none</td></tr>
{{end}}</table>
<h2>Grants ended or suspended</h2>
<table id="grant-ends"><tr><th>Grant</th><th>Organisation</th><th>Status</th><th>Since</th><th>By</th><th>Reason</th></tr>
{{range .GrantEnds}}<tr><td>{{.Grant}}</td><td>{{.Org}}</td><td>{{.Status}}</td><td>{{.At}}</td><td>{{.By}}</td><td>{{.Reason}}</td></tr>
{{else}}<tr><td colspan="6">none</td></tr>
{{end}}</table>
</body></html>
`))

// WriteHTML renders the report as one self-contained HTML document with
// inline SVG charts: no scripts, fonts, images or style sheets from
// anywhere else. Each bar carries its value in a data-value attribute.
func (r *AnnualReport) WriteHTML(w io.Writer) error {
	return annualTemplate.Execute(w, r)
}
