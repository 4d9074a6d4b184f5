//go:build unix

package checks

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// dictFile writes an Arrow IPC file of several batches with a dictionary
// column, a string column with nulls and a float column, compressed with
// opts.
func dictFile(t *testing.T, opts ...ipc.Option) []byte {
	t.Helper()
	mem := memory.NewGoAllocator()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "district", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}},
		{Name: "phone", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "mean", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, append([]ipc.Option{ipc.WithSchema(sc), ipc.WithAllocator(mem)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	for batch := range 3 {
		for i := range 50 {
			if err := b.Field(0).(*array.BinaryDictionaryBuilder).AppendString([]string{"Haidian", "Chaoyang", "13812345678"}[i%3]); err != nil {
				t.Fatal(err)
			}
			if i%7 == 0 {
				b.Field(1).(*array.StringBuilder).AppendNull()
			} else {
				b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("1381234%04d", batch*100+i))
			}
			b.Field(2).(*array.Float64Builder).Append(float64(batch*1000+i) / 100)
		}
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cells returns every cell of a batch as CellString formats it.
func cells(rec arrow.RecordBatch) string {
	var s strings.Builder
	for r := range int(rec.NumRows()) {
		for _, c := range rec.Columns() {
			v, ok := fingerprint.CellString(c, r)
			fmt.Fprintf(&s, "%q/%v ", v, ok)
		}
		s.WriteString("\n")
	}
	return s.String()
}

// TestReadMappedMatchesCopy checks that the batches read from a mapping of
// an Arrow file are those that arrow-go's file reader copies out of it, and
// that the mapping is used.
func TestReadMappedMatchesCopy(t *testing.T) {
	md, clean := cleanAggregate()
	for name, data := range map[string][]byte{
		"aggregate":       arrowFile(t, md, clean),
		"dictionary":      dictFile(t),
		"dictionary lz4":  dictFile(t, ipc.WithLZ4()),
		"dictionary zstd": dictFile(t, ipc.WithZstd()),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.arrow")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			var want []string
			if _, err := (table{Mem: mem}).forEach(t.Context(), path, KindArrowFile, 1<<30, func(rec arrow.RecordBatch) error {
				want = append(want, cells(rec))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var got []string
			if _, err := (table{Mem: mem}).forEachMapped(t.Context(), path, KindArrowFile, 1<<30, func(rec arrow.RecordBatch) error {
				got = append(got, cells(rec))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "") != strings.Join(want, "") || len(got) != len(want) || len(want) == 0 {
				t.Errorf("batches: got %d, want %d (%d), or their cells differ", len(got), len(want), len(want))
			}
			// The mapping itself reads them (no fallback).
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fr, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			defer fr.Close()
			n := 0
			done, err := readMapped(t.Context(), f, int64(len(data)), fr, mem, 1<<30, func(rec arrow.RecordBatch) error {
				n++
				return nil
			})
			if !done || err != nil || n != len(want) {
				t.Errorf("readMapped: got %v, %v after %d batches, want true, nil after %d", done, err, n, len(want))
			}
		})
	}
}

// TestReadMappedFallsBack checks that a file whose stream disagrees with
// its footer, or whose footer names a malformed block, is not read from the
// mapping: readMapped reports that it read nothing, and the copying reader
// decides.
func TestReadMappedFallsBack(t *testing.T) {
	md, clean := cleanAggregate()
	data := arrowFile(t, md, clean)
	footerAt := len(data) - 10 - int(binary.LittleEndian.Uint32(data[len(data)-10:]))
	renamed := append([]byte(nil), data...)
	at := bytes.Index(renamed[:footerAt], []byte("mean_amount"))
	if at < 0 {
		t.Fatal("field name not found in the stream")
	}
	renamed[at] = 'M' // in the stream's schema only
	misaligned := append([]byte(nil), data...)
	f := &fb{b: misaligned[footerAt : len(misaligned)-10]}
	root, err := f.ref(0)
	if err != nil {
		t.Fatal(err)
	}
	start, count, err := f.vector(root, 3, 24)
	if err != nil || count == 0 {
		t.Fatalf("record batch blocks: %d, %v", count, err)
	}
	off := binary.LittleEndian.Uint64(f.b[start:])
	binary.LittleEndian.PutUint64(f.b[start:], off+4)
	for name, tc := range map[string]struct {
		data      []byte
		copyReads bool // whether arrow-go's file reader reads it
	}{
		"stream schema differs": {renamed, true},
		"misaligned block":      {misaligned, false},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.arrow")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			fh, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			fr, err := ipc.NewFileReader(fh)
			if err != nil {
				t.Fatal(err)
			}
			defer fr.Close()
			n := 0
			done, err := readMapped(t.Context(), fh, int64(len(tc.data)), fr, memory.DefaultAllocator, 1<<30, func(arrow.RecordBatch) error {
				n++
				return nil
			})
			if done || err != nil || n != 0 {
				t.Errorf("readMapped: got %v, %v after %d batches, want false, nil after none", done, err, n)
			}
			_, err = (table{}).forEachMapped(t.Context(), path, KindArrowFile, 1<<30, func(arrow.RecordBatch) error { return nil })
			if (err == nil) != tc.copyReads {
				t.Errorf("forEachMapped: got %v, want an error %v", err, !tc.copyReads)
			}
		})
	}
}
