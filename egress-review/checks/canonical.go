package checks

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/containerd/errdefs"
)

// Canonical writes to dst the table at src (an Arrow IPC file or stream,
// or Parquet) rebuilt from the values the checks read: every cell appended
// anew to a builder (nulls as nulls, dictionaries holding only the entries
// used), the schema's and fields' metadata kept, nothing else. What a
// writer can hide where readers do not look (the bytes under null slots,
// padding and gaps between buffers, unused dictionary entries, metadata of
// record batch messages, Parquet statistics, page indexes and footers)
// does not survive it. An Arrow input becomes an Arrow IPC file without
// compression, a Parquet input a Parquet file written by arrow-go.
//
// It returns false (and writes nothing) for any other kind of file. A
// table with a column type the output contract does not admit is an error
// of class errdefs.ErrNotImplemented: it leaves only as it is, after an
// officers' override.
func Canonical(ctx context.Context, src, name, dst string) (bool, error) {
	kind, _, err := Sniff(src, name)
	if err != nil {
		return false, err
	}
	if !kind.Tabular() {
		return false, nil
	}
	mem := memory.NewGoAllocator()
	type batch struct {
		cols []arrow.Array
		rows int64
	}
	var batches []batch
	defer func() {
		for _, b := range batches {
			for _, c := range b.cols {
				c.Release()
			}
		}
	}()
	checked := false
	schema, err := table{Mem: mem}.forEach(ctx, src, kind, 1<<30, func(rec arrow.RecordBatch) error {
		if !checked {
			checked = true
			for _, f := range rec.Schema().Fields() {
				if !canonicalType(f.Type) {
					return fmt.Errorf("column of type %s cannot be rebuilt: %w", f.Type, errdefs.ErrNotImplemented)
				}
			}
		}
		cols, err := rebuild(mem, rec)
		if err != nil {
			return err
		}
		batches = append(batches, batch{cols, rec.NumRows()})
		return nil
	})
	if err != nil {
		return false, err
	}
	// The schema the reader returns carries the metadata (a Parquet
	// reader's batches may not).
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for _, b := range batches {
		recs = append(recs, array.NewRecordBatch(schema, b.cols, b.rows))
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false, err
	}
	if kind == KindParquet {
		err = writeParquet(f, schema, recs, mem)
	} else {
		err = writeArrow(f, schema, recs, mem)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return false, err
	}
	return true, nil
}

// canonicalType reports whether columns of type t are rebuilt (the types
// the output contract admits).
func canonicalType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.BOOL, arrow.DATE32, arrow.DATE64, arrow.NULL,
		arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64:
		return true
	case arrow.DICTIONARY:
		d := t.(*arrow.DictionaryType)
		return d.ValueType.ID() == arrow.STRING || d.ValueType.ID() == arrow.LARGE_STRING
	}
	return false
}

// rebuild appends every cell of rec to new builders and returns the new
// columns.
func rebuild(mem memory.Allocator, rec arrow.RecordBatch) ([]arrow.Array, error) {
	cols := make([]arrow.Array, 0, rec.NumCols())
	for _, in := range rec.Columns() {
		b := array.NewBuilder(mem, in.DataType())
		err := appendAll(b, in)
		if err == nil {
			cols = append(cols, b.NewArray())
		}
		b.Release()
		if err != nil {
			for _, c := range cols {
				c.Release()
			}
			return nil, err
		}
	}
	return cols, nil
}

// appendAll appends the cells of in to b, value by value.
func appendAll(b array.Builder, in arrow.Array) error {
	n := in.Len()
	for i := 0; i < n; i++ {
		if in.IsNull(i) {
			b.AppendNull()
			continue
		}
		switch b := b.(type) {
		case *array.StringBuilder:
			b.Append(in.(*array.String).Value(i))
		case *array.LargeStringBuilder:
			b.Append(in.(*array.LargeString).Value(i))
		case *array.BinaryDictionaryBuilder:
			d := in.(*array.Dictionary)
			if err := b.AppendString(cellString(d.Dictionary(), d.GetValueIndex(i))); err != nil {
				return err
			}
		case *array.BooleanBuilder:
			b.Append(in.(*array.Boolean).Value(i))
		case *array.Date32Builder:
			b.Append(in.(*array.Date32).Value(i))
		case *array.Date64Builder:
			b.Append(in.(*array.Date64).Value(i))
		case *array.Int8Builder:
			b.Append(in.(*array.Int8).Value(i))
		case *array.Int16Builder:
			b.Append(in.(*array.Int16).Value(i))
		case *array.Int32Builder:
			b.Append(in.(*array.Int32).Value(i))
		case *array.Int64Builder:
			b.Append(in.(*array.Int64).Value(i))
		case *array.Uint8Builder:
			b.Append(in.(*array.Uint8).Value(i))
		case *array.Uint16Builder:
			b.Append(in.(*array.Uint16).Value(i))
		case *array.Uint32Builder:
			b.Append(in.(*array.Uint32).Value(i))
		case *array.Uint64Builder:
			b.Append(in.(*array.Uint64).Value(i))
		case *array.Float32Builder:
			b.Append(in.(*array.Float32).Value(i))
		case *array.Float64Builder:
			b.Append(in.(*array.Float64).Value(i))
		default:
			return fmt.Errorf("column of type %s cannot be rebuilt: %w", in.DataType(), errdefs.ErrNotImplemented)
		}
	}
	return nil
}

func writeArrow(f *os.File, schema *arrow.Schema, recs []arrow.RecordBatch, mem memory.Allocator) error {
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

func writeParquet(f *os.File, schema *arrow.Schema, recs []arrow.RecordBatch, mem memory.Allocator) error {
	tbl := array.NewTableFromRecords(schema, recs)
	defer tbl.Release()
	props := parquet.NewWriterProperties(parquet.WithAllocator(mem), parquet.WithStats(false))
	// The writer closes what it writes to: give it the file without its
	// Close, which Canonical calls.
	return pqarrow.WriteTable(tbl, struct{ io.Writer }{f}, max(1, tbl.NumRows()), props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
}
