package checks

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// Synthetic values of the test input: a resident ID with a valid check
// digit, a mobile number and a name that belong to nobody.
const (
	testID    = "11010519491231002X"
	testPhone = "13812345678"
	testName  = "Zhang Sanfeng"
)

// env is one export request under construction.
type env struct {
	t   testing.TB
	dir string
	h   *fingerprint.Hasher
	req *review.Request
	mem *memory.CheckedAllocator
}

// inputRows are the input's rows (desensitized form), fingerprinted as rows.
var inputRows = [][]string{
	{"91110108MA01ABCD2X", "Haidian", "2023-05", "50000"},
	{"91110105MA02EFGH3Y", "Chaoyang", "2023-06", "120000"},
	{"91110106MA03JKLM4Z", "Fengtai", "2023-07", "80000"},
}

func newEnv(t testing.TB) *env {
	t.Helper()
	key := make([]byte, fingerprint.KeySize)
	for i := range key {
		key[i] = byte(7 * i)
	}
	h, err := fingerprint.NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	b := fingerprint.NewBuilder()
	b.SetKeyID(h.ID())
	for _, v := range []string{testID, testPhone, testName, "张三丰"} {
		for _, x := range h.Value(v) {
			b.AddValue(x)
		}
	}
	for _, r := range inputRows {
		b.AddRow(h.Row(r))
	}
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: t.TempDir(), h: h, mem: memory.NewCheckedAllocator(memory.NewGoAllocator())}
	in := filepath.Join(e.dir, "input.arrow")
	if err := os.WriteFile(in, testInputFile(t), 0o600); err != nil {
		t.Fatal(err)
	}
	e.req = &review.Request{
		Hasher: h,
		Inputs: []review.Input{{Dataset: "credit_penalties", Version: 1, Level: "general-3", Market: "authorized",
			HasPI: true, Fingerprints: set, Rows: 3, Path: in}},
	}
	return e
}

// testInputFile is the input's records as the output contract reads them:
// per district of cleanAggregate, as many records as its count, with
// amounts whose mean is its mean_amount (deviations of +-1000 and 0 that
// cancel out, so that no record dominates and not all are the same).
func testInputFile(t testing.TB) []byte {
	_, clean := cleanAggregate()
	var districts []string
	var amounts []float64
	for i, d := range clean[0].vals.([]string) {
		n, mean := clean[1].vals.([]int64)[i], clean[2].vals.([]float64)[i]
		for k := int64(0); k < n; k++ {
			dev := 1000.0
			switch {
			case k == n-1 && n%2 == 1:
				dev = 0
			case k%2 == 1:
				dev = -1000
			}
			districts = append(districts, d)
			amounts = append(amounts, mean+dev)
		}
	}
	return arrowFile(t, marksMeta("general-3", "authorized"), []col{
		{name: "district", vals: districts},
		{name: "amount", vals: amounts},
	})
}

func (e *env) add(name string, data []byte) {
	e.t.Helper()
	fh, err := os.CreateTemp(e.dir, "out")
	if err != nil {
		e.t.Fatal(err)
	}
	p := fh.Name()
	fh.Close()
	if err := os.WriteFile(p, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	e.req.Files = append(e.req.Files, review.File{Name: name, Path: p, SHA256: hex.EncodeToString(sum[:])})
}

func (e *env) run() review.Result {
	e.t.Helper()
	res := review.Run(e.t.Context(), e.req, WithAllocator(e.mem)...)
	e.mem.AssertSize(e.t, 0)
	return res
}

// col is a column of a test table: a field and its values (string or
// int64 or float64).
type col struct {
	name  string
	level string // enclave.level mark; "" for none
	stat  string // enclave.stat mark; "" for none
	vals  any
}

func marksMeta(level, market string) map[string]string {
	m := map[string]string{}
	if level != "" {
		m[MarkLevel] = level
	}
	if market != "" {
		m[MarkMarket] = market
	}
	return m
}

func record(mem memory.Allocator, schemaMeta map[string]string, cols []col) arrow.RecordBatch {
	var fields []arrow.Field
	var arrs []arrow.Array
	n := 0
	for _, c := range cols {
		fm := map[string]string{}
		if c.level != "" {
			fm[MarkLevel] = c.level
		}
		if c.stat != "" {
			fm[MarkStat] = c.stat
		}
		var a arrow.Array
		var dt arrow.DataType
		switch v := c.vals.(type) {
		case []string:
			b := array.NewStringBuilder(mem)
			b.AppendValues(v, nil)
			a, dt, n = b.NewArray(), arrow.BinaryTypes.String, len(v)
			b.Release()
		case []int64:
			b := array.NewInt64Builder(mem)
			b.AppendValues(v, nil)
			a, dt, n = b.NewArray(), arrow.PrimitiveTypes.Int64, len(v)
			b.Release()
		case []float64:
			b := array.NewFloat64Builder(mem)
			b.AppendValues(v, nil)
			a, dt, n = b.NewArray(), arrow.PrimitiveTypes.Float64, len(v)
			b.Release()
		}
		fields = append(fields, arrow.Field{Name: c.name, Type: dt, Nullable: true, Metadata: arrow.MetadataFrom(fm)})
		arrs = append(arrs, a)
	}
	md := arrow.MetadataFrom(schemaMeta)
	rec := array.NewRecordBatch(arrow.NewSchema(fields, &md), arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

func arrowFile(t testing.TB, schemaMeta map[string]string, cols []col) []byte {
	t.Helper()
	mem := memory.NewGoAllocator()
	rec := record(mem, schemaMeta, cols)
	defer rec.Release()
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(mem))
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

func arrowStream(t testing.TB, schemaMeta map[string]string, cols []col) []byte {
	t.Helper()
	mem := memory.NewGoAllocator()
	rec := record(mem, schemaMeta, cols)
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(mem))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func parquetFile(t testing.TB, schemaMeta map[string]string, cols []col) []byte {
	t.Helper()
	mem := memory.NewGoAllocator()
	rec := record(mem, schemaMeta, cols)
	defer rec.Release()
	tbl := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
	defer tbl.Release()
	var buf bytes.Buffer
	if err := pqarrow.WriteTable(tbl, &buf, 1024, parquet.NewWriterProperties(parquet.WithAllocator(mem)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.Write(&b, binary.BigEndian, crc.Sum32())
	return b.Bytes()
}

// pngFile is a 1x1 grey PNG with extra chunks before IEND and trailing
// bytes after it.
func pngFile(extra [][]byte, trailer []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	b.Write(pngChunk("IHDR", []byte{0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0}))
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte{0, 0x80})
	zw.Close()
	b.Write(pngChunk("IDAT", z.Bytes()))
	for _, c := range extra {
		b.Write(c)
	}
	b.Write(pngChunk("IEND", nil))
	b.Write(trailer)
	return b.Bytes()
}

func zlibBytes(p []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(p)
	zw.Close()
	return z.Bytes()
}

// findings returns the findings of check name with verdict v.
func findings(res review.Result, name string, v review.Verdict) []review.Finding {
	var out []review.Finding
	for _, f := range res.Findings {
		if f.Check == name && f.Verdict == v {
			out = append(out, f)
		}
	}
	return out
}

// cleanAggregate is a district-level count table with correct marks.
func cleanAggregate() (map[string]string, []col) {
	return marksMeta("general-3", "authorized"), []col{
		{name: "district", level: "general-3", vals: []string{"Haidian", "Chaoyang", "Fengtai"}},
		{name: "n", level: "general-3", stat: "count", vals: []int64{120, 98, 41}},
		{name: "mean_amount", level: "general-3", stat: "mean", vals: []float64{51234.5, 48211.25, 60500}},
	}
}
