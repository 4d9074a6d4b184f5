package checks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/containerd/errdefs"
	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/egress-review/scan"
)

// RowCopy fails outputs that copy input rows (裸数据): the tuple fingerprint
// of every row of Arrow, Parquet and CSV outputs (all its cells, in any
// column order, formatted with fingerprint.CellString) is looked up in the
// row fingerprints of each input. Above the threshold the file fails: more
// than RowCopyPIThreshold rows (default 0) of an input with
// personal-information columns, else more than RowCopyFraction (1%) of the
// output's rows or of the input's rows.
type RowCopy struct {
	table table // Arrow and Parquet reader; set by WithAllocator
}

var _ review.Check = RowCopy{}

// Name implements review.Check.
func (RowCopy) Name() string { return "row-copy" }

// Version implements review.Check.
func (RowCopy) Version() string { return "1" }

// Run implements review.Check.
func (c RowCopy) Run(ctx context.Context, req *review.Request) ([]review.Finding, error) {
	sc, _, err := newScanner(req)
	if err != nil {
		return nil, err
	}
	if !sc.HasRows() {
		return []review.Finding{{Verdict: review.VerdictPass, Evidence: "inputs hold no row fingerprints"}}, nil
	}
	p := req.Params.Effective()
	var out []review.Finding
	for _, f := range req.Files {
		kind, err := rowKind(f.Path, f.Name)
		if err != nil {
			out = append(out, review.Finding{Verdict: review.VerdictFail, File: f.Name, Evidence: "cannot read file"})
			continue
		}
		matched := make([]int, len(req.Inputs))
		rows := 0
		switch {
		case kind.Tabular():
			var schema *arrow.Schema
			if schema, err = c.table.schema(ctx, f.Path, kind, p.MaxFileBytes); err == nil && !sc.RowWidth(len(schema.Fields())) {
				continue // no input has rows of this width: nothing to read
			}
			if err != nil {
				break
			}
			// tableRows hashes the cells and keeps none of them.
			_, err = c.table.forEachMapped(ctx, f.Path, kind, p.MaxFileBytes, func(rec arrow.RecordBatch) error {
				rows += int(rec.NumRows())
				tableRows(sc, rec, matched)
				return nil
			})
		case kind == KindCSV:
			rows, err = csvRows(ctx, sc, f.Path, matched)
		default:
			continue
		}
		if err != nil {
			out = append(out, review.Finding{Verdict: review.VerdictFail, File: f.Name, Evidence: "cannot read rows: " + err.Error()})
			continue
		}
		for i, m := range matched {
			if m == 0 {
				continue
			}
			in := req.Inputs[i]
			v := review.VerdictPass
			switch {
			case in.HasPI && m > p.RowCopyPIThreshold:
				v = review.VerdictFail
			case float64(m) > p.RowCopyFraction*float64(rows):
				v = review.VerdictFail
			case in.Rows > 0 && float64(m) > p.RowCopyFraction*float64(in.Rows):
				v = review.VerdictFail
			}
			out = append(out, review.Finding{Verdict: v, File: f.Name, Count: m,
				Evidence: fmt.Sprintf("%d of %d rows are rows of input %q (personal information: %v)", m, rows, in.Dataset, in.HasPI)})
		}
	}
	if len(out) == 0 {
		out = append(out, review.Finding{Verdict: review.VerdictPass, Evidence: "no output row is an input row"})
	}
	return out, nil
}

// rowKind is Sniff for the row-copy check, which reads rows of tables and
// CSV files only: a file that starts with no table magic and is not named
// as CSV is not read to the end to learn which other kind it is.
func rowKind(p, name string) (Kind, error) {
	if ext := strings.ToLower(path.Ext(name)); ext == ".csv" || ext == ".tsv" {
		kind, _, err := Sniff(p, name)
		return kind, err
	}
	var buf [8]byte
	head, err := readHead(p, buf[:])
	if err != nil {
		return KindUnknown, err
	}
	for _, m := range magics {
		if m.kind.Tabular() && bytes.HasPrefix(head, []byte(m.prefix)) {
			return m.kind, nil
		}
	}
	return KindUnknown, nil
}

func tableRows(sc *scan.Scanner, rec arrow.RecordBatch, matched []int) {
	cols := rec.Columns()
	if !sc.RowWidth(len(cols)) {
		return // no input has rows of this width
	}
	cells := make([]string, len(cols))
	for r := 0; r < int(rec.NumRows()); r++ {
		for j, col := range cols {
			cells[j], _ = fingerprint.CellString(col, r)
		}
		if i := sc.Row(cells); i >= 0 && i < len(matched) {
			matched[i]++
		}
	}
}

func csvRows(ctx context.Context, sc *scan.Scanner, path string, matched []int) (int, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	cr := csv.NewReader(bufio.NewReader(fh))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	rows := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return rows, fmt.Errorf("csv is malformed: %w", errdefs.ErrDataLoss)
		}
		rows++
		if i := sc.Row(rec); i >= 0 && i < len(matched) {
			matched[i]++
		}
		if rows%65536 == 0 && ctx.Err() != nil {
			return rows, ctx.Err()
		}
	}
}
