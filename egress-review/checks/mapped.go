//go:build unix

package checks

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// readMapped reads the record batches of the Arrow IPC file f (size bytes)
// from a read-only mapping of it, so that their buffers are not copied (or
// zeroed) first, and calls fn on each: the blocks that f's footer names, in
// its order, after its dictionaries, as fr (a reader of f, which has checked
// the footer, the schema and the dictionaries) reads them, but through
// arrow-go's stream reader, which takes messages as they are. Compressed
// buffers are still decompressed by mem. fn must keep no reference into a
// batch after it returns: the mapping goes when readMapped returns.
//
// It returns false, having called fn on nothing, when it cannot read f so
// (the stream's schema differs from the footer's, a block is malformed, the
// file cannot be mapped); the caller then reads f with fr. (arrow-go's own
// mapped file reader panics on files with dictionaries.)
func readMapped(ctx context.Context, f *os.File, size int64, fr *ipc.FileReader, mem memory.Allocator, maxBody int64, fn recordFunc) (bool, error) {
	if size < 18 || size > int64(int(^uint(0)>>1)) {
		return false, nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		return false, nil
	}
	defer syscall.Munmap(data)
	// A file truncated while mapped faults: a panic, which the table
	// reader turns into an error, rather than a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))

	br, ok := newBlockReader(data, maxBody)
	if !ok {
		return false, nil
	}
	rdr, err := ipc.NewReaderFromMessageReader(br, ipc.WithAllocator(mem))
	if err != nil {
		return false, nil
	}
	defer rdr.Release()
	if !rdr.Schema().Equal(fr.Schema()) || !metadataEqual(rdr.Schema().Metadata(), fr.Schema().Metadata()) {
		return false, nil
	}
	called := false
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		called = true
		if err := callFn(fn, rdr.RecordBatch()); err != nil {
			return true, err
		}
	}
	if err := rdr.Err(); err != nil {
		if !called {
			return false, nil
		}
		return true, fmt.Errorf("read arrow ipc file: %w", errBadFB)
	}
	return true, nil
}

func metadataEqual(a, b arrow.Metadata) bool {
	if a.Len() != b.Len() {
		return false
	}
	for i, k := range a.Keys() {
		if b.Keys()[i] != k || b.Values()[i] != a.Values()[i] {
			return false
		}
	}
	return true
}

// block is a message of a mapped IPC file: where it starts, its metadata
// (with its length prefix) and body lengths, and the type it must have.
type block struct {
	off, meta, body int64
	want            ipc.MessageType
}

// blockReader is an ipc.MessageReader over the messages of a mapped IPC
// file: the stream's schema message, then the dictionaries and record
// batches of the footer.
type blockReader struct {
	data    []byte
	maxBody int64
	blocks  []block
	next    int
}

var _ ipc.MessageReader = (*blockReader)(nil)

// newBlockReader lists the messages of the IPC file data, or returns false.
func newBlockReader(data []byte, maxBody int64) (*blockReader, bool) {
	size := int64(len(data))
	n := int64(binary.LittleEndian.Uint32(data[size-10:]))
	if n <= 0 || n > size-18 {
		return nil, false
	}
	footer := data[size-10-n : size-10]
	r := &blockReader{data: data, maxBody: maxBody}
	// The schema message that starts the stream, after "ARROW1\0\0": a
	// continuation token and the metadata length.
	if binary.LittleEndian.Uint32(data[8:]) != 0xFFFFFFFF {
		return nil, false
	}
	schemaLen := int64(int32(binary.LittleEndian.Uint32(data[12:])))
	if schemaLen <= 0 || schemaLen > maxFBMeta {
		return nil, false
	}
	r.blocks = append(r.blocks, block{off: 8, meta: 8 + schemaLen, want: ipc.MessageSchema})
	f := &fb{b: footer}
	root, err := f.ref(0)
	if err != nil {
		return nil, false
	}
	for _, slot := range []struct {
		n    int
		want ipc.MessageType
	}{{2, ipc.MessageDictionaryBatch}, {3, ipc.MessageRecordBatch}} {
		start, count, err := f.vector(root, slot.n, 24)
		if err != nil {
			return nil, false
		}
		for i := range count {
			b := footer[start+24*i:]
			r.blocks = append(r.blocks, block{
				off:  int64(binary.LittleEndian.Uint64(b)),
				meta: int64(int32(binary.LittleEndian.Uint32(b[8:]))),
				body: int64(binary.LittleEndian.Uint64(b[16:])),
				want: slot.want,
			})
		}
	}
	return r, true
}

var errBadBlock = errors.New("malformed arrow ipc file block")

// Message implements ipc.MessageReader: it checks each block as arrow-go's
// file reader does (bounds, alignment, length prefix, body length, type).
func (r *blockReader) Message() (*ipc.Message, error) {
	if r.next >= len(r.blocks) {
		return nil, io.EOF
	}
	b := r.blocks[r.next]
	r.next++
	size := int64(len(r.data))
	if b.off < 0 || b.off%8 != 0 || b.meta < 8 || b.meta > size || b.body < 0 || b.body > size ||
		(b.want != ipc.MessageSchema && (b.meta%8 != 0 || b.body%8 != 0)) ||
		(r.maxBody > 0 && b.body > r.maxBody) || b.off > size-b.meta-b.body {
		return nil, errBadBlock
	}
	buf := r.data[b.off : b.off+b.meta]
	prefix := int64(4)
	switch binary.LittleEndian.Uint32(buf) {
	case 0:
		return nil, errBadBlock
	case 0xFFFFFFFF:
		prefix = 8
	}
	if length := int64(binary.LittleEndian.Uint32(buf[prefix-4:])); b.meta-prefix < 4 || length != b.meta-prefix {
		return nil, errBadBlock
	}
	meta := memory.NewBufferBytes(buf[prefix:])
	if b.want == ipc.MessageSchema {
		b.body = 0
	}
	body := memory.NewBufferBytes(r.data[b.off+b.meta : b.off+b.meta+b.body])
	msg := ipc.NewMessage(meta, body)
	if msg.BodyLen() != b.body || msg.Type() != b.want {
		msg.Release()
		return nil, errBadBlock
	}
	return msg, nil
}

// Retain implements ipc.MessageReader; the blocks need no counting.
func (r *blockReader) Retain() {}

// Release implements ipc.MessageReader.
func (r *blockReader) Release() {}
