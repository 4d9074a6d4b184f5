package scan

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/containerd/errdefs"
)

// Column scans: a table's columns are scanned a column at a time, with no
// call per cell where a filter decides, so that an aggregate table costs a
// few nanoseconds a cell. Each finds exactly what the per-cell methods find.

// shortMemo remembers the verdict of Value on cells of one to seven bytes,
// which fit in a word with their length: a string column's short cells
// (codes, bands, months, districts) repeat, and a probe of this table
// costs less than classifying the cell's bytes again. An entry is the
// cell's bytes (little-endian, bits 0 to 55), its length (bits 56 to 58)
// and the verdict (bit 63); 0 is an empty entry (no key has length 0).
type shortMemo [shortSlots]uint64

const (
	shortBits  = 12
	shortSlots = 1 << shortBits
	shortHit   = 1 << 63
)

// lowBytes[n] keeps the low n bytes of a word.
var lowBytes = [8]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff}

// shortKey returns the memo key of cell b (one to seven bytes) starting at
// data[i], reading a whole word when data holds one there.
func shortKey(data []byte, i, n int) uint64 {
	var w uint64
	if i+8 <= len(data) {
		w = binary.LittleEndian.Uint64(data[i:]) & lowBytes[n]
	} else {
		for j, c := range data[i : i+n] {
			w |= uint64(c) << (8 * j)
		}
	}
	return w | uint64(n)<<56
}

// Strings counts the cells of a string column that Value reports: cell i is
// data[offsets[i]:offsets[i+1]], as in an Arrow string array's offsets and
// values buffers (offsets holds one more entry than there are cells; a
// column without cells has one offset or none). It returns an
// errdefs.ErrDataLoss class error, and no count, when an offset is outside
// data or smaller than the one before: the column is malformed.
func (t *TextScanner) Strings(offsets []int32, data []byte) (int, error) {
	if len(offsets) < 2 || len(t.s.values) == 0 {
		return 0, checkOffsets(offsets, len(data))
	}
	if t.short == nil {
		t.short = new(shortMemo)
	}
	m := t.short
	hits := 0
	prev := int(offsets[0])
	if prev < 0 || prev > len(data) {
		return 0, errOffsets
	}
	for _, o := range offsets[1:] {
		start, end := prev, int(o)
		prev = end
		n := end - start
		if uint(n-1) < 7 {
			// One to seven bytes; end is within data (checked below
			// for the cells that take the other branch).
			if end > len(data) {
				return 0, errOffsets
			}
			k := shortKey(data, start, n)
			slot := &m[(k*0x9e3779b97f4a7c15)>>(64-shortBits)]
			if e := *slot; e&^shortHit == k {
				hits += int(e >> 63)
				continue
			}
			hit := t.Value(unsafeString(data[start:end]))
			e := k
			if hit {
				e |= shortHit
				hits++
			}
			*slot = e
			continue
		}
		if n < 0 || end > len(data) {
			return 0, errOffsets
		}
		if n > 0 && t.Value(unsafeString(data[start:end])) {
			hits++
		}
	}
	return hits, nil
}

var errOffsets = fmt.Errorf("string column offsets out of range: %w", errdefs.ErrDataLoss)

// checkOffsets checks offsets against a values buffer of n bytes.
func checkOffsets(offsets []int32, n int) error {
	prev := 0
	for i, o := range offsets {
		if o < 0 || int(o) > n || (i > 0 && int(o) < prev) {
			return errOffsets
		}
		prev = int(o)
	}
	return nil
}

// Ints counts the values of an integer column that Int reports. A column
// whose range IntRange refuses costs one pass over the values.
func (s *Scanner) Ints(vs []int64) int {
	if len(s.values) == 0 || len(vs) == 0 {
		return 0
	}
	lo, hi := vs[0], vs[0]
	for _, v := range vs {
		lo, hi = min(lo, v), max(hi, v)
	}
	if !s.IntRange(lo, hi) {
		return 0
	}
	// Bit n of pos (neg) is set when a non-negative (negative) value of n
	// digits can be a hit.
	var pos, neg uint32
	for n := 1; n <= 20; n++ {
		if s.decimalLen(n, false) {
			pos |= 1 << n
		}
		if s.decimalLen(n, true) {
			neg |= 1 << n
		}
	}
	hits := 0
	for _, v := range vs {
		u, lens := uint64(v), pos
		if v < 0 {
			u, lens = -u, neg
		}
		if lens>>decimalDigits(u)&1 == 0 {
			continue
		}
		if s.Int(v) {
			hits++
		}
	}
	return hits
}

// Floats counts the values of a float column that Float reports.
func (s *Scanner) Floats(vs []float64) int {
	if len(s.values) == 0 {
		return 0
	}
	// could[sign][intDigits][decimals]: whether a decimal of that shape
	// (see decimalShape) can be a hit.
	var could [2][8][3]bool
	for sign := range 2 {
		for id := 1; id < 8; id++ {
			for d := 1; d <= 2; d++ {
				could[sign][id][d] = s.asciiCould(sign+id+1+d, id+d)
			}
		}
	}
	hits := 0
	for _, v := range vs {
		a := math.Abs(v)
		if a >= 0.01 && a < 1e6 && float64(int64(v)) != v {
			// The shape test of decimalShape, inline.
			m := float64(int64(a*100 + 0.5))
			if m/100 == a {
				mi := uint64(m)
				d := 2
				if mi%10 == 0 {
					d = 1
				}
				// m/100 == a, so a >= 10^k exactly when mi >= 100*10^k.
				id := 1 + b2i(mi >= 1000) + b2i(mi >= 10000) + b2i(mi >= 100000) + b2i(mi >= 1000000) + b2i(mi >= 10000000)
				if !could[math.Float64bits(v)>>63][id][d] {
					continue
				}
			}
		}
		if s.Float(v) {
			hits++
		}
	}
	return hits
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// unsafeString returns b as a string without copying it; b must not change
// while the string is in use.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
