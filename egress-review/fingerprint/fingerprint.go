// Package fingerprint turns sensitive values into keyed 64-bit fingerprints
// and keeps them in compact, serializable sets, so that the egress checks can
// recognise an input value (or a whole input row) in a job's outputs without
// the index ever holding the values themselves.
//
// The dataset importer builds one Set per dataset version: it canonicalizes
// every value of the columns with a personal-information type (raw and
// desensitized forms), hashes them with a Hasher keyed by the keyring's
// "fingerprint" secret, adds the hashes and the tuple fingerprint of every
// row to a Builder and stores the built Set with WriteTo. The egress checks
// load it with ReadSet and look output cells up with HasValue and HasRow.
//
// Hashes are SipHash-2-4, a keyed pseudo-random function: without the key a
// fingerprint says nothing about its value and cannot be confirmed by
// guessing. The top byte of a fingerprint is its tag: for a value, the kind
// of its canonical form (digits only, other ASCII, non-ASCII) and its length
// (capped at 63); for a row, its number of cells (capped at 255). The other
// 56 bits are keyed hash. A Set knows which tags it holds (Tags), so that a
// scanner can skip hashing cells and tokens that cannot match. Hasher and
// Set are safe for concurrent use; Builder is not.
package fingerprint

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/containerd/errdefs"
)

// KeySize is the length of a Hasher key in bytes.
const KeySize = 32

// MinDigits is the number of ASCII digits from which a value also gets a
// digits-only canonical form ("138-1234-5678" -> "13812345678"). A masked
// value keeps few digits ("138****5678" keeps 1385678), and its
// digits-only form is what finds masked values printed back to back, as
// strings(1) prints an Arrow string buffer; the price is that an output's
// seven-digit counts or sums can match a masked phone by chance, which
// fails the check (closed) for an officer to look at.
const MinDigits = 6

// Canonical returns the canonical forms of v: v lowercased with all white
// space and invisible format characters removed (full-width ASCII is mapped
// to ASCII first), and, when v holds at least MinDigits digits, the string of
// its digits alone. Forms are deduplicated; an empty or all-space v has none.
func Canonical(v string) []string {
	var cbuf, dbuf [64]byte
	c, d := canonicalize(cbuf[:0], dbuf[:0], v)
	var out []string
	if len(c) > 0 {
		out = append(out, string(c))
	}
	if d != nil && string(d) != string(c) {
		out = append(out, string(d))
	}
	return out
}

// canonicalize appends the lowercased, space-free form of v to c and its
// digits to d. It returns d as nil when v has fewer than MinDigits digits.
func canonicalize(c, d []byte, v string) ([]byte, []byte) {
	i := 0
	for ; i < len(v); i++ {
		b := v[i]
		if b >= utf8.RuneSelf {
			goto slow
		}
		c, d = appendASCII(c, d, b)
	}
	goto done
slow:
	for i < len(v) {
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			// An invalid byte becomes U+FFFD, so that removing the
			// spaces around invalid bytes cannot join them into a
			// valid rune (canonical forms are canonical).
			c = utf8.AppendRune(c, utf8.RuneError)
			i++
			continue
		}
		i += size
		if r >= 0x4E00 && r <= 0x9FFF { // CJK ideographs: no case, not space
			c = append(c, v[i-size:i]...)
			continue
		}
		if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
			r -= 0xFEE0
		}
		switch {
		case r < utf8.RuneSelf:
			c, d = appendASCII(c, d, byte(r))
		case unicode.IsSpace(r) || unicode.Is(unicode.Cf, r):
		default:
			c = utf8.AppendRune(c, unicode.ToLower(r))
		}
	}
done:
	if len(d) < MinDigits {
		d = nil
	}
	return c, d
}

// Hasher computes keyed fingerprints. It is safe for concurrent use.
type Hasher struct {
	value sipKey // for values
	row   sipKey // for row tuples and the key id
	id    uint64
}

// NewHasher returns a Hasher keyed with key, which must be KeySize bytes
// (the keyring's Secret("fingerprint")). It returns an
// errdefs.ErrInvalidArgument class error for a key of another length.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("fingerprint key of %d bytes, need %d: %w", len(key), KeySize, errdefs.ErrInvalidArgument)
	}
	h := &Hasher{value: newSipKey(key[:16]), row: newSipKey(key[16:])}
	// Canonical forms never hold upper case or spaces, so the label below
	// cannot collide with a value fingerprint.
	h.id = h.row.sum64([]byte("enclave/fingerprint/key-id")) ^ h.value.sum64([]byte("Enclave Key ID"))
	if h.id == 0 {
		h.id = 1
	}
	return h, nil
}

// ID identifies the key without revealing it: a fixed label hashed under
// the key. Sets built with SetKeyID carry it, so that a lookup with the
// wrong key can be refused instead of silently finding nothing.
func (h *Hasher) ID() uint64 { return h.id }

// Value returns the fingerprints of the canonical forms of v (see
// Canonical), in the same order; none for an empty value.
func (h *Hasher) Value(v string) []uint64 {
	return h.AppendValue(nil, v)
}

// AppendValue appends the fingerprints of v's canonical forms to dst and
// returns the extended slice. It does not allocate when dst has room and v
// is short; scanners use it on every cell.
func (h *Hasher) AppendValue(dst []uint64, v string) []uint64 {
	var cbuf, dbuf [128]byte
	c, d := canonicalize(cbuf[:0], dbuf[:0], v)
	if len(c) == 0 {
		return dst
	}
	dst = append(dst, h.valueSum(c))
	if d != nil && len(d) != len(c) {
		dst = append(dst, h.valueSum(d))
	}
	return dst
}

// ValueBytes is AppendValue for a byte slice, without converting it.
func (h *Hasher) ValueBytes(dst []uint64, v []byte) []uint64 {
	// Codes and identifiers, ASCII from '!' up, are read eight bytes at
	// a time and hashed as Cell hashes them (their first form).
	if x, s, ok := h.cellWords(unsafeString(v)); ok {
		return h.appendKnown(dst, x, s, v)
	}
	return h.valueBytesSlow(dst, v)
}

// AppendValueOfCell is AppendValue(dst, v) for a v whose Cell fingerprint
// cell is already known: when v is its own first canonical form, that form's
// fingerprint is cell, so only the digits form (if any) is hashed. An
// importer that computes Cell for every cell of a row saves hashing the
// same value twice.
func (h *Hasher) AppendValueOfCell(dst []uint64, cell uint64, v string) []uint64 {
	digits := 0
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b >= utf8.RuneSelf || asciiCanon[b] != b {
			return h.AppendValue(dst, v)
		}
		digits += int(isDigit[b])
	}
	if len(v) == 0 {
		return dst
	}
	dst = append(dst, cell)
	if digits >= MinDigits && digits != len(v) {
		dst = append(dst, h.digitsSum(unsafe.Slice(unsafe.StringData(v), len(v))))
	}
	return dst
}

// Shape is what Cell learned of a value's bytes while hashing it, for a
// caller that looks at the same cell again. A counted Shape holds the
// value's number of ASCII digits and whether it holds an '@'; a known one
// is counted and also says that the value is ASCII from '!' up (no white
// space or control characters), so that its first canonical form is the
// value in lower case, as long.
// The zero Shape knows nothing.
type Shape uint32

const (
	shapeKnown   Shape = 1 << 31
	shapeAt      Shape = 1 << 30
	shapeCounted Shape = 1 << 29
	shapeDigits        = 1<<29 - 1 // mask of the digit count
)

// Known reports whether s describes its value's form (and is counted).
func (s Shape) Known() bool { return s&shapeKnown != 0 }

// Counted reports whether Digits and At describe the value; they are zero
// otherwise.
func (s Shape) Counted() bool { return s&shapeCounted != 0 }

// Digits returns the number of ASCII digits of a value whose Shape is
// counted.
func (s Shape) Digits() int { return int(s & shapeDigits) }

// At reports whether a value whose Shape is counted holds an '@'.
func (s Shape) At() bool { return s&shapeAt != 0 }

// countedShape is the counted Shape of a value with the counts that
// byteCounts adds up for it; zero if the digits do not fit.
func countedShape(counts uint64) Shape {
	digits := counts & (1<<32 - 1)
	if digits > shapeDigits {
		return 0
	}
	s := shapeCounted | Shape(digits)
	if counts>>32 != 0 {
		s |= shapeAt
	}
	return s
}

// byteCounts is 1 for an ASCII digit and 1<<32 for '@': summed over a
// value's bytes, its digits below bit 32 and its '@'s above.
var byteCounts = func() (t [256]uint64) {
	for b := '0'; b <= '9'; b++ {
		t[b] = 1
	}
	t['@'] = 1 << 32
	return t
}()

// CellShape is Cell, with the Shape of v.
func (h *Hasher) CellShape(v string) (uint64, Shape) {
	if x, s, ok := h.cellWords(v); ok {
		return x, s
	}
	return h.cellOther(v)
}

// AppendValueOfShape is AppendValueOfCell for a v whose Shape s CellShape
// returned with cell: when s is known, v needs no second look.
func (h *Hasher) AppendValueOfShape(dst []uint64, cell uint64, s Shape, v string) []uint64 {
	if !s.Known() {
		return h.AppendValueOfCell(dst, cell, v)
	}
	return h.appendKnown(dst, cell, s, unsafe.Slice(unsafe.StringData(v), len(v)))
}

// appendKnown appends the value fingerprints of a v of known Shape s
// whose Cell fingerprint is cell: its first canonical form is v lowered,
// whose fingerprint is cell, and its digits form is v's digits.
func (h *Hasher) appendKnown(dst []uint64, cell uint64, s Shape, v []byte) []uint64 {
	if len(v) == 0 {
		return dst
	}
	dst = append(dst, cell)
	if d := s.Digits(); d >= MinDigits && d != len(v) {
		dst = append(dst, h.digitsSum(v))
	}
	return dst
}

// digitsSum is the fingerprint of the digits form of v, a canonical ASCII
// form with at least MinDigits digits and other bytes too.
func (h *Hasher) digitsSum(v []byte) uint64 {
	var dbuf [128]byte
	d := dbuf[:0]
	if len(v) <= len(dbuf) {
		// Write every byte, keep the digits (branch-free).
		j := 0
		for _, b := range v {
			dbuf[j] = b
			j += int(isDigit[b])
		}
		d = dbuf[:j]
	} else {
		for _, b := range v {
			if isDigit[b] != 0 {
				d = append(d, b)
			}
		}
	}
	return withTag(h.value.sum64(d), ValueTag(KindDigits, len(d)))
}

// isDigit is 1 for the ASCII digits and 0 for every other byte.
var isDigit = func() (t [256]uint8) {
	for b := '0'; b <= '9'; b++ {
		t[b] = 1
	}
	return t
}()

// valueBytesSlow is ValueBytes for a v that cellWords does not take.
func (h *Hasher) valueBytesSlow(dst []uint64, v []byte) []uint64 {
	return h.AppendValue(dst, unsafeString(v))
}

// Row returns the tuple fingerprint of a row: the fingerprints of each
// cell's first canonical form (an empty or null cell counts as ""), sorted,
// and hashed together under a separate key. Sorting makes it independent of
// column order, so reordering the columns of a copied table does not hide
// it; the cells must be formatted the same way on both sides (use
// CellString for Arrow values).
func (h *Hasher) Row(cells []string) uint64 {
	var stack [32]uint64
	hs := stack[:0]
	for _, v := range cells {
		hs = append(hs, h.Cell(v))
	}
	return h.RowOf(hs)
}

// Cell returns the fingerprint of the first canonical form of v (of "" for
// an empty cell): what Row hashes for each cell. An importer that hashes a
// table a column at a time calls Cell on every cell and RowOf on each row.
func (h *Hasher) Cell(v string) uint64 {
	if x, _, ok := h.cellWords(v); ok {
		return x
	}
	x, _ := h.cellOther(v)
	return x
}

// cellOther is CellShape for a v that cellWords does not take; the Shape
// is counted unless v needed cellSlow.
func (h *Hasher) cellOther(v string) (uint64, Shape) {
	var counts uint64
	other := false
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(v[i:])
			if r < 0x4E00 || r > 0x9FFF {
				return h.cellSlow(v), 0
			}
			// A CJK ideograph has no case and is not space: it is
			// its own canonical form.
			other = true
			i += size - 1
			continue
		}
		if asciiCanon[b] != b {
			return h.cellASCII(v, i, counts, other)
		}
		counts += byteCounts[b] // no branch: digits come and go at random
	}
	kind := KindMixed
	switch {
	case other:
		kind = KindOther
	case int(counts&(1<<32-1)) == len(v):
		kind = KindDigits
	}
	// v is its own first canonical form, of kind and length known: hash
	// it without copying (valueSum would find the same tag).
	return withTag(h.value.sum64(unsafe.Slice(unsafe.StringData(v), len(v))), ValueTag(kind, len(v))), countedShape(counts)
}

// cellWords is Cell for the commonest cells, codes and identifiers: ASCII
// from '!' up (no white space or control characters), whose canonical form
// is the value in lower case, as long. It looks at eight bytes at a time
// (the capitals, the digits, '@', and anything that rules the value out),
// then hashes the value, lowered as it is read when it has capitals,
// without copying it. It returns false for any other value, and the
// value's Shape when it takes it.
func (h *Hasher) cellWords(v string) (uint64, Shape, bool) {
	n := len(v)
	p := unsafe.Slice(unsafe.StringData(v), n)
	var upper, at uint64
	digits := 0
	i := 0
	for ; i+8 <= n; i += 8 {
		bad, u, a, d := wordClass(binary.LittleEndian.Uint64(p[i:]))
		if bad != 0 {
			return 0, 0, false // names and text: their first space is early
		}
		upper |= u
		at |= a
		digits += bits.OnesCount64(d)
	}
	if r := n - i; r > 0 {
		// The bytes left, read as sum64 reads them, with zeros above
		// them: zeros are not capitals, digits or '@', and are no
		// reason to refuse the value.
		var x uint64
		if n >= 8 {
			x = binary.LittleEndian.Uint64(p[n-8:]) >> (64 - 8*uint(r))
		} else {
			x = shortWord(p, i)
		}
		bad, u, a, d := wordClass(x)
		if bad&(swarHigh>>(64-8*uint(r))) != 0 {
			return 0, 0, false
		}
		upper |= u
		at |= a
		digits += bits.OnesCount64(d)
	}
	if n > shapeDigits {
		return 0, 0, false
	}
	shape := shapeKnown | shapeCounted | Shape(digits)
	if at != 0 {
		shape |= shapeAt
	}
	kind := KindMixed
	if digits == n {
		kind = KindDigits
	}
	var sum uint64
	if upper == 0 {
		sum = h.value.sum64(p)
	} else {
		sum = h.value.sum64Lower(p)
	}
	return withTag(sum, ValueTag(kind, n)), shape, true
}

// wordClass returns the top bit of each byte of x that rules a value out
// of cellWords (from 0x80 up, or below '!': white space and control
// characters), and of each capital, '@' and digit. The last three are
// exact when bad is zero: with all bytes ASCII no sum carries into the
// next byte. Each "in [lo, hi]" is as swarIn, sharing its sums.
func wordClass(x uint64) (bad, upper, at, digit uint64) {
	ge21 := x + (0x80-0x21)*swarOnes // from '!'
	ge30 := x + (0x80-'0')*swarOnes  // from '0'
	gt39 := x + (0x7F-'9')*swarOnes  // past '9'
	ge40 := x + (0x80-'@')*swarOnes  // from '@'
	ge41 := x + (0x80-'A')*swarOnes  // from 'A', past '@'
	gt5a := x + (0x7F-'Z')*swarOnes  // past 'Z'
	bad = (x | ^ge21) & swarHigh
	digit = ge30 &^ gt39 & swarHigh
	at = ge40 &^ ge41 & swarHigh
	upper = ge41 &^ gt5a & swarHigh
	return
}

// SWAR (SIMD within a register) on eight ASCII bytes.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x80 * swarOnes
)

// swarIn returns the top bit of each byte of x that is in [lo, hi], for x
// whose bytes are all ASCII (so that no sum carries into the next byte).
func swarIn(x uint64, lo, hi byte) uint64 {
	return (x + (0x80-uint64(lo))*swarOnes) &^ (x + (0x7F-uint64(hi))*swarOnes) & swarHigh
}

// lowerWord maps the capitals of eight ASCII bytes to lower case.
func lowerWord(x uint64) uint64 { return x | swarIn(x, 'A', 'Z')>>2 }

// asciiCanon maps an ASCII byte to its canonical form: lower case, and
// asciiDrop for the white space that canonical forms leave out.
var asciiCanon = func() (t [utf8.RuneSelf]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for b := 'A'; b <= 'Z'; b++ {
		t[b] = byte(b) + ('a' - 'A')
	}
	t[' '] = asciiDrop
	for b := '\t'; b <= '\r'; b++ {
		t[b] = asciiDrop
	}
	return t
}()

// asciiDrop marks white space in asciiCanon; no ASCII byte maps to it.
const asciiDrop = 0xFF

// appendASCII appends the canonical form of the ASCII byte b to c (none
// for white space), and b to d when it is a digit.
func appendASCII(c, d []byte, b byte) ([]byte, []byte) {
	m := asciiCanon[b]
	if m == asciiDrop {
		return c, d
	}
	c = append(c, m)
	if isDigit[b] != 0 {
		d = append(d, b)
	}
	return c, d
}

// cellASCII is CellShape for a v whose bytes before i are canonical and
// whose byte i is upper case or space: while v stays ASCII, its canonical
// form is the table mapping of each byte. counts are byteCounts' of the
// bytes before i and other says whether a CJK ideograph came before i. It
// counts the digits (and '@'s) as it copies, so that the tag needs no
// second pass (formTag's) and the Shape is counted.
func (h *Hasher) cellASCII(v string, i int, counts uint64, other bool) (uint64, Shape) {
	var buf [128]byte
	var c []byte
	if len(v) <= len(buf) {
		// Write every byte's mapping and keep those that are not
		// white space, without a branch: spaces in names come and go.
		j := copy(buf[:], v[:i])
		for ; i < len(v); i++ {
			b := v[i]
			if b >= utf8.RuneSelf {
				return h.cellSlow(v), 0
			}
			m := asciiCanon[b]
			buf[j] = m
			j += 1 - int(m>>7)      // asciiDrop is the only mapping from 0x80 up
			counts += byteCounts[m] // a digit or '@' maps to itself; asciiDrop is none
		}
		c = buf[:j]
	} else {
		c = append(buf[:0], v[:i]...)
		for ; i < len(v); i++ {
			b := v[i]
			if b >= utf8.RuneSelf {
				return h.cellSlow(v), 0
			}
			if m := asciiCanon[b]; m != asciiDrop {
				c = append(c, m)
				counts += byteCounts[m]
			}
		}
	}
	kind := KindMixed
	switch {
	case other:
		kind = KindOther
	case int(counts&(1<<32-1)) == len(c):
		kind = KindDigits
	}
	return withTag(h.value.sum64(c), ValueTag(kind, len(c))), countedShape(counts)
}

// cellSlow is Cell for a v that is not its own canonical form.
func (h *Hasher) cellSlow(v string) uint64 {
	var cbuf, dbuf [128]byte
	c, _ := canonicalize(cbuf[:0], dbuf[:0], v)
	return h.valueSum(c)
}

// RowOf returns the tuple fingerprint of a row from the Cell fingerprints
// of its cells, which it sorts in place: Row(cells) is RowOf of the Cell
// of each cell.
func (h *Hasher) RowOf(cells []uint64) uint64 {
	if len(cells) <= 16 {
		insertionSort(cells) // a row's few cells: no call into slices
	} else {
		slices.Sort(cells)
	}
	// The hash of the cells' little-endian encoding, a word at a time.
	return withTag(h.row.sum64Words(cells), RowTag(len(cells)))
}

// topShift places the tag of a fingerprint.
const topShift = 56

// withTag replaces the top byte of x by tag t.
func withTag(x uint64, t int) uint64 {
	return x&(1<<topShift-1) | uint64(t)<<topShift
}

// valueSum is the fingerprint of one canonical form c.
func (h *Hasher) valueSum(c []byte) uint64 {
	return withTag(h.value.sum64(c), formTag(c))
}

// unsafeString views b as a string; the string must only be read while b is
// unchanged.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
