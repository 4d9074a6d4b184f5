package fingerprint

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSortHashes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 5, insertionMax + 1, radixMin - 1, radixMin, 3*radixMin + 7, 100000, 1 << 20} {
		for _, shape := range []string{"random", "one tag", "32 tags", "low bits", "duplicates", "sorted", "reversed"} {
			a := make([]uint64, n)
			for i := range a {
				switch shape {
				case "random":
					a[i] = r.Uint64()
				case "one tag":
					a[i] = withTag(r.Uint64(), 11)
				case "32 tags":
					a[i] = withTag(r.Uint64(), 11+r.IntN(32))
				case "low bits":
					// one top-16-bit bucket and one sub-bucket: the
					// comparison sort's case
					a[i] = withTag(r.Uint64()&(1<<30-1), 7)
				case "duplicates":
					a[i] = uint64(r.IntN(50)) << 40
				case "sorted":
					a[i] = uint64(i) * 977
				case "reversed":
					a[i] = uint64(n-i) << 20
				}
			}
			want := slices.Clone(a)
			slices.Sort(want)
			sortHashes(a, nil)
			if !slices.Equal(a, want) {
				t.Errorf("%d %s: not sorted", n, shape)
			}
		}
	}
}

func BenchmarkSortHashes(b *testing.B) {
	for _, shape := range []struct {
		name string
		tags int
	}{{"one tag", 1}, {"32 tags", 32}} {
		b.Run(shape.name, func(b *testing.B) { benchmarkSortHashes(b, shape.tags) })
	}
}

// benchmarkSortHashes sorts 2^20 fingerprints spread over tags tags, as a
// spill buffer of value fingerprints of several kinds and lengths is.
func benchmarkSortHashes(b *testing.B, tags int) {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]uint64, 1<<20)
	for i := range src {
		src[i] = withTag(r.Uint64(), 11+r.IntN(tags))
	}
	a := make([]uint64, len(src))
	for _, impl := range []struct {
		name string
		sort func([]uint64)
	}{{"radix", func(a []uint64) { sortHashes(a, nil) }}, {"slices", slices.Sort[[]uint64]}} {
		b.Run(impl.name, func(b *testing.B) {
			for range b.N {
				copy(a, src)
				impl.sort(a)
			}
		})
	}
}
