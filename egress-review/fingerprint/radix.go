package fingerprint

import "slices"

// radixMin is the length from which sortHashes uses a radix sort; below it
// the comparison sort is as fast and needs no scratch space.
const radixMin = 1 << 12

// sortHashes sorts a in increasing order. Fingerprints are uniformly
// distributed 64-bit values, for which a least-significant-digit radix sort
// (eight passes of one byte, a pass skipped when every value has the same
// byte there, as the tag byte often is) is several times faster than a
// comparison sort. It uses scratch, which must not overlap a, when it
// holds len(a) values, and allocates otherwise.
func sortHashes(a, scratch []uint64) {
	if len(a) < radixMin {
		slices.Sort(a)
		return
	}
	if len(scratch) < len(a) {
		scratch = make([]uint64, len(a))
	}
	src, dst := a, scratch[:len(a)]
	for shift := uint(0); shift < 64; shift += 8 {
		var count [256]int
		for _, x := range src {
			count[byte(x>>shift)]++
		}
		if count[byte(src[0]>>shift)] == len(src) {
			continue // every value has this byte: the order stands
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
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
	}
}
