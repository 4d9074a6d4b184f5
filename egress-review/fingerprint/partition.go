package fingerprint

// numParts is the number of partitions a kind's fingerprints are cut in
// when the Builder spills: enough that a partition of a few GiB of input
// fits in cache when WriteSet sorts it, few enough that cutting a spill
// buffer is one pass of a counting sort.
const numParts = 1024

// partRuns is the spill runs of one kind of fingerprint. Every run is cut
// in the same numParts partitions, ranges of fingerprints in increasing
// order: a run holds partition 0's fingerprints, then partition 1's, and
// so on, each part in no order. WriteSet sorts partition p of all the runs
// together, then p+1, which gives every fingerprint in order having sorted
// each only once. The bounds come from the first run's fingerprints, so
// that the partitions of a kind whose fingerprints are not spread evenly
// (their top byte is a tag of kind and length) are still about as long
// as each other.
type partRuns struct {
	cut  []uint16 // the partition of each value of a fingerprint's top 16 bits; nil before the first run
	runs []partRun
}

// partRun is one run file: partition p is its fingerprints from off[p] up
// to off[p+1].
type partRun struct {
	name string
	off  []int64
}

func (k *partRuns) names() []string {
	names := make([]string, len(k.runs))
	for i, r := range k.runs {
		names[i] = r.name
	}
	return names
}

// size is the number of fingerprints in partition p of all the runs.
func (k *partRuns) size(p int) int64 {
	var n int64
	for _, r := range k.runs {
		n += r.off[p+1] - r.off[p]
	}
	return n
}

// total is the number of fingerprints in all the runs.
func (k *partRuns) total() int64 {
	var n int64
	for _, r := range k.runs {
		n += r.off[numParts]
	}
	return n
}

// ranges cuts the partitions in n ranges [from, to) of about the same
// number of fingerprints (some possibly empty).
func (k *partRuns) ranges(n int) [][2]int {
	total := k.total()
	var out [][2]int
	from := 0
	var acc int64
	for p := range numParts {
		acc += k.size(p)
		if len(out) < n-1 && acc*int64(n) >= total*int64(len(out)+1) {
			out = append(out, [2]int{from, p + 1})
			from = p + 1
		}
	}
	for len(out) < n {
		out = append(out, [2]int{from, numParts})
		from = numParts
	}
	return out
}

// cutTable returns the partitions of the values of the top 16 bits: in
// increasing order, each partition taking the next values until it has
// its share of xs's fingerprints. A value that holds more than a share
// has a partition of its own.
func cutTable(xs []uint64) []uint16 {
	hist := make([]int32, 1<<16)
	for _, x := range xs {
		hist[x>>48]++
	}
	cut := make([]uint16, 1<<16)
	n := int64(len(xs))
	var acc int64
	p := int64(0)
	for v, c := range hist {
		cut[v] = uint16(p)
		acc += int64(c)
		p = min(numParts-1, acc*numParts/n)
	}
	return cut
}

// scatterParts writes xs to dst (as long) partition by partition, by a
// counting sort on cut, and returns where each partition starts, with
// the end as a last offset.
func scatterParts(xs, dst []uint64, cut []uint16) []int64 {
	cut = cut[:1<<16]
	var count [numParts]int
	for _, x := range xs {
		count[cut[x>>48]]++
	}
	off := make([]int64, numParts+1)
	pos := 0
	for p, c := range count {
		off[p] = int64(pos)
		count[p] = pos
		pos += c
	}
	off[numParts] = int64(pos)
	dst = dst[:len(xs)]
	for _, x := range xs {
		p := cut[x>>48]
		dst[count[p]] = x
		count[p]++
	}
	return off
}
