//go:build unix

package checks

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	review "github.com/enclave-dev/enclave/egress-review"
)

// benchAlternate runs fast and ref in turn, n times each, and reports the
// best CPU time of each and their ratio (ref/fast): the speed-up of a fast
// path over its oracle, measured in the same process under the same load.
func benchAlternate(b *testing.B, name string, n int, fast, ref func()) {
	bf, br := time.Duration(1<<62), time.Duration(1<<62)
	for range n {
		s := benchCPU()
		fast()
		bf = min(bf, benchCPU()-s)
		s = benchCPU()
		ref()
		br = min(br, benchCPU()-s)
	}
	b.ReportMetric(float64(bf)/1e6, name+"-fast-ms")
	b.ReportMetric(float64(br)/1e6, name+"-ref-ms")
	b.ReportMetric(br.Seconds()/bf.Seconds(), name+"-ref/fast")
}

// benchOnly reports the best CPU time of n runs of fn.
func benchOnly(b *testing.B, name string, n int, fn func()) {
	b.ReportMetric(float64(benchBestOf(n, fn))/1e6, name+"-ms")
}

// BenchmarkJudgeStages times the stages of judging BenchmarkContractArrow's
// output (make bench does not run it), each with a fast path against its
// oracle (contract_ref_test.go), next to a plain arrow-go read of the
// output. With STAGE=file|read|judge|source it runs that stage 300 times
// and nothing else, for a CPU profile:
//
//	STAGE=file go test -run '^$' -bench JudgeStages -benchtime 1x -cpuprofile cpu.out ./egress-review/checks
func BenchmarkJudgeStages(b *testing.B) {
	dir := b.TempDir()
	in, out := filepath.Join(dir, "input.arrow"), filepath.Join(dir, "out.arrow")
	writeBenchOutput(b, out, writeBenchInput(b, in))
	req := &review.Request{
		Files:  []review.File{{Name: "out.arrow", Path: out}},
		Inputs: []review.Input{{Dataset: "bench", Version: 1, Level: "general-2", Market: "ordinary", Rows: benchInputRows, Path: in}},
	}
	p := review.Default()
	var recs []arrow.RecordBatch
	var sc *arrow.Schema
	_, err := table{}.forEach(b.Context(), out, KindArrowFile, p.MaxFileBytes, func(rec arrow.RecordBatch) error {
		rec.Retain()
		recs = append(recs, rec)
		sc = rec.Schema()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	newCols := func() []*outCol {
		var cols []*outCol
		for _, fl := range sc.Fields() {
			s := metaGet(fl.Metadata, MarkStat)
			col := &outCol{name: fl.Name, stat: s}
			col.isLabel, col.bad = columnRole(fl.Type, s)
			cols = append(cols, col)
		}
		return cols
	}
	read := func(ref bool) []*outCol {
		cols := newCols()
		for _, rec := range recs {
			for j, c := range cols {
				if ref {
					c.addArrowRef(rec.Column(j))
				} else {
					c.addArrow(rec.Column(j))
				}
			}
		}
		return cols
	}
	pr, err := buildProfile(b.Context(), table{}, req, p)
	if err != nil {
		b.Fatal(err)
	}
	cols := read(false)
	t := &outTable{file: "out.arrow", cols: cols, rows: int(recs[0].NumRows()), pr: pr, p: p}
	var labels, mags []*outCol
	for _, c := range cols {
		switch {
		case c.isLabel:
			labels = append(labels, c)
		case c.stat == "sum" || c.stat == "mean":
			mags = append(mags, c)
		}
	}
	g, why := t.recover(labels)
	if g == nil {
		b.Fatal(why)
	}
	tr := g.translate(labels)
	rowGroups, rowBase := g.rowGroups(labels, tr, t.rows)
	if stage := os.Getenv("STAGE"); stage != "" {
		fns := map[string]func(){
			"source": func() {
				figs := map[int]*rowFigures{}
				for _, c := range mags {
					g.source(c, func() []*cellGroup { return rowGroups }, rowBase, p, figs)
				}
			},
			"read":  func() { read(false) },
			"judge": func() { t.judge() },
			"file":  func() { Contract{}.file(b.Context(), req, pr, req.Files[0], ManifestFile{}, p) },
		}
		for range 300 {
			fns[stage]()
		}
		return
	}
	for b.Loop() {
		b.ReportMetric(float64(benchArrowRead(b, out, 10))/1e6, "arrow-read-ms")
		benchOnly(b, "file", 10, func() { Contract{}.file(b.Context(), req, pr, req.Files[0], ManifestFile{}, p) })
		benchOnly(b, "judge", 10, func() { t.judge() })
		benchOnly(b, "rowgroups", 10, func() { g.rowGroups(labels, tr, t.rows) })
		benchAlternate(b, "read", 10, func() { read(false) }, func() { read(true) })
		benchAlternate(b, "order", 10, func() { t.labelOrder(labels) }, func() { t.labelOrderRef(labels) })
		benchAlternate(b, "source", 10, func() {
			figs := map[int]*rowFigures{}
			for _, c := range mags {
				if k, _, _ := g.source(c, func() []*cellGroup { return rowGroups }, rowBase, p, figs); k < 0 {
					b.Fatal("no source")
				}
			}
		}, func() {
			figs := map[int]*rowFigures{}
			for _, c := range mags {
				if k, _, _ := g.sourceRef(c, rowGroups, rowBase, p, figs); k < 0 {
					b.Fatal("no source")
				}
			}
		})
	}
}
