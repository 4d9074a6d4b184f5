package scan

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// The text scanner finds tokens from class masks (see classify): a token
// is a run of set bits of the word mask. A run without non-ASCII bytes is
// exactly one token, whose length, digits and inner punctuation come from
// the masks without a look at its bytes; a run with non-ASCII bytes (which
// may be separators, such as CJK punctuation) is scanned a byte at a time
// by scalarRun, as is all text shorter than minMaskText.
//
// A section of text is scanned in two passes. tokenize walks the masks
// without a call and keeps a record of the tokens that need a second look:
// those that may be a hit by their kind and length, or need the memo, and
// the pairs of joined tokens whose lengths some input value has (with the
// tokens before them that windows may read). textMasks then looks those
// up. Most tokens of a log or report are short words and numbers that no
// input value can match, alone or joined: they cost tokenize a few
// instructions and textMasks nothing.

const (
	// minMaskText is the length from which text uses the masks.
	minMaskText = 64
	// sectionBlocks is how many blocks of masks textMasks computes at a
	// time.
	sectionBlocks = 64
	sectionBytes  = sectionBlocks * 64
)

// A record is a token (or a run of word bytes) of a section, as tokenize
// keeps it: its start in the section, its length and digits, the number
// of tokens before it in its window (joined), and flags.
const (
	recBits    = 13 // bits of a record's start, length and digits
	recField   = 1<<recBits - 1
	recLen     = recBits
	recDigits  = 2 * recBits
	recJoined  = 3 * recBits // 2 bits: the window's n before the token
	recInner   = 1 << (3*recBits + 2 + iota)
	recSpace   // the separators before it are spaces and tabs only
	recSepRead // the separators before it must be read to tell (recSpace unset)
	recSpecial // a run with non-ASCII bytes or longer than a section: scalarRun's
	recGroup   // a number group
	recKnown   // recJoined is set (else textMasks counts)
	recPair    // the window ending with it may be looked up: the token before is kept
	recAdj     // the token before it is kept, right before it
	recKept    // (tokenize's own mark) the token is kept
	recHit     // a hit by itself (set by textMasks)
	recCross   // (tokenRuns's mark) a run into later blocks: length, digits and recInner unset
)

// maxRecords is the size of the record array: more than the most records
// a section can have (one a token, at most one token every two bytes), with
// room for the record that tokenRunsAMD64 writes past the last kept one.
const maxRecords = sectionBytes

// textScratch is the memory of textMasks.
type textScratch struct {
	mb   [sectionBlocks]blockMasks
	recs [maxRecords]uint64
}

var scratchPool = sync.Pool{New: func() any { return new(textScratch) }}

// flush pushes the records recs[from:j] of the section at base into w,
// whose n is then joined.
func flush(w *window, recs *[maxRecords]uint64, from, j, base, joined int) {
	for _, r := range recs[max(from, j-4):j] {
		a := base + int(r&recField)
		w.push(span{start: a, end: a + int(r>>recLen&recField), digits: int(r >> recDigits & recField),
			flags: spanASCII | uint8(r&recInner/recInner)*spanInner | uint8(r&recGroup/recGroup)*spanGroup}, r&recHit != 0)
	}
	w.n = joined
}

// textMasks scans p (see Text) a section at a time: tokenize keeps the
// records of the tokens to look at, and each is looked up here as emit
// would, without a call unless it can be a hit, its memo slot holds another
// token or its window may be looked up; runs with non-ASCII bytes go to
// scalarRun. Only kept tokens go into the window (st.win), and only before
// those calls (flush); a window is looked up over kept tokens that follow
// each other (chain) only, which finds what the window of all tokens finds:
// a token tokenize skips is no hit and no number group, so a window that
// reaches it is looked up as a pair, and a pair whose first token it skips
// is never looked up.
func (s *Scanner) textMasks(p []byte, st *textState) {
	sc := st.scratch
	if sc == nil {
		sc = scratchPool.Get().(*textScratch)
		defer scratchPool.Put(sc)
	}
	blocks := st.blocks
	if blocks <= 0 || blocks > sectionBlocks {
		blocks = sectionBlocks
	}
	mb, recs := &sc.mb, &sc.recs
	short := s.tags[0] | s.tags[1] // ASCII tags, for innerCould's first test
	could := s.could
	m := st.m
	win := &st.win
	joined := win.n // the window's n before the record
	chain := 0      // how many records before this one follow each other, up to 3
	end := 0        // the end of the last token or run, in p
	sepOK := true   // false: the last run ends with separators other than spaces and tabs
	for base := 0; base < len(p); {
		n := min(len(p)-base, blocks<<6)
		classify(p[base:base+n], mb[:])
		count, next := s.tokenize(p, base, mb, n, base+n == len(p), recs)
		next += base
		from := 0 // records from here on are not yet in win
		for j := 0; j < count; j++ {
			r := recs[j]
			A := base + int(r&recField)
			tn := int(r >> recLen & recField)
			B := A + tn
			onlySpace := r&recSpace != 0
			if r&recSepRead != 0 {
				onlySpace = sepOnlySpace(p, end, A)
			}
			onlySpace = onlySpace && sepOK
			sepOK = true
			end = B
			if r&recKnown != 0 {
				joined = int(r >> recJoined & 3)
			} else if !onlySpace {
				joined = 0
			}
			if r&recAdj != 0 {
				chain = min(chain+1, 3)
			} else {
				chain = 0
			}
			if r&recSpecial != 0 {
				flush(win, recs, from, j, base, min(joined, chain))
				if tn == n && A == base && B < len(p) {
					// A run that fills the section: it may go on.
					for B < len(p) && classBits[p[B]]&(1<<maskWord) != 0 {
						B++
					}
					end, next = B, B
				}
				sepOK = s.scalarRun(p[:B], A, onlySpace, st)
				joined, chain, from = win.n, 3, j+1
				continue
			}
			digits := int(r >> recDigits & recField)
			inner := r&recInner != 0
			hit := false
			switch {
			case tn < 8 && !inner:
				hit = could[tn]>>digits&1 != 0 && s.token(p[A:B], st.depth)
			case tn < 8:
				hit = short&(uint64(1)<<(tn+1)-1) != 0 && s.innerCould(p[A:B], digits) && s.token(p[A:B], st.depth)
			case m != nil && tn <= memoMaxLen:
				ka := binary.LittleEndian.Uint64(p[A:])
				kb := binary.LittleEndian.Uint64(p[B-8:])
				sl := &m.slots[memoIndex(ka, kb, tn)]
				if int(sl.n) == tn+1 && sl.a == ka && sl.b == kb {
					hit = sl.hit
				} else {
					hit = s.token(p[A:B], st.depth)
					sl.a, sl.b, sl.n, sl.hit = ka, kb, uint8(tn+1), hit
				}
			default:
				hit = s.tokenMemo(p[A:B], st.depth, m)
			}
			if hit {
				st.hits++
				recs[j] = r | recHit
			}
			if !hit && joined > 0 && chain > 0 && r&recPair != 0 {
				prevHit := win.hit[win.top]
				if j > from {
					prevHit = recs[j-1]&recHit != 0
				}
				if !prevHit {
					flags := uint8(spanASCII)
					if inner {
						flags |= spanInner
					}
					if r&recGroup != 0 {
						flags |= spanGroup
					}
					tok := span{start: A, end: B, digits: digits, flags: flags}
					flush(win, recs, from, j, base, min(joined, chain))
					from = j
					if s.pairCould(&win.tok[win.top], tok) && s.windows(p, win, tok) {
						st.hits++
					}
				}
			}
			joined = min(joined+1, 3)
		}
		flush(win, recs, from, count, base, joined)
		base = next
	}
}

// sepOnlySpace reports whether p[i:j], ASCII separators, holds spaces and
// tabs only.
func sepOnlySpace(p []byte, i, j int) bool {
	if j-i == 1 && p[i] == ' ' {
		return true
	}
	for _, c := range p[i:j] {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// runEnd returns the first byte at or after i that is no word byte, or n.
func runEnd(mb *[sectionBlocks]blockMasks, i, n int) int {
	k := i >> 6
	if x := ^mb[k][maskWord] >> (i & 63); x != 0 {
		return min(i+bits.TrailingZeros64(x), n)
	}
	for k++; k<<6 < n; k++ {
		if x := ^mb[k][maskWord]; x != 0 {
			return min(k<<6+bits.TrailingZeros64(x), n)
		}
	}
	return n
}

// runStats returns whether [a, b) holds non-ASCII bytes, its number of
// digits and whether it holds inner punctuation.
func runStats(mb *[sectionBlocks]blockMasks, a, b int) (high bool, digits int, inner bool) {
	for k := a >> 6; k<<6 < b; k++ {
		w := ^uint64(0) << (max(a-k<<6, 0))
		if hi := b - k<<6; hi < 64 {
			w &= 1<<hi - 1
		}
		m := &mb[k]
		high = high || m[maskHigh]&w != 0
		inner = inner || m[maskInner]&w != 0
		digits += bits.OnesCount64(m[maskDigit] & w)
	}
	return high, digits, inner
}
