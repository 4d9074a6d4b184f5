package checks

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// suiteToolOutputs are honest products as analysts' tools write them
// (pandas, polars, Excel-minded CSV, statsmodels): the same aggregates as
// suiteHonest's, in the shapes and with the metadata those tools give
// them.
func suiteToolOutputs() []suiteCase {
	var cases []suiteCase
	add := func(class, name string, build func(c *suiteEnv)) {
		cases = append(cases, suiteCase{class, name, build})
	}
	byDI := func(r suiteRec) []string { return []string{r.district, r.industry} }

	add("tools", "csv with a byte order mark and CRLF for Excel", func(c *suiteEnv) {
		var b strings.Builder
		b.WriteString("\ufeffdistrict,n,mean_penalty\r\n")
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			fmt.Fprintf(&b, "%s,%d,%.2f\r\n", g.key[0], g.n, g.mean())
		}
		c.text("by_district.csv", b.String())
		c.stats("by_district.csv", "n", "count", "mean_penalty", "mean")
	})
	add("tools", "wide cross-tab with industries as columns", func(c *suiteEnv) {
		// pd.crosstab(district, industry) with small cells blanked: one
		// row per district, one count column per industry.
		cells := map[string]int64{}
		for _, g := range c.fx.groupBy(nil, byDI) {
			cells[g.key[0]+"\x00"+g.key[1]] = g.n
		}
		var d []string
		for _, g := range c.fx.groupBy(nil, fxByDistrict) {
			d = append(d, g.key[0])
		}
		cols := []fxCol{fxStrCol("district", "", d)}
		for _, in := range fxIndustries {
			var n []int64
			var valid []bool
			for _, dist := range d {
				k := cells[dist+"\x00"+in.name]
				n, valid = append(n, k), append(valid, k >= 10)
			}
			cols = append(cols, fxI64ColValid(in.name, "count", n, valid))
		}
		c.table("crosstab_wide.arrow", KindArrowFile, cols...)
	})
	add("tools", "parquet written by pandas", func(c *suiteEnv) {
		pandas := `{"index_columns": [{"kind": "range", "name": null, "start": 0, "stop": 10, "step": 1}], ` +
			`"column_indexes": [{"name": null, "field_name": null, "pandas_type": "unicode", "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}], ` +
			`"columns": [{"name": "district", "field_name": "district", "pandas_type": "unicode", "numpy_type": "object", "metadata": null}, ` +
			`{"name": "n", "field_name": "n", "pandas_type": "int64", "numpy_type": "int64", "metadata": null}, ` +
			`{"name": "mean_penalty", "field_name": "mean_penalty", "pandas_type": "float64", "numpy_type": "float64", "metadata": null}], ` +
			`"creator": {"library": "pyarrow", "version": "16.1.0"}, "pandas_version": "2.2.2"}`
		var d []string
		var n []int64
		var m []float64
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			d, n, m = append(d, g.key[0]), append(n, g.n), append(m, fxRound2(g.mean()))
		}
		c.add("by_district.parquet", fxTable(c.t, KindParquet, map[string]string{"pandas": pandas},
			[]fxCol{fxStrCol("district", "", d), fxI64Col("n", "count", n), fxF64Col("mean_penalty", "mean", m)}))
	})
	add("tools", "sums in ten thousands of yuan", func(c *suiteEnv) {
		// 万元, the unit of Chinese statistical tables.
		var d []string
		var n []int64
		var s []float64
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			d, n, s = append(d, g.key[0]), append(n, g.n), append(s, fxRound2(g.sum/1e4))
		}
		c.table("by_district.arrow", KindArrowFile, fxStrCol("district", "", d), fxI64Col("n", "count", n), fxF64Col("sum_penalty_10k_yuan", "sum", s))
	})
	add("tools", "polars group_by with large strings and a uint32 len", func(c *suiteEnv) {
		var d []string
		var n []uint32
		for _, g := range c.fx.groupBy(nil, fxByDistrict) {
			d, n = append(d, g.key[0]), append(n, uint32(g.n))
		}
		b := array.NewUint32Builder(fxMem)
		defer b.Release()
		b.AppendValues(n, nil)
		c.table("by_district.arrow", KindArrowFile, fxLargeStrCol("district", d), fxCol{fxField("len", arrow.PrimitiveTypes.Uint32, "count"), b.NewArray()})
	})
	add("tools", "pandas categorical labels", func(c *suiteEnv) {
		var d []string
		var n []int64
		var m []float64
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			d, n, m = append(d, g.key[0]), append(n, g.n), append(m, fxRound2(g.mean()))
		}
		c.table("by_district.arrow", KindArrowFile, fxDictCol("district", d), fxI64Col("n", "count", n), fxF64Col("mean_penalty", "mean", m))
	})
	add("tools", "counts as floats", func(c *suiteEnv) {
		var d []string
		var n, m []float64
		for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			d, n, m = append(d, g.key[0]), append(n, float64(g.n)), append(m, fxRound2(g.mean()))
		}
		c.table("by_district.arrow", KindArrowFile, fxStrCol("district", "", d), fxF64Col("n", "count", n), fxF64Col("mean_penalty", "mean", m))
	})
	add("tools", "methods note with versions, a commit, dates and a link", func(c *suiteEnv) {
		c.text("METHODS.md", "# Methods\n\n"+
			"Data: credit_penalties, version 3 (2,000 decisions, 2019-2024), read on 2024-06-30.\n\n"+
			"Code: https://git.example.org/analysis/penalties at commit 3f2a9c1.\n\n"+
			"Software: Python 3.11.9, pandas 2.2.2, statsmodels 0.14.2.\n\n"+
			"Model: log(penalty) ~ year + C(industry), ordinary least squares.\n\n"+
			"Disclosure control: counts below 10 are suppressed; magnitudes are suppressed where the two largest decisions "+
			"exceed 90% of a cell or where every decision in a cell is the same.\n\n"+
			"Contact: the analysis team, analytics@example.org.\n")
	})
	add("tools", "regression table in parquet", func(c *suiteEnv) {
		// Mean log penalty by industry against the overall mean, with
		// standard errors, to four significant figures (statsmodels'
		// params, bse and tvalues as a table).
		sig := func(v float64) float64 { f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64); return f }
		var all, sq float64
		for _, r := range c.fx.recs {
			all += math.Log(r.penalty)
		}
		all /= float64(len(c.fx.recs))
		terms := []string{"intercept"}
		coef, se, tv := []float64{sig(all)}, []float64{0}, []float64{0}
		for _, r := range c.fx.recs {
			sq += (math.Log(r.penalty) - all) * (math.Log(r.penalty) - all)
		}
		sd := math.Sqrt(sq / float64(len(c.fx.recs)-1))
		se[0] = sig(sd / math.Sqrt(float64(len(c.fx.recs))))
		tv[0] = sig(coef[0] / se[0])
		for _, g := range c.fx.groupBy(nil, func(r suiteRec) []string { return []string{r.industry} }) {
			var m float64
			for _, v := range g.vals {
				m += math.Log(v)
			}
			m /= float64(g.n)
			e := sd / math.Sqrt(float64(g.n))
			terms, coef, se, tv = append(terms, g.key[0]), append(coef, sig(m-all)), append(se, sig(e)), append(tv, sig((m-all)/e))
		}
		dof := make([]int64, len(terms))
		for i := range dof {
			dof[i] = int64(len(c.fx.recs) - len(terms))
		}
		c.table("model.parquet", KindParquet, fxStrCol("term", "", terms), fxF64Col("coef", "model", coef), fxF64Col("std_err", "model", se),
			fxF64Col("t", "model", tv), fxI64Col("df_resid", "dof", dof))
		c.labels("model.parquet", "intercept")
	})
	add("tools", "matplotlib png with its resolution", func(c *suiteEnv) {
		// 100 dpi is 3937 pixels a metre.
		phys := []byte{0, 0, 0x0f, 0x61, 0, 0, 0x0f, 0x61, 1}
		c.file("chart.png", fxPNGChunks(fxChart(c), [][]byte{fxMatplotlib, pngChunk("pHYs", phys)}, nil))
	})
	add("tools", "png with colour space chunks", func(c *suiteEnv) {
		c.file("chart.png", fxPNGChunks(fxChart(c), [][]byte{pngChunk("sRGB", []byte{0}), pngChunk("gAMA", []byte{0, 0, 0xb1, 0x8f})}, nil))
	})
	return cases
}
