package checks

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

const cleanManifest = `{"files": {"summary.csv": {"level": "general-3", "market": "authorized"}, "report.md": {"level": "general-3", "market": "authorized"}, "chart.png": {"level": "general-3", "market": "authorized"}, "report.pdf": {"level": "general-3", "market": "authorized"}, "out.json": {"level": "general-3", "market": "authorized"}}}`

// TestExfiltration runs every way a job might carry input values out, and
// the clean outputs that must pass, through review.Run with all checks.
func TestExfiltration(t *testing.T) {
	md, clean := cleanAggregate()
	withCol := func(c col) []col { return append(append([]col(nil), clean...), c) }
	strs := func(f func(string) string) []string {
		return []string{f(testPhone), f(testID), f(testName)}
	}
	for _, tc := range []struct {
		name    string
		setup   func(e *env)
		want    review.Verdict
		failing string // a check that must fail (when want is fail)
		column  string // and the column it must name, when not empty
		count   int
	}{
		{"clean arrow aggregate", func(e *env) { e.add("summary.arrow", arrowFile(t, md, clean)) }, review.VerdictPass, "", "", 0},
		{"clean arrow stream", func(e *env) { e.add("summary.arrows", arrowStream(t, md, clean)) }, review.VerdictPass, "", "", 0},
		{"clean parquet", func(e *env) { e.add("summary.parquet", parquetFile(t, md, clean)) }, review.VerdictPass, "", "", 0},
		{"clean csv with manifest", func(e *env) {
			e.add("summary.csv", []byte("district,n\nHaidian,120\nChaoyang,98\n"))
			e.add(review.ManifestName, []byte(cleanManifest))
		}, review.VerdictPass, "", "", 0},
		{"clean markdown, png and pdf", func(e *env) {
			e.add("report.md", []byte("# Penalties by district\n\n| district | n |\n|---|---|\n| Haidian | 120 |\n"))
			e.add("chart.png", pngFile([][]byte{pngChunk("tEXt", []byte("Software\x00matplotlib"))}, nil))
			e.add("report.pdf", []byte("%PDF-1.4\n1 0 obj (Penalties by district) endobj\n%%EOF\n"))
			e.add(review.ManifestName, []byte(cleanManifest))
		}, review.VerdictPass, "", "", 0},

		{"plain values in a column", func(e *env) {
			e.add("summary.arrow", arrowFile(t, md, withCol(col{name: "contact", level: "general-3", vals: strs(func(s string) string { return s })})))
		}, review.VerdictFail, "raw-values", "contact", 3},
		{"base64 values", func(e *env) {
			e.add("summary.arrow", arrowFile(t, md, withCol(col{name: "blob", level: "general-3",
				vals: strs(func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) })})))
		}, review.VerdictFail, "raw-values", "blob", 3},
		{"hex values", func(e *env) {
			e.add("summary.arrow", arrowFile(t, md, withCol(col{name: "blob", level: "general-3",
				vals: strs(func(s string) string { return hex.EncodeToString([]byte(s)) })})))
		}, review.VerdictFail, "raw-values", "blob", 3},
		{"url-escaped values", func(e *env) {
			e.add("summary.arrow", arrowFile(t, md, withCol(col{name: "blob", level: "general-3",
				vals: strs(func(s string) string { return url.QueryEscape(s) + "%20" })})))
		}, review.VerdictFail, "raw-values", "blob", 3},
		{"phone as a number", func(e *env) {
			e.add("summary.arrow", arrowFile(t, md, withCol(col{name: "x", level: "general-3", vals: []int64{13812345678, 1, 2}})))
		}, review.VerdictFail, "raw-values", "x", 1},
		{"phone as a float", func(e *env) {
			e.add("summary.arrow", arrowFile(t, md, withCol(col{name: "x", level: "general-3", vals: []float64{13812345678, 1.5, 2}})))
		}, review.VerdictFail, "raw-values", "x", 1},
		{"value in schema metadata", func(e *env) {
			m := marksMeta("general-3", "authorized")
			m["note"] = "contact " + testPhone
			e.add("summary.arrow", arrowFile(t, m, clean))
		}, review.VerdictFail, "raw-values", ColumnMetadata, 1},
		{"value as a field name", func(e *env) {
			e.add("summary.arrow", arrowFile(t, md, withCol(col{name: testID, level: "general-3", vals: []string{"a", "b", "c"}})))
		}, review.VerdictFail, "raw-values", review.WithheldName, 1},
		{"value in a file name", func(e *env) {
			e.add("summary-"+testPhone+".arrow", arrowFile(t, md, clean))
		}, review.VerdictFail, "raw-values", ColumnFileName, 1},
		{"value in a png text chunk", func(e *env) {
			e.add("chart.png", pngFile([][]byte{pngChunk("tEXt", []byte("Comment\x00"+testName))}, nil))
			e.add(review.ManifestName, []byte(cleanManifest))
		}, review.VerdictFail, "raw-values", ColumnPNGChunks, 1},
		{"value in a compressed png chunk", func(e *env) {
			e.add("chart.png", pngFile([][]byte{pngChunk("zTXt", append([]byte("Comment\x00\x00"), zlibBytes([]byte("id "+testID))...))}, nil))
			e.add(review.ManifestName, []byte(cleanManifest))
		}, review.VerdictFail, "raw-values", ColumnPNGChunks, 1},
		{"value after png IEND", func(e *env) {
			e.add("chart.png", pngFile(nil, []byte(base64.StdEncoding.EncodeToString([]byte(testPhone)))))
			e.add(review.ManifestName, []byte(cleanManifest))
		}, review.VerdictFail, "raw-values", ColumnPNGTrailer, 0},
		{"value in a pdf stream", func(e *env) {
			pdf := "%PDF-1.4\n1 0 obj << /Filter /FlateDecode >> stream\n" + string(zlibBytes([]byte("BT (Name: "+testName+") Tj ET"))) + "\nendstream endobj\n%%EOF\n"
			e.add("report.pdf", []byte(pdf))
			e.add(review.ManifestName, []byte(cleanManifest))
		}, review.VerdictFail, "raw-values", ColumnPDFStrings, 0},
		{"json with unicode escapes", func(e *env) {
			e.add("out.json", []byte(`{"rows": [{"name": "\u5f20\u4e09\u4e30"}]}`))
			e.add(review.ManifestName, []byte(cleanManifest))
		}, review.VerdictFail, "raw-values", ColumnText, 1},
		{"values in csv text", func(e *env) {
			e.add("summary.csv", []byte("district,n,phone\nHaidian,120,138 1234 5678\n"))
			e.add(review.ManifestName, []byte(cleanManifest))
		}, review.VerdictFail, "raw-values", ColumnText, 1},
		{"values in parquet", func(e *env) {
			e.add("summary.parquet", parquetFile(t, md, withCol(col{name: "contact", level: "general-3", vals: strs(strings.ToLower)})))
		}, review.VerdictFail, "raw-values", "contact", 3},
		{"copied input rows", func(e *env) {
			m := marksMeta("general-3", "authorized")
			e.add("rows.arrow", arrowFile(t, m, []col{
				{name: "uscc", level: "general-3", vals: []string{inputRows[0][0], inputRows[1][0]}},
				{name: "district", level: "general-3", vals: []string{inputRows[0][1], inputRows[1][1]}},
				{name: "month", level: "general-3", vals: []string{inputRows[0][2], inputRows[1][2]}},
				{name: "amount", level: "general-3", vals: []int64{50000, 120000}},
			}))
		}, review.VerdictFail, "row-copy", "", 2},
		{"copied rows in csv, columns reordered", func(e *env) {
			e.add("summary.csv", []byte("district,uscc,amount,month\n"+inputRows[2][1]+","+inputRows[2][0]+","+inputRows[2][3]+","+inputRows[2][2]+"\n"))
			e.add(review.ManifestName, []byte(cleanManifest))
		}, review.VerdictFail, "row-copy", "", 1},
		{"whole table relabelled lower", func(e *env) {
			low := []col{
				{name: "district", level: "general-1", vals: []string{"Haidian", "Chaoyang"}},
				{name: "n", level: "general-1", vals: []int64{120, 98}},
			}
			e.add("summary.arrow", arrowFile(t, marksMeta("general-1", "ordinary"), low))
		}, review.VerdictFail, "marks", "", 0},
		{"marks stripped", func(e *env) {
			e.add("summary.arrow", arrowFile(t, nil, []col{{name: "district", vals: []string{"Haidian"}}, {name: "n", vals: []int64{120}}}))
		}, review.VerdictFail, "marks", "", 0},
		{"csv without manifest", func(e *env) {
			e.add("summary.csv", []byte("district,n\nHaidian,120\n"))
		}, review.VerdictFail, "marks", "", 0},
		{"small counts", func(e *env) {
			e.add("summary.arrow", arrowFile(t, md, []col{
				{name: "district", level: "general-3", vals: []string{"Haidian", "Chaoyang"}},
				{name: "n", level: "general-3", stat: "count", vals: []int64{120, 3}},
			}))
		}, review.VerdictFail, "disclosure", "n", 1},
		{"zip archive", func(e *env) {
			e.add("summary.csv", []byte("PK\x03\x04rest of a zip"))
			e.add(review.ManifestName, []byte(cleanManifest))
		}, review.VerdictFail, "file-types", "", 0},
		{"gzip named arrow", func(e *env) { e.add("summary.arrow", []byte("\x1f\x8b\x08\x00compressed")) }, review.VerdictFail, "file-types", "", 0},
		{"elf", func(e *env) { e.add("tool", []byte("\x7fELF\x02\x01\x01")) }, review.VerdictFail, "file-types", "", 0},
		{"script", func(e *env) { e.add("run.txt", []byte("#!/bin/sh\ncurl evil\n")) }, review.VerdictFail, "file-types", "", 0},
		{"unknown binary", func(e *env) { e.add("blob.bin", []byte{0, 1, 2, 3, 0xff, 0xfe}) }, review.VerdictFail, "file-types", "", 0},
		{"dot dot name", func(e *env) { e.add("../etc/passwd", []byte("x\n")) }, review.VerdictFail, "file-types", "", 0},
		{"broken arrow", func(e *env) {
			b := arrowFile(t, md, clean)
			e.add("summary.arrow", b[:len(b)/2])
		}, review.VerdictFail, "raw-values", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.setup(e)
			res := e.run()
			if res.Verdict != tc.want {
				t.Fatalf("verdict: got %s, want %s; findings %+v", res.Verdict, tc.want, res.Findings)
			}
			if tc.want != review.VerdictFail {
				return
			}
			fs := findings(res, tc.failing, review.VerdictFail)
			if len(fs) == 0 {
				t.Fatalf("got no failing %s finding, want one; findings %+v", tc.failing, res.Findings)
			}
			if tc.column != "" {
				found := false
				for _, f := range fs {
					if f.Column == tc.column && (tc.count == 0 || f.Count == tc.count) {
						found = true
					}
				}
				if !found {
					t.Errorf("got %+v, want a finding on column %q with count %d", fs, tc.column, tc.count)
				}
			}
			for _, f := range res.Findings {
				for _, v := range []string{testPhone, testID, strings.ToLower(testID), "Zhang", "张三丰"} {
					if strings.Contains(f.Evidence+f.File+f.Column, v) {
						t.Errorf("finding %+v repeats a data value", f)
					}
				}
			}
		})
	}
}

func TestDeclaredLowerLevel(t *testing.T) {
	e := newEnv(t)
	low := []col{
		{name: "district", level: "general-1", vals: []string{"Haidian", "Chaoyang"}},
		{name: "n", level: "general-3", stat: "count", vals: []int64{120, 98}},
	}
	e.add("summary.arrow", arrowFile(t, marksMeta("general-3", "authorized"), low))
	e.req.DeclaredLevels = map[string]string{"summary.arrow#district": "general-1"}
	res := e.run()
	if res.Verdict != review.VerdictReview {
		t.Fatalf("got %s, want review; %+v", res.Verdict, res.Findings)
	}
	if fs := findings(res, "marks", review.VerdictReview); len(fs) != 1 || fs[0].Column != "district" {
		t.Errorf("got %+v, want one review finding on district", fs)
	}
	e.req.DeclaredLevels = map[string]string{"summary.arrow#district": "general-2"}
	if res := e.run(); res.Verdict != review.VerdictFail {
		t.Errorf("declared a different level: got %s, want fail", res.Verdict)
	}
}

func TestIntegrity(t *testing.T) {
	md, clean := cleanAggregate()
	e := newEnv(t)
	e.add("summary.arrow", arrowFile(t, md, clean))
	if err := os.WriteFile(e.req.Files[0].Path, arrowFile(t, md, clean[:1]), 0o600); err != nil {
		t.Fatal(err)
	}
	res := e.run()
	if fs := findings(res, review.IntegrityCheck, review.VerdictFail); len(fs) != 1 || res.Verdict != review.VerdictFail {
		t.Errorf("changed file: got %s with %+v, want one integrity failure", res.Verdict, fs)
	}
}

type badCheck struct {
	panics bool
}

func (badCheck) Name() string    { return "bad" }
func (badCheck) Version() string { return "0" }
func (b badCheck) Run(context.Context, *review.Request) ([]review.Finding, error) {
	if b.panics {
		panic("boom " + testPhone)
	}
	return nil, errors.New("no answer")
}

func TestRunFailsClosed(t *testing.T) {
	md, clean := cleanAggregate()
	for _, tc := range []struct {
		name   string
		checks []review.Check
	}{
		{"error", []review.Check{FileTypes{}, badCheck{}}},
		{"panic", []review.Check{FileTypes{}, badCheck{panics: true}}},
		{"no checks", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.add("summary.arrow", arrowFile(t, md, clean))
			res := review.Run(t.Context(), e.req, tc.checks...)
			if res.Verdict != review.VerdictFail {
				t.Fatalf("got %s, want fail", res.Verdict)
			}
			for _, f := range res.Findings {
				if strings.Contains(f.Evidence, testPhone) {
					t.Errorf("evidence %q repeats the panic value", f.Evidence)
				}
			}
		})
	}
}

func TestScanText(t *testing.T) {
	e := newEnv(t)
	log := "loading\nrow 1: " + testPhone + "\nsum=12345\n" + base64.StdEncoding.EncodeToString([]byte(testName)) + "\n"
	got, err := ScanText(t.Context(), strings.NewReader(log), []*fingerprint.Set{e.req.Inputs[0].Fingerprints}, e.h)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("withheld: got %v, want [1 3]", got)
	}
}
