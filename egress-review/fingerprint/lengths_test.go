package fingerprint

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

func TestLengths(t *testing.T) {
	var l Lengths
	if !l.Empty() {
		t.Fatalf("zero Lengths: got not empty, want empty")
	}
	for _, n := range []int{0, 1, 63, 64, 200, 255, 1000} {
		l.Add(n)
	}
	for _, tc := range []struct {
		n    int
		want bool
	}{{0, true}, {1, true}, {2, false}, {63, true}, {64, true}, {65, false}, {200, true}, {254, false}, {255, true}, {256, true}, {5000, true}} {
		if got := l.Has(tc.n); got != tc.want {
			t.Errorf("Has(%d): got %v, want %v", tc.n, got, tc.want)
		}
	}
	var u Lengths
	u.Union(l)
	if u != l {
		t.Errorf("Union: got %v, want %v", u, l)
	}
}

func TestFingerprintTopByte(t *testing.T) {
	h, _ := NewHasher(testKey())
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"abc", []int{3}},
		{"138-1234-5678", []int{13, 11}},
		{"１３８１２３４５６７８", []int{11}},
		{"张 三", []int{6}},
		{strings.Repeat("x", 300), []int{255}},
	} {
		var got []int
		for _, x := range h.Value(tc.in) {
			got = append(got, ValueLen(x))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ValueLen of the fingerprints of %q: got %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := ValueLen(h.Row([]string{"a", "b", "c"})); got != 3 {
		t.Errorf("ValueLen of a 3-cell row: got %d, want 3", got)
	}
	s := buildSet(t, h, []string{"abc", "138-1234-5678"}, [][]string{{"a", "b"}, {"a", "b", "c", "d"}})
	vl, rw := s.ValueLengths(), s.RowWidths()
	for _, n := range []int{3, 11, 13} {
		if !vl.Has(n) {
			t.Errorf("ValueLengths: got no %d, want it", n)
		}
	}
	if vl.Has(12) || vl.Has(4) {
		t.Errorf("ValueLengths: got %v, want only 3, 11 and 13", vl)
	}
	if !rw.Has(2) || !rw.Has(4) || rw.Has(3) {
		t.Errorf("RowWidths: got %v, want 2 and 4", rw)
	}
}

func TestReadSetRefusesVersion1(t *testing.T) {
	h, _ := NewHasher(testKey())
	var buf bytes.Buffer
	if _, err := buildSet(t, h, []string{"abc"}, nil).WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint32(b[8:], 1)
	if _, err := ReadSet(bytes.NewReader(b)); err == nil {
		t.Errorf("ReadSet of a version 1 set: got nil error, want one")
	}
}

// checkAppendValueIn compares AppendValueIn with the straightforward
// ValueBytes filtered by length.
func checkAppendValueIn(t *testing.T, h *Hasher, v []byte, lens *Lengths) {
	t.Helper()
	var want []uint64
	for _, x := range h.ValueBytes(nil, v) {
		if lens.Has(ValueLen(x)) {
			want = append(want, x)
		}
	}
	got := h.AppendValueIn(nil, v, lens)
	if !slices.Equal(got, want) {
		t.Errorf("AppendValueIn(%q, %v): got %x, want %x", v, lens, got, want)
	}
}

func TestAppendValueIn(t *testing.T) {
	h, _ := NewHasher(testKey())
	all := Lengths{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	var eleven Lengths
	eleven.Add(11)
	for _, v := range []string{"", " ", "abc", "ABC def", "13812345678", "138-1234-5678", "138 1234 5678",
		"１３８１２３４５６７８", "\xff\xfe", "a\xffb", "11010519491231002X", "-123456", "Shijingshan", "SHIJINGSHAN",
		strings.Repeat("9", 300), "\x00\x01\x7f"} {
		for _, lens := range []*Lengths{&all, &eleven, {}} {
			checkAppendValueIn(t, h, []byte(v), lens)
		}
	}
}

func FuzzAppendValueIn(f *testing.F) {
	for _, s := range []string{"13812345678", "Ab 12-34 56", "１２３", "\xff1234567", "a\u200bb"} {
		f.Add([]byte(s), uint64(1<<11), uint64(0))
	}
	h, _ := NewHasher(testKey())
	f.Fuzz(func(t *testing.T, v []byte, lo, hi uint64) {
		lens := Lengths{lo, hi, 0, 1 << 63}
		checkAppendValueIn(t, h, v, &lens)
	})
}
