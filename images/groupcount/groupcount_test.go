package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// input builds a synthetic marked dataset: region values a x12, b x3, c x10,
// null x10, with a second column at level "important".
func input(t testing.TB, mem memory.Allocator, stream bool) []byte {
	t.Helper()
	smd := arrow.NewMetadata(
		[]string{"enclave.dataset", "enclave.version", "enclave.level", "enclave.market", "other"},
		[]string{"credit_penalties", "3", "general-2", "authorized", "dropped"})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true,
			Metadata: arrow.NewMetadata([]string{"enclave.level", "enclave.rule"}, []string{"general-3", "keep"})},
		{Name: "holder", Type: arrow.BinaryTypes.String,
			Metadata: arrow.NewMetadata([]string{"enclave.level", "enclave.pi"}, []string{"important", "identity"})},
	}, &smd)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	add := func(v string, n int, null bool) {
		for i := 0; i < n; i++ {
			if null {
				b.Field(0).(*array.StringBuilder).AppendNull()
			} else {
				b.Field(0).(*array.StringBuilder).Append(v)
			}
			b.Field(1).(*array.StringBuilder).Append("pseudonym")
		}
	}
	add("a", 12, false)
	add("b", 3, false)
	add("c", 10, false)
	add("", 10, true)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	if stream {
		w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		w.Close()
	} else {
		if err := Write(mem, &buf, rec); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream bool
	}{{"ipc file", false}, {"ipc stream", true}} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			data := input(t, mem, tc.stream)
			rec, err := Count(mem, bytes.NewReader(data), "region", 10)
			if err != nil {
				t.Fatalf("Count: %v", err)
			}
			defer rec.Release()
			keys := rec.Column(0).(*array.String)
			counts := rec.Column(1).(*array.Int64)
			type row struct {
				key   string
				null  bool
				count int64
			}
			want := []row{{"a", false, 12}, {"c", false, 10}, {"", true, 10}}
			if int(rec.NumRows()) != len(want) {
				t.Fatalf("rows: got %d, want %d", rec.NumRows(), len(want))
			}
			for i, w := range want {
				got := row{keys.Value(i), keys.IsNull(i), counts.Value(i)}
				if got != w {
					t.Errorf("row %d: got %+v, want %+v", i, got, w)
				}
			}
			s := rec.Schema()
			md := s.Metadata()
			checks := []struct{ what, got, want string }{
				{"schema source", val(md, "enclave.source"), "credit_penalties@3"},
				{"schema level", val(md, "enclave.level"), "important"},
				{"schema market", val(md, "enclave.market"), "authorized"},
				{"schema non-mark key", val(md, "other"), ""},
				{"key level", val(s.Field(0).Metadata, "enclave.level"), "important"},
				{"key rule", val(s.Field(0).Metadata, "enclave.rule"), "keep"},
				{"count level", val(s.Field(1).Metadata, "enclave.level"), "important"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

func val(md arrow.Metadata, k string) string {
	i := md.FindKey(k)
	if i < 0 {
		return ""
	}
	return md.Values()[i]
}

func TestCountErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	good := input(t, mem, false)
	tests := []struct {
		name string
		data []byte
		by   string
	}{
		{"missing column", good, "nope"},
		{"not arrow", []byte("region,count\na,1\n"), "region"},
		{"truncated", good[:len(good)/2], "region"},
		{"empty", nil, "region"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := Count(mem, bytes.NewReader(tc.data), tc.by, 10)
			if err == nil {
				rec.Release()
				t.Fatalf("Count: got nil error, want an error")
			}
		})
	}
}

func TestHigher(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"general-1", "general-3", "general-3"},
		{"important", "general-2", "important"},
		{"", "general-2", "general-2"},
		{"general-2", "bogus", "core"},
	}
	for _, tc := range tests {
		t.Run(tc.a+"/"+tc.b, func(t *testing.T) {
			if got := higher(tc.a, tc.b); got != tc.want {
				t.Errorf("higher(%q, %q): got %q, want %q", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "data.arrow"), filepath.Join(dir, "out.arrow")
	if err := os.WriteFile(in, input(t, memory.NewGoAllocator(), false), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(in, "region", out, 10); err != nil {
		t.Fatalf("run: %v", err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fr, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatalf("output not an arrow file: %v", err)
	}
	defer fr.Close()
	if got := val(fr.Schema().Metadata(), "enclave.source"); got != "credit_penalties@3" {
		t.Errorf("output source: got %q, want %q", got, "credit_penalties@3")
	}
	if err := run(in, "region", out, 10); err == nil {
		t.Errorf("second run over an existing output: got nil error, want an error")
	}
}

func FuzzCount(f *testing.F) {
	f.Add(input(f, memory.NewGoAllocator(), false))
	f.Add(input(f, memory.NewGoAllocator(), true))
	f.Add([]byte("ARROW1\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		rec, err := Count(mem, bytes.NewReader(data), "region", 10)
		if err == nil {
			if rec.NumCols() != 2 {
				t.Errorf("columns: got %d, want 2", rec.NumCols())
			}
			rec.Release()
		}
	})
}

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in testdata/fuzz")

// TestSeedCorpus keeps testdata/fuzz/FuzzCount in step with input(): run
// with -update to rewrite it.
func TestSeedCorpus(t *testing.T) {
	for _, tc := range []struct {
		file   string
		stream bool
	}{{"file-format", false}, {"stream-format", true}} {
		t.Run(tc.file, func(t *testing.T) {
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", input(t, memory.NewGoAllocator(), tc.stream))
			p := filepath.Join("testdata", "fuzz", "FuzzCount", tc.file)
			if *update {
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("seed: %v (run with -update)", err)
			}
			if string(got) != want {
				t.Errorf("seed %s: got stale content, want current input (run with -update)", tc.file)
			}
		})
	}
}
