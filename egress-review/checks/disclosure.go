package checks

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/containerd/errdefs"
	review "github.com/enclave-dev/enclave/egress-review"
)

// Disclosure is statistical disclosure control on tables (Arrow, Parquet,
// CSV), after ACRO's rules and defaults:
//
//   - count columns: every non-zero count at least MinCell (10); zeros are
//     flagged for review; negative counts fail;
//   - magnitude tables with declared contributions (columns marked top1,
//     top2 next to a sum): N-K dominance with N=2, K=0.9 and the p-ratio
//     rule with p=0.1;
//   - model outputs: residual degrees of freedom at least MinDoF (10) where
//     declared; a model table without them is flagged for review.
//
// A column's statistic comes from its enclave.stat field mark (count, sum,
// mean, model, top1, top2, dof), else from the manifest's columns, else
// from its name: count, n, freq, frequency, cnt, obs and names starting
// "n_", "count_", "num_" or ending "_count", "_n", "_cnt", "_freq" are
// counts; dof, df_resid, df_residual and residual_df are degrees of
// freedom. A table's enclave.dof schema mark declares its degrees of
// freedom too.
type Disclosure struct {
	table table // Arrow and Parquet reader; set by WithAllocator
}

var _ review.Check = Disclosure{}

// Name implements review.Check.
func (Disclosure) Name() string { return "disclosure" }

// Version implements review.Check.
func (Disclosure) Version() string { return "1" }

// StatOf returns the statistic a column holds by its name alone, or "".
func StatOf(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "count", "n", "freq", "frequency", "cnt", "obs", "observations":
		return "count"
	case "dof", "df_resid", "df_residual", "residual_df":
		return "dof"
	}
	for _, p := range []string{"n_", "count_", "num_"} {
		if strings.HasPrefix(n, p) {
			return "count"
		}
	}
	for _, s := range []string{"_count", "_n", "_cnt", "_freq"} {
		if strings.HasSuffix(n, s) {
			return "count"
		}
	}
	return ""
}

// tally accumulates the disclosure findings of one file.
type tally struct {
	small, zeros, negative map[string]int
	dominance, pratio, dof int
	model, magnitude       bool
	hasCount, hasDoF       bool
	order                  []string
}

func (t *tally) inc(m *map[string]int, col string) {
	if *m == nil {
		*m = map[string]int{}
	}
	if t.small[col]+t.zeros[col]+t.negative[col] == 0 {
		t.order = append(t.order, col)
	}
	(*m)[col]++
}

// Run implements review.Check.
func (c Disclosure) Run(ctx context.Context, req *review.Request) ([]review.Finding, error) {
	p := req.Params.Effective()
	manifest, _ := loadManifest(req) // a malformed manifest fails the marks check
	var out []review.Finding
	for _, f := range req.Files {
		kind, _, err := Sniff(f.Path, f.Name)
		if err != nil {
			out = append(out, review.Finding{Verdict: review.VerdictFail, File: f.Name, Evidence: "cannot read file"})
			continue
		}
		var declared map[string]ManifestColumn
		if manifest != nil {
			declared = manifest.Files[f.Name].Columns
		}
		statOf := func(name string, md arrow.Metadata) string {
			if s := metaGet(md, MarkStat); s != "" {
				return s
			}
			if s := declared[name].Stat; s != "" {
				return s
			}
			return StatOf(name)
		}
		var t tally
		switch {
		case kind.Tabular():
			var sc *arrow.Schema
			sc, err = c.table.forEach(ctx, f.Path, kind, p.MaxFileBytes, func(rec arrow.RecordBatch) error {
				stats := make([]string, rec.NumCols())
				for i, fld := range rec.Schema().Fields() {
					stats[i] = statOf(fld.Name, fld.Metadata)
				}
				names := make([]string, rec.NumCols())
				for i, fld := range rec.Schema().Fields() {
					names[i] = fld.Name
				}
				for r := 0; r < int(rec.NumRows()); r++ {
					row := make([]float64, len(stats))
					ok := make([]bool, len(stats))
					for j := range stats {
						if stats[j] != "" {
							row[j], ok[j] = numeric(rec.Column(j), r)
						}
					}
					t.row(p, names, stats, row, ok)
				}
				if rec.NumRows() == 0 {
					t.row(p, names, stats, nil, nil)
				}
				return nil
			})
			if err == nil {
				if s := metaGet(sc.Metadata(), MarkStat); s == "model" {
					t.model = true
				}
				if d := metaGet(sc.Metadata(), MarkDoF); d != "" {
					t.hasDoF = true
					if v, perr := strconv.ParseFloat(d, 64); perr != nil || v < float64(p.MinDoF) {
						t.dof++
					}
				}
			}
		case kind == KindCSV:
			err = csvTable(ctx, f.Path, func(names []string, cells []string) {
				stats := make([]string, len(names))
				for i, n := range names {
					stats[i] = statOf(n, arrow.Metadata{})
				}
				row := make([]float64, len(names))
				ok := make([]bool, len(names))
				for j := range names {
					if stats[j] != "" && j < len(cells) {
						v, perr := strconv.ParseFloat(strings.TrimSpace(cells[j]), 64)
						row[j], ok[j] = v, perr == nil && !math.IsNaN(v)
					}
				}
				t.row(p, names, stats, row, ok)
			})
		default:
			continue
		}
		if err != nil {
			out = append(out, review.Finding{Verdict: review.VerdictFail, File: f.Name, Evidence: "cannot read table: " + err.Error()})
			continue
		}
		out = append(out, t.findings(f.Name, p)...)
	}
	if len(out) == 0 {
		out = append(out, review.Finding{Verdict: review.VerdictPass, Evidence: "no tables to check"})
	}
	return out, nil
}

// row judges one table row; stats[j] is column j's statistic, row[j] its
// value when ok[j].
func (t *tally) row(p review.Params, names, stats []string, row []float64, ok []bool) {
	var top1, top2, sum float64
	var has1, has2, hasSum bool
	for j, s := range stats {
		switch s {
		case "count":
			t.hasCount = true
		case "dof":
			t.hasDoF = true
		case "model":
			t.model = true
		case "sum", "mean":
			t.magnitude = true
		}
		if row == nil || !ok[j] {
			continue
		}
		v := row[j]
		switch s {
		case "count":
			switch {
			case v < 0:
				t.inc(&t.negative, names[j])
			case v == 0:
				t.inc(&t.zeros, names[j])
			case v < float64(p.MinCell):
				t.inc(&t.small, names[j])
			}
		case "dof":
			if v < float64(p.MinDoF) {
				t.dof++
			}
		case "top1":
			top1, has1 = v, true
		case "top2":
			top2, has2 = v, true
		case "sum":
			sum, hasSum = v, true
		}
	}
	if has1 && hasSum && sum > 0 {
		top := top1
		if p.DominanceN >= 2 && has2 {
			top += top2
		}
		if top/sum > p.DominanceK {
			t.dominance++
		}
		if has2 && sum-top1-top2 < p.PRatio*top1 {
			t.pratio++
		}
	}
}

func (t *tally) findings(file string, p review.Params) []review.Finding {
	var out []review.Finding
	add := func(v review.Verdict, col string, n int, ev string) {
		out = append(out, review.Finding{Verdict: v, File: file, Column: col, Count: n, Evidence: ev})
	}
	for _, col := range t.order {
		if n := t.negative[col]; n > 0 {
			add(review.VerdictFail, col, n, fmt.Sprintf("%d negative counts", n))
		}
		if n := t.small[col]; n > 0 {
			add(review.VerdictFail, col, n, fmt.Sprintf("%d counts below the minimum cell count %d", n, p.MinCell))
		}
		if n := t.zeros[col]; n > 0 {
			add(review.VerdictReview, col, n, fmt.Sprintf("%d zero counts (structural or disclosive zeros need a look)", n))
		}
	}
	if t.dominance > 0 {
		add(review.VerdictFail, "", t.dominance, fmt.Sprintf("%d cells fail N-K dominance (N=%d, K=%g)", t.dominance, p.DominanceN, p.DominanceK))
	}
	if t.pratio > 0 {
		add(review.VerdictFail, "", t.pratio, fmt.Sprintf("%d cells fail the p-ratio rule (p=%g)", t.pratio, p.PRatio))
	}
	if t.dof > 0 {
		add(review.VerdictFail, "", t.dof, fmt.Sprintf("%d residual degrees of freedom below %d", t.dof, p.MinDoF))
	}
	if t.model && !t.hasDoF {
		add(review.VerdictReview, "", 0, "model output without declared residual degrees of freedom")
	}
	if t.magnitude && !t.hasCount {
		add(review.VerdictReview, "", 0, "magnitude table without a count column: the threshold rule cannot be checked")
	}
	if len(out) == 0 {
		add(review.VerdictPass, "", 0, "disclosure rules hold")
	}
	return out
}

// numeric returns cell i of a numeric column as a float64.
func numeric(a arrow.Array, i int) (float64, bool) {
	if a.IsNull(i) {
		return 0, false
	}
	switch a := a.(type) {
	case *array.Int64:
		return float64(a.Value(i)), true
	case *array.Int32:
		return float64(a.Value(i)), true
	case *array.Int16:
		return float64(a.Value(i)), true
	case *array.Int8:
		return float64(a.Value(i)), true
	case *array.Uint64:
		return float64(a.Value(i)), true
	case *array.Uint32:
		return float64(a.Value(i)), true
	case *array.Uint16:
		return float64(a.Value(i)), true
	case *array.Uint8:
		return float64(a.Value(i)), true
	case *array.Float64:
		v := a.Value(i)
		return v, !math.IsNaN(v)
	case *array.Float32:
		v := float64(a.Value(i))
		return v, !math.IsNaN(v)
	case *array.String:
		v, err := strconv.ParseFloat(strings.TrimSpace(a.Value(i)), 64)
		return v, err == nil && !math.IsNaN(v)
	}
	return 0, false
}

// csvTable calls fn with the header and each following record of a CSV.
func csvTable(ctx context.Context, path string, fn func(names, cells []string)) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open: %w", errdefs.ErrNotFound)
	}
	defer fh.Close()
	cr := csv.NewReader(bufio.NewReader(fh))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	var names []string
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("csv is malformed: %w", errdefs.ErrDataLoss)
		}
		if names == nil {
			names = rec
			continue
		}
		fn(names, rec)
		if n%65536 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
