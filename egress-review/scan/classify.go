package scan

import "unsafe"

// The text scanner's tokenizer works on bit masks of byte classes, 64
// bytes to a block, computed by classify: with AVX2 where the processor has
// it (classify_amd64.s), else a byte at a time (classifyGeneric). Bit j of
// a block's masks is about byte j of the block.

// blockMasks are the class masks of one block of 64 bytes:
// maskWord: ASCII token bytes and non-ASCII bytes (the bytes that can be
// part of a token), maskHigh: non-ASCII bytes, maskDigit: ASCII digits,
// maskInner: inner punctuation (innerByte), maskBreak: ASCII separators
// other than space and tab (which end windows of joined tokens). Bits past
// the end of the text are zero.
type blockMasks [5]uint64

const (
	maskWord = iota
	maskHigh
	maskDigit
	maskInner
	maskBreak
)

// classBits has the masks' bits of each byte, for classifyGeneric; set
// from byteClass by initClassBits.
var classBits [256]uint8

func initClassBits() {
	for b := range 256 {
		c := byteClass[b]
		var t uint8
		if c&(clToken|clHigh) != 0 {
			t |= 1 << maskWord
		}
		if c&clHigh != 0 {
			t |= 1 << maskHigh
		}
		if c&clDigit != 0 {
			t |= 1 << maskDigit
		}
		if c&clInner != 0 {
			t |= 1 << maskInner
		}
		if c&(clToken|clHigh|clSpace) == 0 {
			t |= 1 << maskBreak
		}
		classBits[b] = t
	}
}

// classify fills out[k] with the masks of the k-th block of 64 bytes of p,
// for as many blocks as p has (the last one maybe partial); out must have
// room for them.
func classify(p []byte, out []blockMasks) {
	full := len(p) / 64
	if full > 0 && haveAVX2 {
		classifyAVX2(&p[0], full, &out[0])
	} else {
		for k := range full {
			classifyGeneric(p[k*64:k*64+64], &out[k])
		}
	}
	if rest := p[full*64:]; len(rest) > 0 {
		classifyGeneric(rest, &out[full])
	}
}

// classifyGeneric computes the masks of p (at most 64 bytes) a byte at a
// time.
func classifyGeneric(p []byte, out *blockMasks) {
	var w, h, d, i, br uint64
	for j, c := range p[:min(len(p), 64)] {
		t := uint64(classBits[c])
		w |= (t >> maskWord & 1) << j
		h |= (t >> maskHigh & 1) << j
		d |= (t >> maskDigit & 1) << j
		i |= (t >> maskInner & 1) << j
		br |= (t >> maskBreak & 1) << j
	}
	*out = blockMasks{w, h, d, i, br}
}

// unsafeAdd returns p+i.
func unsafeAdd(p *byte, i int) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(p), i) }
