package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	flatbuffers "github.com/google/flatbuffers/go"
)

// errMalformed is returned for input whose IPC metadata is inconsistent.
var errMalformed = errors.New("malformed arrow ipc metadata")

// guard refuses an Arrow IPC file or stream whose schema metadata declares
// more fields, children or metadata entries than its bytes could hold.
// arrow-go sizes its allocations by those declared counts before reading
// them, so a few hostile bytes could otherwise exhaust memory. r is left at
// offset 0.
func guard(r io.ReadSeeker) (err error) {
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	defer func() {
		if _, serr := r.Seek(0, io.SeekStart); err == nil {
			err = serr
		}
	}()
	read := func(off, n int64) ([]byte, error) {
		if off < 0 || n < 0 || off+n > size {
			return nil, errMalformed
		}
		b := make([]byte, n)
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return nil, err
		}
		_, err := io.ReadFull(r, b)
		return b, err
	}
	head, err := read(0, min(8, size))
	if err != nil {
		return err
	}
	if bytes.HasPrefix(head, []byte("ARROW1")) {
		tail, err := read(size-10, 10)
		if err != nil || !bytes.Equal(tail[4:], []byte("ARROW1")) {
			return errMalformed
		}
		n := int64(int32(binary.LittleEndian.Uint32(tail)))
		if n <= 0 || n > size-16 {
			return errMalformed
		}
		footer, err := read(size-10-n, n)
		if err != nil {
			return err
		}
		return checked(footer, checkFooter)
	}
	if len(head) < 8 {
		return errMalformed
	}
	off, n := int64(4), int64(int32(binary.LittleEndian.Uint32(head)))
	if n == -1 {
		off, n = 8, int64(int32(binary.LittleEndian.Uint32(head[4:])))
	}
	if n <= 0 || n > size-off {
		return errMalformed
	}
	msg, err := read(off, n)
	if err != nil {
		return err
	}
	return checked(msg, checkMessage)
}

// checked runs a check over a flatbuffer, turning an out-of-range access
// into errMalformed.
func checked(b []byte, check func(*walker, flatbuffers.UOffsetT) error) (err error) {
	defer func() {
		if recover() != nil {
			err = errMalformed
		}
	}()
	if len(b) < 8 {
		return errMalformed
	}
	w := &walker{b: b}
	return check(w, w.root())
}

type walker struct {
	b     []byte
	steps int
}

func (w *walker) root() flatbuffers.UOffsetT {
	return flatbuffers.GetUOffsetT(w.b)
}

func (w *walker) table(pos flatbuffers.UOffsetT) (*flatbuffers.Table, error) {
	w.steps++
	if int(pos)+4 > len(w.b) || w.steps > len(w.b) {
		return nil, errMalformed
	}
	t := &flatbuffers.Table{Bytes: w.b, Pos: pos}
	vt := int(pos) - int(int32(binary.LittleEndian.Uint32(w.b[pos:])))
	if vt < 0 || vt+4 > len(w.b) {
		return nil, errMalformed
	}
	return t, nil
}

func slot(i int) flatbuffers.VOffsetT { return flatbuffers.VOffsetT(4 + 2*i) }

// vector returns the length and start of the vector in field i of t, after
// checking that n elements of elem bytes fit in the buffer.
func (w *walker) vector(t *flatbuffers.Table, i, elem int) (int, flatbuffers.UOffsetT, error) {
	o := t.Offset(slot(i))
	if o == 0 {
		return 0, 0, nil
	}
	abs := flatbuffers.UOffsetT(o) + t.Pos
	if int(abs)+4 > len(w.b) {
		return 0, 0, errMalformed
	}
	start := t.Vector(flatbuffers.UOffsetT(o))
	if int(start) < 4 || int(start) > len(w.b) {
		return 0, 0, errMalformed
	}
	n := t.VectorLen(flatbuffers.UOffsetT(o))
	if n < 0 || int64(start)+int64(n)*int64(elem) > int64(len(w.b)) {
		return 0, 0, fmt.Errorf("vector of %d entries: %w", n, errMalformed)
	}
	return n, start, nil
}

// tables visits each table of a vector of tables in field i of t.
func (w *walker) tables(t *flatbuffers.Table, i int, visit func(*flatbuffers.Table) error) error {
	n, start, err := w.vector(t, i, 4)
	if err != nil {
		return err
	}
	for k := 0; k < n; k++ {
		p := start + flatbuffers.UOffsetT(4*k)
		sub, err := w.table(p + flatbuffers.GetUOffsetT(w.b[p:]))
		if err != nil {
			return err
		}
		if err := visit(sub); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) sub(t *flatbuffers.Table, i int) (*flatbuffers.Table, error) {
	o := t.Offset(slot(i))
	if o == 0 {
		return nil, nil
	}
	return w.table(t.Indirect(flatbuffers.UOffsetT(o) + t.Pos))
}

func (w *walker) keyValues(t *flatbuffers.Table, i int) error {
	return w.tables(t, i, func(*flatbuffers.Table) error { return nil })
}

// Footer: version, schema, dictionaries, recordBatches, custom_metadata.
func checkFooter(w *walker, pos flatbuffers.UOffsetT) error {
	t, err := w.table(pos)
	if err != nil {
		return err
	}
	s, err := w.sub(t, 1)
	if err != nil || s == nil {
		return errMalformed
	}
	if err := checkSchema(w, s); err != nil {
		return err
	}
	for _, i := range []int{2, 3} { // vectors of 24-byte Block structs
		if _, _, err := w.vector(t, i, 24); err != nil {
			return err
		}
	}
	return w.keyValues(t, 4)
}

// Message: version, header_type, header, bodyLength, custom_metadata.
func checkMessage(w *walker, pos flatbuffers.UOffsetT) error {
	t, err := w.table(pos)
	if err != nil {
		return err
	}
	if o := t.Offset(slot(1)); o == 0 || t.GetByte(flatbuffers.UOffsetT(o)+t.Pos) != 1 {
		return fmt.Errorf("first message not a schema: %w", errMalformed)
	}
	s, err := w.sub(t, 2)
	if err != nil || s == nil {
		return errMalformed
	}
	if err := checkSchema(w, s); err != nil {
		return err
	}
	return w.keyValues(t, 4)
}

// Schema: endianness, fields, custom_metadata, features.
func checkSchema(w *walker, t *flatbuffers.Table) error {
	if err := w.tables(t, 1, func(f *flatbuffers.Table) error { return checkField(w, f, 0) }); err != nil {
		return err
	}
	if err := w.keyValues(t, 2); err != nil {
		return err
	}
	_, _, err := w.vector(t, 3, 8)
	return err
}

// Field: name, nullable, type_type, type, dictionary, children, custom_metadata.
func checkField(w *walker, t *flatbuffers.Table, depth int) error {
	if depth > 32 {
		return fmt.Errorf("fields nested too deep: %w", errMalformed)
	}
	if _, _, err := w.vector(t, 0, 1); err != nil {
		return err
	}
	if err := w.tables(t, 5, func(c *flatbuffers.Table) error { return checkField(w, c, depth+1) }); err != nil {
		return err
	}
	return w.keyValues(t, 6)
}
