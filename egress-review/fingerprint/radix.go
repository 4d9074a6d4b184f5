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
	// Least significant of the two first: byte 6, then the tag (stable).
	src, dst := a, s
	for _, shift := range [...]uint{48, 56} {
		if radixPass(src, dst, shift) {
			src, dst = dst, src
		}
	}
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

// radixPass moves src into dst ordered (stably) by the byte at shift and
// reports true, or does nothing and reports false when every value has
// the same byte there.
func radixPass(src, dst []uint64, shift uint) bool {
	var count [256]int
	for _, x := range src {
		count[byte(x>>shift)]++
	}
	if count[byte(src[0]>>shift)] == len(src) {
		return false
	}
	pos := 0
	for i, c := range count {
		count[i] = pos
		pos += c
	}
	for _, x := range src {
		d := byte(x >> shift)
		dst[count[d]] = x
		count[d]++
	}
	return true
}

// sortLow sorts x, whose values share their top 16 bits, into out (which
// is x's or tmp's memory), using tmp (as long as x) as scratch.
func sortLow(x, tmp, out []uint64) {
	if len(x) < bucketMin {
		slices.Sort(x)
		copy(out, x)
		return
	}
	src, dst := x, tmp
	for shift := uint(0); shift < 48; shift += 8 {
		if radixPass(src, dst, shift) {
			src, dst = dst, src
		}
	}
	copy(out, src)
}
