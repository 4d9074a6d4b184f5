package checks

import "math/bits"

// shortWords is a set of words of 1 to 8 bytes with no NUL, each packed
// into one word (packShort) in an open-addressed table, so that the text
// rule looks a token up without hashing bytes or making a call.
type shortWords struct {
	slots []uint64 // a power of two; 0 is an empty slot
	shift uint     // 64 - log2(len(slots))
	n     int
}

// packShort packs a word of 1 to 8 bytes with no NUL: no two such words
// pack alike, and none packs to 0.
func packShort[T string | []byte](w T) uint64 {
	var k uint64
	for i := 0; i < len(w); i++ {
		k = k<<8 | uint64(w[i])
	}
	return k
}

// shortable reports whether a word goes in a shortWords.
func shortable(w string) bool {
	if len(w) == 0 || len(w) > 8 {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] == 0 {
			return false
		}
	}
	return true
}

func (s *shortWords) home(k uint64) uint64 { return k * 0x9E3779B97F4A7C15 >> s.shift }

// add adds the packed word k (not 0).
func (s *shortWords) add(k uint64) {
	if 2*(s.n+1) > len(s.slots) {
		old := s.slots
		size := max(16, 2*len(old))
		s.slots = make([]uint64, size)
		s.shift = uint(64 - bits.TrailingZeros(uint(size)))
		s.n = 0
		for _, o := range old {
			if o != 0 {
				s.insert(o)
			}
		}
	}
	s.insert(k)
}

func (s *shortWords) insert(k uint64) {
	mask := uint64(len(s.slots) - 1)
	for h := s.home(k); ; h = (h + 1) & mask {
		switch s.slots[h] {
		case k:
			return
		case 0:
			s.slots[h] = k
			s.n++
			return
		}
	}
}

// has reports whether the packed word k is in s.
func (s *shortWords) has(k uint64) bool {
	if s.n == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for h := s.home(k); ; h = (h + 1) & mask {
		switch s.slots[h] {
		case k:
			return true
		case 0:
			return false
		}
	}
}
