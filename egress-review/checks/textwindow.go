package checks

import (
	"math/bits"

	"github.com/enclave-dev/enclave/egress-review/scan"
)

// The text rule's fast path: 64 bytes of ASCII text at a time, from the
// class masks of scan.ClassifyText. Tokens (runs of letters, digits and
// '*', joined by '.' and ',' between digits) and the bytes that are
// neither tokens nor spaces are visited in order by their bits; a word's
// shape comes from counts of bits. What it charges is what the byte-at-a-
// time path of line charges (held to the rule of before by
// TestTextRuleSameAsRef and FuzzTextRuleSameAsRef); it stops where that
// path must take over (a non-ASCII byte, an escape, a token that may run
// past the window).

// lineState is the state of line that the fast path reads and moves on.
type lineState struct {
	prevHash  bool // the byte before is '#'
	line      int
	lineStart int
}

// windowMasks are the masks of a window that easyEvents reads.
type windowMasks struct {
	q        *[64]byte
	starts   uint64 // the first bytes of tokens
	ends     uint64 // the last bytes of tokens
	stop     uint64 // bytes that make a token need more than easyEvents: the byte after '#', the window's last, a digit that '.' may join to the next window
	figures  uint64 // digits and stars
	notFig   uint64 // letters and stars: not in a plain number
	joins    uint64 // '.' and ',' between digits
	hex      uint64 // hex digits
	vowels   uint64
	upper    uint64
	switches uint64 // changes of case between neighbours
	odd      uint64 // where five consonants or four vowels stand in a row

	// for numbers (see plainNumberToken)
	line        int
	freeNumbers int
	labels      bool         // the rule has labels
	labelStarts *[256]uint64 // see profile.wordStarts; nil: every number may be a label
	short       *shortWords  // the labels of at most 8 bytes, with labelStarts
}

// windows charges the text p[i:] a window of 64 bytes at a time while
// window can, and returns where it stopped: where a window could do
// nothing, or fewer than 64 bytes are left.
func (r *textRule) windows(c *textCost, p []byte, i int, st *lineState) int {
	w := windowMasks{
		freeNumbers: r.freeNumbers,
		labels:      r.labels != nil,
		labelStarts: r.labelStarts,
		short:       r.short,
	}
	var m scan.TextMasks
	for len(p)-i >= 64 {
		scan.ClassifyText(p[i:], &m)
		j := r.window(c, p, i, &m, st, &w)
		if j == i {
			break
		}
		i = j
	}
	return i
}

// window charges the text p[i:] from the masks m of p[i:i+64] (i+64 <=
// len(p)) and returns where it stopped: i when it could do nothing. w
// holds the rule's figures for easyEvents; window sets the masks.
//
// easyEvents takes the common events (words, and punctuation that only
// shapes the line) in a loop with no calls, so that its state stays in
// registers; the loop here takes each event it leaves, and gives the rest
// back to it.
func (r *textRule) window(c *textCost, p []byte, i int, m *scan.TextMasks, st *lineState, w *windowMasks) int {
	q := (*[64]byte)(p[i : i+64])
	limit := 64
	valid := ^uint64(0)
	if m.High != 0 {
		limit = bits.TrailingZeros64(m.High)
		if limit == 0 {
			return i
		}
		valid = uint64(1)<<(limit&63) - 1
	}
	tokM := m.Letter | m.Digit | m.Star
	// '.' and ',' with digits on both sides join a token
	joins := m.DotComma & (m.Digit << 1) & (m.Digit >> 1)
	run := (tokM | joins) & valid
	// letters are next to each other only within a token, so what
	// wordShape.wordLike asks of a word can be asked of the whole window
	// at once
	cons := m.Letter &^ m.Vowel
	w.q = q
	w.starts = tokM & ^(run << 1) & valid
	w.ends = run &^ (run >> 1)
	w.stop = uint64(1) << ((limit - 1) & 63)
	w.figures = m.Digit | m.Star
	w.notFig = m.Letter | m.Star
	w.joins = joins
	w.hex = m.Digit | m.HexLetter
	w.vowels = m.Vowel
	w.upper = m.Upper
	w.switches = m.Upper ^ m.Upper<<1
	w.odd = cons&(cons>>1)&(cons>>2)&(cons>>3)&(cons>>4) | m.Vowel&(m.Vowel>>1)&(m.Vowel>>2)&(m.Vowel>>3)
	w.line = st.line
	if m.DotComma>>63 != 0 {
		w.stop |= m.Digit & (1 << 62)
	}
	ev := w.starts | valid&^run&^m.Space
	// prevHash holds where a token would follow '#' (see line): the
	// byte after each '#'
	var afterHash uint64
	if st.prevHash {
		afterHash = 1
		w.stop |= 1
	}
	for {
		if c.runWords == 0 {
			ev = c.easyEvents(w, ev)
		}
		if ev == 0 {
			break
		}
		pos := bits.TrailingZeros64(ev) & 63
		bit := uint64(1) << pos
		prevHash := afterHash&bit != 0
		if w.starts&bit == 0 {
			// a byte that is neither a token nor a space
			ev &^= bit
			b := q[pos]
			switch asciiKind[b] {
			case kNL:
				r.newline(c, p, i+pos, st)
				w.line = st.line
			case kHash:
				afterHash |= bit << 1
				w.stop |= bit << 1
			case kEscape:
				if n, _ := escapeAt(p, i+pos); n > 0 {
					st.prevHash = prevHash
					return i + pos // line charges it
				}
			default:
				if b != '.' && b != ',' {
					c.shape = c.shape*31 + uint64(b)
				}
			}
			continue
		}
		// a token: its end is where the run ends
		e := bits.TrailingZeros64(w.ends&^(bit-1)) & 63
		if e == limit-1 || e == 62 && m.DotComma>>63 != 0 && m.Digit>>62&1 != 0 {
			st.prevHash = prevHash
			return i + pos // it may run on past the window
		}
		tm := uint64(1)<<(e+1) - bit // e < 63 here
		ev &^= tm
		tok := q[pos : e+1]
		joined := joins & tm
		if m.Letter&tm == 0 && m.Star&tm == 0 && !prevHash && joined&(joined-1) == 0 &&
			(joined == 0 || q[bits.TrailingZeros64(joined)&63] == '.') {
			// a number of digits and at most one point
			intLen := len(tok)
			if joined != 0 {
				intLen = bits.TrailingZeros64(joined) - pos
			}
			r.plainNumberToken(c, tok, intLen, st.line)
		} else {
			st.prevHash = prevHash
			r.maskedToken(c, tok, m, pos, tm, joined != 0, st)
		}
	}
	st.prevHash = q[limit-1] == '#'
	return i + limit
}

// easyEvents charges the events ev of the window w (token starts and
// bytes that are neither tokens nor spaces) in order, as long as each is
// a word that wordShape.wordLike takes and that is no number word, or
// punctuation
// that only shapes the line; it returns the events from the first it
// leaves. The caller has no number words in a row (c.runWords == 0).
func (c *textCost) easyEvents(w *windowMasks, ev uint64) uint64 {
	shape, words, lineWords := c.shape, c.shapeWords, c.lineWords
	q := w.q
	// Only a token's first byte is an event, so taking the lowest event
	// off takes the whole token.
	for ; ev != 0; ev &= ev - 1 {
		pos := uint(bits.TrailingZeros64(ev)) & 63
		bit := uint64(1) << pos
		if w.starts&bit == 0 {
			b := q[pos]
			if asciiKind[b&0x7f] != kSep { // b is ASCII (see window)
				if b == '%' && pos < 63 && w.hex>>(pos+1)&1 == 0 {
					continue // no escape (see escapeAt), and no shape
				}
				break
			}
			if b|2 != '.' { // '.' and ',' do not shape the line
				shape = shape*31 + uint64(b)
			}
			continue
		}
		e := uint(bits.TrailingZeros64(w.ends&^(bit-1)|1<<63)) & 63 // the token ends at or before 63
		tm := uint64(1)<<e<<1 - bit
		n := int(e-pos) + 1
		if w.stop&tm != 0 || n > 24 {
			break
		}
		if w.figures&tm != 0 {
			// a number of digits and at most one point that
			// plainNumberToken would charge without a call: no label,
			// no identifier, and no new line in the evidence
			joined := w.joins & tm
			if w.notFig&tm != 0 || joined&(joined-1) != 0 {
				break
			}
			intLen := n
			if joined != 0 {
				at := uint(bits.TrailingZeros64(joined)) & 63
				if q[at] != '.' {
					break
				}
				intLen = int(at - pos)
			}
			first := q[pos]
			if intLen == n && (intLen >= 7 || intLen >= 3 && first == '0') {
				break // an identifier
			}
			if w.labels && (c.numbers >= w.freeNumbers || n >= 7 || first == '0') &&
				(w.labelStarts == nil || w.labelStarts[first]>>(uint(n)&63)&1 != 0) { // n <= 24
				// it may be a label
				if w.short == nil || n > 8 {
					break
				}
				if w.short.has(packShort(q[pos : e+1])) {
					shape = shape*31 + 7 + bDigit // a label costs nothing
					continue
				}
			}
			// significant digits (sigDigits, on the window's bytes
			// without bounds checks)
			lo, hi := pos, e+1
			for lo < hi && (q[lo&63] == '0' || q[lo&63] == '.') {
				lo++
			}
			for hi > lo && (q[(hi-1)&63] == '0' || q[(hi-1)&63] == '.') {
				hi--
			}
			sig := int(hi - lo)
			if mid := pos + uint(intLen); lo < mid && mid < hi {
				sig--
			}
			sig = max(sig, 1)
			var cls tokenClass
			var charged float64
			switch {
			case c.numbers >= w.freeNumbers:
				cls, charged = clsNumbers, float64(sig)*log2of10
			case sig > 6:
				cls, charged = clsPrecision, float64(sig-6)*log2of10
			}
			if charged > 0 {
				if k := len(c.lines); w.line > 0 && (k == 0 || c.lines[k-1] != w.line) && k < maxCostLines {
					break // charge adds the line
				}
				c.bits += charged
				c.counts[cls]++
				c.bitsOf[cls] += charged
			}
			c.numbers++
			c.freeBits += float64(min(sig, 6)) * log2of10
			shape = shape*31 + 7 + bDigit
			continue
		}
		if n > 3 {
			sw := w.switches & tm &^ bit
			if sw != 0 || w.upper&bit == 0 || n > 6 { // not an acronym
				v := (w.vowels & tm) >> pos // n <= 24 bits
				nv := int(ones12[v&0xfff] + ones12[v>>12&0xfff])
				sw &= sw - 1
				sw &= sw - 1
				if sw&(sw-1) != 0 || w.odd&tm != 0 || 10*nv < n || 5*nv > 4*n { // more than three switches, ...
					break
				}
			}
		}
		// (a letter's low five bits are the same in either case, and
		// number words have 2 to 9 letters)
		if numberWordShape[q[pos]&31][q[e]&31]>>(n&31)&1 != 0 {
			break
		}
		shape = shape*31 + 7 + bLetter
		words++
		if n >= 3 {
			lineWords++
		}
	}
	c.shape, c.shapeWords, c.lineWords = shape, words, lineWords
	return ev
}

// ones12 is bits.OnesCount of 12 bits: without the call that
// bits.OnesCount64 is on processors that may lack POPCNT, which would take
// easyEvents' state out of registers.
var ones12 = func() (t [1 << 12]uint8) {
	for i := range t {
		t[i] = uint8(bits.OnesCount(uint(i)))
	}
	return t
}()

// newline ends the line whose '\n' is p[i] (see the kNL case of line).
func (r *textRule) newline(c *textCost, p []byte, i int, st *lineState) {
	// Spaces and tabs before a line's end show nothing to a reader and
	// can count anything: a bit each.
	end := i
	if end > st.lineStart && p[end-1] == '\r' {
		end--
	}
	k := end
	for k > st.lineStart && (p[k-1] == ' ' || p[k-1] == '\t') {
		k--
	}
	if end > k {
		c.charge(clsTrailing, float64(end-k), st.line)
	}
	r.endLine(c, p[st.lineStart:i], st.line)
	st.lineStart = i + 1
	st.line++
}

// plainNumberToken charges a number of digits and at most one point (at
// intLen, else intLen is len(w)) that does not follow '#': what
// tokenClassed does with it.
func (r *textRule) plainNumberToken(c *textCost, w []byte, intLen, line int) {
	c.shape = c.shape*31 + 7 + bDigit
	if c.runWords > 0 {
		r.endRun(c, line)
	}
	if r.labels != nil && (c.numbers >= r.freeNumbers || len(w) >= 7 || w[0] == '0') && r.labels(w) {
		return
	}
	r.plainNumberAt(c, w, intLen, line)
}

// maskedToken charges the token w, whose bits in the masks m are tm (it
// starts at bit pos): a word inline, anything else by tokenClassed, with
// its byte classes or-ed and, for letters and stars, its shape from counts
// of bits (the vowels, the changes of case between neighbours, and
// whether five non-vowels or four vowels stand in a row: wordLike asks no
// more of the longest runs).
func (r *textRule) maskedToken(c *textCost, w []byte, m *scan.TextMasks, pos int, tm uint64, joined bool, st *lineState) {
	letters, upper, vowels := m.Letter&tm, m.Upper&tm, m.Vowel&tm
	digits, stars := m.Digit&tm, m.Star&tm
	var sh wordShape
	if digits == 0 && !joined {
		cons := tm &^ vowels
		sh.vowels = bits.OnesCount64(vowels)
		sh.switches = bits.OnesCount64((upper ^ upper<<1) & tm &^ (1 << pos))
		if cons&(cons>>1)&(cons>>2)&(cons>>3)&(cons>>4) != 0 {
			sh.maxRun = 5
		}
		if vowels&(vowels>>1)&(vowels>>2)&(vowels>>3) != 0 {
			sh.maxVrun = 4
		}
		if stars == 0 && !st.prevHash && c.runWords == 0 && sh.wordLike(w) {
			if n := len(w); n < 2 || n > 9 || numberWordShape[(w[0]|0x20)&31][(w[n-1]|0x20)&31]&(1<<n) == 0 || !lowerNumberWord(w) {
				c.shape = c.shape*31 + 7 + bLetter
				c.shapeWords++
				if n >= 3 {
					c.lineWords++
				}
				return
			}
		}
	}
	var or uint8
	if letters != 0 {
		or |= bLetter
	}
	if digits != 0 {
		or |= bDigit
	}
	if stars != 0 {
		or |= bStar
	}
	if upper != 0 {
		or |= bUpper
	}
	if vowels != 0 {
		or |= bVowel
	}
	if m.HexLetter&tm != 0 {
		or |= bHexLetter
	}
	if joined {
		or |= bSep | bDigit
	}
	r.tokenClassed(c, w, or, &sh, st.prevHash, st.line)
}
