package ingest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// The Arrow IPC metadata is flatbuffers that arrow-go reads without
// bounds checks: a vector length in a malformed file becomes a slice
// allocation of any size, which kills the process instead of returning an
// error. checkArrowIPC walks the framing and the metadata of every message
// with bounds checks first, so that arrow-go only ever sees metadata whose
// vectors fit in their buffers. Compressed bodies (whose headers declare an
// uncompressed size to allocate) and tensors are refused.

var errMalformed = errors.New("malformed arrow ipc metadata")

const (
	maxIPCFields   = 10000
	maxIPCDepth    = 64
	maxIPCMetadata = 64 << 20
)

// fbuf is a flatbuffer with checked reads; any out-of-bounds read sets bad.
type fbuf struct {
	b      []byte
	bad    bool
	fields int
}

func (f *fbuf) u32(p int) int {
	if p < 0 || p+4 > len(f.b) {
		f.bad = true
		return 0
	}
	return int(binary.LittleEndian.Uint32(f.b[p:]))
}

func (f *fbuf) u16(p int) int {
	if p < 0 || p+2 > len(f.b) {
		f.bad = true
		return 0
	}
	return int(binary.LittleEndian.Uint16(f.b[p:]))
}

func (f *fbuf) u8(p int) int {
	if p < 0 || p >= len(f.b) {
		f.bad = true
		return 0
	}
	return int(f.b[p])
}

// field returns the absolute position of a table's field at vtable slot
// vt (4, 6, 8, ...), or 0 when absent.
func (f *fbuf) field(table, vt int) int {
	vtable := table - int(int32(f.u32(table)))
	vlen := f.u16(vtable)
	if f.bad || vlen < 4 || vtable+vlen > len(f.b) {
		f.bad = true
		return 0
	}
	if vt+2 > vlen {
		return 0
	}
	off := f.u16(vtable + vt)
	if off == 0 {
		return 0
	}
	return table + off
}

// table follows the offset of a table field; 0 when absent.
func (f *fbuf) table(table, vt int) int {
	p := f.field(table, vt)
	if p == 0 {
		return 0
	}
	t := p + f.u32(p)
	if t >= len(f.b) {
		f.bad = true
		return 0
	}
	return t
}

// vector returns the start and length of a vector field of elements of
// size elem, checking that it fits.
func (f *fbuf) vector(table, vt, elem int) (start, n int) {
	p := f.field(table, vt)
	if p == 0 {
		return 0, 0
	}
	v := p + f.u32(p)
	n = f.u32(v)
	if f.bad || n < 0 || n > (len(f.b)-v-4)/elem {
		f.bad = true
		return 0, 0
	}
	return v + 4, n
}

// tables checks a vector of tables and calls fn on each.
func (f *fbuf) tables(table, vt int, fn func(int)) {
	start, n := f.vector(table, vt, 4)
	for i := 0; i < n && !f.bad; i++ {
		e := start + 4*i
		t := e + f.u32(e)
		if t >= len(f.b) {
			f.bad = true
			return
		}
		fn(t)
	}
}

func (f *fbuf) keyValues(table, vt int) {
	f.tables(table, vt, func(kv int) {
		f.vector(kv, 4, 1)
		f.vector(kv, 6, 1)
	})
}

func (f *fbuf) arrowField(t, depth int) {
	f.fields++
	if depth > maxIPCDepth || f.fields > maxIPCFields {
		f.bad = true
		return
	}
	f.vector(t, 4, 1) // name
	f.table(t, 10)    // type
	if d := f.table(t, 12); d != 0 {
		f.table(d, 6) // dictionary index type
	}
	f.tables(t, 14, func(c int) { f.arrowField(c, depth+1) })
	f.keyValues(t, 16)
}

func (f *fbuf) schema(t int) {
	f.tables(t, 6, func(fld int) { f.arrowField(fld, 0) })
	f.keyValues(t, 8)
	f.vector(t, 10, 8) // features
}

func (f *fbuf) recordBatch(t int) {
	f.vector(t, 6, 16) // nodes
	f.vector(t, 8, 16) // buffers
	if f.field(t, 10) != 0 {
		f.bad = true // compressed bodies are refused
	}
	f.vector(t, 12, 8) // variadic buffer counts
}

// message checks one Message flatbuffer and returns its body length.
func checkMessage(meta []byte) (int64, error) {
	f := &fbuf{b: meta}
	root := f.u32(0)
	if f.bad || root >= len(meta) {
		return 0, errMalformed
	}
	kind := 0
	if p := f.field(root, 6); p != 0 {
		kind = f.u8(p)
	}
	header := f.table(root, 8)
	var body int64
	if p := f.field(root, 10); p != 0 {
		if p+8 > len(meta) {
			return 0, errMalformed
		}
		body = int64(binary.LittleEndian.Uint64(meta[p:]))
	}
	if f.bad || header == 0 || body < 0 {
		return 0, errMalformed
	}
	switch kind {
	case 1:
		f.schema(header)
	case 2:
		if d := f.table(header, 6); d != 0 {
			f.recordBatch(d)
		}
	case 3:
		f.recordBatch(header)
	default:
		return 0, errMalformed
	}
	if f.bad {
		return 0, errMalformed
	}
	return body, nil
}

// checkStream walks the messages of an Arrow IPC stream from r, at most
// limit bytes, and checks each one's metadata.
func checkStream(r io.Reader, limit int64) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [4]byte
	var read int64
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // a stream without end marker; arrow-go decides
			}
			return errMalformed
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:]))
		read += 4
		if n == 0xFFFFFFFF {
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				return errMalformed
			}
			n = int64(binary.LittleEndian.Uint32(hdr[:]))
			read += 4
		}
		if n == 0 {
			return nil
		}
		if n > maxIPCMetadata || n > limit-read {
			return errMalformed
		}
		meta := make([]byte, n)
		if _, err := io.ReadFull(br, meta); err != nil {
			return errMalformed
		}
		read += n
		body, err := checkMessage(meta)
		if err != nil {
			return err
		}
		if body > limit-read {
			return errMalformed
		}
		if _, err := br.Discard(int(body)); err != nil {
			return errMalformed
		}
		read += body
	}
}

// checkArrowIPC checks an Arrow IPC file or stream before arrow-go reads
// it.
func checkArrowIPC(f *os.File, size int64) error {
	var head [8]byte
	if _, err := f.ReadAt(head[:6], 0); err != nil || string(head[:6]) != "ARROW1" {
		return checkStream(io.NewSectionReader(f, 0, size), size)
	}
	if size < 8+10 {
		return errMalformed
	}
	if err := checkStream(io.NewSectionReader(f, 8, size-8), size-8); err != nil {
		return err
	}
	// the footer: its schema and every block it points at
	var tail [10]byte
	if _, err := f.ReadAt(tail[:], size-10); err != nil || string(tail[4:]) != "ARROW1" {
		return errMalformed
	}
	flen := int64(binary.LittleEndian.Uint32(tail[:4]))
	if flen <= 0 || flen > size-18 || flen > maxIPCMetadata {
		return errMalformed
	}
	footer := make([]byte, flen)
	if _, err := f.ReadAt(footer, size-10-flen); err != nil {
		return errMalformed
	}
	fb := &fbuf{b: footer}
	root := fb.u32(0)
	if fb.bad || root >= len(footer) {
		return errMalformed
	}
	if s := fb.table(root, 6); s != 0 {
		fb.schema(s)
	}
	for _, vt := range []int{8, 10} {
		start, n := fb.vector(root, vt, 24)
		for i := 0; i < n && !fb.bad; i++ {
			b := footer[start+24*i:]
			off := int64(binary.LittleEndian.Uint64(b))
			mlen := int64(int32(binary.LittleEndian.Uint32(b[8:])))
			blen := int64(binary.LittleEndian.Uint64(b[16:]))
			if off < 8 || mlen < 8 || blen < 0 || off > size || mlen > size-off || blen > size-off-mlen {
				return errMalformed
			}
			if err := checkStream(io.NewSectionReader(f, off, mlen+blen), mlen+blen); err != nil {
				return err
			}
		}
	}
	if fb.bad {
		return errMalformed
	}
	return nil
}
