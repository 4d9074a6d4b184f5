package scan

import (
	"unicode/utf8"
)

// refText is the text scan as it was before the fast paths (tag checks,
// token statistics, byte classes, running window sums, the memo): a byte
// at a time, every token through token, every window hashed whole. The
// fast scanner must count the same hits.
func refText(s *Scanner, p []byte) int {
	type rspan struct{ start, end int }
	hits := 0
	var win [4]rspan
	var winHit [4]bool
	nwin := 0
	i := 0
	for i < len(p) {
		onlySpace := true
		for i < len(p) {
			b := p[i]
			if b < utf8.RuneSelf {
				if tokenByte[b] {
					break
				}
				if b != ' ' && b != '\t' {
					onlySpace = false
				}
				i++
				continue
			}
			r, size := utf8.DecodeRune(p[i:])
			if !isSepRune(r) {
				break
			}
			if r != '\u3000' {
				onlySpace = false
			}
			i += size
		}
		if i >= len(p) {
			break
		}
		start := i
		for i < len(p) {
			b := p[i]
			if b < utf8.RuneSelf {
				if !tokenByte[b] {
					break
				}
				i++
				continue
			}
			r, size := utf8.DecodeRune(p[i:])
			if isSepRune(r) {
				break
			}
			i += size
		}
		tok := rspan{start, i}
		hit := refToken(s, p[start:i])
		if hit {
			hits++
		}
		if !onlySpace || start == 0 {
			nwin = 0
		}
		if nwin == len(win) {
			copy(win[:], win[1:])
			copy(winHit[:], winHit[1:])
			nwin--
		}
		win[nwin], winHit[nwin] = tok, hit
		nwin++
		for k := 2; k <= nwin; k++ {
			if winHit[nwin-k] || winHit[nwin-1] {
				break
			}
			groups := true
			for _, w := range win[nwin-k : nwin] {
				t := p[w.start:w.end]
				for j, b := range t {
					if (b < '0' || b > '9') && !(j == len(t)-1 && (b == 'x' || b == 'X')) {
						groups = false
					}
				}
			}
			if k > 2 && !groups {
				break
			}
			var buf []byte
			for _, w := range win[nwin-k : nwin] {
				buf = append(buf, p[w.start:w.end]...)
			}
			if refHit(s, buf) {
				hits++
				break
			}
		}
	}
	return hits
}

// refHit hashes every canonical form of v and looks it up.
func refHit(s *Scanner, v []byte) bool {
	for _, x := range s.h.ValueBytes(nil, v) {
		for _, set := range s.values {
			if set.HasValue(x) {
				return true
			}
		}
	}
	return false
}

// refToken is token without tag checks: whole, trimmed, split at inner
// punctuation, and decoded (decodings use the scanner's own code, whose
// lookups are filtered: the reference scanner passed in is unfiltered).
func refToken(s *Scanner, tok []byte) bool {
	tok = trimInner(tok)
	if len(tok) == 0 {
		return false
	}
	if refHit(s, tok) {
		return true
	}
	last := 0
	for j := 0; j <= len(tok); j++ {
		if j == len(tok) || innerByte[tok[j]] {
			if j > last && j-last < len(tok) && refHit(s, tok[last:j]) {
				return true
			}
			last = j + 1
		}
	}
	return s.decoded(tok, 0)
}
