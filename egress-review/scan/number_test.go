package scan

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// checkShape compares decimalShape with the printed form.
func checkShape(t *testing.T, v float64) {
	t.Helper()
	n, digits, ok := decimalShape(v)
	if !ok {
		return
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	d := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			d++
		}
	}
	if n != len(s) || digits != d {
		t.Errorf("decimalShape(%v): got length %d and %d digits, want %d and %d (%q)", v, n, digits, len(s), d, s)
	}
}

func TestDecimalShape(t *testing.T) {
	tenth := 0.1
	for _, tc := range []struct {
		v      float64
		wantOK bool
	}{
		{0.05, true}, {0.5, true}, {-0.01, true}, {123456.78, true}, {999999.99, true}, {-12.5, true},
		{tenth + 0.2, false}, {0.001, false}, {1e6 + 0.5, false}, {1.0, false}, {1.234, false},
		{math.NaN(), false}, {math.Inf(1), false}, {0.015, false}, {1234567.8, false},
	} {
		if _, _, ok := decimalShape(tc.v); ok != tc.wantOK {
			t.Errorf("decimalShape(%v): got ok %v, want %v", tc.v, ok, tc.wantOK)
		}
		checkShape(t, tc.v)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 200_000 {
		checkShape(t, float64(r.IntN(200_000_000)-100_000_000)/100)
		checkShape(t, float64(r.IntN(20_000_000))/10)
		checkShape(t, r.Float64()*1e6)
		checkShape(t, math.Float64frombits(r.Uint64()))
	}
}

func FuzzDecimalShape(f *testing.F) {
	for _, v := range []float64{0.05, 123456.78, -0.1, 0.3, 1e6 - 0.01} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		checkShape(t, v)
	})
}

func TestDecimalDigits(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 99, 100, 1<<63 - 1, 1 << 63, ^uint64(0), 9999999999999999999, 10000000000000000000}
	for p := uint64(1); p < 1e19; p *= 10 {
		vals = append(vals, p-1, p, p+1)
	}
	r := rand.New(rand.NewPCG(2, 2))
	for range 10000 {
		vals = append(vals, r.Uint64()>>r.IntN(64))
	}
	for _, v := range vals {
		if got, want := decimalDigits(v), len(strconv.FormatUint(v, 10)); got != want {
			t.Errorf("decimalDigits(%d): got %d, want %d", v, got, want)
		}
	}
}
