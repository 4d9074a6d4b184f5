package checks

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// pngFixed are the ancillary PNG chunks that hold only a few fixed-size
// numbers about the picture, with the largest size each may have.
var pngFixed = map[string]int{
	"gAMA": 4, "cHRM": 32, "sRGB": 1, "pHYs": 9, "tIME": 7, "bKGD": 6, "sBIT": 4, "tRNS": 256 * 2,
}

// png charges the text chunks of a PNG (tEXt, zTXt, iTXt) and fails on any
// other chunk that is not pixels or a fixed-size property, and on bytes
// after IEND.
func (r *textRule) png(c *textCost, data []byte) error {
	const sig = 8
	if len(data) < sig {
		return fmt.Errorf("png is truncated")
	}
	p := data[sig:]
	chunk := 0
	for {
		chunk++
		if len(p) < 12 {
			return fmt.Errorf("png is truncated at chunk %d", chunk)
		}
		length := binary.BigEndian.Uint32(p)
		typ := string(p[4:8])
		if uint64(length) > uint64(len(p)-12) {
			return fmt.Errorf("png chunk %d is longer than the file", chunk)
		}
		body := p[8 : 8+length]
		p = p[12+length:]
		switch typ {
		case "IHDR", "PLTE", "IDAT":
		case "IEND":
			if len(p) > 0 {
				return fmt.Errorf("png has %d bytes after its end", len(p))
			}
			r.endRun(c, 0)
			return nil
		case "tEXt":
			r.text(c, bytes.ReplaceAll(body, []byte{0}, []byte{'\n'}), chunk)
		case "zTXt":
			k, rest, ok := bytes.Cut(body, []byte{0})
			if !ok || len(rest) < 1 {
				return fmt.Errorf("png chunk %d (zTXt) is malformed", chunk)
			}
			text, err := inflate(rest[1:])
			if err != nil {
				return fmt.Errorf("png chunk %d (zTXt) cannot be inflated", chunk)
			}
			r.text(c, k, chunk)
			r.text(c, text, chunk)
		case "iTXt":
			k, rest, ok := bytes.Cut(body, []byte{0})
			if !ok || len(rest) < 2 {
				return fmt.Errorf("png chunk %d (iTXt) is malformed", chunk)
			}
			compressed := rest[0] == 1
			lang, rest, _ := bytes.Cut(rest[2:], []byte{0})
			trans, text, _ := bytes.Cut(rest, []byte{0})
			if compressed {
				var err error
				if text, err = inflate(text); err != nil {
					return fmt.Errorf("png chunk %d (iTXt) cannot be inflated", chunk)
				}
			}
			for _, t := range [][]byte{k, lang, trans, text} {
				r.text(c, t, chunk)
			}
		default:
			if n, ok := pngFixed[typ]; ok && int(length) <= n {
				continue
			}
			return fmt.Errorf("png chunk %d is of a type that may carry data the checks cannot read", chunk)
		}
	}
}

// jpeg walks the segments of a JPEG: pixels (tables, frame, scans) pass, a
// plain JFIF header passes, comments and XMP go through the text rule, and
// any other application segment or bytes after the end fail.
func (r *textRule) jpeg(c *textCost, data []byte) error {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return fmt.Errorf("jpeg has no start marker")
	}
	p := data[2:]
	seg := 0
	for {
		seg++
		if len(p) < 2 || p[0] != 0xFF {
			return fmt.Errorf("jpeg segment %d is malformed", seg)
		}
		m := p[1]
		if m == 0xFF { // fill byte
			p = p[1:]
			continue
		}
		if m == 0xD9 { // EOI
			if len(p) > 2 {
				return fmt.Errorf("jpeg has %d bytes after its end", len(p)-2)
			}
			r.endRun(c, 0)
			return nil
		}
		if len(p) < 4 {
			return fmt.Errorf("jpeg segment %d is truncated", seg)
		}
		n := int(binary.BigEndian.Uint16(p[2:]))
		if n < 2 || n+2 > len(p) {
			return fmt.Errorf("jpeg segment %d is longer than the file", seg)
		}
		body := p[4 : 2+n]
		p = p[2+n:]
		switch {
		case m == 0xFE: // COM
			r.text(c, body, seg)
		case m == 0xE0 && bytes.HasPrefix(body, []byte("JFIF\x00")) && len(body) == 14:
		case m == 0xE1 && bytes.HasPrefix(body, []byte("http://ns.adobe.com/xap/1.0/\x00")):
			r.markup(c, body[29:])
		case m >= 0xE0 && m <= 0xEF:
			return fmt.Errorf("jpeg segment %d is an application segment that may carry data the checks cannot read", seg)
		case m == 0xDA: // SOS: entropy-coded data follows up to the next marker
			i := 0
			for i+1 < len(p) && !(p[i] == 0xFF && p[i+1] != 0 && (p[i+1] < 0xD0 || p[i+1] > 0xD7)) {
				i++
			}
			p = p[i:]
		case m == 0xC4 || m == 0xDB || m == 0xDD || m >= 0xC0 && m <= 0xCF && m != 0xC8:
			// tables and frame headers
		default:
			return fmt.Errorf("jpeg segment %d has a marker the checks do not accept", seg)
		}
	}
}

// pdf charges the strings of a PDF (in its objects and in its
// Flate-compressed streams), its names and keywords, and fails a PDF that
// embeds files or scripts. Numbers outside strings are the document's
// structure and drawing, like an image's pixels.
func (r *textRule) pdf(c *textCost, data []byte) error {
	for _, bad := range []string{"/EmbeddedFile", "/JavaScript", "/JS", "/Launch", "/RichMedia", "/XFA"} {
		if bytes.Contains(data, []byte(bad)) {
			return fmt.Errorf("pdf holds an embedded file, script or form (%s)", bad[1:])
		}
	}
	var walk func(p []byte, depth int) error
	walk = func(p []byte, depth int) error {
		for _, s := range pdfStrings(p) {
			r.text(c, s, 0)
		}
		rest := p
		for {
			i := bytes.Index(rest, []byte("stream"))
			if i < 0 {
				if depth == 0 {
					r.pdfSyntax(c, rest)
				}
				return nil
			}
			if depth == 0 {
				r.pdfSyntax(c, rest[:i])
			}
			body := rest[i+len("stream"):]
			body = bytes.TrimPrefix(body, []byte("\r"))
			body = bytes.TrimPrefix(body, []byte("\n"))
			j := bytes.Index(body, []byte("endstream"))
			if j < 0 {
				return fmt.Errorf("pdf stream has no end")
			}
			if depth == 0 {
				dict := rest[:i]
				if k := bytes.LastIndex(dict, []byte("obj")); k >= 0 {
					dict = dict[k:]
				}
				if !bytes.Contains(dict, []byte("/Image")) && !bytes.Contains(dict, []byte("/DCTDecode")) {
					content := body[:j]
					if out, err := inflate(content); err == nil {
						content = out
					}
					// Text and drawing operators, or nothing: a font
					// program or any other binary payload is data the
					// checks cannot read.
					if binaryShare(content) > 0.1 {
						return fmt.Errorf("pdf holds a stream of binary data that is neither text nor an image (an embedded font or file)")
					}
					if err := walk(content, depth+1); err != nil {
						return err
					}
				}
			}
			rest = body[j+len("endstream"):]
		}
	}
	if err := walk(data, 0); err != nil {
		return err
	}
	r.endRun(c, 0)
	return nil
}

// pdfSyntax charges the names and keywords of PDF object syntax outside
// strings and streams (numbers are structure), skipping the xref table.
func (r *textRule) pdfSyntax(c *textCost, p []byte) {
	for len(p) > 0 {
		x := bytes.Index(p, []byte("xref"))
		chunk := p
		if x >= 0 {
			chunk = p[:x]
		}
		// Drop strings (charged already) and digits.
		var b []byte
		depth, hexDepth := 0, false
		for i, ch := range chunk {
			switch {
			case ch == '(' && !hexDepth:
				depth++
			case ch == ')' && depth > 0:
				depth--
			case depth > 0:
			case ch == '<' && !hexDepth && (i+1 >= len(chunk) || chunk[i+1] != '<') && (i == 0 || chunk[i-1] != '<'):
				hexDepth = true // a hex string, charged by pdfStrings
			case ch == '>' && hexDepth:
				hexDepth = false
			case hexDepth:
			case ch == '<' || ch == '>':
				b = append(b, ' ')
			default:
				b = append(b, ch)
			}
		}
		rule := *r
		rule.freeNumbers = 1 << 30
		var tmp textCost
		rule.text(&tmp, b, 0)
		tmp.bits -= tmp.bitsOf[clsDigits] + tmp.bitsOf[clsPrecision]
		tmp.bitsOf[clsDigits], tmp.counts[clsDigits] = 0, 0
		tmp.bitsOf[clsPrecision], tmp.counts[clsPrecision] = 0, 0
		c.add(&tmp)
		if x < 0 {
			return
		}
		t := bytes.Index(p[x:], []byte("trailer"))
		if t < 0 {
			return
		}
		p = p[x+t:]
	}
}

// add adds what another text cost charged.
func (c *textCost) add(o *textCost) {
	c.bits += o.bits
	for i := range c.counts {
		c.counts[i] += o.counts[i]
		c.bitsOf[i] += o.bitsOf[i]
	}
	for _, l := range o.lines {
		if len(c.lines) < maxCostLines {
			c.lines = append(c.lines, l)
		}
	}
}

// binaryShare returns the share of bytes of p that are neither printable
// ASCII, whitespace nor part of valid UTF-8.
func binaryShare(p []byte) float64 {
	if len(p) == 0 {
		return 0
	}
	bad := 0
	for i := 0; i < len(p); {
		b := p[i]
		if b < utf8.RuneSelf {
			if b < 0x20 && b != '\n' && b != '\r' && b != '\t' && b != '\f' || b == 0x7f {
				bad++
			}
			i++
			continue
		}
		ru, n := utf8.DecodeRune(p[i:])
		if ru == utf8.RuneError && n <= 1 {
			bad++
		}
		i += n
	}
	return float64(bad) / float64(len(p))
}
