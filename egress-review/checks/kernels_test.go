package checks

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// kernelCase returns cells and figures: figures rounded as tables round
// them with cells that are (or are not) their rounding, and edges.
func kernelCase(r *rand.Rand, n int) (v, x []float64, q rounding, scale float64) {
	dec := r.IntN(6)
	q = rounding{p: pow10[dec], tol: []float64{1e-9, 0, 1e-3}[r.IntN(3)]}
	scale = []float64{1, 1e-3, 1e-4, 1e-6, 1e-8}[r.IntN(5)]
	for range n {
		f := randFloat(r)
		c := roundHalfAway(f*scale*q.p) / q.p
		switch r.IntN(6) {
		case 0:
			c = randFloat(r)
		case 1:
			c = math.Nextafter(c, math.Inf(1))
		}
		v, x = append(v, c), append(x, f)
	}
	return v, x, q, scale
}

// sameKernels runs each kernel and its Go form over v and x from every
// offset to every end, and fails on any difference.
func sameKernels(t *testing.T, v, x []float64, q rounding, scale float64) {
	t.Helper()
	for i := 0; i <= min(len(v), 5); i++ {
		for j := max(i, len(v)-5); j <= len(v); j++ {
			got := firstReading(nil, 7, v[i:j], x[i:j], scale, q)
			want := firstReadingGo(nil, 7, v[i:j], x[i:j], scale, q)
			if !slices.Equal(got, want) {
				t.Fatalf("first reading of %v against %v (scale %g, %+v): got %v, want %v", v[i:j], x[i:j], scale, q, got, want)
			}
			for dec := range pow10 {
				p := pow10[dec]
				lim := float64(1<<53) / p
				for _, top := range []float64{math.Inf(1), 1e3, pow10[min(dec+3, len(pow10)-1)]} {
					if got, want := fewerRun(v[i:j], p, lim, top), fewerRunGo(v[i:j], p, lim, top); got != want {
						t.Fatalf("run of %v (p %g, top %g): got %d, want %d", v[i:j], p, top, got, want)
					}
				}
			}
		}
	}
}

// TestKernelsSameAsGo holds the AVX2 kernels (where the CPU has AVX2) to
// their Go forms, bit for bit, over figures with few decimals, edges,
// NaN and infinities, at every length and offset.
func TestKernelsSameAsGo(t *testing.T) {
	if !haveAVX2 {
		t.Log("no AVX2: the kernels are their Go forms")
	}
	r := rand.New(rand.NewPCG(14, 9))
	flagged, runs := 0, 0
	for range 400 {
		v, x, q, scale := kernelCase(r, r.IntN(70))
		sameKernels(t, v, x, q, scale)
		flagged += len(firstReadingGo(nil, 0, v, x, scale, q))
		runs += fewerRunGo(v, q.p, float64(1<<53)/q.p, math.Inf(1))
	}
	// both kernels see both answers
	if flagged == 0 || runs == 0 {
		t.Fatalf("the cases flag %d cells and run %d numbers", flagged, runs)
	}
}

// FuzzKernels runs the kernels and their Go forms on cells and figures of
// the fuzzer's bits.
func FuzzKernels(f *testing.F) {
	f.Add([]byte{}, uint8(2), uint8(0))
	f.Add(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.5)), math.Float64bits(2.5)), uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, dec, how uint8) {
		var v, x []float64
		for i := 0; i+16 <= len(data); i += 16 {
			c := math.Float64frombits(binary.LittleEndian.Uint64(data[i:]))
			fig := math.Float64frombits(binary.LittleEndian.Uint64(data[i+8:]))
			if how&1 != 0 {
				c = roundHalfAway(fig*pow10[int(dec)%6]) / pow10[int(dec)%6]
			}
			v, x = append(v, c), append(x, fig)
		}
		q := rounding{p: pow10[int(dec)%len(pow10)], tol: []float64{1e-9, 0, 1e-3}[int(how/2)%3]}
		sameKernels(t, v, x, q, []float64{1, 1e-3, 1e-8}[int(how/8)%3])
	})
}
