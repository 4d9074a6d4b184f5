package checks

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/containerd/errdefs"
)

// arrow-go trusts the vector lengths in an IPC file's flatbuffers and
// allocates by them (a schema claiming a billion metadata entries makes it
// allocate tens of gigabytes, which kills the process rather than
// panicking). guardArrow walks every flatbuffer of an IPC file or stream
// before arrow-go sees it and refuses vectors that do not fit in their
// buffer, nesting deeper than maxFBDepth and more than maxFBElems vector
// elements in all.
const (
	maxFBDepth = 64
	maxFBElems = 1 << 20
	maxFBMeta  = 64 << 20
)

var errBadFB = fmt.Errorf("malformed arrow ipc flatbuffer: %w", errdefs.ErrDataLoss)

type fb struct {
	b     []byte
	elems int
}

func (f *fb) u32(pos int) (int, bool) {
	if pos < 0 || pos+4 > len(f.b) {
		return 0, false
	}
	return int(binary.LittleEndian.Uint32(f.b[pos:])), true
}

// field returns the absolute position of field slot of the table at pos,
// or 0 when absent.
func (f *fb) field(pos, slot int) (int, error) {
	if pos < 0 || pos+4 > len(f.b) {
		return 0, errBadFB
	}
	vt := pos - int(int32(binary.LittleEndian.Uint32(f.b[pos:])))
	if vt < 0 || vt+4 > len(f.b) {
		return 0, errBadFB
	}
	vtLen := int(binary.LittleEndian.Uint16(f.b[vt:]))
	if vtLen < 4 || vt+vtLen > len(f.b) {
		return 0, errBadFB
	}
	o := 4 + 2*slot
	if o+2 > vtLen {
		return 0, nil
	}
	off := int(binary.LittleEndian.Uint16(f.b[vt+o:]))
	if off == 0 {
		return 0, nil
	}
	if pos+off+1 > len(f.b) {
		return 0, errBadFB
	}
	return pos + off, nil
}

// ref follows the uoffset at pos.
func (f *fb) ref(pos int) (int, error) {
	v, ok := f.u32(pos)
	if !ok || pos+v >= len(f.b) {
		return 0, errBadFB
	}
	return pos + v, nil
}

// table returns the table referenced by field slot of the table at pos.
func (f *fb) table(pos, slot int) (int, error) {
	p, err := f.field(pos, slot)
	if err != nil || p == 0 {
		return 0, err
	}
	return f.ref(p)
}

// vector returns the start and length of the vector in field slot, checking
// that n elements of size bytes fit.
func (f *fb) vector(pos, slot, size int) (start, n int, err error) {
	p, err := f.field(pos, slot)
	if err != nil || p == 0 {
		return 0, 0, err
	}
	v, err := f.ref(p)
	if err != nil {
		return 0, 0, err
	}
	n, ok := f.u32(v)
	if !ok || n > (len(f.b)-v-4)/size {
		return 0, 0, errBadFB
	}
	f.elems += n
	if f.elems > maxFBElems {
		return 0, 0, errBadFB
	}
	return v + 4, n, nil
}

// tables calls fn on every table of the vector in field slot.
func (f *fb) tables(pos, slot int, fn func(int) error) error {
	start, n, err := f.vector(pos, slot, 4)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		t, err := f.ref(start + 4*i)
		if err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

func (f *fb) keyValues(pos, slot int) error {
	return f.tables(pos, slot, func(kv int) error {
		if _, _, err := f.vector(kv, 0, 1); err != nil {
			return err
		}
		_, _, err := f.vector(kv, 1, 1)
		return err
	})
}

func (f *fb) fieldTable(pos, depth int) error {
	if depth > maxFBDepth {
		return errBadFB
	}
	if _, _, err := f.vector(pos, 0, 1); err != nil { // name
		return err
	}
	if t, err := f.table(pos, 3); err != nil { // type union
		return err
	} else if t != 0 {
		// Union's typeIds (slot 1) and Timestamp's timezone (slot 1) are
		// both vectors of at most 4-byte elements; checking 1-byte
		// elements bounds both.
		tt, err := f.field(pos, 2)
		if err != nil {
			return err
		}
		if tt != 0 && (f.b[tt] == 14 || f.b[tt] == 10) {
			if _, _, err := f.vector(t, 1, 1); err != nil {
				return err
			}
		}
	}
	if err := f.tables(pos, 5, func(c int) error { return f.fieldTable(c, depth+1) }); err != nil {
		return err
	}
	return f.keyValues(pos, 6)
}

func (f *fb) schema(pos int) error {
	if pos == 0 {
		return nil
	}
	if err := f.tables(pos, 1, func(c int) error { return f.fieldTable(c, 0) }); err != nil {
		return err
	}
	if err := f.keyValues(pos, 2); err != nil {
		return err
	}
	_, _, err := f.vector(pos, 3, 8) // features
	return err
}

func (f *fb) recordBatch(pos int) error {
	if pos == 0 {
		return nil
	}
	for _, s := range []struct{ slot, size int }{{1, 16}, {2, 16}, {4, 8}} {
		if _, _, err := f.vector(pos, s.slot, s.size); err != nil {
			return err
		}
	}
	return nil
}

// message checks one Message flatbuffer and returns its body length.
func checkMessage(b []byte) (int64, error) {
	f := &fb{b: b}
	root, err := f.ref(0)
	if err != nil {
		return 0, err
	}
	ht, err := f.field(root, 1)
	if err != nil {
		return 0, err
	}
	hdr, err := f.table(root, 2)
	if err != nil {
		return 0, err
	}
	if ht != 0 && hdr != 0 {
		switch f.b[ht] {
		case 1:
			err = f.schema(hdr)
		case 2:
			var data int
			if data, err = f.table(hdr, 1); err == nil {
				err = f.recordBatch(data)
			}
		case 3:
			err = f.recordBatch(hdr)
		default:
			err = errBadFB
		}
		if err != nil {
			return 0, err
		}
	}
	if err := f.keyValues(root, 4); err != nil {
		return 0, err
	}
	var body int64
	if p, err := f.field(root, 3); err != nil {
		return 0, err
	} else if p != 0 {
		if p+8 > len(b) {
			return 0, errBadFB
		}
		body = int64(binary.LittleEndian.Uint64(b[p:]))
	}
	if body < 0 {
		return 0, errBadFB
	}
	return body, nil
}

// guardStream walks the messages of an IPC stream from r (at most size
// bytes), checking each.
func guardStream(r io.ReaderAt, off, size int64) error {
	for off < size {
		var hdr [8]byte
		if _, err := r.ReadAt(hdr[:4], off); err != nil {
			return nil // truncated: arrow-go reports it
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:4]))
		off += 4
		if uint32(n) == 0xFFFFFFFF {
			if _, err := r.ReadAt(hdr[4:8], off); err != nil {
				return nil
			}
			n = int64(int32(binary.LittleEndian.Uint32(hdr[4:8])))
			off += 4
		}
		if n == 0 {
			return nil
		}
		if n < 0 || n > maxFBMeta || off+n > size {
			return errBadFB
		}
		meta := make([]byte, n)
		if _, err := r.ReadAt(meta, off); err != nil {
			return errBadFB
		}
		body, err := checkMessage(meta)
		if err != nil {
			return err
		}
		off += n
		if body > size-off {
			return errBadFB
		}
		off += body
	}
	return nil
}

// guardArrow checks the flatbuffers of the IPC file or stream at path.
func guardArrow(path string, kind Kind) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open: %w", errdefs.ErrNotFound)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("stat: %w", errdefs.ErrNotFound)
	}
	size := st.Size()
	if kind == KindArrowStream {
		return guardStream(fh, 0, size)
	}
	// File: "ARROW1" padded to 8, a stream, the footer, its int32 size and
	// "ARROW1".
	if size < 8+10 {
		return errBadFB
	}
	var tail [10]byte
	if _, err := fh.ReadAt(tail[:], size-10); err != nil {
		return errBadFB
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n <= 0 || n > maxFBMeta || n > size-18 {
		return errBadFB
	}
	footer := make([]byte, n)
	if _, err := fh.ReadAt(footer, size-10-n); err != nil {
		return errBadFB
	}
	f := &fb{b: footer}
	root, err := f.ref(0)
	if err != nil {
		return err
	}
	sc, err := f.table(root, 1)
	if err != nil {
		return err
	}
	if err := f.schema(sc); err != nil {
		return err
	}
	if err := guardStream(fh, 8, size-10-n); err != nil {
		return err
	}
	// The footer's blocks are what arrow-go reads, wherever they point:
	// also after the stream's end marker, where guardStream stops.
	budget := size + maxFBMeta // metadata bytes to check, shared by all blocks
	checked := map[int64]bool{}
	var meta []byte
	for _, slot := range []int{2, 3} { // dictionaries, recordBatches: Block structs
		start, count, err := f.vector(root, slot, 24)
		if err != nil {
			return err
		}
		for i := range count {
			blk := footer[start+24*i:]
			off := int64(binary.LittleEndian.Uint64(blk))
			n := int64(int32(binary.LittleEndian.Uint32(blk[8:])))
			if checked[off] {
				continue
			}
			checked[off] = true
			if off < 0 || n < 8 || n > maxFBMeta || off > size-n || n > budget {
				return errBadFB
			}
			budget -= n
			if int64(cap(meta)) < n {
				meta = make([]byte, n)
			}
			meta = meta[:n]
			if _, err := fh.ReadAt(meta, off); err != nil {
				return errBadFB
			}
			// The length prefix, with or without the continuation
			// token (see arrow-go's validateFileBlockMetadata).
			prefix := 4
			if binary.LittleEndian.Uint32(meta) == 0xFFFFFFFF {
				prefix = 8
			}
			if _, err := checkMessage(meta[prefix:]); err != nil {
				return err
			}
		}
	}
	return nil
}
