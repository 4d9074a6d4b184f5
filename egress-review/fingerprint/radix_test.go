package fingerprint

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSortHashes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 5, insertionMax + 1, radixMin - 1, radixMin, 3*radixMin + 7, 100000, 1 << 20} {
		for _, shape := range []string{"random", "one tag", "32 tags", "low bits", "duplicates", "sorted", "reversed", "one prefix", "two prefixes"} {
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
				case "one prefix":
					// a partition: its values share their top 16
					// bits, sortLow cuts them by 8 more first
					a[i] = 0x0b7f<<48 | r.Uint64()>>16
				case "two prefixes":
					a[i] = (0x0b7f+uint64(r.IntN(2)))<<48 | r.Uint64()>>16
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
	}{{"one tag", 1}, {"32 tags", 32}, {"partition", 0}} {
		b.Run(shape.name, func(b *testing.B) { benchmarkSortHashes(b, shape.tags) })
	}
}

// benchmarkSortHashes sorts 2^20 fingerprints spread over tags tags, as a
// spill buffer of value fingerprints of several kinds and lengths is.
func benchmarkSortHashes(b *testing.B, tags int) {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]uint64, 1<<20)
	for i := range src {
		src[i] = withTag(r.Uint64(), 11+r.IntN(max(tags, 1)))
		if tags == 0 {
			// one partition of WriteSet: one value of the top 16 bits
			src[i] = 0x0b7f<<48 | r.Uint64()>>16
		}
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

// BenchmarkMerger merges 48 sorted runs of 64 Ki uniform fingerprints, as
// the last pass of a 2 GiB import merges some 48 value runs, in blocks of
// a run file's read buffer.
func BenchmarkMerger(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	runs := make([][]uint64, 48)
	for i := range runs {
		runs[i] = make([]uint64, 1<<16)
		for j := range runs[i] {
			runs[i][j] = withTag(r.Uint64(), 11+r.IntN(8))
		}
		slices.Sort(runs[i])
	}
	b.SetBytes(int64(8 * len(runs) * len(runs[0])))
	for range b.N {
		srcs := make([]source, len(runs))
		for i, s := range runs {
			srcs[i] = &chunkSource{s: s, n: runBufSize / 8}
		}
		m, err := newMerger(srcs)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			xs, err := m.block()
			if err != nil {
				b.Fatal(err)
			}
			if len(xs) == 0 {
				break
			}
			n += len(xs)
		}
		m.close()
		if n != len(runs)*len(runs[0]) {
			b.Fatalf("merged %d fingerprints, want %d", n, len(runs)*len(runs[0]))
		}
	}
}

// TestDistinct: distinct keeps each value once, 0 and the largest too,
// whatever the values' low bits (slots come from a product's top bits).
func TestDistinct(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{0, 1, 2, 7, 100, 5000} {
		for _, shape := range []string{"random", "few", "low bits zero", "with 0 and max"} {
			xs := make([]uint64, n)
			for i := range xs {
				switch shape {
				case "random":
					xs[i] = r.Uint64()
				case "few":
					xs[i] = uint64(r.IntN(5)) * 0x0101_0101_0101_0101
				case "low bits zero":
					xs[i] = uint64(r.IntN(n+1)) << 40
				case "with 0 and max":
					xs[i] = [...]uint64{0, ^uint64(0), 1, 0x8000_0000_0000_0000}[r.IntN(4)]
				}
			}
			want := slices.Compact(slices.Sorted(slices.Values(xs)))
			table := make([]uint64, distinctTable(n))
			got := distinct(slices.Clone(xs), table)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%d %s: got %d distinct values, want %d", n, shape, len(got), len(want))
			}
		}
	}
}

// BenchmarkPartitionSort sorts and deduplicates one partition as WriteSet
// does at 2 GiB: 80 K value fingerprints sharing their top 16 bits, each
// distinct one four times, sorted as they are or their copies dropped
// first.
func BenchmarkPartitionSort(b *testing.B) {
	r := rand.New(rand.NewPCG(17, 18))
	src := make([]uint64, 80000)
	for i := range src {
		if i%4 == 0 {
			src[i] = 0x0b7f<<48 | r.Uint64()>>16
		} else {
			src[i] = src[r.IntN(i/4+1)*4]
		}
	}
	r.Shuffle(len(src), func(i, j int) { src[i], src[j] = src[j], src[i] })
	a := make([]uint64, len(src))
	t := make([]uint64, distinctTable(len(src)))
	b.Run("sorted", func(b *testing.B) {
		for range b.N {
			copy(a, src)
			sortHashes(a, t)
			_ = slices.Compact(a)
		}
	})
	b.Run("distinct first", func(b *testing.B) {
		for range b.N {
			copy(a, src)
			xs := distinct(a, t)
			sortHashes(xs, t)
			_ = slices.Compact(xs)
		}
	})
}
