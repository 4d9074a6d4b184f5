package scan

import "math/bits"

// tokState is the state of tokenize's walk over the masks of a section,
// kept between calls of tokenRuns (whose amd64 version reads and writes it
// at fixed offsets: see tokenize_amd64.s).
type tokState struct {
	k      int    // the block of starts (-1 before the first)
	starts uint64 // the runs of block k not yet looked at
	breaks uint64 // the runs of block k with a break in the separators before
	wcarry uint64 // bit 63 of block k's word mask
	bcarry uint64 // the carry of block k's break sum
	r1, r2 uint64 // the last two tokens, newest first (0 for none)
	joined uint64 // the window's n after r1, when clean
	dirty  uint64 // 1: textMasks counts joined, and every token is kept
	count  int    // records kept
	// What tokenRuns returns for tokenize to finish.
	pending uint64 // the record of a run across blocks or with non-ASCII bytes
	// Inputs.
	stop  int    // where tokens stop (see tokenize)
	nb    int    // blocks of the section
	tags0 uint64 // the scanner's tags of mixed and digits forms
	tags1 uint64
	could *[64]uint64 // the scanner's could
	p     *byte       // the section's first byte
}

// tokenize keeps in recs the records of the tokens of a section of n bytes
// of p from base, with masks mb, that textMasks must look at, and returns
// how many and where the next section starts: at n, or at the start of a
// run that reaches the end of the section when it is not the last. A run
// from the start of the section to its end (a token of a section or more)
// is a recSpecial record of length n. tokenize keeps:
//
//   - every token that may be a hit by itself (by its length and digits,
//     as emit decides), or has inner punctuation, or is 8 bytes or longer;
//   - every token whose window with the token before may be looked up
//     (pairCould), and that token;
//   - every run with non-ASCII bytes (recSpecial), and the token before
//     it; after it, every token until a separator other than spaces and
//     tabs (whose window no longer reaches back to the run);
//   - the first token of the section (whose separators it cannot tell)
//     and, like the run above, the tokens after it until such a
//     separator, and the last token of the section.
//
// Only kept tokens go into the window. A token it skips is no hit and no
// number group, so a window that reaches back to it is looked up as a pair
// only, and the number groups before a group are kept with it (each pair of
// them may be looked up): textMasks looks windows up over kept tokens that
// follow each other (recAdj) only.
func (s *Scanner) tokenize(p []byte, base int, mb *[sectionBlocks]blockMasks, n int, last bool, recs *[maxRecords]uint64) (count, next int) {
	stop := n
	if !last && mb[(n-1)>>6][maskWord]>>((n-1)&63)&1 != 0 {
		// The last run reaches the end of the section: find its start.
		stop = 0
		for k := (n - 1) >> 6; k >= 0; k-- {
			g := ^mb[k][maskWord]
			if k == (n-1)>>6 {
				g &= ^uint64(0) >> (63 - (n-1)&63)
			}
			if g != 0 {
				stop = k<<6 + 64 - bits.LeadingZeros64(g)
				break
			}
		}
		if stop == 0 {
			recs[0] = recSepRead | recSpecial | recAdj | uint64(n)<<recLen
			return 1, n
		}
	}
	st := tokState{k: -1, dirty: 1, stop: stop, nb: (n + 63) >> 6,
		tags0: s.tags[0], tags1: s.tags[1], could: s.could, p: &p[base]}
	for tokenRuns(&st, mb, recs) {
		// A run across blocks or with non-ASCII bytes.
		r := st.pending
		a := int(r & recField)
		e := a + int(r>>recLen&recField)
		if r&recCross != 0 {
			e = runEnd(mb, a, n)
			// Go on at the block where the run ends; its bits before
			// the end are no starts (wcarry), and nothing carries out
			// of the run's blocks into the break sum.
			st.k, st.starts, st.wcarry, st.bcarry = e>>6-1, 0, 1, 0
		}
		high, digits, inner := runStats(mb, a, e)
		r = r&^(recCross|recField<<recLen) | uint64(e-a)<<recLen | uint64(digits)<<recDigits
		if inner {
			r |= recInner
		}
		if high {
			st.keepSpecial(r, recs)
		} else {
			st.keep(r, recs)
		}
	}
	// Keep the last token, for the windows of the next section.
	st.keepLast(recs)
	return st.count, stop
}

// tokenRunsGo is tokenRuns in Go: it walks the runs of word bytes from
// st.k and st.starts, and keeps (keep) those without non-ASCII bytes that
// end in the block they start in; it returns true and the record of any
// other run in st.pending (with its length when it ends in its block,
// recCross when it does not), and false at the end of the section or at
// st.stop.
func tokenRunsGo(st *tokState, mb *[sectionBlocks]blockMasks, recs *[maxRecords]uint64) bool {
	for {
		for st.starts == 0 {
			st.k++
			if st.k >= st.nb {
				return false
			}
			w := mb[st.k][maskWord]
			st.starts = w &^ (w<<1 | st.wcarry)
			st.wcarry = w >> 63
			st.breaks, st.bcarry = bits.Add64(^w, mb[st.k][maskBreak], st.bcarry)
		}
		bm := &mb[st.k]
		w := bm[maskWord]
		abit := st.starts & -st.starts
		st.starts ^= abit
		a := uint64(st.k<<6 + bits.TrailingZeros64(abit))
		if int(a) >= st.stop {
			st.starts, st.k = 0, st.nb
			return false
		}
		r := a
		if st.breaks&abit == 0 {
			r |= recSpace
		}
		if st.r1 == 0 {
			r |= recSepRead // the section's first token
		}
		ebit := (w + abit) &^ w
		if ebit == 0 {
			st.pending = r | recCross
			return true
		}
		rm := ebit - abit
		tn := uint64(bits.TrailingZeros64(ebit) - bits.TrailingZeros64(abit))
		if bm[maskHigh]&rm != 0 {
			st.pending = r | tn<<recLen
			return true
		}
		if bm[maskInner]&rm != 0 {
			r |= recInner
		}
		st.keep(r|tn<<recLen|uint64(bits.OnesCount64(bm[maskDigit]&rm))<<recDigits, recs)
	}
}

// keep decides whether to keep the record r of an ASCII token (see
// tokenize), and keeps it and the token before as needed.
func (st *tokState) keep(r uint64, recs *[maxRecords]uint64) {
	tn, digits := r>>recLen&recField, r>>recDigits&recField
	if digits == tn || (digits == tn-1 && *(*byte)(unsafeAdd(st.p, int(r&recField+tn)-1))|0x20 == 'x') {
		r |= recGroup
	}
	var keep bool
	switch {
	case tn >= 8:
		keep = true
	case r&recInner != 0:
		keep = (st.tags0|st.tags1)&(uint64(1)<<(tn+1)-1) != 0
	default:
		keep = st.could[tn]>>digits&1 != 0
	}
	if st.dirty != 0 && r&(recSpace|recSepRead) == 0 {
		st.dirty, st.joined = 0, 0 // a window starts afresh
	}
	if st.dirty != 0 {
		r |= recPair | recAdj
		recs[st.count] = r
		st.count++
		st.r1, st.r2 = r|recKept, st.r1
		return
	}
	if r&recSpace == 0 {
		st.joined = 0
	}
	if st.joined > 0 {
		// pairCould, on r1.
		pair := st.r1&r&recGroup != 0
		if n, d := st.r1>>recLen&recField+tn, st.r1>>recDigits&recField+digits; !pair && n < 64 {
			pair = st.could[n]>>d&1 != 0
		} else if !pair {
			if d == n {
				pair = st.tags1>>63&1 != 0
			} else {
				pair = st.tags0>>63&1 != 0 || (d >= 6 && st.tags1>>min(d, 63)&1 != 0)
			}
		}
		if pair {
			r |= recPair
			keep = true
			st.keepLast(recs)
		}
	}
	r |= recKnown | st.joined<<recJoined
	if st.r1&recKept != 0 {
		r |= recAdj // (kept later by keepLast, it is still adjacent)
	}
	if keep {
		recs[st.count] = r
		st.count++
		r |= recKept
	}
	st.r1, st.r2 = r, st.r1
	st.joined = min(st.joined+1, 3)
}

// keepSpecial keeps the record r of a run with non-ASCII bytes, and the
// token before it.
func (st *tokState) keepSpecial(r uint64, recs *[maxRecords]uint64) {
	st.keepLast(recs)
	r |= recSpecial | recAdj
	if st.dirty == 0 {
		if r&recSpace == 0 {
			st.joined = 0
		}
		r |= recKnown | st.joined<<recJoined
	}
	recs[st.count] = r
	st.count++
	st.r1, st.r2 = r|recKept, st.r1
	st.dirty = 1
}

// keepLast keeps the last token (if any) unless it is kept.
func (st *tokState) keepLast(recs *[maxRecords]uint64) {
	if st.r1 != 0 && st.r1&recKept == 0 {
		if st.r2&recKept != 0 {
			st.r1 |= recAdj
		}
		recs[st.count] = st.r1
		st.count++
		st.r1 |= recKept
	}
}
