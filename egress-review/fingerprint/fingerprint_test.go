package fingerprint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func testKey() []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

func TestSipHashVectors(t *testing.T) {
	// Reference vectors of SipHash-2-4 (key 00..0f, message 00..n-1).
	k := newSipKey(testKey()[:16])
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for _, tc := range []struct {
		n    int
		want uint64
	}{
		{0, 0x726fdb47dd0e0e31},
		{1, 0x74f839c593dc67fd},
		{15, 0xa129ca6149be45e5},
	} {
		if got := k.sum64(msg[:tc.n]); got != tc.want {
			t.Errorf("siphash of %d bytes: got %#x, want %#x", tc.n, got, tc.want)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"spaces only", " \t\n", nil},
		{"lower", "Hello World", []string{"helloworld"}},
		{"few digits", "ab 12 3", []string{"ab123"}},
		{"masked phone", "138****5678", []string{"138****5678", "1385678"}},
		{"five digits with a dash", "12-345", []string{"12-345"}},
		{"six digits with a dash", "123-456", []string{"123-456", "123456"}},
		{"phone", "138-1234-5678", []string{"138-1234-5678", "13812345678"}},
		{"digits only dedup", "13812345678", []string{"13812345678"}},
		{"id with X", "11010519491231002X", []string{"11010519491231002x", "11010519491231002"}},
		{"full width", "１３８１２３４５６７８", []string{"13812345678"}},
		{"unicode space and zero width", "张\u3000三\u200b", []string{"张三"}},
		{"unicode upper", "ÄBC", []string{"äbc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Canonical(tc.in)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Canonical(%q): got %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestHasher(t *testing.T) {
	if _, err := NewHasher(make([]byte, 16)); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("short key: got %v, want invalid argument", err)
	}
	h, err := NewHasher(testKey())
	if err != nil {
		t.Fatal(err)
	}
	other := testKey()
	other[0] ^= 1
	h2, _ := NewHasher(other)

	t.Run("forms agree with Canonical", func(t *testing.T) {
		for _, v := range []string{"138 1234 5678", "Zhang San", "", "a", "110105194912310029"} {
			got := h.Value(v)
			forms := Canonical(v)
			if len(got) != len(forms) {
				t.Fatalf("Value(%q): got %d hashes, want %d", v, len(got), len(forms))
			}
			for i, f := range forms {
				if want := h.Value(f)[0]; got[i] != want {
					t.Errorf("Value(%q)[%d]: got %#x, want hash of form %q %#x", v, i, got[i], f, want)
				}
			}
			if b := h.ValueBytes(nil, []byte(v)); !slices.Equal(b, got) {
				t.Errorf("ValueBytes(%q): got %x, want %x", v, b, got)
			}
		}
	})
	t.Run("keyed", func(t *testing.T) {
		if a, b := h.Value("13812345678")[0], h2.Value("13812345678")[0]; a == b {
			t.Errorf("same hash %#x under two keys", a)
		}
		if h.ID() == h2.ID() {
			t.Errorf("same key id %#x under two keys", h.ID())
		}
	})
	t.Run("case and space insensitive", func(t *testing.T) {
		if a, b := h.Value("ZHANG san")[0], h.Value("zhangsan")[0]; a != b {
			t.Errorf("got %#x and %#x, want equal", a, b)
		}
	})
	t.Run("row order independent", func(t *testing.T) {
		a := h.Row([]string{"x", "Y", "13812345678"})
		b := h.Row([]string{"13812345678", "y", "x"})
		c := h.Row([]string{"13812345678", "y", "z"})
		if a != b {
			t.Errorf("reordered row: got %#x, want %#x", b, a)
		}
		if a == c {
			t.Errorf("different row: got %#x, want different from %#x", c, a)
		}
		if h.Row([]string{"x"}) == h.Value("x")[0] {
			t.Errorf("row and value hash coincide")
		}
	})
}

func buildSet(t testing.TB, h *Hasher, values []string, rows [][]string) *Set {
	t.Helper()
	b := NewBuilder()
	b.SetKeyID(h.ID())
	for _, v := range values {
		for _, x := range h.Value(v) {
			b.AddValue(x)
		}
	}
	for _, r := range rows {
		b.AddRow(h.Row(r))
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSet(t *testing.T) {
	h, _ := NewHasher(testKey())
	for _, n := range []int{0, 1, 63, 64, 5000} {
		var vals []string
		for i := range n {
			vals = append(vals, "value-"+string(rune('a'+i%26))+string(rune('0'+i%10))+itoa(i))
		}
		s := buildSet(t, h, vals, [][]string{{"a", "b"}})
		nv, nr := s.Len()
		if nv != n || nr != 1 {
			t.Fatalf("n=%d: Len got %d,%d want %d,1", n, nv, nr, n)
		}
		for _, v := range vals {
			if !s.HasValue(h.Value(v)[0]) {
				t.Fatalf("n=%d: value %q missing", n, v)
			}
		}
		if s.HasValue(h.Value("absent")[0]) {
			t.Errorf("n=%d: absent value found", n)
		}
		if !s.HasRow(h.Row([]string{"b", "A"})) || s.HasRow(h.Row([]string{"a"})) {
			t.Errorf("n=%d: row lookup wrong", n)
		}
		var buf bytes.Buffer
		wn, err := s.WriteTo(&buf)
		if err != nil || wn != int64(buf.Len()) {
			t.Fatalf("WriteTo: got %d, %v, want %d, nil", wn, err, buf.Len())
		}
		s2, err := ReadSet(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("ReadSet: %v", err)
		}
		if s2.KeyID() != h.ID() {
			t.Errorf("key id: got %#x, want %#x", s2.KeyID(), h.ID())
		}
		for _, v := range vals {
			if !s2.HasValue(h.Value(v)[0]) {
				t.Fatalf("after ReadSet: value %q missing", v)
			}
		}
	}
	var nilSet *Set
	if nilSet.HasValue(1) || nilSet.HasRow(1) {
		t.Errorf("nil set has values")
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestReadSetMalformed(t *testing.T) {
	h, _ := NewHasher(testKey())
	s := buildSet(t, h, []string{"13812345678", "alice", "bob"}, [][]string{{"x"}})
	var buf bytes.Buffer
	if _, err := s.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"magic", mut(func(b []byte) []byte { b[0] = 'X'; return b })},
		{"version", mut(func(b []byte) []byte { b[8] = 9; return b })},
		{"flags", mut(func(b []byte) []byte { b[12] = 1; return b })},
		{"huge count", mut(func(b []byte) []byte { b[31] = 0x7f; return b })},
		{"count too large for data", mut(func(b []byte) []byte { b[24] = 200; return b })},
		{"flipped hash bit", mut(func(b []byte) []byte { b[45] ^= 1; return b })},
		{"unsorted", mut(func(b []byte) []byte {
			tmp := bytes.Clone(b[40:48])
			copy(b[40:48], b[48:56])
			copy(b[48:56], tmp)
			return b
		})},
		{"truncated", good[:len(good)-1]},
		{"trailing", append(bytes.Clone(good), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadSet(bytes.NewReader(tc.in))
			if !errors.Is(err, ErrMalformed) || !errdefs.IsDataLoss(err) {
				t.Errorf("got %v, want ErrMalformed and data loss", err)
			}
		})
	}
}

func FuzzReadSet(f *testing.F) {
	h, _ := NewHasher(testKey())
	s := buildSet(f, h, []string{"13812345678", "alice"}, [][]string{{"x", "y"}})
	var buf bytes.Buffer
	s.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadSet(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever ReadSet accepts must round-trip byte for byte.
		var out bytes.Buffer
		if _, err := s.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Errorf("accepted set does not round-trip")
		}
	})
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"", "138-1234-5678", "ＡＢＣ", "\xff\xfe", "Zhang 三", "11010519491231002x", "138****5678", "1234-5678", "12345678", "abc", "浦东新区", "张三abc12", "张\u3000三", "Ａ区", "Ruixiang Logistics Co., Ltd. No. 65", "JH-PEN-2021-0000001", "AB 张", "A\x00B\tC", "张三ABC 12", "12 34", " ", "三 1", "91990104ANMW3DCQX9", "ABCDEFGH\tIJKLMNOP", "ABCDEFGHIJKLMNOP\x7fQ", "ABCDEFGHIJKLMNO张", "@[`{AZaz09/:", "ABCDEFGH", "0123456789ABCDEF0"} {
		f.Add(s)
	}
	h, _ := NewHasher(testKey())
	f.Fuzz(func(t *testing.T, v string) {
		forms := Canonical(v)
		if got := h.Value(v); len(got) != len(forms) {
			t.Fatalf("got %d hashes, want %d", len(got), len(forms))
		}
		for _, c := range forms {
			if again := Canonical(c); len(again) == 0 || again[0] != c {
				t.Errorf("canonical form %q is not canonical: got %q", c, again)
			}
		}
		// The fast paths agree with the definition: the fingerprint of
		// each form, in order; Cell of the first form ("" for none).
		var want []uint64
		for _, c := range forms {
			want = append(want, h.valueSum([]byte(c)))
		}
		if got := h.Value(v); !slices.Equal(got, want) {
			t.Errorf("Value(%q): got %x, want %x", v, got, want)
		}
		if got := h.ValueBytes(nil, []byte(v)); !slices.Equal(got, want) {
			t.Errorf("ValueBytes(%q): got %x, want %x", v, got, want)
		}
		first := h.valueSum(nil)
		if len(want) > 0 {
			first = want[0]
		}
		if got := h.Cell(v); got != first {
			t.Errorf("Cell(%q): got %x, want %x", v, got, first)
		}
		pre := []uint64{7}
		if got := h.AppendValueOfCell(pre, h.Cell(v), v); !slices.Equal(got[1:], want) || got[0] != 7 {
			t.Errorf("AppendValueOfCell(%q): got %x, want %x after 7", v, got, want)
		}
		cell, shape := h.CellShape(v)
		if cell != first {
			t.Errorf("CellShape(%q): got %x, want %x", v, cell, first)
		}
		switch {
		case shape.Known():
			checkShape(t, v, shape)
		case !strings.ContainsFunc(v, func(c rune) bool { return c >= 0x80 || c <= ' ' }):
			// Only values with white space, control characters or
			// beyond ASCII are not known.
			t.Errorf("CellShape(%q): Shape %#x, not known", v, uint32(shape))
		case shape.Counted():
			checkCounts(t, v, shape)
		case shape != 0:
			t.Errorf("CellShape(%q): Shape %#x, neither known nor counted but not zero", v, uint32(shape))
		case !strings.ContainsFunc(v, func(c rune) bool { return c >= 0x80 }):
			// ASCII values are always counted.
			t.Errorf("CellShape(%q): Shape not counted", v)
		}
		if got := h.AppendValueOfShape(pre, cell, shape, v); !slices.Equal(got[1:], want) || got[0] != 7 {
			t.Errorf("AppendValueOfShape(%q): got %x, want %x after 7", v, got, want)
		}
	})
}

// TestRowOfCells checks Row, Cell and RowOf against the definition: the
// fingerprint of each cell's first canonical form ("" when it has none),
// sorted, then hashed under the row key.
func TestRowOfCells(t *testing.T) {
	h, err := NewHasher(testKey())
	if err != nil {
		t.Fatal(err)
	}
	ref := func(cells []string) uint64 {
		var hs []uint64
		for _, v := range cells {
			forms := Canonical(v)
			c := ""
			if len(forms) > 0 {
				c = forms[0]
			}
			hs = append(hs, h.valueSum([]byte(c)))
		}
		slices.Sort(hs)
		var buf []byte
		for _, x := range hs {
			buf = binary.LittleEndian.AppendUint64(buf, x)
		}
		return withTag(h.row.sum64(buf), RowTag(len(cells)))
	}
	rows := [][]string{
		{},
		{""},
		{"abc", "ABC", "a b c", "１３８１２３４５６７８"},
		{"138-1234-5678", "11010519491231002X", "\xff\xfe", " ", "张\u3000三"},
		{"12", "-3.5", "2026-01", "x@example.com"},
	}
	for _, cells := range rows {
		want := ref(cells)
		if got := h.Row(cells); got != want {
			t.Errorf("Row(%q): got %x, want %x", cells, got, want)
		}
		hs := make([]uint64, len(cells))
		for i, v := range cells {
			hs[i] = h.Cell(v)
		}
		if got := h.RowOf(hs); got != want {
			t.Errorf("RowOf(Cell(%q)): got %x, want %x", cells, got, want)
		}
	}
	if h.Row([]string{"a", "b"}) != h.Row([]string{"b", "a"}) {
		t.Error("Row depends on column order")
	}
}

// TestSum64Words checks that sum64Words is sum64 of the words'
// little-endian encoding, for every length up to 40 words.
func TestSum64Words(t *testing.T) {
	k := newSipKey(testKey()[:16])
	r := rand.New(rand.NewPCG(9, 10))
	var ws []uint64
	var buf []byte
	for n := 0; n <= 40; n++ {
		if got, want := k.sum64Words(ws), k.sum64(buf); got != want {
			t.Fatalf("%d words: got %x, want sum64's %x", n, got, want)
		}
		x := r.Uint64()
		ws = append(ws, x)
		buf = binary.LittleEndian.AppendUint64(buf, x)
	}
}

// TestCellWords holds Cell's eight-bytes-at-a-time path to the definition
// (the fingerprint of the first canonical form) on random values of every
// length up to 70 from bytes that it takes (capitals, digits, other ASCII)
// and bytes that rule it out (white space, bytes from 0x80 up), and checks
// which values it takes.
func TestCellWords(t *testing.T) {
	h, err := NewHasher(testKey())
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(21, 22))
	taken := []byte("AZaz09@[`{/:-_.*#~!?\x7f")
	ruled := []byte(" \t\n\v\f\r\x80\xff\x00\x1f")
	for n := 0; n <= 70; n++ {
		for range 300 {
			b := make([]byte, n)
			for i := range b {
				b[i] = taken[r.IntN(len(taken))]
				if r.IntN(4) == 0 {
					b[i] = byte('A' + r.IntN(26))
				}
			}
			if n > 0 && r.IntN(3) == 0 {
				b[r.IntN(n)] = ruled[r.IntN(len(ruled))]
			}
			v := string(b)
			got, shape, ok := h.cellWords(v)
			wantOK := !strings.ContainsFunc(v, func(c rune) bool { return c <= ' ' || c >= 0x80 })
			if ok != wantOK {
				t.Fatalf("cellWords(%q): took it %v, want %v", v, ok, wantOK)
			}
			if ok && got != h.cellSlow(v) {
				t.Fatalf("cellWords(%q): got %x, want %x", v, got, h.cellSlow(v))
			}
			if ok {
				checkShape(t, v, shape)
			}
		}
	}
}

// checkShape fails t unless shape is the known Shape of v: its ASCII
// digits, and whether it holds '@'.
func checkShape(t *testing.T, v string, shape Shape) {
	t.Helper()
	if !shape.Known() {
		t.Fatalf("Shape of %q: not known", v)
	}
	checkCounts(t, v, shape)
}

// checkCounts fails t unless shape is a counted Shape with v's ASCII
// digits and '@'.
func checkCounts(t *testing.T, v string, shape Shape) {
	t.Helper()
	digits := 0
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' {
			digits++
		}
	}
	if !shape.Counted() || shape.Digits() != digits || shape.At() != strings.Contains(v, "@") {
		t.Fatalf("Shape of %q: counted %v, %d digits, '@' %v; want %d digits, '@' %v",
			v, shape.Counted(), shape.Digits(), shape.At(), digits, strings.Contains(v, "@"))
	}
}

// refSipHash is SipHash-2-4 as its paper states it, a byte at a time.
func refSipHash(k0, k1 uint64, msg []byte) uint64 {
	v0, v1, v2, v3 := k0^0x736f6d6570736575, k1^0x646f72616e646f6d, k0^0x6c7967656e657261, k1^0x7465646279746573
	b := append(append([]byte(nil), msg...), make([]byte, 8-len(msg)%8)...)
	b[len(b)-1] = byte(len(msg))
	for i := 0; i < len(b); i += 8 {
		var m uint64
		for j := 7; j >= 0; j-- {
			m = m<<8 | uint64(b[i+j])
		}
		v3 ^= m
		for range 2 {
			v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		}
		v0 ^= m
	}
	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// TestSum64Lengths checks sum64, sum64Lower and shortWord against the plain
// definition for every length around the block size, at every offset in a
// larger buffer (so that a load past the message would read other bytes).
func TestSum64Lengths(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	k := sipKey{r.Uint64(), r.Uint64()}
	buf := make([]byte, 96)
	for i := range buf {
		buf[i] = byte('A' + r.IntN(58)) // capitals, lower case and a few others
	}
	for off := 0; off < 8; off++ {
		for n := 0; n <= 70; n++ {
			p := buf[off : off+n : off+n]
			if got, want := k.sum64(p), refSipHash(k.k0, k.k1, p); got != want {
				t.Fatalf("sum64 of %d bytes at %d: got %#x, want %#x", n, off, got, want)
			}
			lower := bytes.ToLower(p)
			if got, want := k.sum64Lower(p), refSipHash(k.k0, k.k1, lower); got != want {
				t.Fatalf("sum64Lower of %d bytes at %d: got %#x, want %#x", n, off, got, want)
			}
			for i := 0; n < 8 && i <= n; i++ {
				var w [8]byte
				copy(w[:], p[i:])
				if got, want := shortWord(p, i), binary.LittleEndian.Uint64(w[:]); got != want {
					t.Fatalf("shortWord of %d bytes from %d: got %#x, want %#x", n, i, got, want)
				}
			}
		}
	}
}
