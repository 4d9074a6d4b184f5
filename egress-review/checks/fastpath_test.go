package checks

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/egress-review/scan"
)

// hostileStrings are cells that exercise canonicalization and decoding.
var hostileStrings = []string{
	"13812345678", "１３８１２３４５６７８", "138 1234 5678", "Tel:138-1234-5678", "ZHANG SAN", "zhang\tsan",
	"张三", "张 三", "张\xff三", "\xff\xfe", "MTM4MTIzNDU2Nzg=", "3133383132333435363738", "id%3D13812345678",
	"11010519491231002X", "owner id=11010519491231002x", "-123456", "123456.78", "0.05", "Haidian", "2021-07",
	"", " ", "a", "C3911", "18-29", strings.Repeat("x", 300),
}

func fastAndRef(t *testing.T) (fast, ref *scan.Scanner, h *fingerprint.Hasher) {
	t.Helper()
	key := bytes.Repeat([]byte{7}, fingerprint.KeySize)
	h, err := fingerprint.NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	b := fingerprint.NewBuilder()
	b.SetKeyID(h.ID())
	for _, v := range []string{"13812345678", "张三", "zhang san", "-123456", "123456.78", "005", "11010519491231002X", "13812345678.00", "1.3812345678e+10"} {
		for _, x := range h.Value(v) {
			b.AddValue(x)
		}
	}
	b.AddRow(h.Row([]string{"13812345678", "张三", "3"}))
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	fast, err = scan.New(h, []*fingerprint.Set{set})
	if err != nil {
		t.Fatal(err)
	}
	return fast, fast.Unfiltered(), h
}

// TestCellScannerFastPath compares the filtered cell scan (length tags,
// integer digit counts, float shapes, memo) with the unfiltered one on
// hostile cells in every column type the scanner handles.
func TestCellScannerFastPath(t *testing.T) {
	fast, ref, _ := fastAndRef(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ints := []int64{13812345678, -13812345678, 123456, -123456, 0, 5, -1, 1 << 62, -(1 << 62), 202107}
	floats := []float64{13812345678, 1.3812345678e10, 123456.78, -123456.78, 0.05, 0.5, -1.5, 1234567.8, 1e21, 0.1, 3}

	build := map[string]func() arrow.Array{
		"string": func() arrow.Array {
			b := array.NewStringBuilder(mem)
			defer b.Release()
			b.AppendValues(hostileStrings, nil)
			b.AppendNull()
			return b.NewArray()
		},
		"string without nulls": func() arrow.Array {
			b := array.NewStringBuilder(mem)
			defer b.Release()
			for range 3 {
				b.AppendValues(hostileStrings, nil)
			}
			return b.NewArray()
		},
		"sliced string": func() arrow.Array {
			b := array.NewStringBuilder(mem)
			defer b.Release()
			b.AppendValues(hostileStrings, nil)
			b.AppendValues(hostileStrings, nil)
			arr := b.NewArray()
			defer arr.Release()
			return array.NewSlice(arr, 3, int64(len(hostileStrings)+5))
		},
		"int64 without nulls": func() arrow.Array {
			b := array.NewInt64Builder(mem)
			defer b.Release()
			b.AppendValues(ints, nil)
			return b.NewArray()
		},
		"sliced int64": func() arrow.Array {
			b := array.NewInt64Builder(mem)
			defer b.Release()
			b.AppendValues(ints, nil)
			arr := b.NewArray()
			defer arr.Release()
			return array.NewSlice(arr, 2, int64(len(ints)))
		},
		"float64 with nulls": func() arrow.Array {
			b := array.NewFloat64Builder(mem)
			defer b.Release()
			b.AppendValues(floats, nil)
			b.AppendNull()
			return b.NewArray()
		},
		"sliced float64": func() arrow.Array {
			b := array.NewFloat64Builder(mem)
			defer b.Release()
			b.AppendValues(floats, nil)
			arr := b.NewArray()
			defer arr.Release()
			return array.NewSlice(arr, 1, int64(len(floats)-1))
		},
		"large string": func() arrow.Array {
			b := array.NewLargeStringBuilder(mem)
			defer b.Release()
			b.AppendValues(hostileStrings, nil)
			return b.NewArray()
		},
		"binary": func() arrow.Array {
			b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
			defer b.Release()
			for _, s := range hostileStrings {
				b.Append([]byte(s))
			}
			return b.NewArray()
		},
		"dictionary": func() arrow.Array {
			b := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
			defer b.Release()
			for range 3 {
				for _, s := range hostileStrings {
					if err := b.AppendString(s); err != nil {
						t.Fatal(err)
					}
				}
			}
			return b.NewArray()
		},
		"int64": func() arrow.Array {
			b := array.NewInt64Builder(mem)
			defer b.Release()
			b.AppendValues(ints, nil)
			b.AppendNull()
			return b.NewArray()
		},
		"int32": func() arrow.Array {
			b := array.NewInt32Builder(mem)
			defer b.Release()
			for _, v := range ints {
				b.Append(int32(v))
			}
			return b.NewArray()
		},
		"uint64": func() arrow.Array {
			b := array.NewUint64Builder(mem)
			defer b.Release()
			for _, v := range ints {
				b.Append(uint64(v))
			}
			return b.NewArray()
		},
		"float64": func() arrow.Array {
			b := array.NewFloat64Builder(mem)
			defer b.Release()
			b.AppendValues(floats, nil)
			return b.NewArray()
		},
		"float32": func() arrow.Array {
			b := array.NewFloat32Builder(mem)
			defer b.Release()
			for _, v := range floats {
				b.Append(float32(v))
			}
			return b.NewArray()
		},
		"decimal": func() arrow.Array {
			b := array.NewDecimal128Builder(mem, &arrow.Decimal128Type{Precision: 20, Scale: 2})
			defer b.Release()
			for _, v := range ints {
				b.Append(decimal128.FromI64(v))
			}
			return b.NewArray()
		},
	}
	total := 0
	for name, mk := range build {
		t.Run(name, func(t *testing.T) {
			arr := mk()
			defer arr.Release()
			got := cellScanner{sc: fast, ts: fast.NewText()}
			want := cellScanner{sc: ref, ts: ref.NewText()}
			for range 2 { // the second pass answers from the memo
				got.array(arr)
				want.array(arr)
			}
			if got.err != nil || want.err != nil {
				t.Fatalf("errors: got %v and %v, want none", got.err, want.err)
			}
			if got.hits != want.hits || got.n != want.n {
				t.Errorf("hits and cells: got %d and %d, want %d and %d", got.hits, got.n, want.hits, want.n)
			}
			total += want.hits
		})
	}
	if total == 0 {
		t.Errorf("planted values found: got none, want some")
	}
}

// TestTableRowsFastPath compares row matching with and without the width
// filter.
func TestTableRowsFastPath(t *testing.T) {
	fast, ref, _ := fastAndRef(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, width := range []int{2, 3, 4} {
		var cols []col
		for j := range width {
			var vals []string
			for _, r := range [][]string{{"13812345678", "张三", "3", "x"}, {"张三", "3", "13812345678", "y"}, {"a", "b", "c", "d"}} {
				vals = append(vals, r[j])
			}
			cols = append(cols, col{name: string(rune('a' + j)), vals: vals})
		}
		rec := record(mem, nil, cols)
		got, want := make([]int, 1), make([]int, 1)
		tableRows(fast, rec, got)
		tableRows(ref, rec, want)
		rec.Release()
		if got[0] != want[0] {
			t.Errorf("width %d: got %d matched rows, want %d", width, got[0], want[0])
		}
		if width == 3 && want[0] != 2 {
			t.Errorf("width 3: reference matched %d rows, want 2", want[0])
		}
	}
}

// TestRowKind checks that the row-copy check's short sniff agrees with
// Sniff on whether a file has rows.
func TestRowKind(t *testing.T) {
	meta, cols := cleanAggregate()
	for _, tc := range []struct {
		name string
		data []byte
		want Kind
	}{
		{"t.arrow", arrowFile(t, meta, cols), KindArrowFile},
		{"t.bin", arrowStream(t, meta, cols), KindArrowStream},
		{"t.parquet", parquetFile(t, meta, cols), KindParquet},
		{"t.csv", []byte("a,b\n1,2\n"), KindCSV},
		{"t.TSV", []byte("a\tb\n1\t2\n"), KindCSV},
		{"t.txt", []byte("a,b\n1,2\n"), KindUnknown},
		{"t.json", []byte(`{"a":1}`), KindUnknown},
		{"t", []byte{}, KindUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := t.TempDir() + "/" + tc.name
			if err := os.WriteFile(p, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := rowKind(p, tc.name)
			if err != nil || got != tc.want {
				t.Errorf("rowKind: got %v, %v, want %v, nil", got, err, tc.want)
			}
			sniffed, _, _ := Sniff(p, tc.name)
			if hasRows := sniffed.Tabular() || sniffed == KindCSV; hasRows != (got != KindUnknown) {
				t.Errorf("Sniff says %v, rowKind %v: they disagree on rows", sniffed, got)
			}
		})
	}
}

// TestScanTextFileLongLines checks that a value across the boundary of the
// pieces in which a long line is scanned is found.
func TestScanTextFileLongLines(t *testing.T) {
	fast, _, _ := fastAndRef(t)
	const piece = 256 << 10
	for _, tc := range []struct {
		name   string
		filler string // repeated before the value
		sep    string // between filler and value
	}{
		{"commas", "ab,", ","},
		{"spaces only", "ab ", " "},
		{"spaced phone groups", "ab ", " "},
		{"one long token", "a", ","},
	} {
		for _, at := range []int{piece - 5, piece - 11, piece - 1, piece + 3} {
			t.Run(fmt.Sprintf("%s at %d", tc.name, at), func(t *testing.T) {
				value := "13812345678"
				if tc.name == "spaced phone groups" {
					value = "138 1234 5678"
				}
				var b bytes.Buffer
				for b.Len() < at-len(tc.sep) {
					b.WriteString(tc.filler)
				}
				b.Truncate(at - len(tc.sep))
				b.WriteString(tc.sep + value + ", tail\n")
				p := t.TempDir() + "/long.txt"
				if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
				var h hits
				if _, err := scanTextFile(t.Context(), fast, p, &h); err != nil {
					t.Fatal(err)
				}
				if got := h.count[ColumnText]; got < 1 {
					t.Errorf("hits: got %d, want at least 1", got)
				}
			})
		}
	}
}

// TestCellScannerMalformedOffsets checks that a string column whose offsets
// leave its values buffer (as a lying file's may) is an error, not a count.
func TestCellScannerMalformedOffsets(t *testing.T) {
	fast, _, _ := fastAndRef(t)
	for _, tc := range []struct {
		name    string
		offsets []int32
		wantErr bool
	}{
		// arrow-go checks the last offset itself; not the others.
		{"past the end inside", []int32{0, 2, 100, 3}, true},
		{"past the end inside, short", []int32{0, 2, 5, 3}, true},
		{"decreasing", []int32{0, 3, 1, 3}, true},
		{"negative inside", []int32{0, -4, 1, 2}, true},
		{"well formed", []int32{0, 1, 1, 3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offsets := memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(tc.offsets))
			values := memory.NewBufferBytes([]byte("abc"))
			data := array.NewData(arrow.BinaryTypes.String, len(tc.offsets)-1, []*memory.Buffer{nil, offsets, values}, nil, 0, 0)
			defer data.Release()
			arr := array.NewStringData(data)
			defer arr.Release()
			cs := cellScanner{sc: fast, ts: fast.NewText()}
			cs.array(arr)
			if got := cs.err != nil; got != tc.wantErr {
				t.Errorf("error: got %v, want an error %v", cs.err, tc.wantErr)
			}
		})
	}
}

// TestScanTextChunks checks that scanning a text a chunk of whole lines at
// a time finds what scanning it a line at a time finds, and counts its
// lines, for chunk sizes that cut it everywhere.
func TestScanTextChunks(t *testing.T) {
	fast, _, _ := fastAndRef(t)
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "2021-%02d-13 step %d: district Haidian\tprocessed %d records", i%12+1, i, i*7)
		switch i % 9 {
		case 0:
			b.WriteString(" contact 13812345678")
		case 3:
			b.WriteString(" tel 138 1234 5678,")
		case 5:
			b.WriteString("\r")
		case 7:
			b.WriteString(" 张三")
		}
		b.WriteString("\n")
	}
	for _, text := range []string{b.String(), b.String() + "last line 13812345678", "", "\n\n", "13812345678"} {
		wantHits, wantLines := 0, 0
		ref := fast.NewText()
		for _, line := range strings.SplitAfter(text, "\n") {
			if line != "" {
				wantHits += ref.Text([]byte(line))
				wantLines++
			}
		}
		if strings.Contains(text, "contact") && wantHits == 0 {
			t.Fatalf("reference hits: got none, want some")
		}
		for _, size := range []int{128, 200, 1000, 4096, textChunk} {
			t.Run(fmt.Sprintf("%d bytes by %d", len(text), size), func(t *testing.T) {
				var h hits
				lines, err := scanText(t.Context(), fast.NewText(), strings.NewReader(text), size, &h)
				if err != nil || lines != wantLines || h.count[ColumnText] != wantHits {
					t.Errorf("got %d hits in %d lines, %v, want %d in %d, nil", h.count[ColumnText], lines, err, wantHits, wantLines)
				}
			})
		}
	}
}

// scanKindFiles are files whose kind only a whole read tells, or whose
// head misleads: scanKind must route each as Sniff does.
func scanKindFiles(t testing.TB) map[string][]byte {
	meta, cols := cleanAggregate()
	tar := make([]byte, 600)
	copy(tar, "ARROW1")
	copy(tar[257:], "ustar")
	return map[string][]byte{
		"t.arrow":        arrowFile(t, meta, cols),
		"t.bin":          arrowStream(t, meta, cols),
		"t.parquet":      parquetFile(t, meta, cols),
		"t.png":          pngFile(nil, nil),
		"t.pdf":          []byte("%PDF-1.4\n"),
		"tar.arrow":      tar,
		"ok.json":        []byte(`{"a": [1, "13812345678"]}`),
		"bad.json":       []byte(`{"a": `),
		"binary.json":    []byte("{\"a\": \"\x00\"}"),
		"looks.txt":      []byte(`  [1, 2, 3]`),
		"looks-bad.txt":  []byte(`[1, 2`),
		"braces.csv":     []byte("{a,b}\n1,2\n"),
		"braces.md":      []byte("{note}\n"),
		"plain.txt":      []byte("hello 13812345678\n"),
		"binary.txt":     []byte("hello\x00\x01\x02 13812345678"),
		"invalid.txt":    []byte("hello \xff\xfe"),
		"empty":          nil,
		"script.sh":      []byte("#!/bin/sh\necho 13812345678\n"),
		"late-brace.txt": append(bytes.Repeat([]byte(" "), 600), '{'),
	}
}

// TestScanKindRoutesAsSniff checks that the raw-values check's short sniff
// scans every file as the full one would.
func TestScanKindRoutesAsSniff(t *testing.T) {
	for name, data := range scanKindFiles(t) {
		t.Run(name, func(t *testing.T) {
			compareScanKind(t, name, data)
		})
	}
}

func compareScanKind(t *testing.T, name string, data []byte) {
	t.Helper()
	p := t.TempDir() + "/f"
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sniffed, _, err := Sniff(p, name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := scanKind(p, name)
	if err != nil || scanRoute(got) != scanRoute(sniffed) {
		t.Errorf("scanKind(%q): got %v (scanned as %v), %v, want scanned as %v (Sniff says %v)", name, got, scanRoute(got), err, scanRoute(sniffed), sniffed)
	}
}

func FuzzScanKind(f *testing.F) {
	for name, data := range scanKindFiles(f) {
		f.Add(name, data)
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if strings.ContainsAny(name, "/\x00") {
			return
		}
		compareScanKind(t, name, data)
	})
}
