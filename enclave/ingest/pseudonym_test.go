package ingest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"
	"time"
)

func refMAC(key, v []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(v)
	return m.Sum(nil)
}

// TestPseudonymMAC checks the pseudonym MAC against crypto/hmac for keys
// shorter than, as long as and longer than a block, and values on both
// sides of the one-block shortcut.
func TestPseudonymMAC(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, kl := range []int{0, 1, 16, 32, 63, 64, 65, 200} {
		key := make([]byte, kl)
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		m := newPseudonymMAC(key)
		if !m.fast {
			t.Fatalf("key of %d bytes: got the one-block shortcut off, want it on (the test would not cover it)", kl)
		}
		for n := 0; n <= 130; n++ {
			for range 5 {
				v := make([]byte, n)
				for i := range v {
					v[i] = byte(r.Uint32())
				}
				if got, want := m.Sum(v), refMAC(key, v); !bytes.Equal(got, want) {
					t.Fatalf("key of %d bytes, value of %d: got %x, want %x", kl, n, got, want)
				}
			}
		}
	}
}

// FuzzPseudonymMAC checks the shortcut against crypto/hmac on any key and
// value, and that one MAC does not depend on the values before it.
func FuzzPseudonymMAC(f *testing.F) {
	f.Add([]byte("k"), []byte("990104196403120988"), []byte(""))
	f.Add(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{'x'}, 55), bytes.Repeat([]byte{'y'}, 56))
	f.Fuzz(func(t *testing.T, key, v, w []byte) {
		m := newPseudonymMAC(key)
		for _, x := range [][]byte{v, w, v} {
			if got, want := m.Sum(x), refMAC(key, x); !bytes.Equal(got, want) {
				t.Fatalf("got %x, want %x", got, want)
			}
		}
	})
}

func TestAppendHex16(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 1000 {
		sum := make([]byte, 32)
		for i := range sum {
			sum[i] = byte(r.Uint32())
		}
		pre := []byte("p:")
		if got, want := appendHex16(pre, sum), hex.AppendEncode([]byte("p:"), sum[:16]); !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func BenchmarkPseudonym(b *testing.B) {
	a := newApplier(&ColumnSpec{Name: "id", Rule: Rule{Kind: RuleHash}}, nil, nil, bytes.Repeat([]byte{9}, 32), [32]byte{}, time.Time{})
	var dst []byte
	for b.Loop() {
		dst = a.pseudonym(dst[:0], "990104196403120988")
	}
}
