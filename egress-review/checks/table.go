package checks

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/containerd/errdefs"
)

// errTooBig is wrapped when a file or its decoded content is over a limit.
var errTooBig = fmt.Errorf("over the size limit: %w", errdefs.ErrOutOfRange)

// cappedAllocator fails (by panicking, which the readers turn into errors
// or the check runner into a fail finding) once more than max bytes are
// live, so that a compressed or lying file cannot exhaust memory.
type cappedAllocator struct {
	mem  memory.Allocator
	max  int64
	live atomic.Int64
}

func (a *cappedAllocator) Allocate(size int) []byte {
	if a.live.Add(int64(size)) > a.max {
		a.live.Add(-int64(size))
		panic(errTooBig)
	}
	return a.mem.Allocate(size)
}

func (a *cappedAllocator) Reallocate(size int, b []byte) []byte {
	d := int64(size - len(b))
	if a.live.Add(d) > a.max {
		a.live.Add(-d)
		panic(errTooBig)
	}
	return a.mem.Reallocate(size, b)
}

func (a *cappedAllocator) Free(b []byte) {
	a.live.Add(-int64(len(b)))
	a.mem.Free(b)
}

// recordFunc receives each record batch of a table; the batch is valid only
// during the call.
type recordFunc func(rec arrow.RecordBatch) error

// table reads Arrow IPC (file or stream) and Parquet outputs.
type table struct {
	// Mem allocates the buffers; nil means the Go allocator. Tests pass a
	// checked allocator.
	Mem memory.Allocator
}

// forEach opens the table at p, returns its schema after calling fn (if
// not nil) on every record batch. Memory is capped at maxBytes (plus the
// reader's own bookkeeping).
func (t table) forEach(ctx context.Context, p string, kind Kind, maxBytes int64, fn recordFunc) (*arrow.Schema, error) {
	return t.read(ctx, p, kind, maxBytes, fn, false, false)
}

// forEachMapped is forEach for an fn that keeps no reference into a batch
// after it returns (no string of a cell, no buffer): the record batches of
// an Arrow IPC file are then read from a mapping of the file, without
// copying their buffers (see readMapped).
func (t table) forEachMapped(ctx context.Context, p string, kind Kind, maxBytes int64, fn recordFunc) (*arrow.Schema, error) {
	return t.read(ctx, p, kind, maxBytes, fn, false, true)
}

// schema opens the table at p and returns its schema without reading its
// record batches.
func (t table) schema(ctx context.Context, p string, kind Kind, maxBytes int64) (*arrow.Schema, error) {
	return t.read(ctx, p, kind, maxBytes, nil, true, false)
}

func (t table) read(ctx context.Context, p string, kind Kind, maxBytes int64, fn recordFunc, schemaOnly, mapped bool) (sc *arrow.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			sc, err = nil, fmt.Errorf("reading %s table failed: %w", kind, errdefs.ErrDataLoss)
		}
	}()
	base := t.Mem
	if base == nil {
		base = memory.NewGoAllocator()
	}
	mem := &cappedAllocator{mem: base, max: maxBytes}
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("stat output file: %w", err)
	}
	if st.Size() > maxBytes {
		return nil, errTooBig
	}
	if kind == KindArrowFile || kind == KindArrowStream {
		if err := guardArrow(p, kind); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open output file: %w", err)
	}
	defer f.Close()
	switch kind {
	case KindArrowFile:
		r, err := ipc.NewFileReader(f, ipc.WithAllocator(mem), ipc.WithMetadataSizeLimit(64<<20), ipc.WithBodySizeLimit(maxBytes))
		if err != nil {
			return nil, fmt.Errorf("open arrow ipc file: %w", errdefs.ErrDataLoss)
		}
		defer r.Close()
		if schemaOnly {
			return r.Schema(), nil
		}
		if mapped && fn != nil {
			if done, err := readMapped(ctx, f, st.Size(), r, mem, maxBytes, fn); done {
				if err != nil {
					return nil, err
				}
				return r.Schema(), nil
			}
		}
		for i := 0; i < r.NumRecords(); i++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			rec, err := r.RecordBatchAt(i)
			if err != nil {
				return nil, fmt.Errorf("read arrow ipc record batch %d: %w", i, errdefs.ErrDataLoss)
			}
			if err := callRelease(fn, rec); err != nil {
				return nil, err
			}
		}
		return r.Schema(), nil
	case KindArrowStream:
		r, err := ipc.NewReader(f, ipc.WithAllocator(mem), ipc.WithMetadataSizeLimit(64<<20), ipc.WithBodySizeLimit(maxBytes))
		if err != nil {
			return nil, fmt.Errorf("open arrow ipc stream: %w", errdefs.ErrDataLoss)
		}
		defer r.Release()
		if schemaOnly {
			return r.Schema(), nil
		}
		for r.Next() {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := callFn(fn, r.RecordBatch()); err != nil {
				return nil, err
			}
		}
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("read arrow ipc stream: %w", errdefs.ErrDataLoss)
		}
		return r.Schema(), nil
	case KindParquet:
		pf, err := file.NewParquetReader(f, file.WithReadProps(parquet.NewReaderProperties(mem)))
		if err != nil {
			return nil, fmt.Errorf("open parquet file: %w", errdefs.ErrDataLoss)
		}
		defer pf.Close()
		if err := guardParquetSchema(pf); err != nil {
			return nil, err
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, mem)
		if err != nil {
			return nil, fmt.Errorf("open parquet file: %w", errdefs.ErrDataLoss)
		}
		sc, err := fr.Schema()
		if err != nil {
			return nil, fmt.Errorf("parquet schema: %w", errdefs.ErrDataLoss)
		}
		if fn == nil || len(sc.Fields()) == 0 {
			return sc, nil
		}
		rr, err := fr.GetRecordReader(ctx, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("read parquet file: %w", errdefs.ErrDataLoss)
		}
		defer rr.Release()
		for rr.Next() {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := callFn(fn, rr.RecordBatch()); err != nil {
				return nil, err
			}
		}
		if err := rr.Err(); err != nil {
			return nil, fmt.Errorf("read parquet file: %w", errdefs.ErrDataLoss)
		}
		return sc, nil
	}
	return nil, fmt.Errorf("kind %q is not a table: %w", kind, errdefs.ErrInvalidArgument)
}

// callRelease calls fn and releases rec even when fn panics.
func callRelease(fn recordFunc, rec arrow.RecordBatch) error {
	defer rec.Release()
	return callFn(fn, rec)
}

func callFn(fn recordFunc, rec arrow.RecordBatch) error {
	if fn == nil {
		return nil
	}
	return fn(rec)
}

// guardParquetSchema runs the Arrow flatbuffer guard over the Arrow schema
// that Parquet files written by Arrow keep, base64-encoded, under the
// "ARROW:schema" key, which pqarrow deserializes with arrow-go's IPC reader.
func guardParquetSchema(pf *file.Reader) error {
	md := pf.MetaData()
	if md == nil {
		return nil
	}
	v := md.KeyValueMetadata().FindValue("ARROW:schema")
	if v == nil {
		return nil
	}
	var decoded []byte
	var err error
	if len(*v)%4 == 0 {
		decoded, err = base64.StdEncoding.DecodeString(*v)
	}
	if len(*v)%4 != 0 || err != nil {
		decoded, err = base64.RawStdEncoding.DecodeString(*v)
	}
	if err != nil {
		return nil // pqarrow refuses it itself
	}
	return guardStream(bytes.NewReader(decoded), 0, int64(len(decoded)))
}
