// Package checks holds the automatic egress checks of the enclave (marks,
// raw values, row copying, disclosure control, file types, differencing),
// each a review.Check, and ScanText for job logs and previews. Default
// returns them all in their default configuration.
//
// Every parser here reads hostile files: sizes are checked before parsing,
// Arrow and Parquet go through arrow-go v18 with a capped allocator, and
// any parse error or panic becomes a fail finding.
package checks

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"unicode/utf8"
)

// Kind is a file type recognised by content.
type Kind string

// Kinds of files. The first ten may leave the enclave (after the checks).
const (
	KindArrowFile   Kind = "arrow-file"
	KindArrowStream Kind = "arrow-stream"
	KindParquet     Kind = "parquet"
	KindCSV         Kind = "csv"
	KindJSON        Kind = "json"
	KindText        Kind = "text"
	KindMarkdown    Kind = "markdown"
	KindPNG         Kind = "png"
	KindPDF         Kind = "pdf"
	KindJPEG        Kind = "jpeg"
	KindArchive     Kind = "archive"
	KindExecutable  Kind = "executable"
	KindUnknown     Kind = "unknown"
)

// Allowed reports whether files of kind k may leave.
func (k Kind) Allowed() bool {
	switch k {
	case KindArrowFile, KindArrowStream, KindParquet, KindCSV, KindJSON, KindText, KindMarkdown, KindPNG, KindPDF, KindJPEG:
		return true
	}
	return false
}

// Tabular reports whether k is read as a table (Arrow or Parquet).
func (k Kind) Tabular() bool {
	return k == KindArrowFile || k == KindArrowStream || k == KindParquet
}

// Texty reports whether k is UTF-8 text.
func (k Kind) Texty() bool {
	return k == KindCSV || k == KindJSON || k == KindText || k == KindMarkdown
}

var magics = []struct {
	prefix string
	kind   Kind
	what   string
}{
	{"ARROW1", KindArrowFile, "arrow ipc file"},
	{"\xff\xff\xff\xff", KindArrowStream, "arrow ipc stream"},
	{"PAR1", KindParquet, "parquet"},
	{"\x89PNG\r\n\x1a\n", KindPNG, "png"},
	{"%PDF-", KindPDF, "pdf"},
	{"\xff\xd8\xff", KindJPEG, "jpeg"},
	{"PK\x03\x04", KindArchive, "zip"},
	{"PK\x05\x06", KindArchive, "zip"},
	{"PK\x07\x08", KindArchive, "zip"},
	{"\x1f\x8b", KindArchive, "gzip"},
	{"7z\xbc\xaf\x27\x1c", KindArchive, "7z"},
	{"\xfd7zXZ\x00", KindArchive, "xz"},
	{"\x28\xb5\x2f\xfd", KindArchive, "zstd"},
	{"BZh", KindArchive, "bzip2"},
	{"\x1f\x9d", KindArchive, "compress"},
	{"\x04\x22\x4d\x18", KindArchive, "lz4"},
	{"Rar!\x1a\x07", KindArchive, "rar"},
	{"\x7fELF", KindExecutable, "elf"},
	{"MZ", KindExecutable, "pe"},
	{"\xfe\xed\xfa\xce", KindExecutable, "mach-o"},
	{"\xfe\xed\xfa\xcf", KindExecutable, "mach-o"},
	{"\xce\xfa\xed\xfe", KindExecutable, "mach-o"},
	{"\xcf\xfa\xed\xfe", KindExecutable, "mach-o"},
	{"\xca\xfe\xba\xbe", KindExecutable, "mach-o fat or java class"},
	{"\x00asm", KindExecutable, "webassembly"},
	{"#!", KindExecutable, "script"},
}

// Sniff returns the kind of the file at p by its content, and a short
// description (for evidence). name is the file's relative name; its
// extension only chooses among text kinds (csv, json, markdown, text).
func Sniff(p, name string) (Kind, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return KindUnknown, "", fmt.Errorf("open output file: %w", err)
	}
	defer f.Close()
	var head [512]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return KindUnknown, "", fmt.Errorf("read output file: %w", err)
	}
	h := head[:n]
	if kind, what, ok := headKind(h); ok {
		return kind, what, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return KindUnknown, "", fmt.Errorf("read output file: %w", err)
	}
	ok, err := isText(f)
	if err != nil {
		return KindUnknown, "", err
	}
	if !ok {
		return KindUnknown, "binary data of unknown type", nil
	}
	ext := strings.ToLower(path.Ext(name))
	switch {
	case ext == ".csv" || ext == ".tsv":
		return KindCSV, "csv", nil
	case ext == ".md" || ext == ".markdown":
		return KindMarkdown, "markdown", nil
	case ext == ".json" || startsJSON(h):
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return KindUnknown, "", fmt.Errorf("read output file: %w", err)
		}
		if !validJSON(f) {
			return KindUnknown, "text that claims to be json but is not", nil
		}
		return KindJSON, "json", nil
	}
	return KindText, "text", nil
}

// headKind returns the kind that the first 512 bytes of a file decide by
// themselves (a tar header, the magics), and whether they decide one.
func headKind(h []byte) (Kind, string, bool) {
	if len(h) >= 262 && string(h[257:262]) == "ustar" {
		return KindArchive, "tar", true
	}
	for _, m := range magics {
		if bytes.HasPrefix(h, []byte(m.prefix)) {
			return m.kind, m.what, true
		}
	}
	return "", "", false
}

// scanKind is Sniff for the raw-values check, which scans every file as
// text that is not a table, JSON, PNG or PDF: for a file that no magic
// names and that cannot be JSON it returns KindUnknown (scanned as text)
// without reading the file to the end to tell text from binary data, which
// are scanned alike.
func scanKind(p, name string) (Kind, error) {
	var buf [512]byte
	head, err := readHead(p, buf[:])
	if err != nil {
		return KindUnknown, err
	}
	if kind, _, ok := headKind(head); ok {
		return kind, nil
	}
	if strings.ToLower(path.Ext(name)) == ".json" || startsJSON(head) {
		kind, _, err := Sniff(p, name)
		return kind, err
	}
	return KindUnknown, nil
}

// readHead reads the first len(buf) bytes of the file p (fewer when it is
// shorter) into buf.
func readHead(p string, buf []byte) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open output file: %w", err)
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("read output file: %w", err)
	}
	return buf[:n], nil
}

func startsJSON(h []byte) bool {
	t := bytes.TrimLeft(h, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

func validJSON(r io.Reader) bool {
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// isText reports whether r is valid UTF-8 without NUL or control bytes other
// than tab, newline, carriage return and form feed.
func isText(r io.Reader) (bool, error) {
	const size = 64 << 10
	buf := make([]byte, size+utf8.UTFMax)
	k := 0 // bytes of an incomplete rune carried to the start of buf
	for {
		n, err := r.Read(buf[k : k+size])
		chunk := buf[:k+n]
		// Keep an incomplete trailing rune for the next chunk.
		cut := len(chunk)
		for i := len(chunk) - 1; i >= 0 && i >= len(chunk)-utf8.UTFMax; i-- {
			if utf8.RuneStart(chunk[i]) {
				if !utf8.FullRune(chunk[i:]) {
					cut = i
				}
				break
			}
		}
		if err == io.EOF {
			cut = len(chunk)
		}
		if !utf8.Valid(chunk[:cut]) || hasControl(chunk[:cut]) {
			return false, nil
		}
		k = copy(buf, chunk[cut:])
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("read output file: %w", err)
		}
	}
}

// hasControl reports whether p holds a control byte other than tab,
// newline, carriage return and form feed. It skips eight bytes at a time
// when none of them is below 0x20 or 0x7f.
func hasControl(p []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(p) >= 8 {
		w := binary.LittleEndian.Uint64(p)
		x := w ^ 0x7f7f7f7f7f7f7f7f
		if (w-0x20*lo)&^w&hi == 0 && (x-lo)&^x&hi == 0 {
			p = p[8:]
			continue
		}
		if controlByte(p[:8]) {
			return true
		}
		p = p[8:]
	}
	return controlByte(p)
}

func controlByte(p []byte) bool {
	for _, b := range p {
		if (b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\f') || b == 0x7f {
			return true
		}
	}
	return false
}
