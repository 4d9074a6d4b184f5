package scan

import (
	"math/rand/v2"
	"testing"
)

// textMasksRef computes the masks from the definitions, a byte at a time.
func textMasksRef(p []byte) TextMasks {
	var m TextMasks
	for j, b := range p[:min(len(p), 64)] {
		bit := uint64(1) << j
		set := func(f *uint64, ok bool) {
			if ok {
				*f |= bit
			}
		}
		set(&m.Letter, b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z')
		set(&m.Digit, b >= '0' && b <= '9')
		set(&m.Upper, b >= 'A' && b <= 'Z')
		switch b {
		case 'a', 'e', 'i', 'o', 'u', 'y', 'A', 'E', 'I', 'O', 'U', 'Y':
			m.Vowel |= bit
		}
		set(&m.HexLetter, b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F')
		set(&m.Star, b == '*')
		set(&m.Space, b == ' ')
		set(&m.Newline, b == '\n')
		set(&m.DotComma, b == '.' || b == ',')
		set(&m.High, b >= 0x80)
	}
	return m
}

// checkClassifyText compares ClassifyText (AVX2 where it runs) and the Go
// twin with the definitions, at every offset of p.
func checkClassifyText(t *testing.T, p []byte) {
	t.Helper()
	for off := 0; off <= len(p); off++ {
		q := p[off:]
		want := textMasksRef(q)
		var got, twin TextMasks
		ClassifyText(q, &got)
		classifyTextGeneric(q, &twin)
		if got != want || twin != want {
			t.Fatalf("masks of %q: got %+v, twin %+v, want %+v", q[:min(len(q), 64)], got, twin, want)
		}
	}
}

// TestClassifyText checks every byte value in every position, and random
// text of letters, digits and punctuation.
func TestClassifyText(t *testing.T) {
	all := make([]byte, 256+64)
	for i := range all {
		all[i] = byte(i)
	}
	checkClassifyText(t, all)
	r := rand.New(rand.NewPCG(1, 2))
	const pool = "aEiOuYbZ09 *\n.,%#\xe4\xb8\x80@[`{/:"
	for range 200 {
		p := make([]byte, 64+r.IntN(64))
		for i := range p {
			p[i] = pool[r.IntN(len(pool))]
		}
		checkClassifyText(t, p)
	}
	if !textAVX2 {
		t.Log("no AVX2 here: the Go twin alone was tested")
	}
}

// FuzzClassifyText compares the AVX2 classifier and its Go twin with the
// definitions on any bytes.
func FuzzClassifyText(f *testing.F) {
	f.Add([]byte("In 2024-03 the district of Haicang recorded 1,234 decisions (12.5%).\n"))
	f.Add([]byte("\xff\x80\x7f*#aAzZ09"))
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) < 64 {
			p = append(p, make([]byte, 64-len(p))...)
		}
		checkClassifyText(t, p[:min(len(p), 200)])
	})
}

func BenchmarkClassifyText(b *testing.B) {
	p := []byte("In 2024-03 the district of Haicang recorded 1,234 decisions (12.5%) and ")
	var m TextMasks
	b.SetBytes(64)
	for b.Loop() {
		ClassifyText(p, &m)
	}
}
