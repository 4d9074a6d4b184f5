package fingerprint

import "unicode/utf8"

// Lengths is a set of numbers from 0 to 255: the canonical lengths of the
// value fingerprints of a Set, or the widths of its row fingerprints (see
// ValueLen). Numbers over 255 count as 255. The zero value is empty.
type Lengths [4]uint64

// Add adds n.
func (l *Lengths) Add(n int) {
	n = min(n, 255)
	l[n>>6] |= 1 << (n & 63)
}

// Has reports whether n is in the set.
func (l *Lengths) Has(n int) bool {
	n = min(n, 255)
	return l[n>>6]&(1<<(n&63)) != 0
}

// Union adds every number of o.
func (l *Lengths) Union(o Lengths) {
	for i := range l {
		l[i] |= o[i]
	}
}

// Empty reports whether the set is empty.
func (l *Lengths) Empty() bool { return l[0]|l[1]|l[2]|l[3] == 0 }

// AppendValueIn is ValueBytes restricted to the canonical forms of v whose
// length is in lens: it appends the fingerprints of only those forms, the
// only ones that can be in a set whose ValueLengths are lens, and hashes
// nothing when no form has such a length. Scanners call it on every cell
// and token; for plain ASCII it neither copies nor hashes v to find out.
func (h *Hasher) AppendValueIn(dst []uint64, v []byte, lens *Lengths) []uint64 {
	cl, dl := 0, 0
	canon := false // v is not its own canonical form
	for _, b := range v {
		switch {
		case b >= utf8.RuneSelf:
			return h.appendValueInSlow(dst, v, lens)
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
	needC := cl > 0 && lens.Has(cl)
	needD := dl >= MinDigits && dl != cl && lens.Has(dl)
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

func (h *Hasher) appendValueInSlow(dst []uint64, v []byte, lens *Lengths) []uint64 {
	var cbuf, dbuf [128]byte
	c, d := canonicalize(cbuf[:0], dbuf[:0], unsafeString(v))
	if len(c) == 0 {
		return dst
	}
	if lens.Has(len(c)) {
		dst = append(dst, h.valueSum(c))
	}
	if d != nil && len(d) != len(c) && lens.Has(len(d)) {
		dst = append(dst, h.valueSum(d))
	}
	return dst
}
