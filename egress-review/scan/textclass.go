package scan

// TextMasks are the byte classes of up to 64 bytes of text, a bit per
// byte (bit j is about byte j; bits past the end of the text are zero),
// for tokenizers that measure tokens by counting bits instead of reading
// bytes: the length of a word is a run of Letter bits, its vowels a
// population count, its changes of case the bits where Upper differs from
// the bit before.
type TextMasks struct {
	Letter    uint64 // A-Z, a-z
	Digit     uint64 // 0-9
	Upper     uint64 // A-Z
	Vowel     uint64 // a, e, i, o, u, y in either case
	HexLetter uint64 // a-f in either case
	Star      uint64 // '*'
	Space     uint64 // ' '
	Newline   uint64 // '\n'
	DotComma  uint64 // '.' and ','
	High      uint64 // bytes of 0x80 and above (not ASCII)
}

// textClassBits has a bit per field of TextMasks (in field order) for
// each byte.
var textClassBits = func() (t [256]uint16) {
	for b := range 256 {
		var m uint16
		l := b | 0x20
		if l >= 'a' && l <= 'z' {
			m |= 1 << 0
			if b&0x20 == 0 {
				m |= 1 << 2
			}
			switch l {
			case 'a', 'e', 'i', 'o', 'u', 'y':
				m |= 1 << 3
			}
			if l <= 'f' {
				m |= 1 << 4
			}
		}
		switch {
		case b >= '0' && b <= '9':
			m |= 1 << 1
		case b == '*':
			m |= 1 << 5
		case b == ' ':
			m |= 1 << 6
		case b == '\n':
			m |= 1 << 7
		case b == '.' || b == ',':
			m |= 1 << 8
		case b >= 0x80:
			m |= 1 << 9
		}
		t[b] = m
	}
	return t
}()

// ClassifyText fills m with the masks of p[:min(len(p), 64)]: with AVX2
// where the processor has it and p holds 64 bytes (see textclass_amd64.s),
// else a byte at a time (classifyTextGeneric). Both give the same masks
// (tested and fuzzed against each other).
func ClassifyText(p []byte, m *TextMasks) {
	if len(p) >= 64 && textAVX2 {
		classifyTextAVX2(&p[0], m)
		return
	}
	classifyTextGeneric(p, m)
}

// classifyTextGeneric is ClassifyText a byte at a time.
func classifyTextGeneric(p []byte, m *TextMasks) {
	var f [10]uint64
	for j, b := range p[:min(len(p), 64)] {
		t := textClassBits[b]
		for k := range f {
			f[k] |= uint64(t>>k&1) << j
		}
	}
	*m = TextMasks{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]}
}
