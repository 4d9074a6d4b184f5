package ingest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/enclave-dev/enclave/enclave/synth"
)

// The CSV reader is chosen on evidence (issue 23 item 1):
// BenchmarkCSVReaders splits the same synthetic CSV with encoding/csv (the
// import's reader), arrow-go's CSV reader (which wraps encoding/csv and
// builds Arrow arrays) and splitBench, a bare RFC 4180 splitter over an
// in-memory buffer that bounds from above what a purpose-built reader
// could save. splitBench is a measuring stick, not an input parser: it
// refuses nothing and reports no positions.

func benchCSV(tb testing.TB, rows int) []byte {
	var buf bytes.Buffer
	if err := synth.WriteCSV(&buf, 1, rows); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// splitBench calls fn with the fields of every record of data, sliced
// from data or, for a quoted field with doubled quotes, from scratch.
func splitBench(data []byte, fn func(rec [][]byte)) {
	var rec [][]byte
	var scratch []byte
	for len(data) > 0 {
		rec = rec[:0]
		scratch = scratch[:0]
		for {
			var f []byte
			if len(data) > 0 && data[0] == '"' {
				data = data[1:]
				start := len(scratch)
				for {
					k := bytes.IndexByte(data, '"')
					if k < 0 { // unterminated: take the rest
						scratch = append(scratch, data...)
						data = nil
						break
					}
					scratch = append(scratch, data[:k]...)
					data = data[k+1:]
					if len(data) > 0 && data[0] == '"' {
						scratch = append(scratch, '"')
						data = data[1:]
						continue
					}
					break
				}
				f = scratch[start:]
			} else {
				k := 0
				for k < len(data) && data[k] != ',' && data[k] != '\n' {
					k++
				}
				f = data[:k]
				data = data[k:]
			}
			if n := len(f); n > 0 && f[n-1] == '\r' && (len(data) == 0 || data[0] == '\n') {
				f = f[:n-1]
			}
			rec = append(rec, f)
			if len(data) == 0 || data[0] == '\n' {
				if len(data) > 0 {
					data = data[1:]
				}
				break
			}
			data = data[1:] // the comma
		}
		fn(rec)
	}
}

// TestSplitBenchAgrees checks that the benchmark compares like with like:
// splitBench finds the fields encoding/csv finds in the benchmark's input.
func TestSplitBenchAgrees(t *testing.T) {
	data := benchCSV(t, 2000)
	r := csv.NewReader(bytes.NewReader(data))
	n := 0
	splitBench(data, func(rec [][]byte) {
		want, err := r.Read()
		if err != nil {
			t.Fatalf("record %d: encoding/csv: %v", n, err)
		}
		got := make([]string, len(rec))
		for i, f := range rec {
			got[i] = string(f)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("record %d: got %d fields, want %d, or different fields", n, len(got), len(want))
		}
		n++
	})
	if _, err := r.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("got %d records from splitBench, encoding/csv has more", n)
	}
}

// processCPU is the CPU time of the process so far. Under a load of
// other work wall time says little; with -cpu 1 the process's CPU time is
// the benchmark's (its garbage collection included).
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation and per MB since start.
func reportCPU(b *testing.B, start time.Duration, bytes int) {
	cpu := processCPU(b) - start
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(bytes)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
}

// BenchmarkCSVReaders compares the readers by CPU time; run it with
// -cpu 1 so that the process's CPU time is the benchmark's:
//
//	go test ./enclave/ingest -run '^$' -bench CSVReaders -cpu 1 -count 3
func BenchmarkCSVReaders(b *testing.B) {
	data := benchCSV(b, 50000)
	b.Run("encoding-csv", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		defer reportCPU(b, processCPU(b), len(data))
		for b.Loop() {
			r := csv.NewReader(bytes.NewReader(data))
			r.ReuseRecord = true
			size := 0
			for {
				rec, err := r.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				for _, v := range rec {
					size += len(v)
					if !utf8.ValidString(v) {
						b.Fatal("invalid utf-8")
					}
				}
			}
			if size == 0 {
				b.Fatal("no fields")
			}
		}
	})
	b.Run("arrow-go-csv", func(b *testing.B) {
		fields := make([]arrow.Field, len(synth.Columns))
		for i, c := range synth.Columns {
			fields[i] = arrow.Field{Name: c, Type: arrow.BinaryTypes.String, Nullable: true}
		}
		schema := arrow.NewSchema(fields, nil)
		b.SetBytes(int64(len(data)))
		defer reportCPU(b, processCPU(b), len(data))
		for b.Loop() {
			r := arrowcsv.NewReader(bytes.NewReader(data), schema, arrowcsv.WithHeader(true),
				arrowcsv.WithChunk(DefaultBatchRows), arrowcsv.WithAllocator(memory.NewGoAllocator()))
			rows := 0
			for r.Next() {
				rows += int(r.RecordBatch().NumRows())
			}
			if err := r.Err(); err != nil || rows == 0 {
				b.Fatal(err, rows)
			}
			r.Release()
		}
	})
	b.Run("import-reader", func(b *testing.B) {
		// the import's reader (csvSplitter and Arrow buffers), to batches
		path := filepath.Join(b.TempDir(), "in.csv")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
		spec, err := ParseSpec(strings.NewReader(synth.Spec("bench")))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		defer reportCPU(b, processCPU(b), len(data))
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			r, err := newCSVReader(f, spec, memory.NewGoAllocator(), DefaultBatchRows, DefaultMaxLineBytes)
			if err != nil {
				b.Fatal(err)
			}
			rows := 0
			for {
				bt, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				rows += int(bt.rec.NumRows())
				bt.rec.Release()
			}
			r.Close()
			if rows == 0 {
				b.Fatal("no rows")
			}
		}
	})
	b.Run("splitter", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		defer reportCPU(b, processCPU(b), len(data))
		for b.Loop() {
			if !utf8.Valid(data) {
				b.Fatal("invalid utf-8")
			}
			size := 0
			splitBench(data, func(rec [][]byte) {
				for _, f := range rec {
					size += len(f)
				}
			})
			if size == 0 {
				b.Fatal("no fields")
			}
		}
	})
}
