package checks

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// Differencing flags for review a table that differs from one already
// released under the same grant only in small counts: same columns, same
// number of rows, every non-numeric cell equal and at least one numeric
// cell different, by at most DiffMaxCellDelta each. Subtracting the two
// releases would then isolate a handful of records. Arrow, Parquet and
// CSV tables are compared; previous releases that cannot be read are
// skipped (they were checked when released).
type Differencing struct {
	table table // Arrow and Parquet reader; set by WithAllocator
}

var _ review.Check = Differencing{}

// Name implements review.Check.
func (Differencing) Name() string { return "differencing" }

// Version implements review.Check.
func (Differencing) Version() string { return "1" }

// maxDiffCells bounds the tables compared (cells); bigger ones are skipped.
const maxDiffCells = 1 << 22

// grid is a small table held as strings, for comparison.
type grid struct {
	cols []string
	rows [][]string
}

func (c Differencing) load(ctx context.Context, f review.File, p review.Params) (*grid, bool) {
	kind, _, err := Sniff(f.Path, f.Name)
	if err != nil {
		return nil, false
	}
	g := &grid{}
	cells := 0
	switch {
	case kind.Tabular():
		sc, err := c.table.forEach(ctx, f.Path, kind, p.MaxFileBytes, func(rec arrow.RecordBatch) error {
			cells += int(rec.NumRows() * rec.NumCols())
			if cells > maxDiffCells {
				return errTooBig
			}
			for r := 0; r < int(rec.NumRows()); r++ {
				row := make([]string, rec.NumCols())
				for j, col := range rec.Columns() {
					row[j], _ = fingerprint.CellString(col, r)
				}
				g.rows = append(g.rows, row)
			}
			return nil
		})
		if err != nil {
			return nil, false
		}
		for _, fld := range sc.Fields() {
			g.cols = append(g.cols, fld.Name)
		}
	case kind == KindCSV:
		err := csvTable(ctx, f.Path, func(names, row []string) {
			if g.cols == nil {
				g.cols = append([]string(nil), names...)
			}
			cells += len(row)
			if cells <= maxDiffCells {
				g.rows = append(g.rows, append([]string(nil), row...))
			}
		})
		if err != nil || cells > maxDiffCells {
			return nil, false
		}
	default:
		return nil, false
	}
	return g, true
}

// Run implements review.Check.
func (c Differencing) Run(ctx context.Context, req *review.Request) ([]review.Finding, error) {
	p := req.Params.Effective()
	var out []review.Finding
	if len(req.Previous) > 0 {
		prev := make([]*grid, len(req.Previous))
		for i, pr := range req.Previous {
			prev[i], _ = c.load(ctx, pr.File, p)
		}
		for _, f := range req.Files {
			g, ok := c.load(ctx, f, p)
			if !ok {
				continue
			}
			for i, pg := range prev {
				if pg == nil {
					continue
				}
				if n, ok := smallDifference(g, pg, p.DiffMaxCellDelta); ok {
					out = append(out, review.Finding{Verdict: review.VerdictReview, File: f.Name, Count: n,
						Evidence: fmt.Sprintf("differs from %q of release %q only in %d cells by at most %g", req.Previous[i].File.Name, req.Previous[i].Release, n, p.DiffMaxCellDelta)})
				}
			}
		}
	}
	if len(out) == 0 {
		out = append(out, review.Finding{Verdict: review.VerdictPass, Evidence: fmt.Sprintf("compared with %d released files", len(req.Previous))})
	}
	return out, nil
}

// smallDifference reports whether a and b have the same shape, equal
// non-numeric cells and 1 or more numeric cells that differ, each by at
// most delta; it returns how many differ.
func smallDifference(a, b *grid, delta float64) (int, bool) {
	if len(a.cols) != len(b.cols) || len(a.rows) != len(b.rows) {
		return 0, false
	}
	for i := range a.cols {
		if a.cols[i] != b.cols[i] {
			return 0, false
		}
	}
	n := 0
	for r := range a.rows {
		if len(a.rows[r]) != len(b.rows[r]) {
			return 0, false
		}
		for j := range a.rows[r] {
			x, y := a.rows[r][j], b.rows[r][j]
			if x == y {
				continue
			}
			fx, ex := strconv.ParseFloat(x, 64)
			fy, ey := strconv.ParseFloat(y, 64)
			if ex != nil || ey != nil || math.Abs(fx-fy) > delta {
				return 0, false
			}
			n++
		}
	}
	return n, n > 0
}
