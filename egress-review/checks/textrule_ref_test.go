package checks

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The text rule as it was before its tokens were measured from class masks
// (scan.ClassifyText): a byte at a time. The differential tests hold the
// text rule to it, so that no text costs more or less than it did.

func (r *textRule) lineRef(c *textCost, p []byte, line int) {
	tok := r.scratch[:0] // a token holding folded full-width characters
	prevHash := false
	lineStart := 0
	han := 0 // Chinese numerals in a row
	endHan := func() {
		if han >= minNumberRun {
			c.charge(clsNumberWords, float64(han)*log2of10, line)
		}
		han = 0
	}
	flush := func() {
		if len(tok) > 0 {
			r.tokenRef(c, tok, prevHash, line)
			tok = tok[:0]
		}
		prevHash = false
	}
	for i := 0; i < len(p); {
		b := p[i]
		if b < utf8.RuneSelf {
			k := asciiKind[b]
			if k == kSep && len(tok) == 0 && han == 0 && b != '.' && b != ',' {
				prevHash = false // the common separator: nothing to end
				if b != ' ' {
					c.shape = c.shape*31 + uint64(b)
				}
				i++
				continue
			}
			if k == kEscape {
				if n, bits := escapeAt(p, i); n > 0 {
					flush()
					endHan()
					c.charge(clsEscape, bits, line)
					i += n
					continue
				}
			}
			switch k {
			case kTok, kDigit:
				if han > 0 {
					endHan()
				}
				if len(tok) > 0 {
					tok = append(tok, b)
					i++
					continue
				}
				// The token lies in p as it is, unless full-width
				// characters continue it.
				j := i + 1
				or := byteClass[b]
				// the word's shape in registers (see wordShape.add)
				v := int(or&bVowel) >> 3
				vowels, vrun, run, switches := v, v, 1-v, 0
				maxVrun, maxRun := vrun, run
				prev := or
				for j < len(p) {
					bc := byteClass[p[j]]
					if bc&(bLetter|bDigit|bStar) != 0 {
						v := int(bc&bVowel) >> 3
						vowels += v
						vrun = (vrun + 1) * v
						run = (run + 1) * (1 - v)
						maxVrun = max(maxVrun, vrun)
						maxRun = max(maxRun, run)
						switches += int((bc^prev)&bUpper) >> 2
						prev = bc
						or |= bc
						j++
						continue
					}
					if (p[j] == '.' || p[j] == ',') && asciiKind[p[j-1]&0x7f] == kDigit && j+1 < len(p) && p[j+1] < utf8.RuneSelf && asciiKind[p[j+1]] == kDigit {
						or |= bSep | bDigit
						j += 2
						continue
					}
					break
				}
				if j < len(p) && p[j] == 0xEF {
					tok = append(tok, p[i:j]...)
					i = j
					continue
				}
				sh := wordShape{vowels: vowels, maxRun: maxRun, maxVrun: maxVrun, switches: switches}
				if or&(bDigit|bStar|bSep) == 0 && !prevHash && c.runWords == 0 && sh.wordLikeRef(p[i:j]) {
					// A word (the common token), inline: its shape, and
					// whether it is a number word; nothing else of
					// tokenClassed applies to it.
					w := p[i:j]
					if n := len(w); n < 2 || n > 9 || numberWordShape[(w[0]|0x20)&31][(w[n-1]|0x20)&31]&(1<<n) == 0 || !lowerNumberWord(w) {
						c.shape = c.shape*31 + 7 + bLetter
						c.shapeWords++
						if n >= 3 {
							c.lineWords++
						}
						i = j
						continue
					}
				}
				r.tokenClassedRef(c, p[i:j], or, &sh, prevHash, line)
				prevHash = false
				i = j
				continue
			case kNL:
				flush()
				endHan()
				// Spaces and tabs before a line's end show nothing to
				// a reader and can count anything: a bit each.
				end := i
				if end > lineStart && p[end-1] == '\r' {
					end--
				}
				k := end
				for k > lineStart && (p[k-1] == ' ' || p[k-1] == '\t') {
					k--
				}
				if end > k {
					c.charge(clsTrailing, float64(end-k), line)
				}
				r.endLine(c, p[lineStart:i], line)
				lineStart = i + 1
				line++
			case kHash:
				flush()
				endHan()
				prevHash = true
			default:
				if (b == '.' || b == ',') && len(tok) > 0 && tok[len(tok)-1] >= '0' && tok[len(tok)-1] <= '9' &&
					i+1 < len(p) && p[i+1] >= '0' && p[i+1] <= '9' {
					tok = append(tok, b) // inside a number
					break
				}
				flush()
				if b != ' ' && b != '\t' {
					endHan()
				}
			}
			i++
			continue
		}
		start := i
		ru, size := utf8.DecodeRune(p[i:])
		ru = fold(ru)
		i += size
		switch {
		case ru == utf8.RuneError && size <= 1,
			unicode.In(ru, unicode.Cf, unicode.Mn, unicode.Me, unicode.Co, unicode.Cs, unicode.Variation_Selector):
			// invisible or combining characters, private use, bytes that
			// are not UTF-8: what a reader does not see can count anything
			flush()
			endHan()
			c.charge(clsInvisible, invisibleBits, line)
		case ru >= utf8.RuneSelf && unicode.In(ru, unicode.Cyrillic, unicode.Greek, unicode.Armenian, unicode.Cherokee) &&
			(start > 0 && byteClass[p[start-1]]&bLetter != 0 || i < len(p) && byteClass[p[i]]&bLetter != 0 || len(tok) > 0):
			// a letter that looks Latin inside a Latin word (homoglyphs)
			flush()
			endHan()
			c.charge(clsInvisible, invisibleBits, line)
		case ru < utf8.RuneSelf && (ru >= 'a' && ru <= 'z' || ru >= 'A' && ru <= 'Z' || ru >= '0' && ru <= '9' || ru == '*'):
			endHan()
			tok = append(tok, byte(ru))
		case ru < utf8.RuneSelf && (ru == '.' || ru == ',') && len(tok) > 0 && tok[len(tok)-1] >= '0' && tok[len(tok)-1] <= '9' &&
			i < len(p) && p[i] >= '0' && p[i] <= '9':
			tok = append(tok, byte(ru))
		case chineseNumeral(ru):
			flush()
			r.endRun(c, line)
			han++
		case unicode.IsLetter(ru) || unicode.IsNumber(ru):
			// other scripts: language; their digits are folded above
			flush()
			endHan()
			r.endRun(c, line)
		default:
			flush()
			endHan()
		}
	}
	flush()
	endHan()
	r.endLine(c, p[lineStart:], line)
	r.scratch = tok[:0]
}

func (r *textRule) tokenRef(c *textCost, tok []byte, afterHash bool, line int) {
	var or uint8
	var sh wordShape
	for i, b := range tok {
		k := byteClass[b]
		or |= k
		prev := k
		if i > 0 {
			prev = byteClass[tok[i-1]]
		}
		sh.add(k, prev)
	}
	r.tokenClassedRef(c, tok, or, &sh, afterHash, line)
}

func (r *textRule) tokenClassedRef(c *textCost, tok []byte, or uint8, sh *wordShape, afterHash bool, line int) {
	kind := uint64(or & (bDigit | bLetter | bStar))
	c.shape = c.shape*31 + 7 + kind
	if kind == bLetter {
		c.shapeWords++
	}
	letters, digits, stars, seps, hexLetters := len(tok), 0, 0, 0, len(tok)
	if or&(bDigit|bStar|bSep) != 0 || or&bHexLetter != 0 && or&^(bLetter|bUpper|bVowel|bHexLetter) != 0 {
		letters, hexLetters = 0, 0
		for _, b := range tok {
			k := byteClass[b]
			digits += int(k & bDigit)
			letters += int(k&bLetter) >> 1
			hexLetters += int(k&bHexLetter) >> 4
			stars += int(k&bStar) >> 5
			seps += int(k&bSep) >> 6
		}
	} else if or&bLetter != 0 && afterHash {
		hexLetters = 0
		for _, b := range tok {
			hexLetters += int(byteClass[b]&bHexLetter) >> 4
		}
	}
	hexOnly := hexLetters == letters
	if digits == 0 && stars == 0 && len(tok) >= 2 && len(tok) <= 9 && numberWordShape[(tok[0]|0x20)&31][(tok[len(tok)-1]|0x20)&31]&(1<<len(tok)) != 0 {
		var buf [9]byte
		for i, b := range tok {
			buf[i] = b | 0x20
		}
		if numberWord(buf[:len(tok)]) {
			c.runWords++
			return
		}
	}
	if c.runWords > 0 {
		r.endRun(c, line)
	}
	core := tok
	if stars > 0 {
		core = bytes.Trim(tok, "*")
		if len(core) == 0 {
			return // markdown emphasis, rules
		}
		stars = bytes.Count(core, []byte{'*'})
	}
	label := func() bool { return r.labels != nil && r.labels(tok) }
	switch {
	case stars > 0:
		// 138****1234: what is left of a masked value
		if !label() {
			c.charge(clsMasked, float64(digits)*log2of10+float64(letters)*4.7, line)
		}
	case afterHash && hexOnly && (len(core) == 3 || len(core) == 6 || len(core) == 8):
		if c.colors == nil {
			c.colors = map[string]bool{}
		}
		if key := strings.ToLower(string(core)); !c.colors[key] {
			c.colors[key] = true
			if len(c.colors) > freeColors {
				c.charge(clsColors, float64(len(core))*4, line)
			}
		}
	case letters == 0:
		if r.labels != nil && (c.numbers >= r.freeNumbers || len(core) >= 7 || core[0] == '0') && label() {
			return
		}
		if bytes.IndexByte(core, ',') < 0 && bytes.Count(core, []byte{'.'}) <= 1 {
			r.plainNumber(c, core, line)
			return
		}
		r.number(c, string(core), digits, seps, line)
	case digits == 0:
		like := false
		if stars == 0 {
			like = sh.wordLikeRef(core)
		} else {
			like = wordLikeRefBytes(core)
		}
		if !like {
			if !label() {
				c.charge(clsEntropy, float64(len(core))*4.7, line)
			}
			return
		}
		if len(core) >= 3 {
			c.lineWords++ // function words are looked for at the line's end
		}
	default:
		// letters and digits together: an identifier of some alphabet,
		// unless short (Q4, 3D, v2, H2O), a number with its unit or the
		// T and Z of a timestamp
		if len(core) < 4 {
			c.lineWords++ // a fragment: many in a line without grammar are a code
			return
		}
		if versionWord(core) {
			c.lineWords++ // int64, float64, utf8, sha256
			return
		}
		if n := unitSuffix(core); n > 0 {
			// 1.25s, 512MiB, 30px: a number and its unit
			r.number(c, string(core[:len(core)-n]), digits, seps, line)
			return
		}
		if timestampPiece(core) {
			for _, piece := range bytes.FieldsFunc(core, func(r rune) bool { return r == 'T' || r == 'Z' }) {
				r.number(c, string(piece), len(piece), 0, line)
			}
			return
		}
		if label() {
			return
		}
		if hexOnly {
			c.charge(clsHex, float64(len(core))*4, line)
		} else {
			c.charge(clsMixed, float64(len(core))*5.5, line)
		}
	}
}

// wordLikeRef is wordShape.wordLike as it was, with the vowels' ratio in
// floating point.
func (w *wordShape) wordLikeRef(s []byte) bool {
	if len(s) <= 3 {
		return true
	}
	if len(s) > 24 {
		return false
	}
	switches := w.switches
	upper := switches == 0 && s[0] >= 'A' && s[0] <= 'Z'
	if upper && len(s) <= 6 {
		return true // acronyms
	}
	ratio := float64(w.vowels) / float64(len(s))
	if switches > 3 || w.maxRun > 4 || w.maxVrun > 3 || ratio < 0.1 || ratio > 0.8 {
		if len(s) <= 8 {
			var buf [8]byte
			for i, b := range s {
				buf[i] = b | 0x20
			}
			return vowelless[string(buf[:len(s)])]
		}
		return false
	}
	return true
}

// wordLikeRefBytes is wordLike as it was.
func wordLikeRefBytes(s []byte) bool {
	var sh wordShape
	for i, b := range s {
		k := byteClass[b]
		prev := k
		if i > 0 {
			prev = byteClass[s[i-1]]
		}
		sh.add(k, prev)
	}
	return sh.wordLikeRef(s)
}
