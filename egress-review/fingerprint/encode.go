package fingerprint

import (
	"encoding/binary"
	"io"
	"unsafe"
)

// littleEndian reports whether the host stores a uint64 as its
// little-endian encoding, the byte order of run files and of the set
// format: then a []uint64 is written and read as its own memory, with no
// encoding pass.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// uint64Bytes returns the memory of xs as bytes.
func uint64Bytes(xs []uint64) []byte {
	if len(xs) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(xs))), 8*len(xs))
}

// encoder writes fingerprints little-endian: on a little-endian host
// straight from the caller's slice, elsewhere through a small buffer.
type encoder struct {
	w   io.Writer
	blk []byte // big-endian hosts only
}

func newEncoder(w io.Writer) *encoder { return &encoder{w: w} }

func (e *encoder) write(xs []uint64) error {
	if littleEndian {
		_, err := e.w.Write(uint64Bytes(xs))
		return err
	}
	if e.blk == nil {
		e.blk = make([]byte, 0, runBufSize)
	}
	for _, x := range xs {
		e.blk = binary.LittleEndian.AppendUint64(e.blk, x)
		if len(e.blk) == cap(e.blk) {
			if _, err := e.w.Write(e.blk); err != nil {
				return err
			}
			e.blk = e.blk[:0]
		}
	}
	return nil
}

func (e *encoder) flush() error {
	if len(e.blk) == 0 {
		return nil
	}
	_, err := e.w.Write(e.blk)
	e.blk = e.blk[:0]
	return err
}

// writerFunc adapts a function to io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
