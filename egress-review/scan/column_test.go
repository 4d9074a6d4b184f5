package scan

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// column lays cells out as an Arrow string column does: the offsets and
// the values buffer, with pad bytes after the values (0 to 7, so that the
// word reads of short cells meet the end of the buffer) and skip cells in
// front that the returned offsets leave out (a sliced array).
func column(cells []string, skip, pad int) ([]int32, []byte) {
	var data []byte
	offsets := []int32{0}
	for i := range skip {
		data = append(data, strings.Repeat("#", i+1)...)
		offsets = append(offsets, int32(len(data)))
	}
	for _, c := range cells {
		data = append(data, c...)
		offsets = append(offsets, int32(len(data)))
	}
	for range pad {
		data = append(data, 'z')
	}
	return offsets[skip:], data[: len(data)-pad : len(data)-pad]
}

// compareColumns checks Strings, Ints and Floats of the filtered scanner
// against the per-cell methods of the unfiltered one, cell by cell.
func compareColumns(t *testing.T, fast, ref *Scanner, cells []string) {
	t.Helper()
	want := 0
	for _, c := range cells {
		if ref.Value(c) {
			want++
		}
	}
	ts := fast.NewText()
	for _, skip := range []int{0, 3} {
		for _, pad := range []int{0, 3, 8} {
			offsets, data := column(cells, skip, pad)
			for round := range 2 { // the second round answers from the memo
				if got, err := ts.Strings(offsets, data); err != nil || got != want {
					t.Errorf("Strings(%q) skip %d pad %d round %d: got %d, %v, want %d, nil", cells, skip, pad, round, got, err, want)
				}
			}
		}
	}
	var ints []int64
	var floats []float64
	for _, c := range cells {
		if i, err := strconv.ParseInt(c, 10, 64); err == nil {
			ints = append(ints, i)
		}
		if f, err := strconv.ParseFloat(c, 64); err == nil {
			floats = append(floats, f)
		}
		// The bytes of the cell as numbers too: any bit pattern.
		for b := []byte(c); len(b) >= 8; b = b[8:] {
			ints = append(ints, int64(binary.LittleEndian.Uint64(b)))
			floats = append(floats, math.Float64frombits(binary.LittleEndian.Uint64(b)))
		}
	}
	for i := range min(len(ints), 8) {
		// Suffixes too, so that the range filter meets narrow ranges.
		want := 0
		for _, v := range ints[i:] {
			if ref.Int(v) {
				want++
			}
		}
		if got := fast.Ints(ints[i:]); got != want {
			t.Errorf("Ints(%v): got %d, want %d", ints[i:], got, want)
		}
	}
	want = 0
	for _, v := range floats {
		if ref.Float(v) {
			want++
		}
	}
	if got := fast.Floats(floats); got != want {
		t.Errorf("Floats(%v): got %d, want %d", floats, got, want)
	}
}

// columnCells are hostile cells for the column scans: short cells that
// differ only in NUL bytes, case, spaces, full-width digits and invalid
// UTF-8, numbers of every shape, and the planted values of columnPlanted.
var columnCells = []string{
	"a", "a\x00", "\x00a", "\x00", "A", "a ", " a", "ab", "AB", "ab\x00\x00\x00\x00\x00", "1234567", "123456", "-123456",
	"12345.6", "1234.56", "-1234.5", "0.05", "0.5", "１２３", "\xff", "\xff\xfe\xfd", "张三", "张 三", "2021-07", "18-29", "60+",
	"C3911", "x=12345", "a.b@c", "=abc=", "", "13812345678", "138 1234 5678", "1.3812345678e+10", "11010519491231002X",
	"11010519491231002x", "12345678901234567", "MTIzNDU2Nw==", "123456.78", "-123456.78", "99999.99", "999999.99",
	"1e21", "NaN", "-0", "+Inf", "9007199254740993",
}

const columnPlanted = "1234567|123456|-123456|12345.6|1234.56|005|张三|a|ab|202107|13812345678|11010519491231002X|c3911|12345|abc="

func TestColumnsMatchPerCell(t *testing.T) {
	for _, planted := range strings.Split(columnPlanted, "|") {
		t.Run(planted, func(t *testing.T) {
			fast, ref := diffScanners(t, planted)
			compareColumns(t, fast, ref, columnCells)
			// A column of one repeated cell, and the cells one by one.
			for _, c := range columnCells {
				compareColumns(t, fast, ref, []string{c, c, c})
			}
		})
	}
}

func TestStringsMalformedOffsets(t *testing.T) {
	fast, _ := diffScanners(t, "a")
	data := []byte("abcdefgh")
	for _, tc := range []struct {
		name    string
		offsets []int32
	}{
		{"negative first", []int32{-1, 2}},
		{"first past the end", []int32{9, 9}},
		{"decreasing short", []int32{4, 2}},
		{"decreasing to negative", []int32{0, -3}},
		{"past the end short", []int32{7, 9}},
		{"past the end long", []int32{0, 20}},
		{"decreasing after a cell", []int32{0, 8, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := fast.NewText().Strings(tc.offsets, data)
			if !errors.Is(err, errdefs.ErrDataLoss) {
				t.Errorf("Strings(%v): got %d, %v, want a data loss error", tc.offsets, n, err)
			}
		})
	}
	for _, offsets := range [][]int32{nil, {0}, {8}, {0, 0}, {0, 8}, {2, 5, 5, 8}} {
		if _, err := fast.NewText().Strings(offsets, data); err != nil {
			t.Errorf("Strings(%v): got %v, want nil", offsets, err)
		}
	}
}

func FuzzColumns(f *testing.F) {
	f.Add(strings.Join(columnCells, "|"), columnPlanted)
	f.Add("a|a\x00|A|a", "a")
	f.Add("12345.6|-12345.6|1234567", "1234567")
	f.Fuzz(func(t *testing.T, cells, planted string) {
		if len(cells) > 4096 || len(planted) > 4096 {
			return
		}
		fast, ref := diffScanners(t, planted)
		compareColumns(t, fast, ref, strings.Split(cells, "|"))
	})
}
