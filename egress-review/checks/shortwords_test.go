package checks

import (
	"math/rand/v2"
	"testing"
)

// TestShortWords holds the set to a map over words of every length it
// takes, through many growths, and over words that differ in one byte or
// only in length.
func TestShortWords(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var s shortWords
	in := map[string]bool{}
	var probes []string
	for range 5000 {
		b := make([]byte, 1+r.IntN(8))
		for i := range b {
			b[i] = "019az.\x01\xff"[r.IntN(8)]
		}
		w := string(b)
		if r.IntN(2) == 0 {
			in[w] = true
			s.add(packShort(w))
		}
		probes = append(probes, w, w[:len(w)-1], w+"0", "0"+w)
		b[r.IntN(len(b))] ^= 1
		probes = append(probes, string(b))
	}
	for _, w := range probes {
		if !shortable(w) {
			continue
		}
		if got := s.has(packShort([]byte(w))); got != in[w] {
			t.Fatalf("has(%q) = %v, want %v", w, got, in[w])
		}
	}
	if s.n != len(in) || 2*s.n > len(s.slots) {
		t.Fatalf("%d words in %d slots, want %d in at least twice as many", s.n, len(s.slots), len(in))
	}
	var empty shortWords
	if empty.has(packShort("a")) {
		t.Fatal("an empty set has a word")
	}
	for _, w := range []string{"", "123456789", "a\x00"} {
		if shortable(w) {
			t.Errorf("shortable(%q)", w)
		}
	}
}
