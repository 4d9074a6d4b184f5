package checks

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// suiteHonest returns honest products of an analysis of the fixture.
func suiteHonest() []suiteCase {
	var cases []suiteCase
	add := func(class, name string, build func(c *suiteEnv)) {
		cases = append(cases, suiteCase{class, name, build})
	}
	// meanByDistrict is the count and mean penalty of each district whose
	// magnitudes may be shown (the dominated and the flat one left out).
	meanByDistrict := func(c *suiteEnv) []fxCol {
		var d []string
		var n []int64
		var m []float64
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			d, n, m = append(d, g.key[0]), append(n, g.n), append(m, fxRound2(g.mean()))
		}
		return []fxCol{fxStrCol("district", "", d), fxI64Col("n", "count", n), fxF64Col("mean_penalty", "mean", m)}
	}
	meanByDistrictCSV := func(c *suiteEnv, name string) {
		var rows [][]string
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			rows = append(rows, []string{g.key[0], fmt.Sprint(g.n), strconv.FormatFloat(fxRound2(g.mean()), 'f', 2, 64)})
		}
		c.text(name, fxCSV([]string{"district", "n", "mean_penalty"}, rows))
		c.stats(name, "n", "count", "mean_penalty", "mean")
	}
	byDistrictIndustry := func(r suiteRec) []string { return []string{r.district, r.industry} }

	add("table", "count and mean by district in an arrow file", func(c *suiteEnv) { c.table("by_district.arrow", KindArrowFile, meanByDistrict(c)...) })
	add("table", "count and mean by district in an arrow stream", func(c *suiteEnv) { c.table("by_district.arrows", KindArrowStream, meanByDistrict(c)...) })
	add("table", "count and mean by district in parquet", func(c *suiteEnv) { c.table("by_district.parquet", KindParquet, meanByDistrict(c)...) })
	add("table", "count and mean by district in csv with a manifest", func(c *suiteEnv) { meanByDistrictCSV(c, "by_district.csv") })
	add("table", "cross-tab with small cells removed", func(c *suiteEnv) {
		var d, ind []string
		var n []int64
		for _, g := range c.fx.groupBy(nil, byDistrictIndustry) {
			if g.n >= 10 {
				d, ind, n = append(d, g.key[0]), append(ind, g.key[1]), append(n, g.n)
			}
		}
		c.table("crosstab.arrow", KindArrowFile, fxStrCol("district", "", d), fxStrCol("industry", "", ind), fxI64Col("n", "count", n))
	})
	add("table", "cross-tab with small cells null", func(c *suiteEnv) {
		var d, ind []string
		var n []int64
		var valid []bool
		for _, g := range c.fx.groupBy(nil, byDistrictIndustry) {
			d, ind, n, valid = append(d, g.key[0]), append(ind, g.key[1]), append(n, g.n), append(valid, g.n >= 10)
			if g.n < 10 {
				n[len(n)-1] = 0
			}
		}
		c.table("crosstab.parquet", KindParquet, fxStrCol("district", "", d), fxStrCol("industry", "", ind), fxI64ColValid("n", "count", n, valid))
	})
	add("table", "cross-tab with suppressed cells noted in csv", func(c *suiteEnv) {
		var rows [][]string
		for _, g := range c.fx.groupBy(nil, byDistrictIndustry) {
			if g.n >= 10 {
				rows = append(rows, []string{g.key[0], g.key[1], fmt.Sprint(g.n), ""})
			} else {
				rows = append(rows, []string{g.key[0], g.key[1], "", "suppressed"})
			}
		}
		c.text("crosstab.csv", fxCSV([]string{"district", "industry", "n", "note"}, rows))
		c.stats("crosstab.csv", "n", "count")
		c.labels("crosstab.csv", "suppressed")
	})
	add("table", "totals without labels", func(c *suiteEnv) {
		g := c.fx.groupBy(nil, func(suiteRec) []string { return nil })[0]
		c.table("totals.arrow", KindArrowFile, fxI64Col("n", "count", []int64{g.n}), fxF64Col("sum_penalty", "sum", []float64{fxRound2(g.sum)}),
			fxF64Col("mean_penalty", "mean", []float64{fxRound2(g.mean())}))
	})
	add("table", "year by district counts", func(c *suiteEnv) {
		var yr, n []int64
		var d []string
		for _, g := range c.fx.groupBy(nil, func(r suiteRec) []string { return []string{fmt.Sprint(r.year), r.district} }) {
			if g.n < 10 {
				continue
			}
			y, _ := strconv.ParseInt(g.key[0], 10, 64)
			yr, d, n = append(yr, y), append(d, g.key[1]), append(n, g.n)
		}
		c.table("year_district.arrow", KindArrowFile, fxI64Col("year", "label", yr), fxStrCol("district", "", d), fxI64Col("n", "count", n))
	})
	add("table", "count by year in csv", func(c *suiteEnv) {
		var rows [][]string
		for _, g := range c.fx.groupBy(nil, func(r suiteRec) []string { return []string{fmt.Sprint(r.year)} }) {
			rows = append(rows, []string{g.key[0], fmt.Sprint(g.n)})
		}
		c.text("by_year.csv", fxCSV([]string{"year", "n"}, rows))
		c.stats("by_year.csv", "year", "label", "n", "count")
	})
	add("table", "sum and mean by industry in parquet", func(c *suiteEnv) {
		var ind []string
		var n []int64
		var s, m []float64
		for _, g := range c.fx.groupBy(nil, func(r suiteRec) []string { return []string{r.industry} }) {
			ind, n = append(ind, g.key[0]), append(n, g.n)
			s, m = append(s, fxRound2(g.sum)), append(m, fxRound2(g.mean()))
		}
		c.table("by_industry.parquet", KindParquet, fxStrCol("industry", "label", ind), fxI64Col("n", "count", n),
			fxF64Col("sum_penalty", "sum", s), fxF64Col("mean_penalty", "mean", m))
	})

	add("chart", "bar chart png", func(c *suiteEnv) { c.file("chart.png", fxPNGChunks(fxChart(c), [][]byte{fxMatplotlib}, nil)) })
	add("chart", "bar chart jpeg", func(c *suiteEnv) {
		var v []float64
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			v = append(v, g.mean())
		}
		c.file("chart.jpg", fxEncodeJPEG(c.t, fxBarChart(v)))
	})
	add("chart", "svg chart", func(c *suiteEnv) {
		var b strings.Builder
		b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400" viewBox="0 0 640 400">` + "\n")
		b.WriteString(`<text x="320" y="20" text-anchor="middle" font-size="14">Penalty decisions by district, 2019-2024</text>` + "\n")
		for i, g := range c.fx.groupBy(nil, fxByDistrict) {
			h := float64(g.n) * 1.5
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="40" height="%.1f" fill="#4c72b0"/>`+"\n", 40+i*48, 360-h, h)
			fmt.Fprintf(&b, `<text x="%d" y="375" font-size="10">%s</text>`+"\n", 40+i*48, g.key[0])
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="10">%d</text>`+"\n", 50+i*48, 355-h, g.n)
		}
		b.WriteString("</svg>\n")
		c.text("chart.svg", b.String())
	})

	all := func(c *suiteEnv) *fxGroup { return c.fx.groupBy(nil, func(suiteRec) []string { return nil })[0] }
	add("text", "markdown summary with figures and percentages", func(c *suiteEnv) {
		tot := all(c)
		var b strings.Builder
		b.WriteString("# Administrative penalties, 2019-2024\n\n")
		fmt.Fprintf(&b, "The input holds %d penalty decisions in %d districts and %d industries. ", tot.n, len(fxDistricts), len(fxIndustries))
		fmt.Fprintf(&b, "The mean penalty was %.2f yuan.\n\n", tot.mean())
		b.WriteString("| district | decisions | share | mean penalty (yuan) |\n|---|---:|---:|---:|\n")
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			fmt.Fprintf(&b, "| %s | %d | %.1f%% | %.2f |\n", g.key[0], g.n, 100*float64(g.n)/float64(tot.n), g.mean())
		}
		fmt.Fprintf(&b, "\nTwo districts are left out of the table of means: in one a single decision makes up most of the total, in the other every penalty is the same fixed fine.\n\n")
		for _, g := range c.fx.groupBy(nil, func(r suiteRec) []string { return []string{r.industry} })[:3] {
			fmt.Fprintf(&b, "- %s: %d decisions (%.1f%%)\n", g.key[0], g.n, 100*float64(g.n)/float64(tot.n))
		}
		c.text("summary.md", b.String())
	})
	add("text", "model coefficients as json", func(c *suiteEnv) {
		// Least squares of log(penalty) on year over the ordinary districts.
		var sx, sy, sxx, sxy, syy, n float64
		for _, r := range c.fx.recs {
			if !fxOrdinary(r) {
				continue
			}
			x, y := float64(r.year-2019), math.Log(r.penalty)
			sx, sy, sxx, sxy, syy, n = sx+x, sy+y, sxx+x*x, sxy+x*y, syy+y*y, n+1
		}
		slope := (n*sxy - sx*sy) / (n*sxx - sx*sx)
		icept := (sy - slope*sx) / n
		r := (n*sxy - sx*sy) / math.Sqrt((n*sxx-sx*sx)*(n*syy-sy*sy))
		sig := func(v float64) float64 { f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64); return f }
		data, _ := json.MarshalIndent(map[string]any{
			"model": "ols", "dependent": "penalty", "transform": "log",
			"coefficients": map[string]float64{"intercept": sig(icept), "year": sig(slope)},
			"r2":           sig(r * r), "n": int(n), "dof": int(n) - 2,
		}, "", "  ")
		c.file("model.json", data)
	})
	add("text", "counts by district as json", func(c *suiteEnv) {
		m := map[string]int64{}
		for _, g := range c.fx.groupBy(nil, fxByDistrict) {
			m[g.key[0]] = g.n
		}
		data, _ := json.MarshalIndent(map[string]any{"unit": "decisions", "by_district": m, "total": len(c.fx.recs)}, "", "  ")
		c.file("counts.json", data)
	})
	add("text", "html report with a small table", func(c *suiteEnv) {
		var b strings.Builder
		b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Penalties by district</title>\n")
		b.WriteString("<style>table { border-collapse: collapse; } td, th { padding: 4px 8px; }</style></head>\n<body>\n")
		b.WriteString("<h1>Penalties by district</h1>\n<p>Counts and mean penalties, 2019-2024.</p>\n<table>\n<tr><th>district</th><th>n</th><th>mean penalty</th></tr>\n")
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%d</td><td>%.2f</td></tr>\n", g.key[0], g.n, g.mean())
		}
		b.WriteString("</table>\n</body></html>\n")
		c.text("report.html", b.String())
	})
	add("text", "plain text note", func(c *suiteEnv) {
		tot := all(c)
		c.text("README.txt", fmt.Sprintf("Penalty decisions 2019-2024\n\nSource: credit_penalties, version 3.\nDecisions: %d in %d districts.\n"+
			"Mean penalty of all decisions: %.2f yuan.\nMethod: counts below 10 are suppressed; means are left out where one decision dominates a district.\n",
			tot.n, len(fxDistricts), tot.mean()))
	})
	add("text", "chinese summary", func(c *suiteEnv) {
		tot := all(c)
		var b strings.Builder
		fmt.Fprintf(&b, "2019年至2024年全市共作出行政处罚决定%d件，涉及%d个区、%d个行业。\n", tot.n, len(fxDistricts), len(fxIndustries))
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict)[:3] {
			fmt.Fprintf(&b, "%s%d件，占%.1f%%，平均罚款金额%.2f元。\n", g.key[0], g.n, 100*float64(g.n)/float64(tot.n), g.mean())
		}
		b.WriteString("计数少于10的单元格已隐藏。\n")
		c.text("summary.txt", b.String())
	})
	add("text", "pdf report", func(c *suiteEnv) {
		lines := []string{"Penalty decisions by district, 2019-2024", ""}
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			lines = append(lines, fmt.Sprintf("District %d: %d decisions", len(lines)-1, g.n))
		}
		c.file("report.pdf", fxPDF(lines, true, nil))
	})
	add("bundle", "table, chart and summary together", func(c *suiteEnv) {
		c.table("by_district.arrow", KindArrowFile, meanByDistrict(c)...)
		c.file("chart.png", fxPNGChunks(fxChart(c), [][]byte{fxMatplotlib}, nil))
		tot := all(c)
		c.text("summary.md", fmt.Sprintf("# Summary\n\n%d decisions; mean penalty %.2f yuan. See by_district.arrow and chart.png.\n", tot.n, tot.mean()))
	})
	cases = append(cases, suiteToolOutputs()...)
	return append(cases, suiteReports()...)
}
