package checks

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	review "github.com/enclave-dev/enclave/egress-review"
)

// The text rule of the output contract classifies every token of a text
// and charges the tokens that the inputs' labels, the language and
// statistics-like numbers cannot explain against an information budget, in
// bits. It does not look for known values: a substitution cipher, a
// spelled-out digit string or a percent-escaped value costs what its
// alphabet and length can carry, whatever it encodes.

// tokenClass names what a charged token looked like, for evidence.
type tokenClass int

const (
	clsDigits      tokenClass = iota // long digit runs, zero-padded numbers
	clsHex                           // letters and digits in the hex alphabet
	clsMixed                         // letters and digits (base32, base64 and other alphabets)
	clsEntropy                       // letter runs that are not word-like
	clsNumberWords                   // number words in sequence
	clsEscape                        // %XX, \xXX, \uXXXX, &#NN;
	clsMasked                        // values with masked characters (138****1234)
	clsPrecision                     // numbers with more significant digits than statistics need
	clsNumbers                       // numbers beyond the free allowance
	clsColors                        // colours beyond the free allowance
	clsMarks                         // drawn marks beyond the free allowance
	clsWordSeq                       // lines of words without grammar
	clsRepeats                       // lines of one shape beyond the free allowance
	clsTrailing                      // whitespace at the end of lines
	clsInvisible                     // invisible, combining or look-alike characters
	numClasses
)

var classNames = [numClasses]string{
	clsDigits:      "long digit runs",
	clsHex:         "hex-alphabet tokens",
	clsMixed:       "letter-and-digit tokens",
	clsEntropy:     "high-entropy letter runs",
	clsNumberWords: "number words in sequence",
	clsEscape:      "escapes",
	clsMasked:      "masked values",
	clsPrecision:   "over-precise numbers",
	clsNumbers:     "numbers beyond the free allowance",
	clsColors:      "colours beyond the free allowance",
	clsMarks:       "drawn marks beyond the free allowance",
	clsWordSeq:     "lines of words without function words",
	clsRepeats:     "lines repeating one shape (a table of records written as text)",
	clsTrailing:    "whitespace at the ends of lines",
	clsInvisible:   "invisible, combining or look-alike characters",
}

// invisibleBits is what an invisible, combining or look-alike character
// costs.
const invisibleBits = 4

// freeShapeRepeats is how many lines of one shape (the same sequence of
// token kinds and punctuation: the rows of a table) a text may hold
// before each further one costs repeatBits per word: a report's tables
// are short; a column of records written out line by line is not.
const freeShapeRepeats = 64

// repeatBits is what a word of a repeated line costs (the choice among the
// labels of a column).
const repeatBits = 4

// freeJSONStrings is how many string values a JSON document may hold
// before each further one costs repeatBits.
const freeJSONStrings = 400

// minWordSeq is how many words a line may hold without a single function
// word (the, of, and, ...) before its words count as a code: text has
// grammar, a word-list encoding of a value has none.
const minWordSeq = 8

// wordSeqBits is what each word of such a line costs.
const wordSeqBits = 4

// freeMarks is how many shapes (rect, path, circle, ...) a drawing may hold
// before each further one counts: a chart of aggregates needs far fewer;
// a mark per record is row-level data drawn.
const freeMarks = 1000

// markBits is what each shape beyond freeMarks costs.
const markBits = 8

// freeColors is how many distinct colours (#rgb, #rrggbb) a text may name
// before each further one counts.
const freeColors = 32

// maxCostLines is how many line numbers a text cost keeps for evidence.
const maxCostLines = 8

const log2of10 = 3.321928094887362

// textCost accumulates what the text rule charged in one text.
type textCost struct {
	bits    float64
	counts  [numClasses]int
	bitsOf  [numClasses]float64
	lines   []int
	numbers int
	// freeBits is what the numbers let through free would have cost, for
	// the request's allowance
	freeBits float64
	colors   map[string]bool
	marks    int
	// words of the current line
	lineWords int
	// the shape of the current line (a hash of its token kinds and
	// punctuation), its words, and how many lines had each shape; shapes
	// is nil where lines have no shape (the strings of a JSON document)
	shape      uint64
	shapeWords int
	shapes     map[uint64]int
	// runWords counts the number words in the current sequence and
	// runBits what they would cost once the sequence is long enough.
	runWords int
}

func (c *textCost) charge(cls tokenClass, bits float64, line int) {
	if bits <= 0 {
		return
	}
	c.bits += bits
	c.counts[cls]++
	c.bitsOf[cls] += bits
	if n := len(c.lines); line > 0 && (n == 0 || c.lines[n-1] != line) && n < maxCostLines {
		c.lines = append(c.lines, line)
	}
}

// evidence describes the charged tokens by class and line, never by value.
func (c *textCost) evidence() string {
	type kv struct {
		cls  tokenClass
		bits float64
	}
	var parts []kv
	for i := range c.counts {
		if c.counts[i] > 0 {
			parts = append(parts, kv{tokenClass(i), c.bitsOf[i]})
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].bits > parts[j].bits })
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s (%.0f bits)", c.counts[p.cls], classNames[p.cls], p.bits)
	}
	if len(c.lines) > 0 {
		b.WriteString("; first on lines")
		for _, l := range c.lines {
			fmt.Fprintf(&b, " %d", l)
		}
	}
	return b.String()
}

// textRule charges the tokens of texts. labels, when not nil, reports
// whether a token is a label of the inputs (or a column name), which
// costs nothing.
type textRule struct {
	labels func([]byte) bool
	// labelStarts, when not nil, has per first byte of the labels (lower
	// case) a bit per length (at most 63): labels is false of a token
	// whose bit is not set (see profile.wordStarts)
	labelStarts *[256]uint64
	// short, when not nil, holds the labels of at most 8 bytes (lower
	// case, packed by packShort)
	short       *shortWords
	freeNumbers int
	scratch     []byte
	shapes      bool // count lines by shape (not for the strings of JSON)
}

func newTextRule(labels func([]byte) bool, p review.Params) *textRule {
	return &textRule{labels: labels, freeNumbers: p.TextFreeNumbers, shapes: true}
}

// textRule is the text rule with the inputs' labels and column names.
func (pr *profile) textRule(p review.Params) *textRule {
	r := newTextRule(pr.isWord, p)
	r.labelStarts = &pr.wordStarts
	r.short = &pr.short
	return r
}

// LogFilter decides which lines of one job log an operator may read, by
// the text rule of the output contract: a line whose tokens that the
// language and statistics-like numbers cannot explain cost more than
// p.LogLineBudgetBits is withheld, and so is every line that costs
// anything once the lines shown have spent the budget of one text file
// (p.TextBudgetBits): a log is a way out too, and many cheap lines add up.
// Lines longer than 4096 bytes are withheld. A LogFilter is for one log
// and one goroutine.
type LogFilter struct {
	p     review.Params
	r     *textRule
	spent float64
}

// NewLogFilter returns a filter for one log.
func NewLogFilter(p review.Params) *LogFilter {
	p = p.Effective()
	return &LogFilter{p: p, r: newTextRule(nil, p)}
}

// Withhold reports whether line must be withheld from an operator.
func (f *LogFilter) Withhold(line []byte) bool {
	if len(line) > maxLogLine {
		return true
	}
	var c textCost
	f.r.line(&c, line, 1)
	f.r.endRun(&c, 1)
	switch {
	case c.bits == 0:
		return false
	case c.bits > f.p.LogLineBudgetBits || f.spent+c.bits > f.p.TextBudgetBits:
		return true
	}
	f.spent += c.bits
	return false
}

// WithholdLogLine is the rule of LogFilter for one line alone, without the
// budget of the whole log.
func WithholdLogLine(line []byte, p review.Params) bool {
	return NewLogFilter(p).Withhold(line)
}

// maxLogLine is the longest log line an operator may read.
const maxLogLine = 4096

// text charges every line of p (numbered from firstLine).
func (r *textRule) text(c *textCost, p []byte, firstLine int) {
	r.line(c, p, firstLine)
	r.endRun(c, firstLine)
}

// ASCII byte kinds for the tokenizer.
const (
	kSep    = iota // separators
	kTok           // letters, digits and '*'
	kDigit         // digits (also token bytes)
	kNL            // newline
	kEscape        // '%', '\\', '&': an escape may start here
	kHash          // '#': a colour may follow
)

var asciiKind = func() (t [utf8.RuneSelf]uint8) {
	for b := 0; b < utf8.RuneSelf; b++ {
		switch {
		case b >= '0' && b <= '9':
			t[b] = kDigit
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b == '*':
			t[b] = kTok
		case b == '\n':
			t[b] = kNL
		case b == '%', b == '\\', b == '&':
			t[b] = kEscape
		case b == '#':
			t[b] = kHash
		}
	}
	return t
}()

// Byte classes of token bytes.
const (
	bDigit = 1 << iota
	bLetter
	bUpper
	bVowel
	bHexLetter
	bStar
	bSep
)

var byteClass = func() (t [256]uint8) {
	for b := 0; b < 256; b++ {
		switch {
		case b >= '0' && b <= '9':
			t[b] = bDigit
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z':
			t[b] = bLetter
			if b <= 'Z' {
				t[b] |= bUpper
			}
			l := b | 0x20
			if strings.IndexByte("aeiouy", byte(l)) >= 0 {
				t[b] |= bVowel
			}
			if l <= 'f' {
				t[b] |= bHexLetter
			}
		case b == '*':
			t[b] = bStar
		case b == '.' || b == ',':
			t[b] = bSep
		}
	}
	return t
}()

// line charges the tokens of p, which starts at line number line; a
// newline in p starts the next line.
func (r *textRule) line(c *textCost, p []byte, line int) {
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
			r.token(c, tok, prevHash, line)
			tok = tok[:0]
		}
		prevHash = false
	}
	retry := 0 // where a window may be tried again after one did nothing
	for i := 0; i < len(p); {
		if len(tok) == 0 && han == 0 && i >= retry && len(p)-i >= 64 {
			st := lineState{prevHash: prevHash, line: line, lineStart: lineStart}
			j := r.windows(c, p, i, &st)
			prevHash, line, lineStart = st.prevHash, st.line, st.lineStart
			retry = j + 1 // no window can start at j
			if j > i {
				i = j
				continue
			}
		}
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
				joins, commas := 0, 0 // '.' and ',' between digits
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
						joins++
						if p[j] == ',' {
							commas++
						}
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
				if or&^(bDigit|bSep) == 0 && !prevHash && commas == 0 && joins <= 1 {
					// A number of digits and at most one point (the
					// common token after words), inline: what
					// tokenClassed does with it.
					c.shape = c.shape*31 + 7 + bDigit
					if c.runWords > 0 {
						r.endRun(c, line)
					}
					w := p[i:j]
					i = j
					if r.labels != nil && (c.numbers >= r.freeNumbers || len(w) >= 7 || w[0] == '0') && r.labels(w) {
						continue
					}
					r.plainNumber(c, w, line)
					continue
				}
				sh := wordShape{vowels: vowels, maxRun: maxRun, maxVrun: maxVrun, switches: switches}
				if or&(bDigit|bStar|bSep) == 0 && !prevHash && c.runWords == 0 && sh.wordLike(p[i:j]) {
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
				r.tokenClassed(c, p[i:j], or, &sh, prevHash, line)
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

// endLine charges a line of many words and no function word (labels
// aside) as a word-list code.
func (r *textRule) endLine(c *textCost, p []byte, line int) {
	if c.shape != 0 && r.shapes {
		if c.shapes == nil {
			c.shapes = map[uint64]int{}
		}
		n := c.shapes[c.shape] + 1
		c.shapes[c.shape] = n
		if n > freeShapeRepeats {
			c.charge(clsRepeats, float64(max(1, c.shapeWords))*repeatBits, line)
		}
	}
	c.shape, c.shapeWords = 0, 0
	words := c.lineWords
	c.lineWords = 0
	if words < minWordSeq {
		return
	}
	// Look for a function word; text has one within a few words.
	start := -1
	for i := 0; i <= len(p); i++ {
		letter := i < len(p) && byteClass[p[i]]&bLetter != 0
		switch {
		case letter && start < 0:
			start = i
		case !letter && start >= 0:
			if functionWord(p[start:i]) {
				return
			}
			start = -1
		}
	}
	if r.labels != nil {
		for _, w := range bytes.FieldsFunc(p, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') }) {
			if len(w) >= 3 && r.labels(w) {
				words--
			}
		}
	}
	if words >= minWordSeq {
		c.charge(clsWordSeq, float64(words)*wordSeqBits, line)
	}
}

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

// escapeAt returns the length of an escape (%XX, \xXX, \uXXXX, \UXXXXXXXX,
// &#NNN;, &#xHH;) starting at p[i], and the bits it carries, or 0.
func escapeAt(p []byte, i int) (int, float64) {
	hexRun := func(j, n int) bool {
		if j+n > len(p) {
			return false
		}
		for k := j; k < j+n; k++ {
			if !isHex(p[k]) {
				return false
			}
		}
		return true
	}
	switch p[i] {
	case '%':
		if hexRun(i+1, 2) {
			return 3, 8
		}
	case '\\':
		if i+1 < len(p) {
			switch p[i+1] {
			case 'x':
				if hexRun(i+2, 2) {
					return 4, 8
				}
			case 'u':
				if hexRun(i+2, 4) {
					return 6, 16
				}
			case 'U':
				if hexRun(i+2, 8) {
					return 10, 21
				}
			}
		}
	case '&':
		if i+2 < len(p) && p[i+1] == '#' {
			j := i + 2
			hex := j < len(p) && (p[j] == 'x' || p[j] == 'X')
			if hex {
				j++
			}
			k := j
			for k < len(p) && k-j < 8 && (hex && isHex(p[k]) || !hex && p[k] >= '0' && p[k] <= '9') {
				k++
			}
			if k > j && k < len(p) && p[k] == ';' {
				return k + 1 - i, 16
			}
		}
	}
	return 0, 0
}

// fold maps full-width ASCII forms (U+FF01 to U+FF5E) and the ideographic
// space to their ASCII forms, so that full-width digits are digits.
func fold(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFEE0
	case r == 0x3000:
		return ' '
	}
	return r
}

// chineseNumeral reports whether r is a Chinese numeral.
func chineseNumeral(r rune) bool {
	return strings.ContainsRune("〇零一二三四五六七八九十百千万两壹贰叁肆伍陆柒捌玖拾佰仟", r)
}

var numberWords = map[string]bool{
	"zero": true, "oh": true, "one": true, "two": true, "three": true, "four": true, "five": true,
	"six": true, "seven": true, "eight": true, "nine": true, "ten": true, "eleven": true, "twelve": true,
	"thirteen": true, "fourteen": true, "fifteen": true, "sixteen": true, "seventeen": true, "eighteen": true,
	"nineteen": true, "twenty": true, "thirty": true, "forty": true, "fifty": true, "sixty": true,
	"seventy": true, "eighty": true, "ninety": true, "hundred": true, "thousand": true, "nil": true,
	"null": false,
}

// numberWord reports whether a lowercase word is a number word.
func numberWord(w []byte) bool {
	switch string(w) {
	case "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
		"thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty",
		"fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "nil":
		return true
	}
	return false
}

// lowerNumberWord reports whether a word of at most 9 letters is a
// number word, in any case.
func lowerNumberWord(w []byte) bool {
	var buf [9]byte
	for i, b := range w {
		buf[i] = b | 0x20
	}
	return numberWord(buf[:len(w)])
}

// numberWordShape holds, per first and last letter (their low five bits),
// a bit per length of the number words with them, so that most words are
// not compared.
var numberWordShape = func() (t [32][32]uint32) {
	for w, ok := range numberWords {
		if ok {
			t[w[0]&31][w[len(w)-1]&31] |= 1 << len(w)
		}
	}
	return t
}()

// minNumberRun is how many number words (or Chinese numerals) in a row
// count as a spelled-out digit string.
const minNumberRun = 3

// endRun ends a sequence of number words.
func (r *textRule) endRun(c *textCost, line int) {
	if c.runWords >= minNumberRun {
		c.charge(clsNumberWords, float64(c.runWords)*log2of10, line)
	}
	c.runWords = 0
}

// token classifies one ASCII token (letters, digits, '*', and '.' or ','
// between digits) and charges it. The labels are looked up only for a
// token that would cost something, and nothing is allocated for a token
// that costs nothing.
func (r *textRule) token(c *textCost, tok []byte, afterHash bool, line int) {
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
	r.tokenClassed(c, tok, or, &sh, afterHash, line)
}

// wordShape is what wordLike needs of a run of letters, gathered while the
// run is found: vowels, the longest runs of consonants and of vowels, and
// the changes between upper and lower case.
type wordShape struct {
	vowels, run, maxRun, vrun, maxVrun, switches int
}

// add counts a byte of class k after a byte of class prev (k itself for
// the first).
func (w *wordShape) add(k, prev uint8) {
	// without branches: vowels and consonants alternate at random
	v := int(k&bVowel) >> 3
	w.vowels += v
	w.vrun = (w.vrun + 1) * v
	w.run = (w.run + 1) * (1 - v)
	w.maxVrun = max(w.maxVrun, w.vrun)
	w.maxRun = max(w.maxRun, w.run)
	w.switches += int((k^prev)&bUpper) >> 2
}

// tokenClassed is token for a token whose byte classes, or-ed together,
// are or.
func (r *textRule) tokenClassed(c *textCost, tok []byte, or uint8, sh *wordShape, afterHash bool, line int) {
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
			like = sh.wordLike(core)
		} else {
			like = wordLike(core)
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

// functionWord reports whether w is one of the commonest function words
// of English.
func functionWord(w []byte) bool {
	if len(w) > 7 {
		return false
	}
	var buf [7]byte
	for i, b := range w {
		buf[i] = b | 0x20
	}
	switch string(buf[:len(w)]) {
	case "a", "an", "the", "of", "in", "to", "is", "by", "on", "at", "as", "or", "be", "it", "and", "for", "was",
		"are", "its", "per", "with", "from", "were", "that", "this", "than", "over", "into", "has", "had", "not",
		"which", "while", "between", "under", "after", "before", "each", "all", "we", "our", "their", "there":
		return true
	}
	return false
}

// versionWord reports whether a token is a word followed by one to three
// digits (int64, utf8, sha256, python3).
func versionWord(s []byte) bool {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	if n := len(s) - i; n == 0 || n > 3 || i < 2 {
		return false
	}
	for _, b := range s[:i] {
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z') {
			return false
		}
	}
	return wordLike(s[:i])
}

// unitSuffix returns the length of a suffix of one to three letters after
// a number with no other letters (1.25s, 512MiB), or 0.
func unitSuffix(s []byte) int {
	i := len(s)
	for i > 0 && (s[i-1] >= 'a' && s[i-1] <= 'z' || s[i-1] >= 'A' && s[i-1] <= 'Z') {
		i--
	}
	n := len(s) - i
	if n == 0 || n > 3 || i == 0 {
		return 0
	}
	for j := 0; j < i; j++ {
		if b := s[j]; !(b >= '0' && b <= '9' || b == '.' || b == ',') {
			return 0
		}
	}
	return n
}

// timestampPiece reports whether a token is digits joined by single T
// letters and perhaps ended by Z, as ISO 8601 writes times (06T21, 15Z).
func timestampPiece(s []byte) bool {
	prevLetter := true
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= '0' && b <= '9':
			prevLetter = false
		case b == 'T' && !prevLetter && i+1 < len(s), b == 'Z' && !prevLetter && i == len(s)-1:
			prevLetter = true
		case b == '.' || b == ',':
		default:
			return false
		}
	}
	return true
}

// plainNumber charges a number without thousands separators and with at
// most one decimal point, without allocating.
func (r *textRule) plainNumber(c *textCost, s []byte, line int) {
	intLen := bytes.IndexByte(s, '.')
	if intLen < 0 {
		intLen = len(s)
	}
	r.plainNumberAt(c, s, intLen, line)
}

// plainNumberAt is plainNumber for a number whose point (if any) is at
// intLen (else intLen is len(s)).
func (r *textRule) plainNumberAt(c *textCost, s []byte, intLen int, line int) {
	if intLen == len(s) && (intLen >= 7 || intLen >= 3 && s[0] == '0') {
		// an integer of seven digits or more, or zero-padded: an
		// identifier (a measurement has a fraction or separators)
		c.charge(clsDigits, float64(intLen)*log2of10, line)
		return
	}
	r.figure(c, sigDigits(s, intLen), line)
}

// figure charges a statistics-like number of sig significant digits: free
// among the first freeNumbers of a text (beyond six digits, the precision
// is charged), charged in full after them. easyEvents does the same
// inline.
func (r *textRule) figure(c *textCost, sig, line int) {
	c.numbers++
	c.freeBits += float64(min(sig, 6)) * log2of10
	if c.numbers > r.freeNumbers {
		c.charge(clsNumbers, float64(sig)*log2of10, line)
		return
	}
	if sig > 6 {
		c.charge(clsPrecision, float64(sig-6)*log2of10, line)
	}
}

// sigDigits is how many significant digits the number s of digits and at
// most one point (at intLen, else intLen is len(s)) has: without leading
// zeros, and without trailing zeros (of an integer, or of a fraction); at
// least one.
func sigDigits(s []byte, intLen int) int {
	lo, hi := 0, len(s)
	for lo < hi && (s[lo] == '0' || s[lo] == '.') {
		lo++
	}
	for hi > lo && (s[hi-1] == '0' || s[hi-1] == '.') {
		hi--
	}
	sig := hi - lo
	if lo < intLen && intLen < hi {
		sig-- // the decimal point
	}
	return max(sig, 1)
}

// number charges a digit token that may hold '.' and ',' separators.
func (r *textRule) number(c *textCost, s string, digits, seps int, line int) {
	intPart, frac, _ := strings.Cut(s, ".")
	grouped := strings.Contains(intPart, ",")
	if grouped && !thousands(intPart) {
		// 1,2,3: a list, not one number; each piece is a number
		for _, piece := range strings.Split(s, ",") {
			if piece != "" {
				r.number(c, piece, strings.Count(piece, "")-1-strings.Count(piece, "."), strings.Count(piece, "."), line)
			}
		}
		return
	}
	if strings.Count(s, ".") > 1 {
		// 1.2.3 (versions, dotted codes): pieces
		for _, piece := range strings.Split(s, ".") {
			if piece != "" {
				r.number(c, piece, len(piece), 0, line)
			}
		}
		return
	}
	intDigits := len(intPart) - strings.Count(intPart, ",")
	if !grouped && (intDigits >= 7 || intDigits >= 3 && intPart[0] == '0') {
		c.charge(clsDigits, float64(digits)*log2of10, line)
		return
	}
	r.figure(c, significant(strings.ReplaceAll(intPart, ",", "")+frac), line)
}

// thousands reports whether s (digits and commas) is grouped by threes.
func thousands(s string) bool {
	parts := strings.Split(s, ",")
	if len(parts[0]) == 0 || len(parts[0]) > 3 {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) != 3 {
			return false
		}
	}
	return true
}

// significant counts the significant digits of a digit string: without
// leading zeros, and without trailing zeros when it has no fraction.
func significant(digits string) int {
	d := strings.TrimLeft(digits, "0")
	d = strings.TrimRight(d, "0")
	if d == "" {
		return 1
	}
	return len(d)
}

// vowelless are common words of technical text that have no vowels.
var vowelless = map[string]bool{
	"http": true, "https": true, "html": true, "xmlns": true, "xlink": true, "tspan": true, "rgba": true,
	"json": true, "html5": true, "ttf": true, "woff": true, "woff2": true, "lmtx": true, "stdev": true,
}

// wordLike reports whether a run of letters looks like a word of a
// language: short, or with vowels spread as words have them, and a case
// pattern that words have (lower, Capitalized, UPPER, camelCase).
func wordLike(s []byte) bool {
	var sh wordShape
	for i, b := range s {
		k := byteClass[b]
		prev := k
		if i > 0 {
			prev = byteClass[s[i-1]]
		}
		sh.add(k, prev)
	}
	return sh.wordLike(s)
}

// wordLike is wordLike of the letters s whose shape w is.
func (w *wordShape) wordLike(s []byte) bool {
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
	// vowels/len below 0.1 or above 0.8, in integers (the same for
	// lengths of at most 24: a ratio equal to either is not past it)
	if switches > 3 || w.maxRun > 4 || w.maxVrun > 3 || 10*w.vowels < len(s) || 5*w.vowels > 4*len(s) {
		return len(s) <= 8 && vowellessWord(s)
	}
	return true
}

// vowellessWord reports whether the letters s (at most 8) are a word of
// vowelless, in any case.
func vowellessWord(s []byte) bool {
	var buf [8]byte
	for i, b := range s {
		buf[i] = b | 0x20
	}
	return vowelless[string(buf[:len(s)])]
}
