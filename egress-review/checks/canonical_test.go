package checks

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestCanonicalDropsHiddenBytes writes an Arrow file whose int64 column
// hides a value under a null slot, rebuilds it, and checks that the value
// is gone while every cell, the marks and the schema stay.
func TestCanonicalDropsHiddenBytes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const secret = int64(0x3fa9c2d1e5b7a04c)
	md := arrow.NewMetadata([]string{MarkLevel, MarkMarket}, []string{"general-3", "authorized"})
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "district", Type: arrow.BinaryTypes.String},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true, Metadata: arrow.NewMetadata([]string{MarkStat}, []string{"count"})},
	}, &md)
	// the values buffer holds the secret under the null of row 1
	vals := memory.NewBufferBytes(arrow.Int64Traits.CastToBytes([]int64{120, secret, 98}))
	valid := memory.NewBufferBytes([]byte{0b101})
	n := array.NewInt64Data(array.NewData(arrow.PrimitiveTypes.Int64, 3, []*memory.Buffer{valid, vals}, nil, 1, 0))
	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"Haidian", "Chaoyang", "Fengtai"}, nil)
	d := sb.NewArray()
	sb.Release()
	rec := array.NewRecordBatch(sc, []arrow.Array{d, n}, 3)
	d.Release()
	n.Release()
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(sc), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	secretBytes := arrow.Int64Traits.CastToBytes([]int64{secret})
	if !bytes.Contains(buf.Bytes(), secretBytes) {
		t.Fatal("the test file does not hide the value")
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.arrow"), filepath.Join(dir, "out.arrow")
	if err := os.WriteFile(src, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ok, err := Canonical(t.Context(), src, "in.arrow", dst)
	if err != nil || !ok {
		t.Fatalf("Canonical: %v, %v", ok, err)
	}
	out, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, secretBytes) {
		t.Fatal("the hidden value survived")
	}
	r, err := ipc.NewFileReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Schema().Metadata().Values(); len(got) != 2 || got[0] != "general-3" {
		t.Fatalf("marks: got %v", got)
	}
	got, err := r.RecordBatch(0)
	if err != nil {
		t.Fatal(err)
	}
	c := got.Column(1).(*array.Int64)
	if c.Value(0) != 120 || !c.IsNull(1) || c.Value(2) != 98 || got.Column(0).(*array.String).Value(2) != "Fengtai" {
		t.Fatalf("cells changed: %v %v", got.Column(0), c)
	}
	// Text stays as it is (its every byte is read by the text rule).
	txt := filepath.Join(dir, "a.md")
	os.WriteFile(txt, []byte("# hi\n"), 0o600)
	if ok, err := Canonical(t.Context(), txt, "a.md", filepath.Join(dir, "b")); ok || err != nil {
		t.Fatalf("text: got %v, %v; want false, nil", ok, err)
	}
}

// TestCanonicalParquet rebuilds a Parquet table and reads back the same
// cells and marks, without the footer's statistics.
func TestCanonicalParquet(t *testing.T) {
	md, clean := cleanAggregate()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "t.parquet"), filepath.Join(dir, "c.parquet")
	if err := os.WriteFile(src, parquetFile(t, md, clean), 0o600); err != nil {
		t.Fatal(err)
	}
	if ok, err := Canonical(t.Context(), src, "t.parquet", dst); err != nil || !ok {
		t.Fatalf("Canonical: %v, %v", ok, err)
	}
	if kind, _, _ := Sniff(dst, "c.parquet"); kind != KindParquet {
		t.Fatalf("got kind %s, want parquet", kind)
	}
	var rows int64
	sc, err := table{}.forEach(t.Context(), dst, KindParquet, 1<<30, func(rec arrow.RecordBatch) error {
		rows += rec.NumRows()
		if got := rec.Column(0).(*array.String).Value(1); got != "Chaoyang" {
			t.Errorf("got %q, want Chaoyang", got)
		}
		return nil
	})
	if err != nil || rows != 3 {
		t.Fatalf("read back: %v, %d rows", err, rows)
	}
	if metaGet(sc.Metadata(), MarkLevel) != "general-3" {
		t.Fatalf("marks lost: %v", sc.Metadata())
	}
}
