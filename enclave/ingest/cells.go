package ingest

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// Column-at-a-time cell access for the per-cell work of the import (the
// safety net, value and row fingerprints). Each function gives exactly
// what fingerprint.CellString gives for every cell, without its type
// switch per cell; cells_test.go checks the agreement.

// eachCellBytes calls fn with the bytes of every non-null cell of arr, in
// order. fn must only read them.
func eachCellBytes(arr arrow.Array, fn func(v []byte)) {
	n := arr.Len()
	hasNulls := arr.NullN() > 0
	if a, ok := arr.(*array.String); ok {
		offs := a.ValueOffsets()
		data := a.ValueBytes()
		base := offs[0]
		for r := 0; r < n; r++ {
			if hasNulls && a.IsNull(r) {
				continue
			}
			fn(data[offs[r]-base : offs[r+1]-base])
		}
		return
	}
	var buf []byte
	for r := 0; r < n; r++ {
		if v, ok := fingerprint.CellString(arr, r); ok {
			buf = append(buf[:0], v...)
			fn(buf)
		}
	}
}

// columnStrings sets dst[r] to cell r of arr as fingerprint.CellString
// formats it, "" for a null cell, and returns dst. Numbers are formatted
// into one string per column instead of one per cell.
func columnStrings(dst []string, arr arrow.Array) []string {
	n := arr.Len()
	if cap(dst) < n {
		dst = make([]string, n)
	}
	dst = dst[:n]
	hasNulls := arr.NullN() > 0
	var format func(buf []byte, r int) []byte
	switch a := arr.(type) {
	case *array.String:
		for r := 0; r < n; r++ {
			if !hasNulls || !a.IsNull(r) {
				dst[r] = a.Value(r)
			} else {
				dst[r] = ""
			}
		}
		return dst
	case *array.Int64:
		format = func(buf []byte, r int) []byte { return strconv.AppendInt(buf, a.Value(r), 10) }
	case *array.Float64:
		format = func(buf []byte, r int) []byte { return strconv.AppendFloat(buf, a.Value(r), 'g', -1, 64) }
	default:
		for r := 0; r < n; r++ {
			dst[r], _ = fingerprint.CellString(arr, r)
		}
		return dst
	}
	buf := make([]byte, 0, 12*n)
	ends := make([]int, n)
	for r := 0; r < n; r++ {
		if !hasNulls || !arr.IsNull(r) {
			buf = format(buf, r)
		}
		ends[r] = len(buf)
	}
	s := string(buf)
	start := 0
	for r, end := range ends {
		dst[r] = s[start:end]
		start = end
	}
	return dst
}

// digitByte is 1 for the ASCII digits and 0 for every other byte.
var digitByte = func() (t [256]uint8) {
	for b := '0'; b <= '9'; b++ {
		t[b] = 1
	}
	return t
}()

// mayHoldPersonal reports whether s could hold a personal identifier that
// pii.ScanFunc reports. It is a necessary condition only, so the safety
// net skips the scan for the many cells that fail it and loses nothing
// (FuzzMayHoldPersonal checks it against pii.ScanFunc):
//
//   - an e-mail address needs an '@';
//   - a resident ID number, a bank card or a mobile number written as one
//     run needs 11 digits in a row;
//   - a bank card in groups joined by single spaces or dashes needs 15
//     digits in the chain of groups, a mobile number in groups 11, with a
//     group starting with '1'.
func mayHoldPersonal(s string) bool {
	// Every case below needs 11 digits at least: count them first, eight
	// bytes at a time, since most cells have far fewer.
	digits, at := digitsAndAt(s)
	return mayHoldPersonalCounted(s, digits, at)
}

// mayHoldPersonalCounted is mayHoldPersonal for an s whose ASCII digits and
// '@' are counted already (digitsAndAt(s), or the Shape the cell's
// fingerprint found).
func mayHoldPersonalCounted(s string, digits int, at bool) bool {
	if at {
		return true
	}
	if digits < 11 {
		return false
	}
	if len(s) <= 64 {
		return digitChains(s)
	}
	return digitChainsLoop(s)
}

// digitChainsLoop is the rest of mayHoldPersonal a byte at a time: 11
// digits in a row, or a chain of groups of digits joined by single spaces
// or dashes with 15 digits, or 11 and a group that starts with '1'.
func digitChainsLoop(s string) bool {
	run, chain, one := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if run == 0 && c == '1' {
				one = true
			}
			run++
			chain++
			if run >= 11 || chain >= 15 || (chain >= 11 && one) {
				return true
			}
			continue
		}
		if (c == ' ' || c == '-') && run > 0 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			run = 0 // the chain goes on with the next group
			continue
		}
		run, chain, one = 0, 0, false
	}
	return false
}

// digitChains is digitChainsLoop for s of at most 64 bytes, from masks
// of its bytes (bit i for s[i]): the digits, the ones, and the spaces and
// dashes, eight bytes at a time; then 11 digits in a row are a shifted
// and, and each chain (groups of digits and the separators between them)
// is a run of bits whose digits are counted at once.
func digitChains(s string) bool {
	var digit, one, sep uint64
	n := len(s)
	p := unsafe.Slice(unsafe.StringData(s), n)
	for i := 0; i < n; i += 8 {
		var x uint64
		switch {
		case i+8 <= n:
			x = binary.LittleEndian.Uint64(p[i:])
		case n >= 8:
			// the last bytes, from the last eight shifted past those
			// before i: zeros above them, as in a copy
			x = binary.LittleEndian.Uint64(p[n-8:]) >> (64 - 8*uint(n-i))
		default:
			var w [8]byte
			copy(w[:], p[i:])
			x = binary.LittleEndian.Uint64(w[:])
		}
		ascii := ^x & swarHigh
		low := x & swarLow7
		d := (low + 0x50*swarOnes) &^ (low + 0x46*swarOnes) & ascii
		// a byte equal to c: its top bit in ^((x^c)+0x7F) with x^c < 0x80
		eq := func(c uint64) uint64 {
			y := low ^ c*swarOnes
			return ^(y + swarLow7) & ascii
		}
		digit |= topBits(d) << i
		one |= topBits(eq('1')) << i
		sep |= topBits(eq(' ')|eq('-')) << i
	}
	// 11 in a row: digits at i and the 10 bytes after it
	r2 := digit & (digit >> 1)
	r4 := r2 & (r2 >> 2)
	r8 := r4 & (r4 >> 4)
	if r8&(r2>>8)&(digit>>10) != 0 {
		return true
	}
	// a separator joins the groups of digits on both of its sides
	chains := digit | sep&(digit<<1)&(digit>>1)
	starts := digit &^ (digit << 1) // the first digits of groups
	for chains != 0 {
		lo := chains & -chains
		// the bit past the lowest chain is where adding lo carries to
		// (0 past bit 63); the chain is the bits from lo up to it
		c := (chains+lo)&^chains - lo
		n := bits.OnesCount64(digit & c)
		if n >= 15 || n >= 11 && one&starts&c != 0 {
			return true
		}
		chains &^= c
	}
	return false
}

// topBits gathers the top bit of each byte of x into the low 8 bits.
func topBits(x uint64) uint64 {
	return (x & swarHigh) * 0x0002040810204081 >> 56
}

// SWAR constants: every byte 0x01, every byte 0x7F, every byte 0x80.
const (
	swarOnes = 0x0101010101010101
	swarLow7 = 0x7F7F7F7F7F7F7F7F
	swarHigh = 0x8080808080808080
)

// digitsAndAt counts the ASCII digits of s and reports whether it holds an
// '@', eight bytes at a time: in each byte of a word, the top bit of
// ((b&0x7F)+0x50)&^((b&0x7F)+0x46) is set for b&0x7F in '0'..'9' (the
// first sum reaches 0x80 from '0' up, the second from past '9'), and of
// ((b&0x7F)^0x40)+0x7F clear for b&0x7F == '@'; bytes with the top bit
// set (never a digit or '@') are masked out. FuzzDigitsAndAt checks it
// against a byte loop.
func digitsAndAt(s string) (digits int, at bool) {
	var atBits uint64
	look := func(x uint64) {
		ascii := ^x & swarHigh
		low := x & swarLow7
		d := (low + 0x50*swarOnes) &^ (low + 0x46*swarOnes) & ascii
		digits += bits.OnesCount64(d)
		atBits |= ^((low ^ 0x40*swarOnes) + swarLow7) & ascii
	}
	n := len(s)
	p := unsafe.Slice(unsafe.StringData(s), n)
	i := 0
	for ; i+8 <= n; i += 8 {
		look(binary.LittleEndian.Uint64(p[i:]))
	}
	if i < n {
		if n >= 8 {
			// the last bytes, from the last eight shifted past those
			// before i; the zeros shifted in are neither digits nor '@'
			look(binary.LittleEndian.Uint64(p[n-8:]) >> (64 - 8*uint(n-i)))
		} else {
			for ; i < n; i++ {
				digits += int(digitByte[s[i]])
				at = at || s[i] == '@'
			}
		}
	}
	return digits, at || atBits != 0
}
