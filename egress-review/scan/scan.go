// Package scan recognises input values in output bytes: it canonicalizes
// cells and text tokens the way the fingerprint package does, also tries
// the decoded form of anything that looks encoded (base64, hex, URL
// escapes), and looks the keyed hashes up in the fingerprint sets of a
// job's inputs. It is the engine of the raw-values and row-copy checks and
// of the filter on job logs and previews.
package scan

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/bits"
	"net/url"
	"strconv"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/containerd/errdefs"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// maxDepth bounds nested decoding (base64 of hex of a value).
const maxDepth = 2

// Scanner looks values up in a list of fingerprint sets. It is safe for
// concurrent use.
type Scanner struct {
	h      *fingerprint.Hasher
	values []*fingerprint.Set // sets with value fingerprints
	rows   []*fingerprint.Set // all sets, by input index, for Row
	tags   fingerprint.Tags   // tags of all value fingerprints
	widths fingerprint.Tags   // tags of all row fingerprints
	// could has asciiCould(n, d) at bit d of could[n] for d <= n < 64,
	// for the text scanner's tokens and pairs (see setCould).
	could *[64]uint64
}

// New returns a Scanner over sets (nil entries are allowed and hold
// nothing). It returns an errdefs.ErrInvalidArgument class error without a
// hasher, and an errdefs.ErrFailedPrecondition class error when a set
// records a key ID other than the hasher's: scanning it would find nothing.
func New(h *fingerprint.Hasher, sets []*fingerprint.Set) (*Scanner, error) {
	if h == nil {
		return nil, fmt.Errorf("scanner without a fingerprint hasher: %w", errdefs.ErrInvalidArgument)
	}
	s := &Scanner{h: h, rows: sets}
	for i, set := range sets {
		if set == nil {
			continue
		}
		if id := set.KeyID(); id != 0 && id != h.ID() {
			return nil, fmt.Errorf("fingerprint set %d was built with another key: %w", i, errdefs.ErrFailedPrecondition)
		}
		if nv, _ := set.Len(); nv > 0 {
			s.values = append(s.values, set)
		}
		s.tags.Union(set.ValueTags())
		s.widths.Union(set.RowTags())
	}
	s.setCould()
	return s, nil
}

// Unfiltered returns a copy of s that skips nothing on account of tags: it
// hashes and looks up every form, as a scanner without the length filter
// would. It finds exactly what s finds, more slowly; tests compare the two.
func (s *Scanner) Unfiltered() *Scanner {
	u := *s
	all := fingerprint.Tags{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	u.tags, u.widths = all, all
	u.setCould()
	return &u
}

// setCould sets s.could from s.tags.
func (s *Scanner) setCould() {
	s.could = new([64]uint64)
	for n := range 64 {
		for d := 0; d <= n; d++ {
			if s.asciiCould(n, d) {
				s.could[n] |= 1 << d
			}
		}
	}
}

// Empty reports whether there are no value fingerprints to look for.
func (s *Scanner) Empty() bool { return len(s.values) == 0 }

// HasRows reports whether any set holds row fingerprints.
func (s *Scanner) HasRows() bool {
	for _, set := range s.rows {
		if _, nr := set.Len(); nr > 0 {
			return true
		}
	}
	return false
}

// lookup reports whether a canonical form of v is a value fingerprint of a
// set. Forms of a kind and length no set holds are not hashed.
func (s *Scanner) lookup(v []byte) bool {
	var a [2]uint64
	return s.hit(s.h.AppendValueIn(a[:0], v, &s.tags))
}

func (s *Scanner) hit(hs []uint64) bool {
	for _, x := range hs {
		for _, set := range s.values {
			if set.HasValue(x) {
				return true
			}
		}
	}
	return false
}

// Value reports whether the cell v holds an input value: as a whole
// (canonicalized), as any token of it when it holds separators, or decoded
// when it looks encoded.
func (s *Scanner) Value(v string) bool {
	if len(s.values) == 0 || len(v) == 0 {
		return false
	}
	b := unsafe.Slice(unsafe.StringData(v), len(v)) // read only
	if s.lookup(b) {
		return true
	}
	if len(v) < 8 && singleToken(b) {
		// Nothing to decode; parts between inner punctuation
		// ("id=..." "a.b@c") are looked up as in text.
		return hasInner(b) && s.token(b, 0)
	}
	return s.deep(b, 0)
}

// Plain reports whether v, canonicalized, is an input value, without
// looking into tokens or decodings: for formatted numbers.
func (s *Scanner) Plain(v []byte) bool {
	if len(s.values) == 0 || len(v) == 0 {
		return false
	}
	return s.lookup(v)
}

// Int is Plain for the decimal form of v, which it formats only when its
// length is one that the sets hold.
func (s *Scanner) Int(v int64) bool {
	if len(s.values) == 0 {
		return false
	}
	u, neg := uint64(v), v < 0
	if neg {
		u = -u
	}
	if !s.decimalLen(decimalDigits(u), neg) {
		return false
	}
	var buf [24]byte
	return s.lookup(strconv.AppendInt(buf[:0], v, 10))
}

// IntRange reports whether Int could report a hit for some value in
// [lo, hi]: whether a decimal length of a value there, negative or not, is
// one the sets hold. A column whose range it refuses needs no Int call.
func (s *Scanner) IntRange(lo, hi int64) bool {
	if len(s.values) == 0 || lo > hi {
		return false
	}
	lengths := func(a, b uint64, neg bool) bool {
		for n := decimalDigits(a); n <= decimalDigits(b); n++ {
			if s.decimalLen(n, neg) {
				return true
			}
		}
		return false
	}
	if hi >= 0 && lengths(uint64(max(lo, 0)), uint64(hi), false) {
		return true
	}
	if lo < 0 {
		// Magnitudes of the negative part, from |min(hi, -1)| to |lo|
		// (written so that math.MinInt64 does not overflow).
		return lengths(uint64(-(min(hi, -1)+1))+1, uint64(-(lo+1))+1, true)
	}
	return false
}

// Uint is Int for an unsigned value.
func (s *Scanner) Uint(v uint64) bool {
	if len(s.values) == 0 || !s.decimalLen(decimalDigits(v), false) {
		return false
	}
	var buf [24]byte
	return s.lookup(strconv.AppendUint(buf[:0], v, 10))
}

// decimalLen reports whether a decimal number of n digits, negative or
// not, can have a canonical form of a kind and length the sets hold:
// "-123456" has the forms "-123456" and "123456".
func (s *Scanner) decimalLen(n int, neg bool) bool {
	if !neg {
		return s.tags.Has(fingerprint.ValueTag(fingerprint.KindDigits, n))
	}
	return s.tags.Has(fingerprint.ValueTag(fingerprint.KindMixed, n+1)) ||
		(n >= fingerprint.MinDigits && s.tags.Has(fingerprint.ValueTag(fingerprint.KindDigits, n)))
}

// decimalDigits returns the number of decimal digits of u.
func decimalDigits(u uint64) int {
	// log10(2) is about 1233/4096; the estimate is exact or one short.
	n := (bits.Len64(u) * 1233) >> 12
	if n < len(pow10) && u >= pow10[n] {
		n++
	}
	return max(n, 1)
}

var pow10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// RowWidth reports whether a row of n cells can match a row fingerprint:
// callers skip formatting the cells of a table whose width no set holds.
func (s *Scanner) RowWidth(n int) bool { return s.widths.Has(fingerprint.RowTag(n)) }

// Bytes is Value for a byte slice.
func (s *Scanner) Bytes(v []byte) bool {
	if len(s.values) == 0 || len(v) == 0 {
		return false
	}
	if s.lookup(v) {
		return true
	}
	if len(v) < 8 && singleToken(v) {
		// Nothing to decode; parts between inner punctuation
		// ("id=..." "a.b@c") are looked up as in text.
		return hasInner(v) && s.token(v, 0)
	}
	return s.deep(v, 0)
}

// deep looks at the tokens of v when v is not a single token, at the parts
// of a single token as text scanning does (see token), and at the decoded
// forms of v.
func (s *Scanner) deep(v []byte, depth int) bool {
	if !singleToken(v) {
		return s.text(v, depth, nil) > 0 || s.decoded(v, depth)
	}
	if s.token(v, depth) {
		return true
	}
	// token decoded v trimmed of edge punctuation; v itself too.
	return len(trimInner(v)) != len(v) && s.decoded(v, depth)
}

// hasInner reports whether v holds inner punctuation (innerByte).
func hasInner(v []byte) bool {
	for _, b := range v {
		if innerByte[b] {
			return true
		}
	}
	return false
}

func singleToken(v []byte) bool {
	for _, b := range v {
		if b >= utf8.RuneSelf || !tokenByte[b] {
			return false
		}
	}
	return true
}

// decoded tries v as URL-escaped, hex and base64 text.
func (s *Scanner) decoded(v []byte, depth int) bool {
	if depth >= maxDepth || len(v) < 8 {
		return false
	}
	try := func(d []byte) bool {
		if !printable(d) {
			return false
		}
		if s.lookup(d) {
			return true
		}
		return s.deep(d, depth+1)
	}
	hasPct, hasPlus, isHex, isB64, urlB64 := false, false, len(v) >= 12 && len(v)%2 == 0, true, false
	for _, b := range v {
		switch {
		case b == '%':
			hasPct = true
			isHex, isB64 = false, false
		case b >= '0' && b <= '9', b >= 'a' && b <= 'f', b >= 'A' && b <= 'F':
		case b >= 'g' && b <= 'z', b >= 'G' && b <= 'Z':
			isHex = false
		case b == '+' || b == '/':
			isHex = false
			hasPlus = hasPlus || b == '+'
		case b == '-' || b == '_':
			isHex = false
			urlB64 = true
		case b == '=':
			isHex = false
		default:
			isHex, isB64 = false, false
		}
	}
	if hasPct || hasPlus {
		if d, err := url.QueryUnescape(string(v)); err == nil && d != string(v) && try([]byte(d)) {
			return true
		}
		if d, err := url.PathUnescape(string(v)); err == nil && d != string(v) && try([]byte(d)) {
			return true
		}
	}
	var stack [256]byte
	if isHex {
		d := stack[:0]
		if len(v)/2 <= len(stack) {
			d = stack[:len(v)/2]
		} else {
			d = make([]byte, len(v)/2)
		}
		if _, err := hex.Decode(d, v); err == nil && try(d) {
			return true
		}
	}
	if isB64 {
		encs := []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding}
		if urlB64 {
			encs = []*base64.Encoding{base64.URLEncoding, base64.RawURLEncoding}
		}
		for _, enc := range encs {
			if enc == base64.StdEncoding || enc == base64.URLEncoding {
				if len(v)%4 != 0 {
					continue
				}
			} else if len(v)%4 == 1 || v[len(v)-1] == '=' {
				continue
			}
			var d []byte
			if n := enc.DecodedLen(len(v)); n <= len(stack) {
				d = stack[:n]
			} else {
				d = make([]byte, n)
			}
			if n, err := enc.Decode(d, v); err == nil && try(d[:n]) {
				return true
			}
		}
	}
	return false
}

// printable reports whether d is non-empty UTF-8 text without control
// characters other than white space.
func printable(d []byte) bool {
	if len(d) == 0 || !utf8.Valid(d) {
		return false
	}
	for _, b := range d {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' {
			return false
		}
		if b == 0x7f {
			return false
		}
	}
	return true
}

// Row returns the index (in the sets given to New) of the first input
// whose row fingerprints hold the tuple fingerprint of cells, or -1.
func (s *Scanner) Row(cells []string) int {
	if !s.RowWidth(len(cells)) {
		return -1
	}
	x := s.h.Row(cells)
	for i, set := range s.rows {
		if set.HasRow(x) {
			return i
		}
	}
	return -1
}

// isSpaceRune reports separators among non-ASCII runes: white space,
// punctuation and symbols (CJK commas and full stops), format characters.
func isSepRune(r rune) bool {
	if r >= 0x4E00 && r <= 0x9FFF {
		return false // CJK ideographs (letters), the most common non-ASCII runes here
	}
	return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.Is(unicode.Cf, r) || unicode.IsSymbol(r)
}
