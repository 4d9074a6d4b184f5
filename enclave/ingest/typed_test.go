package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/containerd/errdefs"
)

const typedSpec = `name: typed
market: ordinary
columns:
  a: {level: general-2, rule: keep}
  b: {level: general-3, rule: {generalize: {bucket: 100}}}
  d: {level: general-2, rule: {generalize: {date: month}}}
`

// typedRecord makes a small batch: a string, b int64 (with a null), d date32.
func typedRecord(mem memory.Allocator, rows int) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := 0; i < rows; i++ {
		b.Field(0).(*array.StringBuilder).Append("v" + string(rune('a'+i%26)))
		if i == 1 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Int64Builder).Append(int64(i*37 + 5))
		}
		b.Field(2).(*array.Date32Builder).Append(arrow.Date32(19000 + i*40))
	}
	return b.NewRecordBatch()
}

func arrowFileBytes(t testing.TB, stream bool) []byte {
	t.Helper()
	mem := memory.NewGoAllocator()
	rec := typedRecord(mem, 10)
	defer rec.Release()
	var buf bytes.Buffer
	var w interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
	if stream {
		w = ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	} else {
		fw, err := ipc.NewFileWriter(&buf, ipc.WithSchema(rec.Schema()))
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	}
	for i := 0; i < 2; i++ {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func parquetBytes(t testing.TB) []byte {
	t.Helper()
	mem := memory.NewGoAllocator()
	rec := typedRecord(mem, 20)
	defer rec.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(rec.Schema(), &buf, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(8)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportTyped(t *testing.T) {
	tests := []struct {
		name   string
		data   func(testing.TB) []byte
		format string
		rows   int64
	}{
		{"arrow file", func(t testing.TB) []byte { return arrowFileBytes(t, false) }, "", 20},
		{"arrow stream", func(t testing.TB) []byte { return arrowFileBytes(t, true) }, "", 20},
		{"parquet", parquetBytes, "", 20},
		{"parquet named", parquetBytes, "parquet", 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			in := e.write(t, "in", tc.data(t))
			opts := e.opts("v")
			opts.BatchRows = 6
			res, err := Import(context.Background(), Source{Path: in, Format: tc.format}, mustSpec(t, typedSpec), opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows != tc.rows {
				t.Fatalf("got %d rows, want %d", res.Rows, tc.rows)
			}
			_, cols := e.readBack(t, opts.Dir, res)
			// b: i*37+5 bucketed by 100; row 1 is null
			if got := strings.Join(cols["b"][:4], ","); got != "0,<null>,0,100" {
				t.Fatalf("got b %s, want 0,<null>,0,100", got)
			}
			// d: date32 19000 is 2022-01-08
			if cols["d"][0] != "2022-01" || cols["a"][2] != "vc" {
				t.Fatalf("got d %q a %q, want 2022-01 and vc", cols["d"][0], cols["a"][2])
			}
		})
	}
}

func TestImportTypedRuleMismatch(t *testing.T) {
	e := newEnv(t)
	in := e.write(t, "in.arrow", arrowFileBytes(t, false))
	spec := mustSpec(t, strings.Replace(typedSpec, "d: {level: general-2, rule: {generalize: {date: month}}}", "d: {level: general-2, rule: {generalize: {bucket: 5}}}", 1))
	opts := e.opts("v")
	_, err := Import(context.Background(), Source{Path: in}, spec, opts)
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `column "d" of type date32`) {
		t.Fatalf("got %v, want a type error naming column d", err)
	}
}

func TestImportBrokenTyped(t *testing.T) {
	af := arrowFileBytes(t, false)
	as := arrowFileBytes(t, true)
	pq := parquetBytes(t)
	flip := func(b []byte, at int) []byte { c := bytes.Clone(b); c[at] ^= 0xff; return c }
	tests := []struct {
		name string
		data []byte
	}{
		{"arrow file truncated", af[:len(af)/2]},
		{"arrow file footer length broken", flip(af, len(af)-10)},
		{"arrow stream truncated", as[:len(as)-40]},
		{"arrow magic only", []byte("ARROW1\x00\x00")},
		{"parquet truncated", pq[:len(pq)-20]},
		{"parquet magic only", []byte("PAR1PAR1")},
		{"parquet footer length broken", flip(pq, len(pq)-6)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			in := e.write(t, "in", tc.data)
			opts := e.opts("v")
			_, err := Import(context.Background(), Source{Path: in}, mustSpec(t, typedSpec), opts)
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got %v, want an invalid argument error", err)
			}
			if _, serr := os.Stat(opts.Dir); !os.IsNotExist(serr) {
				t.Fatal("got the staging directory left, want it removed")
			}
		})
	}
}

// fuzzImport imports data with the typed spec and checks the invariants:
// no panic, an error leaves nothing, no Arrow memory leaks after a
// successful import. (After a panic that arrow-go raised and Import
// recovered, arrow-go's own buffers may stay unreleased; the Go allocator's
// memory is garbage collected all the same.)
func fuzzImport(t *testing.T, data []byte, format, spec string) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	root := t.TempDir()
	in := filepath.Join(root, "in")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	opts := ImportOptions{Version: 1, Dir: filepath.Join(root, "v"), Keyring: newFakeKeyring(), KeyObject: "dataset/f@1",
		Now: testNow, Allocator: mem, BatchRows: 4, MaxLineBytes: 4096}
	s, err := ParseSpec(strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import(context.Background(), Source{Path: in, Format: format}, s, opts)
	if err != nil {
		if _, serr := os.Stat(opts.Dir); !os.IsNotExist(serr) {
			t.Fatalf("got the staging directory left after %v, want it removed", err)
		}
		if errdefs.IsUnknown(err) && !errdefs.IsInvalidArgument(err) && !errdefs.IsNotFound(err) {
			t.Fatalf("got an unclassified error %v, want invalid argument", err)
		}
		return
	}
	mem.AssertSize(t, 0)
	if res.Rows < 0 || res.WrappedKey == nil {
		t.Fatalf("got result rows %d key %v, want a valid result", res.Rows, res.WrappedKey != nil)
	}
}

func FuzzImportArrow(f *testing.F) {
	f.Add(arrowFileBytes(f, false))
	f.Add(arrowFileBytes(f, true))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, data, "arrow", typedSpec) })
}

func FuzzImportParquet(f *testing.F) {
	f.Add(parquetBytes(f))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, data, "parquet", typedSpec) })
}

const csvFuzzSpec = `name: c
market: ordinary
columns:
  a: {level: general-2, rule: keep, acknowledge: [resident-id, mobile, email, bank-card]}
  b: {level: general-3, rule: {generalize: {bucket: 100}}}
  d: {level: general-2, pi: identity, rule: {mask: {keep_first: 1}}}
`

func FuzzImportCSV(f *testing.F) {
	f.Add([]byte("a,b,d\nx,1,abc\ny,200,\n"))
	f.Add([]byte("a,b,d\n\"q,\"\"x\",3,z\n"))
	f.Add([]byte("d,a,b\n,,\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, data, "csv", csvFuzzSpec) })
}

// arrowFileOf returns an Arrow file of the record batches, which share a
// schema.
func arrowFileOf(t testing.TB, recs ...arrow.RecordBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(recs[0].Schema()))
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		err = errors.Join(err, w.Write(rec))
	}
	if err := errors.Join(err, w.Close()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportRefusesEmptyRowClaims(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.Null, Nullable: true}}, nil)
	col := array.NewNull(1 << 30)
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, 1<<30)
	file := arrowFileOf(t, rec)
	rec.Release()
	col.Release()
	e := newEnv(t)
	in := e.write(t, "n.arrow", file)
	spec := mustSpec(t, "name: n\nmarket: ordinary\ncolumns:\n  n: {level: general-1, rule: keep}\n")
	_, err := Import(context.Background(), Source{Path: in}, spec, e.opts("v"))
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("got %v, want a malformed-batch error instead of a billion-row loop", err)
	}
}

// TestImportMutatedTyped complements the slow go test -fuzz runs of the
// Arrow and Parquet fuzzers: a few hundred deterministic byte mutations of
// valid files must each import cleanly or fail with a classified error and
// leave nothing behind.
func TestImportMutatedTyped(t *testing.T) {
	seeds := [][]byte{arrowFileBytes(t, false), arrowFileBytes(t, true), parquetBytes(t)}
	formats := []string{"arrow", "arrow", "parquet"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 240; i++ {
		k := i % 3
		d := bytes.Clone(seeds[k])
		for j := 0; j < 1+r.IntN(4); j++ {
			d[r.IntN(len(d))] = byte(r.IntN(256))
		}
		fuzzImport(t, d, formats[k], typedSpec)
	}
}

// bigBatchArrow is an Arrow file or stream of one batch of rows typed rows.
func bigBatchArrow(t *testing.T, rows int, stream bool) []byte {
	t.Helper()
	rec := typedRecord(memory.NewGoAllocator(), rows)
	defer rec.Release()
	var buf bytes.Buffer
	var err error
	if stream {
		w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
		err = errors.Join(w.Write(rec), w.Close())
	} else {
		w, ferr := ipc.NewFileWriter(&buf, ipc.WithSchema(rec.Schema()))
		if ferr != nil {
			t.Fatal(ferr)
		}
		err = errors.Join(w.Write(rec), w.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestImportArrowSliced: one large batch is handed on in slices of about
// arrowSliceBytes (the mapping's pages given back on the way), and the
// dataset is the same as with the batch whole, row for row and in order.
func TestImportArrowSliced(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream %v", stream), func(t *testing.T) {
			e := newEnv(t)
			const rows = 5000
			in := e.write(t, "big", bigBatchArrow(t, rows, stream))
			spec := mustSpec(t, typedSpec)
			imp := func(name string) (*Result, map[string][]string, []int64) {
				opts := e.opts(name)
				var progress []int64
				opts.Progress = func(b, _ int64) { progress = append(progress, b) }
				res, err := Import(context.Background(), Source{Path: in}, spec, opts)
				if err != nil {
					t.Fatal(err)
				}
				_, cols := e.readBack(t, opts.Dir, res)
				return res, cols, progress
			}
			wantRes, want, _ := imp("whole")
			defer func(s, d int64) { arrowSliceBytes, arrowDropBytes = s, d }(arrowSliceBytes, arrowDropBytes)
			arrowSliceBytes, arrowDropBytes = 4096, 8192
			res, got, progress := imp("sliced")
			// about 17 bytes a row: some 20 slices of 4096 bytes
			if len(progress) < 10 || !slices.IsSorted(progress) || res.Rows != rows {
				t.Fatalf("got %d rows in %d slices (progress sorted %v), want %d in about 20", res.Rows, len(progress), slices.IsSorted(progress), rows)
			}
			for _, c := range []string{"a", "b", "d"} {
				if !slices.Equal(got[c], want[c]) {
					t.Fatalf("column %q differs when sliced", c)
				}
			}
			if res.FingerprintRows != wantRes.FingerprintRows || res.FingerprintValues != wantRes.FingerprintValues {
				t.Fatalf("got %d/%d fingerprints sliced, want %d/%d", res.FingerprintValues, res.FingerprintRows, wantRes.FingerprintValues, wantRes.FingerprintRows)
			}
		})
	}
}

// TestImportArrowDictionary: a dictionary-encoded column (which arrow-go's
// mapped file reader cannot open) is read through the mapped stream.
func TestImportArrowDictionary(t *testing.T) {
	mem := memory.NewGoAllocator()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	db := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
	defer db.Release()
	for _, v := range []string{"x", "y", "x", "z"} {
		db.AppendString(v)
	}
	col := db.NewArray()
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: dt, Nullable: true}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, 4)
	defer rec.Release()
	file := arrowFileOf(t, rec, rec)
	e := newEnv(t)
	spec := mustSpec(t, "name: dict\nmarket: ordinary\ncolumns:\n  a: {level: general-1, rule: keep}\n")
	opts := e.opts("v")
	res, err := Import(context.Background(), Source{Path: e.write(t, "d.arrow", file)}, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, cols := e.readBack(t, opts.Dir, res)
	if res.Rows != 8 || strings.Join(cols["a"], ",") != "x,y,x,z,x,y,x,z" {
		t.Fatalf("got %d rows %v, want 8 rows x,y,x,z twice", res.Rows, cols["a"])
	}
}

// TestImportParquetBatchBytes: Parquet batches hold as many rows as
// parquetBatchBytes does by the row group's size, and never span row
// groups.
func TestImportParquetBatchBytes(t *testing.T) {
	e := newEnv(t)
	in := e.write(t, "p.parquet", parquetBytes(t)) // 20 rows, row groups of 8
	batches := func(name string) int {
		opts := e.opts(name)
		opts.BatchRows = 1000
		n := 0
		opts.Progress = func(int64, int64) { n++ }
		res, err := Import(context.Background(), Source{Path: in}, mustSpec(t, typedSpec), opts)
		if err != nil || res.Rows != 20 {
			t.Fatalf("got %v rows (%v), want 20", res, err)
		}
		return n
	}
	if n := batches("whole"); n != 3 {
		t.Fatalf("got %d batches, want one per row group (3)", n)
	}
	defer func(n int64) { parquetBatchBytes = n }(parquetBatchBytes)
	parquetBatchBytes = 1
	if n := batches("bytes"); n != 20 {
		t.Fatalf("got %d batches of a 1-byte aim, want one per row (20)", n)
	}
}
