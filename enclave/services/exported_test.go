package services

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/ingest"
)

func arrowTable(t testing.TB) []byte {
	t.Helper()
	md := func(pi, rule string) arrow.Metadata {
		return arrow.NewMetadata([]string{ingest.MarkPI, ingest.MarkRule}, []string{pi, rule})
	}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "district", Type: arrow.BinaryTypes.String},
		{Name: "phone", Type: arrow.BinaryTypes.String, Metadata: md("identity", "keep")},
		{Name: "phone_masked", Type: arrow.BinaryTypes.String, Metadata: md("identity", "mask{3,4}")},
		{Name: "count", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(sc))
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.NewGoAllocator(), sc)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"north", "south"}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"13800000000", "13900000000"}, nil)
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"138****0000", "139****0000"}, nil)
	b.Field(3).(*array.Int64Builder).AppendValues([]int64{12, 30}, nil)
	rec := b.NewRecord()
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	b.Release()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseTableAndCheckColumns(t *testing.T) {
	tab, err := ParseTable("counts.arrow", arrowTable(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 2 || tab.Rows[1][0] != "south" || tab.Rows[1][3] != "30" || tab.Columns[1].PI != "identity" || tab.Columns[1].Rule != "keep" {
		t.Fatalf("arrow table: got %+v", tab)
	}
	for _, tc := range []struct {
		name, key string
		cols      []string
		want      string
	}{
		{"count by district", "district", []string{"count"}, ""},
		{"masked phone", "district", []string{"phone_masked", "count"}, ""},
		{"raw phone", "district", []string{"phone"}, "personal information (identity) stored as it is"},
		{"lossy key", "phone_masked", []string{"count"}, "lossy rule"},
		{"unknown column", "district", []string{"nope"}, "has no column"},
		{"twice", "district", []string{"count", "count"}, "named twice"},
		{"the key again", "district", []string{"district"}, "named twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Service{Mode: Query, Key: tc.key, Columns: tc.cols}
			err := s.checkTable(tab)
			if tc.want == "" {
				if err != nil || s.File != "counts.arrow" {
					t.Fatalf("got %v (file %q), want accepted", err, s.File)
				}
				return
			}
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want invalid argument naming %q", err, tc.want)
			}
		})
	}

	csvTab, err := ParseTable("counts.csv", []byte("district,count\nnorth,12\nsouth,30\n"))
	if err != nil || len(csvTab.Rows) != 2 || csvTab.Rows[0][1] != "12" {
		t.Fatalf("csv table: got %+v %v", csvTab, err)
	}
	for _, bad := range []struct{ name, data, want string }{
		{"counts.csv", "district,count\nnorth\n", "line 2"},
		{"counts.csv", "a,a\n1,2\n", "repeated"},
		{"counts.csv", "", "no CSV header"},
		{"counts.txt", "district,count\n", "neither"},
		{"counts.arrow", "ARROW1\x00\x00garbage", "not a readable Arrow"},
	} {
		if _, err := ParseTable(bad.name, []byte(bad.data)); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s %q: got %v, want invalid argument naming %q", bad.name, bad.data, err, bad.want)
		}
	}
}

// FuzzParseTable: a released file read as a table either parses into
// rows as wide as its columns or is refused as invalid argument; never a
// panic.
func FuzzParseTable(f *testing.F) {
	f.Add("t.csv", []byte("district,count\nnorth,12\n"))
	f.Add("t.arrow", arrowTable(f))
	f.Add("t.csv", []byte("a,\"b\nc\"\n1,2\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		tab, err := ParseTable(name, data)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got %v, want invalid argument", err)
			}
			return
		}
		for i, r := range tab.Rows {
			if len(r) != len(tab.Columns) {
				t.Fatalf("row %d has %d values for %d columns", i, len(r), len(tab.Columns))
			}
		}
	})
}
