package ingest

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/pii"
)

// cellArrays returns arrays of the types the import meets, with nulls,
// and a slice of one (a non-zero offset).
func cellArrays(mem memory.Allocator) map[string]arrow.Array {
	out := map[string]arrow.Array{}
	sb := array.NewStringBuilder(mem)
	for _, v := range []string{"a", "", "Zhang San", "13912345678", "中文", "x"} {
		sb.Append(v)
	}
	sb.AppendNull()
	sb.Append("tail")
	str := sb.NewArray()
	sb.Release()
	out["string"] = str
	out["string slice"] = array.NewSlice(str, 2, 7)
	ib := array.NewInt64Builder(mem)
	ib.AppendValues([]int64{0, -1, math.MaxInt64, math.MinInt64, 10000}, nil)
	ib.AppendNull()
	out["int64"] = ib.NewArray()
	ib.Release()
	fb := array.NewFloat64Builder(mem)
	fb.AppendValues([]float64{0, math.Copysign(0, -1), 0.1, 1e21, 123456789, math.NaN(), math.Inf(-1), 2.5e-8}, nil)
	fb.AppendNull()
	out["float64"] = fb.NewArray()
	fb.Release()
	db := array.NewDate32Builder(mem)
	db.Append(19000)
	db.AppendNull()
	out["date32"] = db.NewArray()
	db.Release()
	bb := array.NewBooleanBuilder(mem)
	bb.AppendValues([]bool{true, false}, nil)
	bb.AppendNull()
	out["bool"] = bb.NewArray()
	bb.Release()
	return out
}

func TestCellAccessMatchesCellString(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	arrays := cellArrays(mem)
	for name, arr := range arrays {
		t.Run(name, func(t *testing.T) {
			var want []string // non-null cells
			strs := columnStrings([]string{"stale"}, arr)
			if len(strs) != arr.Len() {
				t.Fatalf("got %d strings, want %d", len(strs), arr.Len())
			}
			for r := 0; r < arr.Len(); r++ {
				v, ok := fingerprint.CellString(arr, r)
				if strs[r] != v {
					t.Fatalf("columnStrings row %d: got %q, want %q", r, strs[r], v)
				}
				if ok {
					want = append(want, v)
				}
			}
			var got []string
			eachCellBytes(arr, func(v []byte) { got = append(got, string(v)) })
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("eachCellBytes: got %q, want %q", got, want)
			}
		})
	}
	for _, arr := range arrays {
		arr.Release()
	}
}

func TestMayHoldPersonal(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"", false},
		{"JH-PEN-2021-000001", false},
		{"JH-PEN-2021-0000001", false}, // 11 digits, no group starts with 1
		{"91990102R2B5R4EM5B", false},
		{"2021-1234567", true},
		{"6222 0212 3456 7890", true},
		{"6222 0212 3456 789", true},
		{"6222 0212 3456 78", false},
		{"12345678901", true},
		{"x12345678901y", true},
		{"Qiyue Technology Co., Ltd. No. 424", false},
		{"139****5678", false},
		{"13912345678", true},
		{"a@b", true},
		{"phone 139 1234 5678", true},
		{rid(t, "19900307", 1), true},
	}
	for _, tc := range tests {
		t.Run(tc.s, func(t *testing.T) {
			if got := mayHoldPersonal(tc.s); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMayHoldPersonalSound tries many strings of digits, separators and
// a few letters, where identifiers are likely, against pii.ScanFunc.
func TestMayHoldPersonalSound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "0123456789111886  --xX.+"
	buf := make([]byte, 0, 40)
	personal := 0
	for i := 0; i < 200000; i++ {
		buf = buf[:0]
		for range 8 + rng.IntN(30) {
			buf = append(buf, alphabet[rng.IntN(len(alphabet))])
		}
		s := string(buf)
		var kind pii.Kind
		pii.ScanFunc(s, func(m pii.Match) bool {
			if m.Kind.Personal() {
				kind = m.Kind
				return false
			}
			return true
		})
		if kind == "" {
			continue
		}
		personal++
		if !mayHoldPersonal(s) {
			t.Fatalf("got %q skipped, want it scanned (it holds %s)", s, kind)
		}
	}
	if personal < 100 {
		t.Fatalf("got %d strings holding identifiers, want many (the test would prove nothing)", personal)
	}
}

// FuzzMayHoldPersonal checks that the safety net's shortcut is sound:
// whatever pii.ScanFunc reports as personal, mayHoldPersonal lets through.
func FuzzMayHoldPersonal(f *testing.F) {
	for _, s := range []string{"13912345678", "+86 139-1234-5678", "6222 0212 3456 7890 128", "zhang.san@example.org", "91990102R2B5R4EM5B", "JH-PEN-2021-0000001"} {
		f.Add(s)
	}
	h, err := fingerprint.NewHasher(bytes.Repeat([]byte{5}, fingerprint.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// The safety net takes the digits and '@' from the cell's Shape
		// when its fingerprint knows them: the same answer.
		if _, shape := h.CellShape(s); shape.Counted() && mayHoldPersonalCounted(s, shape.Digits(), shape.At()) != mayHoldPersonal(s) {
			t.Fatalf("got %v from the Shape's counts, want mayHoldPersonal's %v", !mayHoldPersonal(s), mayHoldPersonal(s))
		}
		if mayHoldPersonal(s) {
			return
		}
		pii.ScanFunc(s, func(m pii.Match) bool {
			if m.Kind.Personal() {
				t.Fatalf("got a skipped cell holding %s, want it scanned", m.Kind)
			}
			return true
		})
	})
}

// refLines is the plain byte-by-byte line limit: the bytes readable
// before the first line longer than max, and the line of that byte.
func refLines(data []byte, max int) (ok int, line int, tooLong bool) {
	cur, line := 0, 1
	for i, b := range data {
		if b == '\n' {
			line++
			cur = 0
			continue
		}
		cur++
		if cur > max {
			return i, line, true
		}
	}
	return len(data), line, false
}

func TestLineLimiter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		var b bytes.Buffer
		for range rng.IntN(20) {
			b.WriteString(strings.Repeat("x", rng.IntN(40)))
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat("y", rng.IntN(40)))
		data := b.Bytes()
		max := 1 + rng.IntN(35)
		var r io.Reader = bytes.NewReader(data)
		if i%2 == 0 {
			r = iotest.HalfReader(r)
		}
		if i%3 == 0 {
			r = iotest.OneByteReader(r)
		}
		l := &lineLimiter{r: r, max: max, line: 1}
		got, err := io.ReadAll(l)
		wantN, wantLine, tooLong := refLines(data, max)
		if len(got) != wantN || errors.Is(err, errLineTooLong) != tooLong || (tooLong && l.line != wantLine) {
			t.Fatalf("case %d: got %d bytes, err %v, line %d; want %d bytes, too long %v, line %d", i, len(got), err, l.line, wantN, tooLong, wantLine)
		}
		if !tooLong && (l.n != int64(len(data)) || l.line != wantLine) {
			t.Fatalf("case %d: got %d bytes counted, line %d; want %d, %d", i, l.n, l.line, len(data), wantLine)
		}
	}
}

func FuzzDigitsAndAt(f *testing.F) {
	f.Add("alice@example.com 13912345678")
	f.Add("0123456789:/@`\xb0\xb9\xc0")
	f.Add("王小明 110101199003071234")
	f.Fuzz(func(t *testing.T, s string) {
		digits, at := 0, false
		for i := 0; i < len(s); i++ {
			if s[i] >= '0' && s[i] <= '9' {
				digits++
			}
			at = at || s[i] == '@'
		}
		if gd, ga := digitsAndAt(s); gd != digits || ga != at {
			t.Fatalf("got %d digits, '@' %v, want %d, %v", gd, ga, digits, at)
		}
	})
}

// FuzzDigitChains holds the masks of digitChains to the byte loop.
func FuzzDigitChains(f *testing.F) {
	for _, s := range []string{"13912345678", "+86 139-1234-5678", "6222 0212 3456 7890 128", "JH-PEN-2021-0000001",
		"1-2-3-4-5-6-7-8-9-0-1", "2 3 4 5 6 7 8 9 0 1 2 3 4 5 6", "12345678901234567890123456789012345678901234567890123456789012ab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 64 {
			s = s[:64]
		}
		if got, want := digitChains(s), digitChainsLoop(s); got != want {
			t.Fatalf("digitChains(%q) = %v, want %v", s, got, want)
		}
	})
}

// TestDigitChains holds digitChains to the byte loop over strings of
// digits, ones, separators and other bytes of every length up to 64.
func TestDigitChains(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	hits := 0
	for i := range 200000 {
		b := make([]byte, i%65)
		for j := range b {
			const alphabet = "0123456789111  --a.\xb1"
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		s := string(b)
		got, want := digitChains(s), digitChainsLoop(s)
		if got != want {
			t.Fatalf("digitChains(%q) = %v, want %v", s, got, want)
		}
		if want {
			hits++
		}
	}
	if hits < 1000 {
		t.Fatalf("only %d strings with a chain: the test does not reach the rules", hits)
	}
}
