package scan

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"unicode/utf8"
	"unsafe"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// tokenByte marks the ASCII bytes that belong to a token: letters, digits
// and the punctuation found inside identifiers, e-mail addresses, dates and
// encodings. Everything else separates tokens. Non-ASCII runes belong to a
// token unless they are space, punctuation, symbols or format characters.
var tokenByte [256]bool

// TokenByte reports whether the ASCII byte b belongs to a token; any other
// ASCII byte separates tokens (and, unless it is a space or tab, ends the
// windows of joined tokens too).
func TokenByte(b byte) bool { return tokenByte[b] }

// innerByte marks the token bytes at which a token is also split into
// sub-tokens ("id=1234", "name.surname").
var innerByte [256]bool

// byteClass has the classes of each byte in one table, for the tokenizer's
// inner loops.
var byteClass [256]uint8

const (
	clDigit = 1 << iota // an ASCII digit (bit 0: added to digit counts)
	clToken             // tokenByte
	clInner             // innerByte
	clSpace             // space or tab
	clHigh              // not ASCII
)

func init() {
	defer func() {
		for b := range 256 {
			var c uint8
			switch {
			case b >= utf8.RuneSelf:
				c = clHigh
			case b == ' ' || b == '\t':
				c = clSpace
			}
			if tokenByte[b] {
				c |= clToken
			}
			if innerByte[b] {
				c |= clInner
			}
			if b >= '0' && b <= '9' {
				c |= clDigit
			}
			byteClass[b] = c
		}
		initClassBits()
	}()
	for b := '0'; b <= '9'; b++ {
		tokenByte[b] = true
	}
	for b := 'a'; b <= 'z'; b++ {
		tokenByte[b] = true
		tokenByte[b-'a'+'A'] = true
	}
	for _, b := range []byte("-_.@+/=%") {
		tokenByte[b] = true
		innerByte[b] = true
	}
}

// Text returns how many tokens of p (and windows of adjacent tokens) hold
// an input value. A token is a run of letters, digits and "-_.@+/=%"; it
// is looked up whole (canonicalized), split at that punctuation, and decoded
// where it looks encoded. Two tokens separated only by spaces or tabs are
// also looked up joined ("Zhang San"), and so are runs of up to four such
// number groups ("138 1234 5678", "110105 19491231 002X").
func (s *Scanner) Text(p []byte) int {
	if len(s.values) == 0 {
		return 0
	}
	return s.text(p, 0, nil)
}

// memo remembers the verdict on short tokens or cells within one text:
// logs, reports and table columns repeat their words, and a probe of a
// small direct-mapped cache (small enough to stay in the processor's cache)
// is cheaper than a keyed hash, a filter probe and the decoding attempts.
// A nil *memo remembers nothing.
type memo struct {
	slots [memoSlots]memoSlot
}

type memoSlot struct {
	a, b uint64 // the key's first and last eight bytes (see memoKey)
	n    uint8  // len(key)+1; 0 for an empty slot
	hit  bool
}

const (
	memoBits   = 13
	memoSlots  = 1 << memoBits
	memoMaxLen = 16
)

// memoKey returns k (at most memoMaxLen bytes) as two words: its first and
// its last eight bytes (overlapping when k is shorter than 16 bytes), or k
// and 0 when it is shorter than 8. With its length, the pair is k.
func memoKey(k []byte) (a, b uint64) {
	if len(k) >= 8 {
		return binary.LittleEndian.Uint64(k), binary.LittleEndian.Uint64(k[len(k)-8:])
	}
	for i, c := range k {
		a |= uint64(c) << (8 * i)
	}
	return a, 0
}

// memoIndex hashes a key to a slot; it need not be keyed: an adversary can
// only make the memo miss.
func memoIndex(a, b uint64, n int) int {
	h := (a^uint64(n))*0x9e3779b97f4a7c15 ^ b*0xc2b2ae3d27d4eb4f
	return int(h >> (64 - memoBits))
}

func (m *memo) get(k []byte) (hit, ok bool) {
	if m == nil || len(k) > memoMaxLen {
		return false, false
	}
	a, b := memoKey(k)
	sl := &m.slots[memoIndex(a, b, len(k))]
	if int(sl.n) != len(k)+1 || sl.a != a || sl.b != b {
		return false, false
	}
	return sl.hit, true
}

func (m *memo) put(k []byte, hit bool) {
	if m == nil || len(k) > memoMaxLen {
		return
	}
	a, b := memoKey(k)
	sl := &m.slots[memoIndex(a, b, len(k))]
	sl.a, sl.b = a, b
	sl.n = uint8(len(k) + 1)
	sl.hit = hit
}

// TextScanner scans one text or file (a log, a report, the cells of a
// table) with a memo of the short tokens and cells seen so far. It is not safe for concurrent use; make one per text with
// Scanner.NewText.
type TextScanner struct {
	s       *Scanner
	scratch *textScratch // for textMasks; allocated by Text
	cells   *memo        // verdicts of Value
	toks    *memo        // verdicts of tokens (not the same as of Value)
	short   *shortMemo   // verdicts of Value on cells of 1 to 7 bytes, for Strings
}

// NewText returns a TextScanner for one text.
func (s *Scanner) NewText() *TextScanner {
	return &TextScanner{s: s, cells: new(memo), toks: new(memo)}
}

// Value is Scanner.Value with the memo, for the cells of one file.
func (t *TextScanner) Value(v string) bool {
	if len(v) > memoMaxLen {
		return t.s.Value(v)
	}
	b := unsafe.Slice(unsafe.StringData(v), len(v)) // read only; put copies
	if len(b) < 8 {
		// A short plain token is looked up whole and by its parts
		// between inner punctuation (see Value): its tags say whether
		// it can be a hit, which costs less than a probe of the memo.
		digits := 0
		var classes uint8
		for _, c := range b {
			cl := byteClass[c]
			if cl&clToken == 0 {
				goto memo
			}
			digits += int(cl & clDigit)
			classes |= cl
		}
		if !t.s.asciiCould(len(b), digits) && (classes&clInner == 0 || !t.s.innerCould(b, digits)) {
			return false
		}
	}
memo:
	if hit, ok := t.cells.get(b); ok {
		return hit
	}
	hit := t.s.Value(v)
	t.cells.put(b, hit)
	return hit
}

// Text is Scanner.Text with the memo.
func (t *TextScanner) Text(p []byte) int {
	if len(t.s.values) == 0 {
		return 0
	}
	if len(p) >= minMaskText && t.scratch == nil {
		t.scratch = new(textScratch)
	}
	return t.s.textWith(p, 0, t.toks, t.scratch)
}

// span is a token of a text with what the scanner needs to know of it
// before looking it up: its digits and whether it is plain ASCII and holds
// inner punctuation.
type span struct {
	start, end int
	digits     int
	flags      uint8 // spanASCII, spanInner, spanGroup
}

const (
	spanASCII = 1 << iota // plain ASCII
	spanInner             // holds inner punctuation
	spanGroup             // a number group: digits, the last one maybe x or X
)

// asciiToken returns the end of the run of ASCII token bytes of p from i,
// its number of digits and the union of its byte classes. It is not inlined
// so that its loop keeps its counters in registers.
//
//go:noinline
func asciiToken(p []byte, i int) (end, digits int, classes uint8) {
	for ; i < len(p); i++ {
		c := byteClass[p[i]]
		if c&clToken == 0 {
			break
		}
		digits += int(c & clDigit)
		classes |= c
	}
	return i, digits, classes
}

// asciiSep returns the end of the run of ASCII separator bytes of p from i
// and whether they are all spaces or tabs.
//
//go:noinline
func asciiSep(p []byte, i int) (end int, onlySpace bool) {
	var notSpace uint8
	for ; i < len(p); i++ {
		c := byteClass[p[i]]
		if c&(clToken|clHigh) != 0 {
			break
		}
		notSpace |= ^c & clSpace
	}
	return i, notSpace == 0
}

// textState is what the scan of one text carries from token to token.
type textState struct {
	hits    int
	win     window
	depth   int
	m       *memo
	scratch *textScratch // textMasks's memory; nil: from a pool
	blocks  int          // blocks of a section of textMasks (tests); 0: sectionBlocks
}

// text counts the hits in p (see Text): from the class masks of p
// (textMasks) when p is long enough for them to pay, else a byte at a time
// (scalarRun); both find the same tokens.
func (s *Scanner) text(p []byte, depth int, m *memo) int {
	return s.textWith(p, depth, m, nil)
}

func (s *Scanner) textWith(p []byte, depth int, m *memo, scratch *textScratch) int {
	st := textState{depth: depth, m: m, scratch: scratch}
	if len(p) >= minMaskText {
		s.textMasks(p, &st)
	} else {
		s.scalarRun(p, 0, true, &st)
	}
	return st.hits
}

// scalarRun scans the tokens of p from i a byte at a time; onlySpace says
// whether the separators before i (if any) are spaces and tabs only. It
// returns whether the separators after the last token (if any) are.
func (s *Scanner) scalarRun(p []byte, i int, onlySpace bool, st *textState) bool {
	for i < len(p) {
		// Separators; most often a single space.
		if i+1 < len(p) && p[i] == ' ' && byteClass[p[i+1]]&clToken != 0 {
			i++
		}
		for i < len(p) && byteClass[p[i]]&clToken == 0 {
			var only bool
			i, only = asciiSep(p, i)
			onlySpace = onlySpace && only
			if i >= len(p) || byteClass[p[i]]&clHigh == 0 {
				break
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
		// Locals, not fields of a span, so that they stay in registers.
		start, digits := i, 0
		var classes uint8
		for i < len(p) {
			var d int
			var cl uint8
			i, d, cl = asciiToken(p, i)
			digits += d
			classes |= cl
			if i >= len(p) || byteClass[p[i]]&clHigh == 0 {
				break
			}
			r, size := utf8.DecodeRune(p[i:])
			if isSepRune(r) {
				break
			}
			classes |= clHigh
			i += size
		}
		s.emit(p, start, i, digits, classes, onlySpace, st)
		onlySpace = true
	}
	return onlySpace
}

// emit looks up the token p[start:end], with the given number of digits
// and union of byte classes, and the windows that end with it; onlySpace
// says whether only spaces and tabs separate it from the token before.
func (s *Scanner) emit(p []byte, start, end, digits int, classes uint8, onlySpace bool, st *textState) {
	n := end - start
	tok := span{start: start, end: end, digits: digits}
	ascii := classes&clHigh == 0
	if ascii {
		tok.flags |= spanASCII
	}
	if classes&clInner != 0 {
		tok.flags |= spanInner
	}
	if digits == n || (digits == n-1 && p[end-1]|0x20 == 'x') {
		tok.flags |= spanGroup
	}
	var hit bool
	switch {
	case ascii && classes&clInner == 0 && n < 8:
		// A short plain token: looked up whole only (there is
		// nothing to split or decode), so its tags say whether it
		// can be a hit at all.
		hit = s.asciiCould(n, digits) && s.tokenMemo(p[start:end], st.depth, st.m)
	case ascii && n < 8:
		// Short, with inner punctuation: nothing to decode, and
		// the tag checks of its parts cost less than the memo.
		hit = s.innerCould(p[start:end], digits) && s.token(p[start:end], st.depth)
	default:
		hit = s.tokenMemo(p[start:end], st.depth, st.m)
	}
	if hit {
		st.hits++
	}
	win := &st.win
	if !onlySpace || start == 0 {
		win.n = 0
	}
	if !hit && win.n > 0 && !win.hit[win.top] && s.pairCould(&win.tok[win.top], tok) && s.windows(p, win, tok) {
		st.hits++
	}
	win.push(tok, hit)
}

// window holds the tokens before the current one that are joined to it by
// horizontal space (at most three), in a ring: at(0) is the newest.
type window struct {
	tok [4]span // a ring: the newest at top
	hit [4]bool
	top uint8
	n   int // how many of the last three tokens are in the window
}

func (w *window) push(t span, hit bool) {
	w.top = (w.top + 1) & 3
	w.tok[w.top], w.hit[w.top] = t, hit
	w.n = min(w.n+1, 3)
}

// at returns the ring index of the k-th newest token (0 is the newest).
func (w *window) at(k int) int { return int(w.top-uint8(k)) & 3 }

// pairCould reports whether windows can find anything when prev, the token
// before tok, is no hit: it refuses what windows would refuse by length
// alone, without the call, when prev and tok are not both number groups
// (then the pair is the only window) and both are ASCII.
func (s *Scanner) pairCould(prev *span, tok span) bool {
	both := prev.flags & tok.flags
	if both&spanGroup != 0 || both&spanASCII == 0 {
		return true
	}
	return s.asciiCould(prev.end-prev.start+tok.end-tok.start, prev.digits+tok.digits)
}

// windows looks up the windows ending at tok, which is no hit by itself:
// pairs of any tokens, longer runs of number groups only; a window with a
// token that is a hit by itself is not looked up, and the first window
// found ends the search.
func (s *Scanner) windows(p []byte, w *window, tok span) bool {
	n, digits, ascii, groups := tok.end-tok.start, tok.digits, tok.flags&spanASCII != 0, tok.flags&spanGroup != 0
	for k := 0; k < w.n; k++ {
		prev := &w.tok[w.at(k)]
		if w.hit[w.at(k)] {
			return false
		}
		groups = groups && prev.flags&spanGroup != 0
		if k > 0 && !groups {
			return false
		}
		n += prev.end - prev.start
		digits += prev.digits
		ascii = ascii && prev.flags&spanASCII != 0
		if ascii && !s.asciiCould(n, digits) {
			// The joined ASCII tokens have no space: their canonical
			// forms have these lengths.
			continue
		}
		var stack [128]byte
		buf := stack[:0]
		for j := k; j >= 0; j-- {
			t := &w.tok[w.at(j)]
			buf = append(buf, p[t.start:t.end]...)
		}
		if s.lookup(append(buf, p[tok.start:tok.end]...)) {
			return true
		}
	}
	return false
}

// asciiCould reports whether an ASCII text without white space of n bytes
// and the given number of digits has a canonical form of a kind and length
// that the sets hold (the form itself, and its digits alone).
func (s *Scanner) asciiCould(n, digits int) bool {
	// Word 0 of the tags holds the KindMixed lengths, word 1 the
	// KindDigits lengths (see fingerprint.ValueTag).
	if digits == n {
		return s.tags[1]>>uint(min(n, fingerprint.MaxTagLen))&1 != 0
	}
	return s.tags[0]>>uint(min(n, fingerprint.MaxTagLen))&1 != 0 ||
		(digits >= fingerprint.MinDigits && s.tags[1]>>uint(min(digits, fingerprint.MaxTagLen))&1 != 0)
}

// trimInner trims tok of inner punctuation at its edges, except a final
// "=" (base64 padding).
func trimInner(tok []byte) []byte {
	for len(tok) > 0 && innerByte[tok[0]] {
		tok = tok[1:]
	}
	for len(tok) > 0 && innerByte[tok[len(tok)-1]] && tok[len(tok)-1] != '=' {
		tok = tok[:len(tok)-1]
	}
	return tok
}

// innerCould reports whether token could find anything in an ASCII token
// with the given number of digits and no decodable form: whether its
// trimmed whole or one of its parts between inner punctuation has a
// canonical form of a kind and length the sets hold.
func (s *Scanner) innerCould(tok []byte, digits int) bool {
	if n := len(tok); n < fingerprint.MaxTagLen {
		// Every form looked at is ASCII and at most n bytes long.
		if short := uint64(1)<<(n+1) - 1; (s.tags[0]|s.tags[1])&short == 0 {
			return false
		}
	}
	tok = trimInner(tok)
	if len(tok) > 0 && s.asciiCould(len(tok), digits) { // inner bytes are no digits
		return true
	}
	n, d := 0, 0
	for _, c := range tok {
		if innerByte[c] {
			if n > 0 && s.asciiCould(n, d) {
				return true
			}
			n, d = 0, 0
			continue
		}
		n++
		d += int(byteClass[c] & clDigit)
	}
	return n > 0 && s.asciiCould(n, d)
}

func (s *Scanner) tokenMemo(tok []byte, depth int, m *memo) bool {
	if len(tok) < 8 {
		// Nothing to decode: the length-filtered lookups cost less
		// than the memo.
		return s.token(tok, depth)
	}
	if hit, ok := m.get(tok); ok {
		return hit
	}
	hit := s.token(tok, depth)
	m.put(tok, hit)
	return hit
}

// token looks one token up: whole, trimmed of edge punctuation, split at
// inner punctuation, and decoded.
func (s *Scanner) token(tok []byte, depth int) bool {
	tok = trimInner(tok)
	if len(tok) == 0 {
		return false
	}
	if s.lookup(tok) {
		return true
	}
	inner := false
	for _, b := range tok {
		if innerByte[b] {
			inner = true
			break
		}
	}
	if inner {
		last := 0
		for j := 0; j <= len(tok); j++ {
			if j == len(tok) || innerByte[tok[j]] {
				if j > last && s.lookup(tok[last:j]) {
					return true
				}
				last = j + 1
			}
		}
	}
	return s.decoded(tok, depth)
}

// MaxLine is the longest line ScanText scans; longer lines are withheld
// whole without being scanned.
const MaxLine = 64 << 10

// ScanText reads r line by line (job logs, text previews) and returns the
// 0-based numbers of the lines that must be withheld: those holding an
// input value (see Text) and those longer than MaxLine. It returns an error
// only when r fails; the caller then withholds everything.
func (s *Scanner) ScanText(ctx context.Context, r io.Reader) (withheld []int, err error) {
	br := bufio.NewReaderSize(r, MaxLine)
	ts := s.NewText()
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line, isPrefix, err := br.ReadLine()
		if err == io.EOF {
			return withheld, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read text to scan: %w", err)
		}
		if isPrefix {
			// A long line: skip the rest and withhold it whole.
			for isPrefix && err == nil {
				_, isPrefix, err = br.ReadLine()
			}
			withheld = append(withheld, n)
			if err != nil && err != io.EOF {
				return nil, fmt.Errorf("read text to scan: %w", err)
			}
			continue
		}
		if ts.Text(line) > 0 {
			withheld = append(withheld, n)
		}
	}
}
