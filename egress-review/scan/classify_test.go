package scan

import (
	"math/rand/v2"
	"testing"
	"unicode"
)

// classifyRef computes the masks of p from byteClass, a byte at a time.
func classifyRef(p []byte) []blockMasks {
	out := make([]blockMasks, (len(p)+63)/64)
	for j, c := range p {
		cl := byteClass[c]
		set := func(mask int, on bool) {
			if on {
				out[j/64][mask] |= 1 << (j % 64)
			}
		}
		set(maskWord, cl&(clToken|clHigh) != 0)
		set(maskHigh, cl&clHigh != 0)
		set(maskDigit, cl&clDigit != 0)
		set(maskInner, cl&clInner != 0)
		set(maskBreak, c < 0x80 && !tokenByte[c] && c != ' ' && c != '\t')
	}
	return out
}

// checkClassify compares classify (with and without AVX2) with the
// reference on p.
func checkClassify(t *testing.T, p []byte) {
	t.Helper()
	want := classifyRef(p)
	saved := haveAVX2
	defer func() { haveAVX2 = saved }()
	for _, avx2 := range []bool{false, true} {
		if avx2 && !saved {
			continue
		}
		haveAVX2 = avx2
		got := make([]blockMasks, len(want))
		classify(p, got)
		for k := range want {
			for m := range want[k] {
				if got[k][m] != want[k][m] {
					t.Errorf("AVX2 %v, %d bytes, block %d, mask %d: got %#x, want %#x", avx2, len(p), k, m, got[k][m], want[k][m])
				}
			}
		}
	}
}

func TestClassify(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 1000)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	for _, tc := range []struct {
		name string
		p    []byte
	}{
		{"every byte", all},
		{"every byte from 1", all[1:]},
		{"random", random},
		{"short", []byte("a b")},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) { checkClassify(t, tc.p) })
	}
}

func FuzzClassify(f *testing.F) {
	f.Add([]byte("2021-03-15 job step 1: id=11010519491231002X \xff\xfe 张三，１３８ %41 MTM4="))
	f.Fuzz(func(t *testing.T, p []byte) { checkClassify(t, p) })
}

// TestIsSepRuneIdeographs checks isSepRune's shortcut for CJK ideographs
// against the Unicode classes it stands for.
func TestIsSepRuneIdeographs(t *testing.T) {
	for r := rune(0x4E00); r <= 0x9FFF; r++ {
		want := unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.Is(unicode.Cf, r) || unicode.IsSymbol(r)
		if got := isSepRune(r); got != want {
			t.Fatalf("isSepRune(%U): got %v, want %v", r, got, want)
		}
	}
}
