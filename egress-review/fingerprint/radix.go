package fingerprint

import "slices"

// radixMin is the length from which sortHashes uses a radix sort; below it
// the comparison sort is as fast and needs no scratch space.
const radixMin = 1 << 12

// bucketMin is the size of a top-16-bit bucket from which sortHashes sorts
// it by radix too; smaller buckets are sorted by comparison.
const bucketMin = 256

// sortHashes sorts a in increasing order. Fingerprints are a tag byte
// over 56 uniformly distributed bits, for which a radix sort is several
// times faster than a comparison sort. Two passes over the whole slice
// order it by the top 16 bits (the tag byte, then the byte below it; a
// pass is skipped when every value has the same byte there, as the tag
// byte often does); each bucket of equal top 16 bits, a few hundredth of
// the whole, then fits in cache and is sorted there by its low 48 bits.
// It uses scratch, which must not overlap a, when it holds len(a) values,
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
	for i := 0; i < len(src); {
		top := src[i] >> 48
		j := i + 1
		for j < len(src) && src[j]>>48 == top {
			j++
		}
		sortLow(src[i:j], dst[i:j], a[i:j])
		i = j
	}
}

// sortLow sorts x, whose values share their top 16 bits, into out (which
// is x's or tmp's memory), using tmp (as long as x) as scratch.
func sortLow(x, tmp, out []uint64) {
	if len(x) < bucketMin {
		slices.Sort(x)
		copy(out, x)
		return
	}
	src, _ := radixPasses(x, tmp, 0, 6)
	copy(out, src)
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
