package checks

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestInternTable checks the table against a map over values of every
// length around the packed ones, values that differ in one byte or only
// in length, and the empty string.
func TestInternTable(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var vals []string
	seen := map[string]bool{}
	addVal := func(s string) {
		if !seen[s] {
			seen[s] = true
			vals = append(vals, s)
		}
	}
	addVal("")
	for n := 0; n <= 24; n++ {
		for range 40 {
			b := make([]byte, n)
			for i := range b {
				b[i] = "ab\x00\xff"[r.IntN(4)]
			}
			addVal(string(b))
		}
		addVal(fmt.Sprintf("%0*d", n, 7))
		addVal(string(make([]byte, n))) // zeros: differ from each other only in length
	}
	tab := &internTable{}
	want := map[string]int32{}
	for i, s := range vals {
		if _, ok := tab.get(s); ok {
			t.Fatalf("value %d (%d bytes) found before it was added", i, len(s))
		}
		tab.put(s, int32(i))
		want[s] = int32(i)
		if i%7 == 0 { // every value added so far is still found
			for s, k := range want {
				if got, ok := tab.get(s); !ok || got != k {
					t.Fatalf("value of %d bytes: got %d %v, want %d", len(s), got, ok, k)
				}
			}
		}
	}
	if tab.len() != len(vals) {
		t.Fatalf("len: got %d, want %d", tab.len(), len(vals))
	}
	var none *internTable
	if _, ok := none.get("x"); ok || none.len() != 0 {
		t.Fatal("a nil table holds something")
	}
}

// FuzzInternTable checks that two values have the same code exactly when
// they are equal.
func FuzzInternTable(f *testing.F) {
	f.Add("Haidian", "Haidian\x00")
	f.Add("", "\x00")
	f.Add("0123456789abcde", "0123456789abcdf")
	f.Fuzz(func(t *testing.T, a, b string) {
		tab := &internTable{}
		tab.put(a, 1)
		if k, ok := tab.get(a); !ok || k != 1 {
			t.Fatal("a value put is not found")
		}
		_, ok := tab.get(b)
		if ok != (a == b) {
			t.Fatalf("found %v for a value that equal is %v", ok, a == b)
		}
	})
}
