package fingerprint

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

func TestTags(t *testing.T) {
	var l Tags
	if !l.Empty() {
		t.Fatalf("zero Tags: got not empty, want empty")
	}
	for _, n := range []int{0, 1, 63, 64, 200, 255} {
		l.Add(n)
	}
	for _, tc := range []struct {
		n    int
		want bool
	}{{0, true}, {1, true}, {2, false}, {63, true}, {64, true}, {65, false}, {200, true}, {254, false}, {255, true}} {
		if got := l.Has(tc.n); got != tc.want {
			t.Errorf("Has(%d): got %v, want %v", tc.n, got, tc.want)
		}
	}
	var u Tags
	u.Union(l)
	if u != l {
		t.Errorf("Union: got %v, want %v", u, l)
	}
	if got := RowTag(300); got != 255 {
		t.Errorf("RowTag(300): got %d, want 255", got)
	}
	if got := ValueTag(KindOther, 100); got != KindOther|MaxTagLen {
		t.Errorf("ValueTag(KindOther, 100): got %d, want %d", got, KindOther|MaxTagLen)
	}
}

func TestFingerprintTag(t *testing.T) {
	h, _ := NewHasher(testKey())
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"abc", []int{KindMixed | 3}},
		{"138-1234-5678", []int{KindMixed | 13, KindDigits | 11}},
		{"１３８１２３４５６７８", []int{KindDigits | 11}},
		{"张 三", []int{KindOther | 6}},
		{"Ab\xff", []int{KindOther | 5}},
		{strings.Repeat("x", 300), []int{KindMixed | 63}},
	} {
		var got []int
		for _, x := range h.Value(tc.in) {
			got = append(got, Tag(x))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("tags of the fingerprints of %q: got %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := Tag(h.Row([]string{"a", "b", "c"})); got != 3 {
		t.Errorf("tag of a 3-cell row: got %d, want 3", got)
	}
	s := buildSet(t, h, []string{"abc", "138-1234-5678"}, [][]string{{"a", "b"}, {"a", "b", "c", "d"}})
	vt, rt := s.ValueTags(), s.RowTags()
	for _, n := range []int{KindMixed | 3, KindDigits | 11, KindMixed | 13} {
		if !vt.Has(n) {
			t.Errorf("ValueTags: got no %d, want it", n)
		}
	}
	if vt.Has(KindMixed|11) || vt.Has(KindDigits|3) || vt.Has(KindMixed|4) {
		t.Errorf("ValueTags: got %v, want only 3, 11 and 13 of their kinds", vt)
	}
	if !rt.Has(2) || !rt.Has(4) || rt.Has(3) {
		t.Errorf("RowTags: got %v, want 2 and 4", rt)
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
// ValueBytes filtered by tag.
func checkAppendValueIn(t *testing.T, h *Hasher, v []byte, lens *Tags) {
	t.Helper()
	var want []uint64
	for _, x := range h.ValueBytes(nil, v) {
		if lens.Has(Tag(x)) {
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
	all := Tags{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	var eleven Tags
	eleven.Add(KindDigits | 11)
	eleven.Add(KindMixed | 11)
	eleven.Add(KindOther | 11)
	for _, v := range []string{"", " ", "abc", "ABC def", "13812345678", "138-1234-5678", "138 1234 5678",
		"１３８１２３４５６７８", "\xff\xfe", "a\xffb", "11010519491231002X", "-123456", "Shijingshan", "SHIJINGSHAN",
		strings.Repeat("9", 300), "\x00\x01\x7f"} {
		for _, lens := range []*Tags{&all, &eleven, {}} {
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
		lens := Tags{lo, hi, lo ^ hi, 0}
		checkAppendValueIn(t, h, v, &lens)
	})
}
