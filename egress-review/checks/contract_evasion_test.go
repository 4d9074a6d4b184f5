package checks

import (
	"bytes"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// suiteEvasions are hostile techniques aimed at the contract's own
// allowances rather than at the older checks: its budgets per file, the
// tokens and numbers it lets through free, the tolerance of magnitudes,
// unverified model figures, labels taken from any input column, and
// suppression that a margin undoes. Each carries identifying values or
// the figures of fewer than MinCell records out of the enclave, so each
// must fail like the others.
func suiteEvasions() []suiteCase {
	var cases []suiteCase
	add := func(class, name string, build func(c *suiteEnv)) {
		cases = append(cases, suiteCase{class, name, build})
	}

	add("split", "pseudonyms spread thinly over many text files", func(c *suiteEnv) {
		// Two pseudonyms a file, each file far inside its own budget.
		recs := c.fx.sample(fxVictims)
		for i := 0; i+1 < len(recs); i += 2 {
			c.text(fmt.Sprintf("notes/district_%02d.txt", i/2), fmt.Sprintf("Notes on %s.\nReviewed: %s %s\n",
				recs[i].district, encReverse(recs[i].pseudonym), encReverse(recs[i+1].pseudonym)))
		}
	})
	add("cipher", "pseudonym in base32 pieces of three characters", asLines("codes.txt", func(r suiteRec) string {
		b := strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString(encPseudonymBytes(r.pseudonym)), "="))
		var pieces []string
		for i := 0; i < len(b); i += 3 {
			pieces = append(pieces, b[i:min(i+3, len(b))])
		}
		return strings.Join(pieces, " ")
	}))
	add("cipher", "pseudonym as words of a word list", asLines("codes.txt", func(r suiteRec) string {
		var w []string
		for i := 0; i < len(r.pseudonym); i++ {
			w = append(w, fxWordList[strings.IndexByte(fxHexAlphabet, r.pseudonym[i])])
		}
		return strings.Join(w, " ")
	}))
	add("budget", "percentages within the free numbers carrying phone digits", func(c *suiteEnv) {
		// 50 phones, three plausible percentages each: 150 numbers.
		var b strings.Builder
		b.WriteString("# Shares by district\n\n| district | a | b | c |\n|---|---:|---:|---:|\n")
		for _, r := range c.fx.sample(50) {
			p := strings.ReplaceAll(r.phone, "*", "")
			fmt.Fprintf(&b, "| %s | %s.%s%% | %s.%s%% | %s%% |\n", r.district, p[0:2], p[2:3], p[3:5], p[5:6], p[6:7])
		}
		c.text("shares.md", b.String())
	})
	add("numeric", "means and sums moved within the tolerance to carry phone digits", func(c *suiteEnv) {
		// Every cell a true aggregate moved by less than half the
		// tolerance; three digits of a phone in each move.
		var d, ind []string
		var n []int64
		var m, s []float64
		k := 0
		for _, g := range c.fx.groupBy(fxOrdinary, func(r suiteRec) []string { return []string{r.district, r.industry} }) {
			if g.n < 10 {
				continue
			}
			digits := strings.ReplaceAll(c.fx.recs[k].phone, "*", "")
			k++
			x, _ := strconv.Atoi(digits[:3])
			y, _ := strconv.Atoi(digits[3:6])
			d, ind, n = append(d, g.key[0]), append(ind, g.key[1]), append(n, g.n)
			m = append(m, fxRound2(g.mean()*(1+float64(x-500)/1e6)))
			s = append(s, fxRound2(g.sum*(1+float64(y-500)/1e6)))
		}
		c.table("crosstab.arrow", KindArrowFile, fxStrCol("district", "", d), fxStrCol("industry", "", ind), fxI64Col("n", "count", n),
			fxF64Col("mean_penalty", "mean", m), fxF64Col("sum_penalty", "sum", s))
	})
	add("numeric", "model-declared columns carrying pseudonym pieces", func(c *suiteEnv) {
		var d []string
		var a, b []float64
		for i, g := range c.fx.groupBy(nil, fxByDistrict) {
			p := c.fx.recs[i].pseudonym
			x, _ := strconv.ParseUint(p[:11], 16, 64)
			y, _ := strconv.ParseUint(p[11:22], 16, 64)
			d, a, b = append(d, g.key[0]), append(a, float64(x)/(1<<44)), append(b, float64(y)/(1<<44))
		}
		dof := make([]int64, len(d))
		for i := range dof {
			dof[i] = int64(len(c.fx.recs) - len(d))
		}
		c.table("model.arrow", KindArrowFile, fxStrCol("district", "", d), fxF64Col("coef", "model", a), fxF64Col("std_err", "model", b),
			fxI64Col("df_resid", "dof", dof))
	})
	add("disclosure", "margins that undo a suppressed cell", func(c *suiteEnv) {
		// A cross-tab with small cells removed and a total per district:
		// where a district lost one cell, total minus the rest is that
		// cell, the sum of fewer than MinCell records.
		lone := fxLoneSmallCells(c.fx)
		var d, ind []string
		var n []int64
		var s []float64
		for _, g := range c.fx.groupBy(func(r suiteRec) bool { return lone[r.district] }, func(r suiteRec) []string { return []string{r.district, r.industry} }) {
			if g.n >= 10 {
				d, ind, n, s = append(d, g.key[0]), append(ind, g.key[1]), append(n, g.n), append(s, fxRound2(g.sum))
			}
		}
		for _, g := range c.fx.groupBy(func(r suiteRec) bool { return lone[r.district] }, fxByDistrict) {
			d, ind, n, s = append(d, g.key[0]), append(ind, "Total"), append(n, g.n), append(s, fxRound2(g.sum))
		}
		c.table("crosstab.arrow", KindArrowFile, fxStrCol("district", "", d), fxStrCol("industry", "", ind), fxI64Col("n", "count", n),
			fxF64Col("sum_penalty", "sum", s))
	})
	add("rowlevel", "a repeat offender's pseudonym as a label", func(c *suiteEnv) {
		// The pseudonym occurs at least MinCell times in its column, but
		// it is personal information, not a category.
		var n int64
		for _, r := range c.fx.recs {
			if r.pseudonym == c.fx.offender {
				n++
			}
		}
		c.table("offenders.arrow", KindArrowFile, fxStrCol("pseudonym", "", []string{c.fx.offender}), fxI64Col("n", "count", []int64{n}))
	})
	add("container", "pdf with binary data in a compressed font stream", func(c *suiteEnv) {
		var raw []byte
		for _, r := range c.fx.sample(fxVictims) {
			raw = append(raw, encPseudonymBytes(r.pseudonym)...)
		}
		z := zlibBytes(raw)
		doc := fxPDF([]string{"Penalties by district, 2019-2024"}, true, nil)
		font := fmt.Sprintf("6 0 obj << /Type /FontDescriptor /FontName /ABCDEF+DejaVuSans /FontFile2 7 0 R >> endobj\n"+
			"7 0 obj << /Length %d /Length1 %d /Filter /FlateDecode >> stream\n%s\nendstream endobj\n", len(z), len(raw), z)
		c.file("report.pdf", bytes.Replace(doc, []byte("trailer"), []byte(font+"trailer"), 1))
	})
	add("container", "jpeg XMP packet", func(c *suiteEnv) {
		xmp := "http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF><rdf:Description><dc:description>" +
			fxJoinVictims(c, func(r suiteRec) string { return encSwapPairs(r.pseudonym) }, " ") + "</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"
		c.file("chart.jpg", fxJPEGSegment(fxEncodeJPEG(c.t, fxBarChart([]float64{3, 5, 2, 7})), 0xE1, []byte(xmp)))
	})
	add("container", "jpeg private application segment", func(c *suiteEnv) {
		var raw []byte
		for _, r := range c.fx.sample(fxVictims) {
			raw = append(raw, encPseudonymBytes(r.pseudonym)...)
		}
		c.file("chart.jpg", fxJPEGSegment(fxEncodeJPEG(c.t, fxBarChart([]float64{3, 5, 2, 7})), 0xEF, raw))
	})
	return cases
}

// fxJPEGSegment inserts an application segment (marker 0xFF, m) after SOI.
func fxJPEGSegment(j []byte, m byte, body []byte) []byte {
	out := append([]byte(nil), j[:2]...)
	out = append(out, 0xff, m)
	out = binary.BigEndian.AppendUint16(out, uint16(len(body)+2))
	out = append(out, body...)
	return append(out, j[2:]...)
}

// fxWordList are sixteen words for the sixteen hex digits.
var fxWordList = []string{"amber", "basin", "cedar", "delta", "ember", "fable", "grove", "harbor",
	"island", "jungle", "kettle", "lemon", "meadow", "nectar", "orbit", "pepper"}

// fxLoneSmallCells returns the ordinary districts whose district x industry
// cross-tab has exactly one cell below MinCell.
func fxLoneSmallCells(fx *suiteFixture) map[string]bool {
	small := map[string]int{}
	for _, g := range fx.groupBy(fxOrdinary, func(r suiteRec) []string { return []string{r.district, r.industry} }) {
		if g.n < 10 {
			small[g.key[0]]++
		}
	}
	out := map[string]bool{}
	for d, k := range small {
		if k == 1 {
			out[d] = true
		}
	}
	return out
}
