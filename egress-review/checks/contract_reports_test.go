package checks

import (
	"encoding/json"
	"fmt"
	"strings"
)

// suiteReports are honest products of a whole analysis rather than of one
// table: reports with several breakdowns, a codebook, a chart with its axis
// labelled, and the release bundle an analyst sends for approval.
func suiteReports() []suiteCase {
	var cases []suiteCase
	add := func(class, name string, build func(c *suiteEnv)) {
		cases = append(cases, suiteCase{class, name, build})
	}
	add("report", "markdown report with three breakdowns", func(c *suiteEnv) { c.text("report.md", fxReportMarkdown(c.fx)) })
	add("report", "html report with three breakdowns", func(c *suiteEnv) { c.text("report.html", fxReportHTML(c.fx)) })
	add("report", "json summary of three breakdowns", func(c *suiteEnv) { c.file("summary.json", fxReportJSON(c)) })
	add("report", "codebook of the released tables", func(c *suiteEnv) { c.text("CODEBOOK.md", fxCodebook) })
	add("report", "svg chart with axis ticks and value labels", func(c *suiteEnv) { c.text("chart.svg", fxAxisChart(c.fx)) })
	add("report", "release bundle of tables, charts and reports", func(c *suiteEnv) {
		var d, ind []string
		var n, ni []int64
		var m, s []float64
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			d, n, m = append(d, g.key[0]), append(n, g.n), append(m, fxRound2(g.mean()))
		}
		c.table("by_district.arrow", KindArrowFile, fxStrCol("district", "", d), fxI64Col("n", "count", n), fxF64Col("mean_penalty", "mean", m))
		for _, g := range c.fx.groupBy(nil, fxByIndustry) {
			ind, ni, s = append(ind, g.key[0]), append(ni, g.n), append(s, fxRound2(g.sum))
		}
		c.table("by_industry.parquet", KindParquet, fxStrCol("industry", "", ind), fxI64Col("n", "count", ni), fxF64Col("sum_penalty", "sum", s))
		c.file("chart.png", fxPNGChunks(fxChart(c), [][]byte{fxMatplotlib}, nil))
		c.text("chart.svg", fxAxisChart(c.fx))
		c.text("report.md", fxReportMarkdown(c.fx))
		c.text("report.html", fxReportHTML(c.fx))
		c.file("summary.json", fxReportJSON(c))
		c.text("CODEBOOK.md", fxCodebook)
	})
	return cases
}

func fxByIndustry(r suiteRec) []string { return []string{r.industry} }
func fxByYear(r suiteRec) []string     { return []string{fmt.Sprint(r.year)} }

// fxReportMarkdown is a written summary with a table by district (counts,
// shares, means), one by industry (counts, shares, sums) and one by year.
func fxReportMarkdown(fx *suiteFixture) string {
	tot := fx.groupBy(nil, func(suiteRec) []string { return nil })[0]
	share := func(g *fxGroup) float64 { return 100 * float64(g.n) / float64(tot.n) }
	var b strings.Builder
	b.WriteString("# Administrative penalties, 2019-2024\n\n")
	fmt.Fprintf(&b, "This report covers %d penalty decisions. The mean penalty was %.2f yuan.\n\n", tot.n, tot.mean())
	b.WriteString("## By district\n\nTwo districts are left out of the means: in one a single decision makes up most of the total, in the other every penalty is the same.\n\n")
	b.WriteString("| district | decisions | share | mean penalty (yuan) |\n|---|---:|---:|---:|\n")
	for _, g := range fx.groupBy(fxOrdinary, fxByDistrict) {
		fmt.Fprintf(&b, "| %s | %d | %.1f%% | %.2f |\n", g.key[0], g.n, share(g), g.mean())
	}
	b.WriteString("\n## By industry\n\n| industry | decisions | share | total penalties (yuan) |\n|---|---:|---:|---:|\n")
	for _, g := range fx.groupBy(nil, fxByIndustry) {
		fmt.Fprintf(&b, "| %s | %d | %.1f%% | %.2f |\n", g.key[0], g.n, share(g), g.sum)
	}
	b.WriteString("\n## By year\n\n| year | decisions | mean penalty (yuan) |\n|---|---:|---:|\n")
	for _, g := range fx.groupBy(nil, fxByYear) {
		fmt.Fprintf(&b, "| %s | %d | %.2f |\n", g.key[0], g.n, g.mean())
	}
	b.WriteString("\nThe number of decisions was stable over the period; the mean penalty rose in the last two years.\n")
	return b.String()
}

// fxReportHTML is fxReportMarkdown's tables as an HTML page.
func fxReportHTML(fx *suiteFixture) string {
	tot := fx.groupBy(nil, func(suiteRec) []string { return nil })[0]
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Administrative penalties</title>\n")
	b.WriteString("<style>body { font-family: sans-serif; } table { border-collapse: collapse; margin-bottom: 1em; } td, th { padding: 4px 8px; border-bottom: 1px solid #ddd; }</style>\n</head>\n<body>\n")
	fmt.Fprintf(&b, "<h1>Administrative penalties, 2019-2024</h1>\n<p>%d decisions; mean penalty %.2f yuan.</p>\n", tot.n, tot.mean())
	table := func(title string, head []string, groups []*fxGroup, row func(g *fxGroup) []string) {
		fmt.Fprintf(&b, "<h2>%s</h2>\n<table>\n<tr>", title)
		for _, h := range head {
			fmt.Fprintf(&b, "<th>%s</th>", h)
		}
		b.WriteString("</tr>\n")
		for _, g := range groups {
			b.WriteString("<tr>")
			for _, v := range row(g) {
				fmt.Fprintf(&b, "<td>%s</td>", v)
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</table>\n")
	}
	table("By district", []string{"district", "decisions", "mean penalty"}, fx.groupBy(fxOrdinary, fxByDistrict), func(g *fxGroup) []string {
		return []string{g.key[0], fmt.Sprint(g.n), fmt.Sprintf("%.2f", g.mean())}
	})
	table("By industry", []string{"industry", "decisions", "total penalties"}, fx.groupBy(nil, fxByIndustry), func(g *fxGroup) []string {
		return []string{g.key[0], fmt.Sprint(g.n), fmt.Sprintf("%.2f", g.sum)}
	})
	table("By year", []string{"year", "decisions", "mean penalty"}, fx.groupBy(nil, fxByYear), func(g *fxGroup) []string {
		return []string{g.key[0], fmt.Sprint(g.n), fmt.Sprintf("%.2f", g.mean())}
	})
	b.WriteString("</body>\n</html>\n")
	return b.String()
}

// fxReportJSON is the three breakdowns as JSON, as a dashboard reads them.
func fxReportJSON(c *suiteEnv) []byte {
	type row struct {
		Label string  `json:"label"`
		N     int64   `json:"n"`
		Mean  float64 `json:"mean_penalty"`
	}
	rows := func(keep func(suiteRec) bool, key func(suiteRec) []string) []row {
		var out []row
		for _, g := range c.fx.groupBy(keep, key) {
			out = append(out, row{g.key[0], g.n, fxRound2(g.mean())})
		}
		return out
	}
	data, err := json.MarshalIndent(map[string]any{
		"title":       "Administrative penalties, 2019-2024",
		"by_district": rows(fxOrdinary, fxByDistrict),
		"by_industry": rows(nil, fxByIndustry),
		"by_year":     rows(nil, fxByYear),
	}, "", "  ")
	if err != nil {
		c.t.Fatal(err)
	}
	return data
}

// fxCodebook describes the columns of the released tables.
const fxCodebook = `# Codebook

Each table has one row for each group of decisions; groups of fewer than 10 decisions are left out.

| column | meaning |
|---|---|
| district | the district in which the decision was made |
| industry | the industry category of the company |
| year | the year of the decision |
| n | the number of decisions in the group |
| mean_penalty | the mean penalty of the group, in yuan |
| sum_penalty | the total of the penalties of the group, in yuan |

Penalties are in yuan, rounded to the fen. Shares are percentages of all decisions.
`

// fxAxisChart is a bar chart of the districts' counts in SVG, with axis
// ticks, gridlines and a value over each bar, as plotting libraries draw
// them.
func fxAxisChart(fx *suiteFixture) string {
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="720" height="420" viewBox="0 0 720 420">` + "\n")
	b.WriteString(`<text x="360" y="24" text-anchor="middle" font-size="16">Penalty decisions by district</text>` + "\n")
	for tick := 0; tick <= 200; tick += 25 {
		y := 380 - float64(tick)*1.6
		fmt.Fprintf(&b, `<line x1="50" y1="%.1f" x2="700" y2="%.1f" stroke="#dddddd"/>`+"\n", y, y)
		fmt.Fprintf(&b, `<text x="44" y="%.1f" text-anchor="end" font-size="10">%d</text>`+"\n", y+3, tick)
	}
	for i, g := range fx.groupBy(nil, fxByDistrict) {
		h := float64(g.n) * 1.6
		x := 60 + i*53
		fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="40" height="%.1f" fill="#4c72b0"/>`+"\n", x, 380-h, h)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="middle" font-size="10">%d</text>`+"\n", x+20, 376-h, g.n)
		fmt.Fprintf(&b, `<text x="%d" y="396" text-anchor="middle" font-size="10">%s</text>`+"\n", x+20, g.key[0])
	}
	b.WriteString(`<text x="16" y="200" transform="rotate(-90 16 200)" font-size="12">decisions</text>` + "\n</svg>\n")
	return b.String()
}
