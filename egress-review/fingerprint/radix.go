package fingerprint

import (
	"math/bits"
	"slices"
)

// radixMin is the length from which sortHashes uses a radix sort; below it
// the comparison sort is as fast and needs no scratch space.
const radixMin = 1 << 12

// sortHashes sorts a in increasing order. Fingerprints are a tag byte
// over 56 uniformly distributed bits, for which a radix sort is several
// times faster than a comparison sort. Two passes over the whole slice
// order it by the top 16 bits (the tag byte, then the byte below it; a
// pass is skipped when every value has the same byte there, as the tag
// byte often does); each bucket of equal top 16 bits, a few hundredth of
// the whole, then fits in cache and is sorted there by sortLow. It uses scratch, which must not overlap a, when it holds len(a) values,
// and allocates otherwise.
func sortHashes(a, scratch []uint64) {
	if len(a) < radixMin {
		slices.Sort(a)
		return
	}
	if len(scratch) < len(a) {
		scratch = make([]uint64, len(a))
	}
	s := scratch[:len(a)]
	// The tag byte and the byte below it, least significant first.
	src, dst := radixPasses(a, s, 48, 2)
	var count [1 << lowBitsMax]int32 // sortLow's, zeroed once here
	for i := 0; i < len(src); {
		top := src[i] >> 48
		j := i + 1
		for j < len(src) && src[j]>>48 == top {
			j++
		}
		sortLow(src[i:j], dst[i:j], a[i:j], 48, &count)
		i = j
	}
}

// sortLow sorts x, whose values share their bits from top up, into out
// (which is x's or tmp's memory), using tmp (as long as x) as scratch. The
// bits below top are keyed hash, uniformly spread: one counting pass on
// the bits just below top puts x into sub-buckets of about four values
// each, in tmp, and an insertion sort finishes each. A sub-bucket that is
// not small (values that are not spread, as in tests) goes to the
// comparison sort, so no input costs more than that. An x too long for
// that pass's table (as a partition that WriteSet sorts, whose values
// share their top 16 bits) is first cut by the 8 bits below top, and each
// part sorted so.
//
// count is the counting pass's table, which sortLow leaves zeroed.
func sortLow(x, tmp, out []uint64, top uint, count *[1 << lowBitsMax]int32) {
	m := len(x)
	if m <= insertionMax {
		insertionSort(x)
		copy(out, x)
		return
	}
	if m > lowSplit && top >= 8+lowBitsMax {
		shift := top - 8
		var c [257]int
		for _, v := range x {
			c[int(byte(v>>shift))+1]++
		}
		for d := 1; d <= 256; d++ {
			c[d] += c[d-1]
		}
		start := c
		t := tmp[:m]
		for _, v := range x {
			d := byte(v >> shift)
			t[c[d]] = v
			c[d]++
		}
		for d := range 256 {
			lo, hi := start[d], start[d+1]
			if lo < hi {
				// out's part is x's (now scratch) or t's (the input).
				sortLow(t[lo:hi], x[lo:hi], out[lo:hi], shift, count)
			}
		}
		return
	}
	b := min(max(bits.Len(uint(m))-1, 1), lowBitsMax)
	shift := top - uint(b)
	mask := uint64(1)<<b - 1
	c := count[:1<<b]
	for _, v := range x {
		c[(v>>shift)&mask]++
	}
	pos := int32(0)
	for d, k := range c {
		c[d] = pos
		pos += k
	}
	// c[d] is where sub-bucket d starts; it moves with the scatter, so
	// that afterwards it is where sub-bucket d ends.
	t := tmp[:m]
	for _, v := range x {
		d := (v >> shift) & mask
		t[c[d]] = v
		c[d]++
	}
	lo := 0
	for d := range 1 << b {
		hi := int(c[d])
		switch k := hi - lo; {
		case k <= 1:
		case k <= insertionMax:
			insertionSort(t[lo:hi])
		default:
			slices.Sort(t[lo:hi])
		}
		lo = hi
	}
	clear(c)
	if &out[0] != &t[0] {
		copy(out, t)
	}
}

// Tuning of sortLow: sub-buckets are counted on at most lowBitsMax bits (a
// table of 16 KiB on the stack), runs of at most insertionMax values are
// sorted by insertion, and more than lowSplit values are first cut by 8
// bits (so that a sub-bucket holds about four values whatever the length).
const (
	lowBitsMax   = 12
	insertionMax = 24
	lowSplit     = 4 << lowBitsMax
)

// insertionSort sorts a short slice in place.
func insertionSort(a []uint64) {
	for i := 1; i < len(a); i++ {
		v := a[i]
		j := i
		for j > 0 && a[j-1] > v {
			a[j] = a[j-1]
			j--
		}
		a[j] = v
	}
}

// radixPasses sorts x stably by its n bytes from the bit at shift up,
// least significant first, moving it between x and tmp (as long as x). It
// counts every byte's histogram in one read of x, rather than one read
// per pass, and skips a pass where every value has the same byte. It
// returns the slice that holds the result and the other.
func radixPasses(x, tmp []uint64, shift uint, n int) (src, dst []uint64) {
	var count [6][256]int
	cs := count[:n]
	switch n {
	case 2:
		for _, v := range x {
			cs[0][byte(v>>shift)]++
			cs[1][byte(v>>(shift+8))]++
		}
	case 6:
		for _, v := range x {
			v >>= shift
			cs[0][byte(v)]++
			cs[1][byte(v>>8)]++
			cs[2][byte(v>>16)]++
			cs[3][byte(v>>24)]++
			cs[4][byte(v>>32)]++
			cs[5][byte(v>>40)]++
		}
	default:
		for _, v := range x {
			for p := range cs {
				cs[p][byte(v>>(shift+8*uint(p)))]++
			}
		}
	}
	src, dst = x, tmp
	for p := range cs {
		c := &cs[p]
		sh := shift + 8*uint(p)
		if c[byte(src[0]>>sh)] == len(src) {
			continue
		}
		pos := 0
		for i, k := range c {
			c[i] = pos
			pos += k
		}
		for _, v := range src {
			d := byte(v >> sh)
			dst[c[d]] = v
			c[d]++
		}
		src, dst = dst, src
	}
	return src, dst
}
