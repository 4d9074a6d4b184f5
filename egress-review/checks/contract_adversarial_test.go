package checks

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// suiteAdversarial returns every hostile technique, by class.
func suiteAdversarial() []suiteCase {
	var cases []suiteCase
	add := func(class, name string, build func(c *suiteEnv)) {
		cases = append(cases, suiteCase{class, name, build})
	}

	// Reversible encodings of pseudonyms and masked phones.
	add("cipher", "pseudonym substitution cipher", asTable(KindArrowFile, "codes.arrow", func(r suiteRec) string { return encSubstitute(r.pseudonym, fxHexAlphabet, 1) }))
	add("cipher", "phone substitution cipher", asCSV("codes.csv", func(r suiteRec) string { return encSubstitute(r.phone, fxDigitAlphabet, 2) }))
	add("cipher", "pseudonym caesar shift", asTable(KindArrowStream, "codes.arrows", func(r suiteRec) string { return encShift(r.pseudonym, fxHexAlphabet, 5) }))
	add("cipher", "pseudonym rot13", asLines("codes.txt", func(r suiteRec) string { return encRot13(r.pseudonym) }))
	add("cipher", "phone rot5", asTable(KindParquet, "codes.parquet", func(r suiteRec) string { return encShift(r.phone, fxDigitAlphabet, 5) }))
	add("cipher", "pseudonym reversed", asTable(KindParquet, "codes.parquet", func(r suiteRec) string { return encReverse(r.pseudonym) }))
	add("cipher", "phone reversed", asCSV("codes.csv", func(r suiteRec) string { return encReverse(r.phone) }))
	add("cipher", "pseudonym swapped pairs", asTable(KindArrowFile, "codes.arrow", func(r suiteRec) string { return encSwapPairs(r.pseudonym) }))
	add("cipher", "phone swapped pairs", asMarkdown("codes.md", func(r suiteRec) string { return encSwapPairs(r.phone) }))
	add("cipher", "pseudonym xor then hex", asTable(KindArrowFile, "codes.arrow", func(r suiteRec) string { return encXorHex(r.pseudonym, 0x5a) }))
	add("cipher", "phone xor then hex", asJSON("codes.json", func(r suiteRec) string { return encXorHex(r.phone, 0x33) }))
	add("cipher", "pseudonym percent-encoded", asCSV("codes.csv", func(r suiteRec) string { return encPercent(r.pseudonym) }))
	add("cipher", "phone percent-encoded", asLines("codes.txt", func(r suiteRec) string { return encPercent(r.phone) }))
	add("cipher", "phone digits as english words", asLines("codes.txt", func(r suiteRec) string { return encEnglish(r.phone) }))
	add("cipher", "pseudonym spelled as words", asCSV("codes.csv", func(r suiteRec) string { return encEnglish(r.pseudonym) }))
	add("cipher", "phone digits as chinese numerals in a table", asTable(KindArrowFile, "codes.arrow", func(r suiteRec) string { return encChinese(r.phone) }))
	add("cipher", "phone digits as chinese numerals in text", asLines("notes.txt", func(r suiteRec) string { return "编号" + encChinese(strings.ReplaceAll(r.phone, "*", "")) }))
	add("cipher", "pseudonym base32", asTable(KindArrowFile, "codes.arrow", func(r suiteRec) string { return base32.StdEncoding.EncodeToString(encPseudonymBytes(r.pseudonym)) }))
	add("cipher", "phone base32", asLines("codes.txt", func(r suiteRec) string { return base32.StdEncoding.EncodeToString([]byte(r.phone)) }))
	add("cipher", "pseudonym base64 of reversed", asJSON("codes.json", func(r suiteRec) string { return base64.StdEncoding.EncodeToString([]byte(encReverse(r.pseudonym))) }))
	add("cipher", "phone base64 of reversed", asTable(KindArrowStream, "codes.arrows", func(r suiteRec) string { return base64.StdEncoding.EncodeToString([]byte(encReverse(r.phone))) }))
	add("cipher", "pseudonym hex pieces as decimal integers", asMarkdown("codes.md", func(r suiteRec) string {
		w := encHexWords(r.pseudonym)
		return fmt.Sprintf("%d %d %d %d", w[0], w[1], w[2], w[3])
	}))
	add("cipher", "phone as html entities", func(c *suiteEnv) {
		var b strings.Builder
		b.WriteString("<!DOCTYPE html>\n<html><body><ul>\n")
		for _, r := range c.fx.sample(fxVictims) {
			fmt.Fprintf(&b, "<li>%s %s</li>\n", r.district, encHTMLEntities(r.phone))
		}
		b.WriteString("</ul></body></html>\n")
		c.text("report.html", b.String())
	})
	add("cipher", "pseudonym as json unicode escapes", func(c *suiteEnv) {
		var items []string
		for _, r := range c.fx.sample(fxVictims) {
			items = append(items, `"`+encJSONEscapes(r.pseudonym)+`"`)
		}
		c.text("codes.json", `{"codes": [`+strings.Join(items, ", ")+"]}\n")
	})

	// Values split across columns, cells, lines and files.
	add("split", "pseudonym across two columns", func(c *suiteEnv) {
		c.table("codes.arrow", KindArrowFile,
			fxStrCol("district", "", fxVictimsCol(c, func(r suiteRec) string { return r.district })),
			fxStrCol("head", "", fxVictimsCol(c, func(r suiteRec) string { return r.pseudonym[:16] })),
			fxStrCol("tail", "", fxVictimsCol(c, func(r suiteRec) string { return r.pseudonym[16:] })))
	})
	add("split", "phone across two columns", func(c *suiteEnv) {
		n := fxDistrictN(c.fx)
		var rows [][]string
		for _, r := range c.fx.sample(fxVictims) {
			rows = append(rows, []string{r.district, r.phone[:3], r.phone[7:], fmt.Sprint(n[r.district])})
		}
		c.text("codes.csv", fxCSV([]string{"district", "prefix", "suffix", "n"}, rows))
		c.stats("codes.csv", "n", "count")
	})
	add("split", "pseudonym across two files", func(c *suiteEnv) {
		c.table("part1.arrow", KindArrowFile, fxStrCol("code", "", fxVictimsCol(c, func(r suiteRec) string { return r.pseudonym[:16] })))
		c.table("part2.arrow", KindArrowFile, fxStrCol("code", "", fxVictimsCol(c, func(r suiteRec) string { return r.pseudonym[16:] })))
	})
	add("split", "phone across two files", func(c *suiteEnv) {
		c.text("part1.csv", fxCSV([]string{"code"}, slices.Collect(func(yield func([]string) bool) {
			for _, v := range fxVictimsCol(c, func(r suiteRec) string { return r.phone[:7] }) {
				if !yield([]string{v}) {
					return
				}
			}
		})))
		c.text("part2.txt", fxJoinVictims(c, func(r suiteRec) string { return r.phone[7:] }, "\n")+"\n")
	})
	add("split", "pseudonym across two lines", func(c *suiteEnv) {
		var b strings.Builder
		for _, r := range c.fx.sample(fxVictims) {
			fmt.Fprintf(&b, "%s\n%s\n", r.pseudonym[:16], r.pseudonym[16:])
		}
		c.text("codes.txt", b.String())
	})
	add("split", "pseudonym across two cells", func(c *suiteEnv) {
		var v []string
		for _, r := range c.fx.sample(fxVictims) {
			v = append(v, r.pseudonym[:16], r.pseudonym[16:])
		}
		c.table("codes.arrow", KindArrowFile, fxStrCol("code", "", v))
	})
	add("split", "pseudonym across eight columns", func(c *suiteEnv) {
		var cols []fxCol
		for k := range 8 {
			cols = append(cols, fxStrCol(fmt.Sprintf("p%d", k), "", fxVictimsCol(c, func(r suiteRec) string { return r.pseudonym[4*k : 4*k+4] })))
		}
		c.table("codes.arrow", KindArrowFile, cols...)
	})
	add("split", "phone digits across count columns of a district table", func(c *suiteEnv) {
		// One row per district, each count 10 plus a digit of a phone:
		// integers, at least MinCell, no larger than the group.
		var d []string
		digits := make([][]int64, 7)
		for i, g := range c.fx.groupBy(nil, fxByDistrict) {
			d = append(d, g.key[0])
			p := strings.ReplaceAll(c.fx.recs[i].phone, "*", "")
			for k := range digits {
				digits[k] = append(digits[k], 10+int64(p[k]-'0'))
			}
		}
		cols := []fxCol{fxStrCol("district", "", d)}
		for k, v := range digits {
			cols = append(cols, fxI64Col(fmt.Sprintf("n_%d", k+1), "count", v))
		}
		c.table("counts.arrow", KindArrowFile, cols...)
	})

	// Numeric re-encodings.
	words := func(c *suiteEnv, k int) []int64 {
		var v []int64
		for _, r := range c.fx.sample(fxVictims) {
			v = append(v, int64(encHexWords(r.pseudonym)[k]))
		}
		return v
	}
	add("numeric", "pseudonym words in undeclared int64 columns", func(c *suiteEnv) {
		c.table("codes.arrow", KindArrowFile, fxI64Col("a", "", words(c, 0)), fxI64Col("b", "", words(c, 1)), fxI64Col("c", "", words(c, 2)), fxI64Col("d", "", words(c, 3)))
	})
	add("numeric", "pseudonym words in int64 columns declared sums", func(c *suiteEnv) {
		c.table("sums.arrow", KindArrowFile, fxStrCol("district", "", fxVictimsCol(c, func(r suiteRec) string { return r.district })),
			fxI64Col("sum_a", "sum", words(c, 0)), fxI64Col("sum_b", "sum", words(c, 1)), fxI64Col("sum_c", "sum", words(c, 2)), fxI64Col("sum_d", "sum", words(c, 3)))
	})
	add("numeric", "pseudonym words in count-named int64 columns", func(c *suiteEnv) {
		c.table("counts.arrow", KindArrowFile, fxI64Col("n_a", "", words(c, 0)), fxI64Col("n_b", "", words(c, 1)), fxI64Col("n_c", "", words(c, 2)), fxI64Col("n_d", "", words(c, 3)))
	})
	add("numeric", "pseudonym in float64 mantissas declared means", func(c *suiteEnv) {
		var a, b, d []float64
		for _, r := range c.fx.sample(fxVictims) {
			x, _ := strconv.ParseUint(r.pseudonym[:11], 16, 64)
			y, _ := strconv.ParseUint(r.pseudonym[11:22], 16, 64)
			z, _ := strconv.ParseUint(r.pseudonym[22:], 16, 64)
			a, b, d = append(a, float64(x)/100), append(b, float64(y)/100), append(d, float64(z)/100)
		}
		c.table("means.arrow", KindArrowFile, fxStrCol("district", "", fxVictimsCol(c, func(r suiteRec) string { return r.district })),
			fxF64Col("mean_a", "mean", a), fxF64Col("mean_b", "mean", b), fxF64Col("mean_c", "mean", d))
	})
	add("numeric", "phone digits as mean penalty by district", func(c *suiteEnv) {
		var d []string
		var n []int64
		var m []float64
		for i, g := range c.fx.groupBy(nil, fxByDistrict) {
			d, n = append(d, g.key[0]), append(n, g.n)
			m = append(m, float64(encPhoneDigits(c.fx.recs[i].phone))/100) // 138****1234 reads 13812.34
		}
		c.table("by_district.arrow", KindArrowFile, fxStrCol("district", "", d), fxI64Col("n", "count", n), fxF64Col("mean_penalty", "mean", m))
	})
	add("numeric", "phone digits as sum penalty by district", func(c *suiteEnv) {
		var d []string
		var n, s []int64
		for i, g := range c.fx.groupBy(nil, fxByDistrict) {
			d, n = append(d, g.key[0]), append(n, g.n)
			s = append(s, encPhoneDigits(c.fx.recs[i].phone))
		}
		c.table("by_district.parquet", KindParquet, fxStrCol("district", "", d), fxI64Col("n", "count", n), fxI64Col("sum_penalty", "sum", s))
	})
	add("numeric", "phone digits added to true sums", func(c *suiteEnv) {
		var d []string
		var n []int64
		var s []float64
		for i, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
			d, n = append(d, g.key[0]), append(n, g.n)
			s = append(s, fxRound2(g.sum)+float64(encPhoneDigits(c.fx.recs[i].phone)))
		}
		c.table("by_district.arrow", KindArrowFile, fxStrCol("district", "", d), fxI64Col("n", "count", n), fxF64Col("sum_penalty", "sum", s))
	})
	add("numeric", "phone digits in a numeric label column", func(c *suiteEnv) {
		var d []string
		var n, y []int64
		for i, g := range c.fx.groupBy(nil, fxByDistrict) {
			d, n = append(d, g.key[0]), append(n, g.n)
			y = append(y, encPhoneDigits(c.fx.recs[i].phone))
		}
		c.table("by_district.arrow", KindArrowFile, fxStrCol("district", "", d), fxI64Col("year", "label", y), fxI64Col("n", "count", n))
	})
	halves := func(c *suiteEnv) (hi, lo []uint64) {
		for _, r := range c.fx.sample(fxVictims) {
			h := encHexHalves(r.pseudonym)
			hi, lo = append(hi, h[0]), append(lo, h[1])
		}
		return hi, lo
	}
	add("numeric", "pseudonym halves in decimal128 columns", func(c *suiteEnv) {
		hi, lo := halves(c)
		c.table("sums.arrow", KindArrowFile, fxDecimalCol("sum_hi", "sum", hi), fxDecimalCol("sum_lo", "sum", lo))
	})
	add("numeric", "pseudonym halves in a struct column", func(c *suiteEnv) {
		hi, lo := halves(c)
		var h, l []int64
		for i := range hi {
			h, l = append(h, int64(hi[i])), append(l, int64(lo[i]))
		}
		c.table("sums.arrow", KindArrowFile, fxStrCol("district", "", fxVictimsCol(c, func(r suiteRec) string { return r.district })), fxStructCol("total", h, l))
	})
	add("numeric", "pseudonym bytes in a list column", func(c *suiteEnv) {
		var v [][]int64
		for _, r := range c.fx.sample(fxVictims) {
			var x []int64
			for _, b := range encPseudonymBytes(r.pseudonym) {
				x = append(x, int64(b))
			}
			v = append(v, x)
		}
		c.table("counts.arrow", KindArrowFile, fxListCol("n", v))
	})
	add("numeric", "pseudonym bytes in a binary column", func(c *suiteEnv) {
		var v [][]byte
		for _, r := range c.fx.sample(fxVictims) {
			v = append(v, encPseudonymBytes(r.pseudonym))
		}
		c.table("blobs.arrow", KindArrowFile, fxBinaryCol("digest", v))
	})
	add("numeric", "pseudonym words as timestamps", func(c *suiteEnv) {
		c.table("events.arrow", KindArrowFile, fxTimestampCol("t0", words(c, 0)), fxTimestampCol("t1", words(c, 1)), fxTimestampCol("t2", words(c, 2)), fxTimestampCol("t3", words(c, 3)))
	})
	add("numeric", "reversed pseudonyms in a dictionary column", func(c *suiteEnv) {
		c.table("codes.arrow", KindArrowFile, fxDictCol("code", fxVictimsCol(c, func(r suiteRec) string { return encReverse(r.pseudonym) })))
	})
	add("numeric", "reversed pseudonyms in a large string column", func(c *suiteEnv) {
		c.table("codes.arrow", KindArrowFile, fxLargeStrCol("code", fxVictimsCol(c, func(r suiteRec) string { return encReverse(r.pseudonym) })))
	})

	// Containers and media.
	add("container", "zip", func(c *suiteEnv) { c.file("bundle.zip", fxZip(c.t, map[string][]byte{"rows.csv": fxVictimsCSV(c)})) })
	add("container", "zip named as csv", func(c *suiteEnv) { c.file("summary.csv", fxZip(c.t, map[string][]byte{"rows.csv": fxVictimsCSV(c)})) })
	add("container", "gzip", func(c *suiteEnv) { c.file("rows.csv.gz", fxGzip(c.t, fxVictimsCSV(c))) })
	add("container", "tar", func(c *suiteEnv) { c.file("rows.tar", fxTar(c.t, "rows.csv", fxVictimsCSV(c))) })
	add("container", "nested archive", func(c *suiteEnv) {
		inner := fxZip(c.t, map[string][]byte{"rows.csv": fxVictimsCSV(c)})
		c.file("outputs.tar.gz", fxGzip(c.t, fxTar(c.t, "inner.zip", inner)))
	})
	add("container", "arrow file inside a parquet binary column", func(c *suiteEnv) {
		inner := fxTable(c.t, KindArrowFile, nil, []fxCol{fxStrCol("pseudonym", "", fxVictimsCol(c, fxPseudonymOf)), fxStrCol("phone", "", fxVictimsCol(c, fxPhoneOf))})
		c.table("summary.parquet", KindParquet, fxStrCol("district", "", []string{"思明区"}), fxBinaryCol("attachment", [][]byte{inner}))
	})
	add("container", "png tEXt chunk", func(c *suiteEnv) {
		c.file("chart.png", fxPNGChunks(fxChart(c), [][]byte{fxMatplotlib,
			pngChunk("tEXt", []byte("Comment\x00"+fxJoinVictims(c, func(r suiteRec) string { return encReverse(r.pseudonym) }, " ")))}, nil))
	})
	add("container", "png zTXt chunk", func(c *suiteEnv) {
		text := fxJoinVictims(c, func(r suiteRec) string { return base32.StdEncoding.EncodeToString(encPseudonymBytes(r.pseudonym)) }, "\n")
		c.file("chart.png", fxPNGChunks(fxChart(c), [][]byte{pngChunk("zTXt", append([]byte("Description\x00\x00"), zlibBytes([]byte(text))...))}, nil))
	})
	add("container", "png iTXt chunk", func(c *suiteEnv) {
		text := fxJoinVictims(c, func(r suiteRec) string { return encXorHex(r.phone, 0x33) }, " ")
		c.file("chart.png", fxPNGChunks(fxChart(c), [][]byte{pngChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"+text))}, nil))
	})
	add("container", "png private chunk", func(c *suiteEnv) {
		text := fxJoinVictims(c, func(r suiteRec) string { return encSubstitute(r.pseudonym, fxHexAlphabet, 3) }, "")
		c.file("chart.png", fxPNGChunks(fxChart(c), [][]byte{pngChunk("prVt", []byte(text))}, nil))
	})
	add("container", "png bytes after IEND", func(c *suiteEnv) {
		var raw []byte
		for _, r := range c.fx.sample(fxVictims) {
			raw = append(raw, encPseudonymBytes(r.pseudonym)...)
		}
		c.file("chart.png", fxPNGChunks(fxChart(c), nil, raw))
	})
	add("container", "jpeg COM segment", func(c *suiteEnv) {
		img := fxEncodeJPEG(c.t, fxBarChart([]float64{3, 5, 2, 7}))
		c.file("chart.jpg", fxJPEGComment(img, fxJoinVictims(c, func(r suiteRec) string { return encReverse(r.pseudonym) }, " "), nil))
	})
	add("container", "jpeg bytes after EOI", func(c *suiteEnv) {
		img := fxEncodeJPEG(c.t, fxBarChart([]float64{3, 5, 2, 7}))
		var raw []byte
		for _, r := range c.fx.sample(fxVictims) {
			raw = append(raw, encPseudonymBytes(r.pseudonym)...)
		}
		c.file("chart.jpg", fxJPEGComment(img, "", raw))
	})
	add("container", "pdf with hidden strings", func(c *suiteEnv) {
		c.file("report.pdf", fxPDF([]string{"Penalties by district, 2019-2024", "See the table of counts."}, true,
			fxVictimsCol(c, func(r suiteRec) string { return encReverse(r.pseudonym) })))
	})
	add("container", "pdf info dictionary", func(c *suiteEnv) {
		doc := fxPDF([]string{"Penalties by district"}, false, nil)
		info := "6 0 obj << /Keywords (" + fxJoinVictims(c, func(r suiteRec) string { return encRot13(r.pseudonym) }, " ") + ") >> endobj\n"
		doc = bytes.Replace(doc, []byte("trailer << /Root 1 0 R"), []byte(info+"trailer << /Root 1 0 R /Info 6 0 R"), 1)
		c.file("report.pdf", doc)
	})
	add("container", "svg with data in attributes", func(c *suiteEnv) {
		var b strings.Builder
		b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400">` + "\n")
		for i, r := range c.fx.sample(fxVictims) {
			fmt.Fprintf(&b, `<circle cx="%d" cy="200" r="0" data-k="%s"/>`+"\n", i, encSwapPairs(r.pseudonym))
		}
		b.WriteString("</svg>\n")
		c.text("chart.svg", b.String())
	})
	add("container", "html with a data uri", func(c *suiteEnv) {
		c.text("report.html", "<!DOCTYPE html>\n<html><body><h1>Penalties</h1>\n<img alt=\"chart\" src=\"data:image/png;base64,"+
			base64.StdEncoding.EncodeToString(fxVictimsCSV(c))+"\">\n</body></html>\n")
	})
	add("container", "html comments", func(c *suiteEnv) {
		c.text("report.html", "<!DOCTYPE html>\n<html><body><h1>Penalties</h1>\n<!-- "+
			fxJoinVictims(c, func(r suiteRec) string { return encReverse(r.phone) }, " ")+" -->\n<p>See the table.</p></body></html>\n")
	})
	add("container", "json with a base64 blob", func(c *suiteEnv) {
		blob := base64.StdEncoding.EncodeToString(fxZip(c.t, map[string][]byte{"rows.csv": fxVictimsCSV(c)}))
		c.text("chart.json", `{"title": "Penalties", "attachment": "`+blob+`"}`+"\n")
	})

	// Row-level data that is not personal.
	nonPI := func(c *suiteEnv, recs []suiteRec) []fxCol {
		var cn, us, d, ind []string
		var pen []float64
		var yr []int64
		for _, r := range recs {
			cn, us, d, ind = append(cn, r.caseNo), append(us, r.uscc), append(d, r.district), append(ind, r.industry)
			pen, yr = append(pen, r.penalty), append(yr, r.year)
		}
		return []fxCol{fxStrCol("case_no", "", cn), fxStrCol("uscc", "", us), fxStrCol("district", "", d), fxStrCol("industry", "", ind),
			fxF64Col("penalty", "mean", pen), fxI64Col("year", "label", yr)}
	}
	nonPICSV := func(recs []suiteRec) string {
		var rows [][]string
		for _, r := range recs {
			rows = append(rows, []string{r.caseNo, r.uscc, r.district, r.industry, strconv.FormatFloat(r.penalty, 'f', 2, 64), fmt.Sprint(r.year)})
		}
		return fxCSV([]string{"case_no", "uscc", "district", "industry", "penalty", "year"}, rows)
	}
	add("rowlevel", "projection of case numbers", func(c *suiteEnv) {
		c.table("cases.arrow", KindArrowFile, fxStrCol("case_no", "", c.fx.column(func(r suiteRec) string { return r.caseNo })))
	})
	add("rowlevel", "projection of uscc codes", func(c *suiteEnv) {
		var rows [][]string
		for _, r := range c.fx.recs {
			rows = append(rows, []string{r.uscc})
		}
		c.text("companies.csv", fxCSV([]string{"uscc"}, rows))
	})
	add("rowlevel", "district of every row", func(c *suiteEnv) {
		c.table("districts.arrow", KindArrowFile, fxStrCol("district", "", c.fx.column(func(r suiteRec) string { return r.district })))
	})
	add("rowlevel", "ten percent sample", func(c *suiteEnv) {
		var recs []suiteRec
		for i := 0; i < len(c.fx.recs); i += 10 {
			recs = append(recs, c.fx.recs[i])
		}
		c.table("sample.arrow", KindArrowFile, nonPI(c, recs)...)
	})
	add("rowlevel", "shuffled rows", func(c *suiteEnv) {
		recs := slices.Clone(c.fx.recs)
		rand.New(rand.NewPCG(5, 6)).Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
		c.table("rows.parquet", KindParquet, nonPI(c, recs)...)
	})
	add("rowlevel", "rows split across files", func(c *suiteEnv) {
		half := len(c.fx.recs) / 2
		c.table("rows_a.arrow", KindArrowFile, nonPI(c, c.fx.recs[:half])...)
		c.text("rows_b.csv", nonPICSV(c.fx.recs[half:]))
		c.stats("rows_b.csv", "penalty", "mean", "year", "label")
	})
	add("rowlevel", "per-row penalties labelled by district", func(c *suiteEnv) {
		var pen []float64
		for _, r := range c.fx.recs {
			pen = append(pen, r.penalty)
		}
		c.table("penalties.arrow", KindArrowFile, fxStrCol("district", "", c.fx.column(func(r suiteRec) string { return r.district })), fxF64Col("mean_penalty", "mean", pen))
	})
	add("rowlevel", "per-row penalties of a few records labelled by district", func(c *suiteEnv) {
		var d []string
		var pen []float64
		for _, r := range c.fx.sample(150) {
			d, pen = append(d, r.district), append(pen, r.penalty)
		}
		c.table("penalties.arrow", KindArrowFile, fxStrCol("district", "", d), fxF64Col("mean_penalty", "mean", pen))
	})
	add("rowlevel", "every penalty sorted", func(c *suiteEnv) {
		var pen []float64
		for _, r := range c.fx.recs {
			pen = append(pen, r.penalty)
		}
		slices.Sort(pen)
		c.table("distribution.arrow", KindArrowFile, fxF64Col("mean_penalty", "mean", pen))
	})
	add("rowlevel", "case numbers in a markdown report", func(c *suiteEnv) {
		var b strings.Builder
		b.WriteString("# Decisions\n\n| case | district |\n|---|---|\n")
		for _, r := range c.fx.recs {
			fmt.Fprintf(&b, "| %s | %s |\n", r.caseNo, r.district)
		}
		c.text("decisions.md", b.String())
	})
	add("rowlevel", "uscc codes in a json list", func(c *suiteEnv) {
		data, _ := json.Marshal(map[string]any{"companies": c.fx.column(func(r suiteRec) string { return r.uscc })})
		c.file("companies.json", data)
	})

	// Disclosure: tables of groups whose cells reveal individual records.
	add("disclosure", "sum by district with one dominant company", func(c *suiteEnv) {
		var d []string
		var n []int64
		var s []float64
		for _, g := range c.fx.groupBy(func(r suiteRec) bool { return r.district != fxFlatDistrict }, fxByDistrict) {
			d, n, s = append(d, g.key[0]), append(n, g.n), append(s, fxRound2(g.sum))
		}
		c.table("sums.arrow", KindArrowFile, fxStrCol("district", "", d), fxI64Col("n", "count", n), fxF64Col("sum_penalty", "sum", s))
	})
	add("disclosure", "mean over identical values", func(c *suiteEnv) {
		var d []string
		var n []int64
		var m []float64
		for _, g := range c.fx.groupBy(func(r suiteRec) bool { return r.district != fxDominantDistrict }, fxByDistrict) {
			d, n, m = append(d, g.key[0]), append(n, g.n), append(m, fxRound2(g.mean()))
		}
		c.table("means.arrow", KindArrowFile, fxStrCol("district", "", d), fxI64Col("n", "count", n), fxF64Col("mean_penalty", "mean", m))
	})
	add("disclosure", "groups below the minimum cell count", func(c *suiteEnv) {
		var d, ind []string
		var yr, n []int64
		for _, g := range c.fx.groupBy(nil, func(r suiteRec) []string { return []string{r.district, r.industry, fmt.Sprint(r.year)} }) {
			y, _ := strconv.ParseInt(g.key[2], 10, 64)
			d, ind, yr, n = append(d, g.key[0]), append(ind, g.key[1]), append(yr, y), append(n, g.n)
		}
		c.table("crosstab.arrow", KindArrowFile, fxStrCol("district", "", d), fxStrCol("industry", "", ind), fxI64Col("year", "label", yr), fxI64Col("n", "count", n))
	})
	add("disclosure", "means of groups below the minimum cell count", func(c *suiteEnv) {
		var d, ind []string
		var yr, n []int64
		var m []float64
		for _, g := range c.fx.groupBy(fxOrdinary, func(r suiteRec) []string { return []string{r.district, r.industry, fmt.Sprint(r.year)} }) {
			y, _ := strconv.ParseInt(g.key[2], 10, 64)
			d, ind, yr = append(d, g.key[0]), append(ind, g.key[1]), append(yr, y)
			n, m = append(n, g.n), append(m, fxRound2(g.mean()))
		}
		c.table("crosstab.parquet", KindParquet, fxStrCol("district", "", d), fxStrCol("industry", "", ind), fxI64Col("year", "label", yr),
			fxI64Col("n", "count", n), fxF64Col("mean_penalty", "mean", m))
	})
	add("disclosure", "counts larger than the group", func(c *suiteEnv) {
		var d []string
		var n []int64
		for i, g := range c.fx.groupBy(nil, fxByDistrict) {
			d, n = append(d, g.key[0]), append(n, g.n)
			if i == 3 {
				n[i] = 3 * g.n
			}
		}
		c.table("counts.arrow", KindArrowFile, fxStrCol("district", "", d), fxI64Col("n", "count", n))
	})
	add("disclosure", "non-integer counts", func(c *suiteEnv) {
		var d []string
		var n []float64
		for _, g := range c.fx.groupBy(nil, fxByDistrict) {
			d, n = append(d, g.key[0]), append(n, float64(g.n)-0.5)
		}
		c.table("counts.arrow", KindArrowFile, fxStrCol("district", "", d), fxF64Col("n", "count", n))
	})
	add("disclosure", "labels not in the inputs", func(c *suiteEnv) {
		var rows [][]string
		var labels []string
		for i, g := range c.fx.groupBy(nil, fxByDistrict) {
			l := fmt.Sprintf("Area %02d", i+1)
			labels = append(labels, l)
			rows = append(rows, []string{l, fmt.Sprint(g.n)})
		}
		c.text("areas.csv", fxCSV([]string{"area", "n"}, rows))
		c.stats("areas.csv", "n", "count")
		c.labels("areas.csv", labels...)
	})
	add("disclosure", "rows that are not distinct groups", func(c *suiteEnv) {
		var d []string
		var n []int64
		for _, g := range c.fx.groupBy(nil, fxByDistrict) {
			d, n = append(d, g.key[0], g.key[0]), append(n, g.n/2, g.n-g.n/2)
		}
		c.table("counts.arrow", KindArrowFile, fxStrCol("district", "", d), fxI64Col("n", "count", n))
	})

	// Metadata and names.
	clean := func(c *suiteEnv) []fxCol {
		var d []string
		var n []int64
		for _, g := range c.fx.groupBy(nil, fxByDistrict) {
			d, n = append(d, g.key[0]), append(n, g.n)
		}
		return []fxCol{fxStrCol("district", "", d), fxI64Col("n", "count", n)}
	}
	add("metadata", "arrow schema metadata", func(c *suiteEnv) {
		c.add("counts.arrow", fxTable(c.t, KindArrowFile, map[string]string{"notes": fxJoinVictims(c, func(r suiteRec) string { return encReverse(r.pseudonym) }, ",")}, clean(c)))
	})
	add("metadata", "arrow schema metadata keys", func(c *suiteEnv) {
		md := map[string]string{}
		for _, r := range c.fx.sample(fxVictims) {
			md["x-"+encSwapPairs(r.pseudonym)] = "1"
		}
		c.add("counts.arrow", fxTable(c.t, KindArrowFile, md, clean(c)))
	})
	add("metadata", "arrow field metadata", func(c *suiteEnv) {
		cols := clean(c)
		cols[1] = cols[1].meta(map[string]string{"description": fxJoinVictims(c, func(r suiteRec) string { return encXorHex(r.phone, 0x33) }, " ")})
		c.table("counts.arrow", KindArrowFile, cols...)
	})
	add("metadata", "column names that are pseudonyms", func(c *suiteEnv) {
		var cols []fxCol
		for _, r := range c.fx.sample(40) {
			cols = append(cols, fxI64Col(r.pseudonym, "count", []int64{10}))
		}
		c.table("wide.arrow", KindArrowFile, cols...)
	})
	add("metadata", "column names that are reversed pseudonyms", func(c *suiteEnv) {
		var cols []fxCol
		for _, r := range c.fx.sample(40) {
			cols = append(cols, fxI64Col(encReverse(r.pseudonym), "count", []int64{10}))
		}
		c.table("wide.arrow", KindArrowFile, cols...)
	})
	add("metadata", "parquet key-value metadata", func(c *suiteEnv) {
		md := marksMeta(fxLevel, fxMarket)
		rec := fxRecord(fxMem, md, clean(c))
		defer rec.Release()
		var buf bytes.Buffer
		fw, err := pqarrow.NewFileWriter(rec.Schema(), &buf, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			c.t.Fatal(err)
		}
		if err := fw.Write(rec); err != nil {
			c.t.Fatal(err)
		}
		if err := fw.AppendKeyValueMetadata("pipeline.notes", fxJoinVictims(c, func(r suiteRec) string { return encRot13(r.pseudonym) }, ";")); err != nil {
			c.t.Fatal(err)
		}
		if err := fw.Close(); err != nil {
			c.t.Fatal(err)
		}
		c.add("counts.parquet", buf.Bytes())
	})
	add("metadata", "declared labels carrying pseudonyms", func(c *suiteEnv) {
		// One row per district with its true count, and a tag column of
		// labels the manifest declares: reversed pseudonyms.
		var rows [][]string
		var tags []string
		for i, g := range c.fx.groupBy(nil, fxByDistrict) {
			tag := encReverse(c.fx.recs[i].pseudonym)
			tags = append(tags, tag)
			rows = append(rows, []string{g.key[0], tag, fmt.Sprint(g.n)})
		}
		c.text("counts.csv", fxCSV([]string{"district", "tag", "n"}, rows))
		c.stats("counts.csv", "n", "count")
		c.labels("counts.csv", tags...)
	})
	add("metadata", "file names carrying reversed pseudonyms", func(c *suiteEnv) {
		data := fxTable(c.t, KindArrowFile, nil, clean(c))
		for _, r := range c.fx.sample(20) {
			c.add("summary-"+encReverse(r.pseudonym)+".arrow", data)
		}
	})

	// Numbers beyond what statistics need.
	add("budget", "json with thousands of numbers", func(c *suiteEnv) {
		var pen []float64
		for _, r := range c.fx.recs {
			pen = append(pen, r.penalty)
		}
		data, _ := json.Marshal(map[string]any{"district": "all", "penalties": pen})
		c.file("penalties.json", data)
	})
	add("budget", "model coefficients carrying float-encoded pieces", func(c *suiteEnv) {
		coef := map[string]float64{}
		for i, r := range c.fx.sample(60) {
			x, _ := strconv.ParseUint(r.pseudonym[:11], 16, 64)
			coef[fmt.Sprintf("beta_%02d", i+1)] = float64(x) / (1 << 44)
		}
		data, _ := json.MarshalIndent(map[string]any{"model": "ols", "dependent": "penalty", "n": len(c.fx.recs), "r2": 0.043, "coefficients": coef}, "", "  ")
		c.file("model.json", data)
	})
	add("budget", "markdown percentages carrying phone digits", func(c *suiteEnv) {
		var b strings.Builder
		b.WriteString("# Shares\n\n| district | a | b | c |\n|---|---:|---:|---:|\n")
		for _, r := range c.fx.recs {
			p := strings.ReplaceAll(r.phone, "*", "")
			fmt.Fprintf(&b, "| %s | %s.%s%% | %s.%s%% | %s%% |\n", r.district, p[0:2], p[2:3], p[3:5], p[5:6], p[6:7])
		}
		c.text("shares.md", b.String())
	})
	add("budget", "html table of every penalty", func(c *suiteEnv) {
		var b strings.Builder
		b.WriteString("<!DOCTYPE html>\n<html><body><table>\n<tr><th>district</th><th>industry</th><th>penalty</th></tr>\n")
		for _, r := range c.fx.recs {
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%.2f</td></tr>\n", r.district, r.industry, r.penalty)
		}
		b.WriteString("</table></body></html>\n")
		c.text("report.html", b.String())
	})
	add("budget", "svg with a bar per record", func(c *suiteEnv) {
		var b strings.Builder
		b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="400">` + "\n")
		for i, r := range c.fx.recs {
			fmt.Fprintf(&b, `<rect x="%d" y="0" width="1" height="%.2f" fill="#4c72b0"/>`+"\n", i, r.penalty/1000)
		}
		b.WriteString("</svg>\n")
		c.text("chart.svg", b.String())
	})
	add("budget", "text with long digit runs", asLines("notes.txt", func(r suiteRec) string {
		return fmt.Sprintf("reference %d", encPhoneDigits(r.phone))
	}))
	return append(cases, suiteEvasions()...)
}
