package checks

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/containerd/errdefs"
	"github.com/enclave-dev/enclave/egress-review/scan"
)

// maxInflate bounds what one compressed PNG chunk or PDF stream may
// inflate to before scanning gives up on it (and fails the file).
const maxInflate = 64 << 20

func readCapped(path string, max int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("stat: %w", errdefs.ErrNotFound)
	}
	if st.Size() > max {
		return nil, errTooBig
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", errdefs.ErrNotFound)
	}
	return data, nil
}

func inflate(p []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(p))
	if err != nil {
		return nil, fmt.Errorf("compressed data: %w", errdefs.ErrDataLoss)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxInflate+1))
	if err != nil {
		return nil, fmt.Errorf("compressed data: %w", errdefs.ErrDataLoss)
	}
	if len(out) > maxInflate {
		return nil, fmt.Errorf("compressed data inflates %w", errTooBig)
	}
	return out, nil
}

// scanPNG scans every chunk except the image data and header (tEXt, zTXt
// and iTXt decompressed, private chunks as they are) and every byte after
// IEND. A PNG whose chunks cannot be walked fails.
func scanPNG(sc *scan.Scanner, path string, max int64, h *hits) (int, error) {
	data, err := readCapped(path, max)
	if err != nil {
		return 0, err
	}
	const sig = 8
	if len(data) < sig {
		return 0, fmt.Errorf("png: %w", errdefs.ErrDataLoss)
	}
	p := data[sig:]
	n := 0
	for {
		if len(p) < 12 {
			return n, fmt.Errorf("png: truncated chunk: %w", errdefs.ErrDataLoss)
		}
		length := binary.BigEndian.Uint32(p)
		typ := string(p[4:8])
		if uint64(length) > uint64(len(p)-12) {
			return n, fmt.Errorf("png: chunk longer than file: %w", errdefs.ErrDataLoss)
		}
		body := p[8 : 8+length]
		p = p[12+length:]
		switch typ {
		case "IHDR", "PLTE", "IDAT":
			continue
		case "IEND":
			if len(p) > 0 {
				n++
				h.add(ColumnPNGTrailer, sc.Text(p))
				if sc.Bytes(bytes.TrimSpace(p)) {
					h.add(ColumnPNGTrailer, 1)
				}
			}
			return n, nil
		case "zTXt":
			k, rest, ok := bytes.Cut(body, []byte{0})
			if !ok || len(rest) < 1 {
				return n, fmt.Errorf("png: bad zTXt chunk: %w", errdefs.ErrDataLoss)
			}
			text, err := inflate(rest[1:])
			if err != nil {
				return n, err
			}
			n++
			h.add(ColumnPNGChunks, sc.Text(k)+sc.Text(text))
		case "iTXt":
			k, rest, ok := bytes.Cut(body, []byte{0})
			if !ok || len(rest) < 2 {
				return n, fmt.Errorf("png: bad iTXt chunk: %w", errdefs.ErrDataLoss)
			}
			compressed := rest[0] == 1
			rest = rest[2:]
			lang, rest, _ := bytes.Cut(rest, []byte{0})
			trans, text, _ := bytes.Cut(rest, []byte{0})
			if compressed {
				if text, err = inflate(text); err != nil {
					return n, err
				}
			}
			n++
			h.add(ColumnPNGChunks, sc.Text(k)+sc.Text(lang)+sc.Text(trans)+sc.Text(text))
		default: // tEXt and every other ancillary or private chunk
			n++
			h.add(ColumnPNGChunks, sc.Text(bytes.ReplaceAll(body, []byte{0}, []byte{' '})))
		}
	}
}

// scanPDF scans the literal and hex strings of a PDF, in the file and in
// its Flate-compressed streams, and the raw text between them.
func scanPDF(sc *scan.Scanner, path string, max int64, h *hits) (int, error) {
	data, err := readCapped(path, max)
	if err != nil {
		return 0, err
	}
	n := 0
	var walk func(p []byte, depth int) error
	walk = func(p []byte, depth int) error {
		for _, s := range pdfStrings(p) {
			n++
			h.add(ColumnPDFStrings, sc.Text(s))
		}
		h.add(ColumnPDFStrings, sc.Text(p))
		if depth > 0 {
			return nil
		}
		rest := p
		for {
			i := bytes.Index(rest, []byte("stream"))
			if i < 0 {
				return nil
			}
			body := rest[i+len("stream"):]
			body = bytes.TrimPrefix(body, []byte("\r"))
			body = bytes.TrimPrefix(body, []byte("\n"))
			j := bytes.Index(body, []byte("endstream"))
			if j < 0 {
				return nil
			}
			if out, err := inflate(body[:j]); err == nil {
				if err := walk(out, depth+1); err != nil {
					return err
				}
			}
			rest = body[j+len("endstream"):]
		}
	}
	if err := walk(data, 0); err != nil {
		return n, err
	}
	return n, nil
}

// pdfStrings extracts the literal strings (with escapes resolved) and hex
// strings of a PDF fragment.
func pdfStrings(p []byte) [][]byte {
	var out [][]byte
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '(':
			var s []byte
			depth := 1
			j := i + 1
			for ; j < len(p) && depth > 0; j++ {
				c := p[j]
				switch {
				case c == '\\' && j+1 < len(p):
					j++
					switch e := p[j]; e {
					case 'n':
						s = append(s, '\n')
					case 'r':
						s = append(s, '\r')
					case 't':
						s = append(s, '\t')
					case '0', '1', '2', '3', '4', '5', '6', '7':
						v := 0
						k := 0
						for ; k < 3 && j < len(p) && p[j] >= '0' && p[j] <= '7'; k++ {
							v = v*8 + int(p[j]-'0')
							j++
						}
						j--
						s = append(s, byte(v))
					default:
						s = append(s, e)
					}
				case c == '(':
					depth++
					s = append(s, c)
				case c == ')':
					depth--
					if depth > 0 {
						s = append(s, c)
					}
				default:
					s = append(s, c)
				}
			}
			out = append(out, decodePDFText(s))
			i = j - 1
		case '<':
			if i+1 < len(p) && p[i+1] == '<' {
				i++
				continue
			}
			j := bytes.IndexByte(p[i:], '>')
			if j < 0 {
				continue
			}
			var s []byte
			hexs := p[i+1 : i+j]
			var hi byte
			half := false
			ok := true
			for _, c := range hexs {
				var v byte
				switch {
				case c >= '0' && c <= '9':
					v = c - '0'
				case c >= 'a' && c <= 'f':
					v = c - 'a' + 10
				case c >= 'A' && c <= 'F':
					v = c - 'A' + 10
				case c == ' ' || c == '\n' || c == '\r' || c == '\t':
					continue
				default:
					ok = false
				}
				if !ok {
					break
				}
				if half {
					s = append(s, hi<<4|v)
				} else {
					hi = v
				}
				half = !half
			}
			if ok {
				out = append(out, decodePDFText(s))
			}
			i += j
		}
	}
	return out
}

// decodePDFText turns a UTF-16BE string with a byte order mark into UTF-8.
func decodePDFText(s []byte) []byte {
	if len(s) < 2 || s[0] != 0xfe || s[1] != 0xff {
		return s
	}
	var out []byte
	for i := 2; i+1 < len(s); i += 2 {
		r := rune(s[i])<<8 | rune(s[i+1])
		if r >= 0xd800 && r < 0xdc00 && i+3 < len(s) {
			r2 := rune(s[i+2])<<8 | rune(s[i+3])
			r = (r-0xd800)<<10 + (r2 - 0xdc00) + 0x10000
			i += 2
		}
		out = fmt.Appendf(out, "%c", r)
	}
	return out
}
