package fingerprint

import "unicode/utf8"

// Tags is a set of fingerprint tags, the numbers from 0 to 255 in the top
// byte of fingerprints (see Tag): the kinds and lengths of canonical forms
// of a Set's value fingerprints, or the widths of its row fingerprints.
// The zero value is empty.
type Tags [4]uint64

// Add adds tag t (0 to 255).
func (l *Tags) Add(t int) { l[t>>6&3] |= 1 << (t & 63) }

// Has reports whether tag t (0 to 255) is in the set.
func (l *Tags) Has(t int) bool { return l[t>>6&3]&(1<<(t&63)) != 0 }

// Union adds every tag of o.
func (l *Tags) Union(o Tags) {
	for i := range l {
		l[i] |= o[i]
	}
}

// Empty reports whether the set is empty.
func (l *Tags) Empty() bool { return l[0]|l[1]|l[2]|l[3] == 0 }

// Kinds of canonical forms, in the top two bits of a value tag.
const (
	// KindMixed is ASCII text with at least one byte that is not a digit.
	KindMixed = 0 << 6
	// KindDigits is ASCII digits only.
	KindDigits = 1 << 6
	// KindOther is text with non-ASCII runes.
	KindOther = 2 << 6
	// MaxTagLen is the longest length a value tag tells apart; longer
	// forms share its tag.
	MaxTagLen = 63
)

// ValueTag returns the tag of a canonical form of kind (KindMixed,
// KindDigits or KindOther) and n bytes: kind | min(n, MaxTagLen).
func ValueTag(kind, n int) int { return kind | min(n, MaxTagLen) }

// RowTag returns the tag of a row of n cells: min(n, 255).
func RowTag(n int) int { return min(n, 255) }

// Tag returns the tag of fingerprint x, its top byte.
func Tag(x uint64) int { return int(x >> topShift) }

// formTag returns the tag of canonical form c.
func formTag(c []byte) int {
	kind := KindDigits
	for _, b := range c {
		if b >= utf8.RuneSelf {
			kind = KindOther
			break
		}
		if b < '0' || b > '9' {
			kind = KindMixed
		}
	}
	return ValueTag(kind, len(c))
}

// AppendValueIn is ValueBytes restricted to the canonical forms of v whose
// tag is in tags: it appends the fingerprints of only those forms, the only
// ones that can be in a set whose ValueTags are tags, and hashes nothing
// when no form has such a tag. Scanners call it on every cell and token;
// for plain ASCII it neither copies nor hashes v to find out.
func (h *Hasher) AppendValueIn(dst []uint64, v []byte, tags *Tags) []uint64 {
	cl, dl := 0, 0
	canon := false // v is not its own canonical form
	for _, b := range v {
		switch {
		case b >= utf8.RuneSelf:
			return h.appendValueInSlow(dst, v, tags)
		case b >= 'A' && b <= 'Z':
			canon = true
			cl++
		case b == ' ' || (b >= '\t' && b <= '\r'):
			canon = true
		case b >= '0' && b <= '9':
			cl++
			dl++
		default:
			cl++
		}
	}
	ckind := KindMixed
	if dl == cl {
		ckind = KindDigits
	}
	needC := cl > 0 && tags.Has(ValueTag(ckind, cl))
	needD := dl >= MinDigits && dl != cl && tags.Has(ValueTag(KindDigits, dl))
	if !needC && !needD {
		return dst
	}
	var cbuf, dbuf [128]byte
	if needC {
		c := v
		if canon {
			c, _ = canonicalize(cbuf[:0], nil, unsafeString(v))
		}
		dst = append(dst, h.valueSum(c))
	}
	if needD {
		d := dbuf[:0]
		for _, b := range v {
			if b >= '0' && b <= '9' {
				d = append(d, b)
			}
		}
		dst = append(dst, h.valueSum(d))
	}
	return dst
}

func (h *Hasher) appendValueInSlow(dst []uint64, v []byte, tags *Tags) []uint64 {
	var cbuf, dbuf [128]byte
	c, d := canonicalize(cbuf[:0], dbuf[:0], unsafeString(v))
	if len(c) == 0 {
		return dst
	}
	if tags.Has(formTag(c)) {
		dst = append(dst, h.valueSum(c))
	}
	if d != nil && len(d) != len(c) && tags.Has(ValueTag(KindDigits, len(d))) {
		dst = append(dst, h.valueSum(d))
	}
	return dst
}
