package scan

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"unicode/utf8"
	"unsafe"
)

// tokenByte marks the ASCII bytes that belong to a token: letters, digits
// and the punctuation found inside identifiers, e-mail addresses, dates and
// encodings. Everything else separates tokens. Non-ASCII runes belong to a
// token unless they are space, punctuation, symbols or format characters.
var tokenByte [256]bool

// innerByte marks the token bytes at which a token is also split into
// sub-tokens ("id=1234", "name.surname").
var innerByte [256]bool

func init() {
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

// memo remembers the verdict on short tokens within one text: logs and
// reports repeat their words, and a lookup in a small map (kept small so
// that it stays in cache) is cheaper than a keyed hash and a filter probe.
// It holds at most memoMax entries.
type memo map[string]bool

const (
	memoMax    = 1 << 12
	memoMaxLen = 16
)

func (m memo) get(k []byte) (hit, ok bool) {
	if m == nil || len(k) > memoMaxLen {
		return false, false
	}
	hit, ok = m[string(k)]
	return hit, ok
}

func (m memo) put(k []byte, hit bool) {
	if m != nil && len(k) <= memoMaxLen && len(m) < memoMax {
		m[string(k)] = hit // string(k) copies: keys never alias buffers
	}
}

// TextScanner scans one text or file (a log, a report, the cells of a
// table) with a memo of the short tokens and cells seen so far. It is not safe for concurrent use; make one per text with
// Scanner.NewText.
type TextScanner struct {
	s *Scanner
	m memo
}

// NewText returns a TextScanner for one text.
func (s *Scanner) NewText() *TextScanner {
	return &TextScanner{s: s, m: memo{}}
}

// Value is Scanner.Value with the memo, for the cells of one file.
func (t *TextScanner) Value(v string) bool {
	if len(v) > memoMaxLen {
		return t.s.Value(v)
	}
	b := unsafe.Slice(unsafe.StringData(v), len(v)) // read only; put copies
	if hit, ok := t.m.get(b); ok {
		return hit
	}
	hit := t.s.Value(v)
	t.m.put(b, hit)
	return hit
}

// Text is Scanner.Text with the memo.
func (t *TextScanner) Text(p []byte) int {
	if len(t.s.values) == 0 {
		return 0
	}
	return t.s.text(p, 0, t.m)
}

type span struct{ start, end int }

func (s *Scanner) text(p []byte, depth int, m memo) int {
	hits := 0
	var win [4]span // the last tokens joined by horizontal space, newest last
	var winHit [4]bool
	nwin := 0
	i := 0
	for i < len(p) {
		// Separators.
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
		tok := span{start, i}
		hit := s.tokenMemo(p[start:i], depth, m)
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
		// Windows ending at this token: pairs of any tokens, longer runs
		// of number groups only; a window with a token that is a hit by
		// itself is not counted again.
		for k := 2; k <= nwin; k++ {
			if winHit[nwin-k] || winHit[nwin-1] {
				break
			}
			if k > 2 && !numberGroups(p, win[nwin-k:nwin]) {
				break
			}
			if s.joined(p, win[nwin-k:nwin]) {
				hits++
				break
			}
		}
	}
	return hits
}

func numberGroups(p []byte, ws []span) bool {
	for _, w := range ws {
		t := p[w.start:w.end]
		for j, b := range t {
			if (b < '0' || b > '9') && !(j == len(t)-1 && (b == 'x' || b == 'X')) {
				return false
			}
		}
	}
	return true
}

func (s *Scanner) joined(p []byte, ws []span) bool {
	var stack [128]byte
	buf := stack[:0]
	for _, w := range ws {
		buf = append(buf, p[w.start:w.end]...)
	}
	return s.lookup(buf)
}

func (s *Scanner) tokenMemo(tok []byte, depth int, m memo) bool {
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
	for len(tok) > 0 && innerByte[tok[0]] {
		tok = tok[1:]
	}
	for len(tok) > 0 && innerByte[tok[len(tok)-1]] && tok[len(tok)-1] != '=' {
		tok = tok[:len(tok)-1]
	}
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
