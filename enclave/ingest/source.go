package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/containerd/errdefs"
)

// Source is a raw input file.
type Source struct {
	// Path is the file to import. It is read once, sequentially for CSV.
	Path string
	// Format is "csv", "parquet" or "arrow" (IPC file or stream); empty
	// means sniffed from the content: Parquet and Arrow by their magic
	// bytes, anything else is read as CSV.
	Format string
}

// batch is one record batch of the input.
type batch struct {
	rec arrow.RecordBatch
	// where names row i of the batch for an error message, as "line N" or
	// "row N"; it never holds a value.
	where func(i int) string
	// bytesRead is how far into the input the reader was after the batch
	// (estimated for Parquet and Arrow).
	bytesRead int64
}

// batchReader yields the input as record batches. Next returns io.EOF at
// the end; the caller releases each batch's record.
type batchReader interface {
	Schema() *arrow.Schema
	Next() (batch, error)
	Close() error
}

func rowWhere(base int64) func(int) string {
	return func(i int) string { return "row " + strconv.FormatInt(base+int64(i)+1, 10) }
}

// badInput returns an invalid-argument error about the input file.
func badInput(format string, args ...any) error {
	return fmt.Errorf("input: "+format+": %w", append(args, errdefs.ErrInvalidArgument)...)
}

func sniff(f *os.File) (string, error) {
	var head [8]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read input: %w", err)
	}
	if n == 0 {
		return "", badInput("the file is empty")
	}
	h := head[:n]
	switch {
	case strings.HasPrefix(string(h), "PAR1"):
		return "parquet", nil
	case strings.HasPrefix(string(h), "ARROW1"):
		return "arrow", nil
	case n >= 4 && h[0] == 0xff && h[1] == 0xff && h[2] == 0xff && h[3] == 0xff:
		return "arrow", nil
	}
	return "csv", nil
}

// openSource opens src and returns a reader of record batches. For CSV the
// column types come from the spec; typed inputs keep their own.
func openSource(ctx context.Context, src Source, spec *Spec, mem memory.Allocator, batchRows, maxLine int) (br batchReader, err error) {
	f, err := os.Open(src.Path)
	if err != nil {
		return nil, fmt.Errorf("open input: %w", errClass(err))
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat input: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, badInput("not a regular file")
	}
	if st.Size() == 0 {
		return nil, badInput("the file is empty")
	}
	format := src.Format
	if format == "" {
		if format, err = sniff(f); err != nil {
			return nil, err
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = badInput("the %s file is malformed", format)
		}
	}()
	switch format {
	case "csv":
		return newCSVSource(f, spec, mem, batchRows, maxLine)
	case "arrow":
		return newArrowReader(f, st.Size(), mem)
	case "parquet":
		return newParquetReader(ctx, f, st.Size(), mem, batchRows)
	}
	return nil, fmt.Errorf("input format %q must be csv, parquet or arrow: %w", format, errdefs.ErrInvalidArgument)
}

func errClass(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: %w", err, errdefs.ErrPermissionDenied)
	}
	return err
}

// appendCSV parses one CSV field; an empty field is null.
func appendCSV(b array.Builder, typ, v string) error {
	if v == "" {
		b.AppendNull()
		return nil
	}
	switch typ {
	case "int64":
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return err
		}
		b.(*array.Int64Builder).Append(n)
	case "float64":
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return err
		}
		b.(*array.Float64Builder).Append(n)
	case "bool":
		n, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return err
		}
		b.(*array.BooleanBuilder).Append(n)
	case "date":
		t, err := time.Parse("2006-01-02", strings.TrimSpace(v))
		if err != nil {
			return err
		}
		b.(*array.Date32Builder).Append(arrow.Date32FromTime(t))
	case "timestamp":
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
		if err != nil {
			return err
		}
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(t.UTC().UnixMicro()))
	default:
		b.(*array.StringBuilder).Append(v)
	}
	return nil
}

// checkBatchShape checks what a batch claims against its buffers, without
// reading them, and returns their size: every row costs at least one bit
// of some buffer, unless every column is of the null type or run-end
// encoded, so a batch that claims more rows than its buffers can hold
// (which would make the import loop for nothing) is refused.
func checkBatchShape(rec arrow.RecordBatch) (int64, error) {
	var bufBytes int64
	for _, col := range rec.Columns() {
		bufBytes += dataBytes(col.Data(), 0)
		if int64(col.Len()) != rec.NumRows() {
			return 0, errors.New("column length differs from the batch")
		}
	}
	if rec.NumRows() > 8*bufBytes+1024 {
		return 0, errors.New("batch claims more rows than its buffers hold")
	}
	return bufBytes, nil
}

// validateBatch checks the buffers of every column, so that a malformed
// input fails here instead of panicking later.
func validateBatch(rec arrow.RecordBatch) error {
	if _, err := checkBatchShape(rec); err != nil {
		return err
	}
	for _, col := range rec.Columns() {
		if err := array.ValidateFull(col); err != nil {
			return err
		}
		switch a := col.(type) {
		case *array.String:
			for i := 0; i < a.Len(); i++ {
				if a.IsValid(i) && !utf8.ValidString(a.Value(i)) {
					return errors.New("string is not valid utf-8")
				}
			}
		case *array.LargeString:
			for i := 0; i < a.Len(); i++ {
				if a.IsValid(i) && !utf8.ValidString(a.Value(i)) {
					return errors.New("string is not valid utf-8")
				}
			}
		}
	}
	return nil
}

// dataBytes sums the buffer sizes of an array and its children.
func dataBytes(d arrow.ArrayData, depth int) int64 {
	if d == nil || depth > 64 {
		return 0
	}
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c, depth+1)
	}
	if dict, ok := d.Dictionary().(*array.Data); ok && dict != nil {
		n += dataBytes(dict, depth+1)
	}
	return n
}

// parquetBatchBytes is the size a Parquet batch aims at (a variable for
// tests): each row group is read in batches of as many rows as this many
// bytes hold on average, by the row group's own account of its size, and
// at most BatchRows.
var parquetBatchBytes int64 = 4 << 20

// parquetReader reads a Parquet file a row group at a time. Column chunks
// are read through buffered streams rather than whole, so that a huge row
// group costs a page of each column and a batch of memory, not its size.
type parquetReader struct {
	f         *os.File
	size      int64
	total     int64
	pf        *file.Reader
	fr        *pqarrow.FileReader
	schema    *arrow.Schema
	ctx       context.Context
	batchRows int
	rg        int                  // the next row group
	rr        pqarrow.RecordReader // of row group rg-1, nil between them
	rows      int64
	last      int64
}

func newParquetReader(ctx context.Context, f *os.File, size int64, mem memory.Allocator, batchRows int) (*parquetReader, error) {
	props := parquet.NewReaderProperties(mem)
	props.BufferedStreamEnabled = true
	props.BufferSize = 256 << 10
	pf, err := file.NewParquetReader(f, file.WithReadProps(props))
	if err != nil {
		return nil, badInput("the parquet file is malformed")
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batchRows)}, mem)
	if err != nil {
		pf.Close()
		return nil, badInput("the parquet file is malformed")
	}
	// Run-length encoding lets a tiny file claim any number of rows; a
	// real table has data in some column, so claims beyond 64 rows per
	// byte are refused rather than looped over.
	if pf.NumRows() < 0 || pf.NumRows() > 64*size+1024 {
		pf.Close()
		return nil, badInput("the parquet file claims %d rows in %d bytes", pf.NumRows(), size)
	}
	schema, err := fr.Schema()
	if err != nil {
		pf.Close()
		return nil, badInput("the parquet file is malformed")
	}
	return &parquetReader{f: f, size: size, total: pf.NumRows(), pf: pf, fr: fr, schema: schema, ctx: ctx, batchRows: batchRows}, nil
}

func (p *parquetReader) Schema() *arrow.Schema { return p.schema }
func (p *parquetReader) bytesRead() int64 {
	if p.total <= 0 {
		return p.size
	}
	return p.size * (p.rows + p.last) / p.total
}
func (p *parquetReader) Close() error {
	if p.rr != nil {
		p.rr.Release()
	}
	p.pf.Close()
	return p.f.Close()
}

func (p *parquetReader) Next() (batch, error) {
	rec, err := p.next1()
	if err != nil {
		return batch{}, err
	}
	return batch{rec: rec, where: rowWhere(p.rows), bytesRead: p.bytesRead()}, nil
}

// openRowGroup starts reading row group p.rg in batches of about
// parquetBatchBytes.
func (p *parquetReader) openRowGroup() error {
	md := p.pf.MetaData().RowGroup(p.rg)
	rows := int64(p.batchRows)
	if n := md.NumRows(); n > 0 {
		perRow := max(1, md.TotalByteSize()/n)
		rows = min(rows, max(1, parquetBatchBytes/perRow))
	}
	p.fr.Props.BatchSize = rows
	rr, err := p.fr.GetRecordReader(p.ctx, nil, []int{p.rg})
	if err != nil {
		return err
	}
	p.rr = rr
	p.rg++
	return nil
}

func (p *parquetReader) next1() (rec arrow.RecordBatch, err error) {
	defer func() {
		if r := recover(); r != nil {
			rec, err = nil, badInput("the parquet file is malformed near row %d", p.rows+1)
		}
	}()
	p.rows += p.last
	p.last = 0
	for {
		if p.rr == nil {
			if p.rg >= p.pf.NumRowGroups() {
				return nil, io.EOF
			}
			if err := p.openRowGroup(); err != nil {
				return nil, badInput("the parquet file is malformed near row %d", p.rows+1)
			}
		}
		rec, err = p.rr.Read()
		if errors.Is(err, io.EOF) {
			err = nil
			if rec == nil || rec.NumRows() == 0 {
				p.rr.Release()
				p.rr = nil
				continue
			}
		}
		if err != nil {
			return nil, badInput("the parquet file is malformed near row %d", p.rows+1)
		}
		if rec == nil {
			p.rr.Release()
			p.rr = nil
			continue
		}
		break
	}
	rec.Retain()
	if err := validateBatch(rec); err != nil {
		rec.Release()
		return nil, badInput("the parquet file is malformed near row %d", p.rows+1)
	}
	p.last = rec.NumRows()
	return rec, nil
}
