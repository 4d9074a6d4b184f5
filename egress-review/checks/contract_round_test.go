package checks

import (
	"math"
	"math/rand/v2"
	"testing"

	review "github.com/enclave-dev/enclave/egress-review"
)

// roundHalfAway must be math.Round, bit for bit, or the contract's
// matching of rounded figures would change.
func TestRoundHalfAwayIsRound(t *testing.T) {
	edges := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994,
		0.5000000000000001, 1 << 52, 1<<52 + 0.5, -(1<<52 + 0.5), 1<<53 + 2, math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN(), 4503599627370495.5, -4503599627370495.5}
	same := func(x float64) {
		t.Helper()
		got, want := roundHalfAway(x), math.Round(x)
		if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("roundHalfAway(%v) = %v, math.Round = %v", x, got, want)
		}
	}
	for _, x := range edges {
		same(x)
		same(math.Nextafter(x, math.Inf(1)))
		same(math.Nextafter(x, math.Inf(-1)))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		same(math.Float64frombits(r.Uint64()))                        // any bits
		same(float64(r.IntN(1<<30)-1<<29) / 8)                        // halves and quarters
		same((r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(20)))) // figures times a power of ten
	}
}

func FuzzRoundHalfAway(f *testing.F) {
	f.Add(0.5)
	f.Add(-2.5)
	f.Add(0.49999999999999994)
	f.Fuzz(func(t *testing.T, x float64) {
		got, want := roundHalfAway(x), math.Round(x)
		if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("roundHalfAway(%v) = %v, math.Round = %v", x, got, want)
		}
	})
}

// A cell whose group's figure is not a number (its records sum +Inf and
// -Inf) matches no reading of it, in the written-out first reading of
// source as in rounding.matches.
func TestSourceNaNFigureMatchesNothing(t *testing.T) {
	p := review.Default()
	var s numStats
	for _, v := range []float64{math.Inf(1), math.Inf(-1), 1, 2, 3, 4, 5, 6, 7, 8} {
		s.add(v)
	}
	if !math.IsNaN(s.sum) {
		t.Fatalf("sum %v, want NaN", s.sum)
	}
	for _, stat := range []string{"sum", "mean"} {
		g := &groups{nums: []*inputCol{{name: "amount"}}}
		rows := []*cellGroup{{n: s.n, stats: []numStats{s}}}
		c := &outCol{name: stat + "_amount", stat: stat, nums: []float64{5}}
		if k, bad, _ := g.source(c, func() []*cellGroup { return rows }, []int32{-1}, p, map[int]*rowFigures{}); k != -1 || bad != 1 {
			t.Errorf("%s: a cell matched a figure that is not a number (source %d, %d unmatched)", stat, k, bad)
		}
		if roundedAs(c, p.MagnitudeTolerance).matches(5, s.sum) {
			t.Errorf("%s: rounding.matches matched NaN", stat)
		}
	}
}

// TestSourceInfiniteFigureMatchesNothing: a group whose values sum to an
// infinity (one infinite input value) would make the allowed error
// infinite, so that any cell "matched" it and carried what a job chose.
// An infinite figure matches nothing, as NaN does.
func TestSourceInfiniteFigureMatchesNothing(t *testing.T) {
	p := review.Default()
	for _, inf := range []float64{math.Inf(1), math.Inf(-1)} {
		var s numStats
		for _, v := range []float64{inf, 1, 2, 3, 4, 5, 6, 7, 8} {
			s.add(v)
		}
		if !math.IsInf(s.sum, 0) {
			t.Fatalf("sum %v, want an infinity", s.sum)
		}
		for _, stat := range []string{"sum", "mean"} {
			g := &groups{nums: []*inputCol{{name: "amount"}}}
			rows := []*cellGroup{{n: s.n, stats: []numStats{s}}}
			c := &outCol{name: stat + "_amount", stat: stat, nums: []float64{123456.75}}
			if k, bad, _ := g.source(c, func() []*cellGroup { return rows }, []int32{-1}, p, map[int]*rowFigures{}); k != -1 || bad != 1 {
				t.Errorf("%s of %v: a cell matched an infinite figure (source %d, %d unmatched)", stat, inf, k, bad)
			}
			for _, v := range []float64{5, -1e300, 123456.75} {
				if roundedAs(c, p.MagnitudeTolerance).matches(v, s.sum) {
					t.Errorf("%s: rounding.matches matched %v against %v", stat, v, s.sum)
				}
			}
		}
	}
}
