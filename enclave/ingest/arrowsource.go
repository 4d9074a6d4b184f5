package ingest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/endian"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Memory bounds of the Arrow reader (variables for tests).
var (
	// arrowSliceBytes is the size from which a record batch of the input
	// is handed on in slices of about this many bytes.
	arrowSliceBytes int64 = 4 << 20
	// arrowDropBytes is how many bytes of batches are handed on between
	// two returns of the mapping's pages to the kernel.
	arrowDropBytes int64 = 32 << 20
	// arrowCopyLimit bounds the body of a batch read by copying (a file of
	// the other byte order, whose buffers arrow-go swaps in memory).
	arrowCopyLimit int64 = 256 << 20
)

// arrowReader reads an Arrow IPC file or stream. The file is mapped
// read-only and its messages are read in place (mappedMessages), so that
// arrow-go builds the arrays of a batch over the mapping instead of copying
// the batch whole. A batch of more than arrowSliceBytes is handed on in
// slices of about that size, each validated just before it is handed on,
// and every arrowDropBytes the mapping's pages are given back to the kernel
// (they are read again from the page cache if a batch in flight needs
// them), so that one huge batch costs no more resident memory than many
// small ones. The file must not change during the import (the daemon
// imports its own staged copy of an upload).
//
// An IPC file is read as the stream it embeds between its magic and its
// footer, which checkArrowIPC has checked against the footer's blocks.
// A file in the other byte order is read by copying, one batch at a time,
// and a batch of it over arrowCopyLimit is refused.
type arrowReader struct {
	f      *os.File
	data   []byte // the mapping, nil when reading by copying
	stream *ipc.Reader
	mm     *mappedMessages
	cr     *countingReader // when reading by copying

	cur              arrow.RecordBatch // the batch being sliced
	curRow, curStep  int64             // its next row, rows per slice
	curBatchRows     int64             // its rows (kept after the last slice)
	curStart, curEnd int64             // where its message starts and ends
	batches          int               // batches read
	rows             int64             // rows handed on before the last slice
	last             int64
	sinceDrop        int64
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func newArrowReader(f *os.File, size int64, mem memory.Allocator) (*arrowReader, error) {
	if err := checkArrowIPC(f, size); err != nil {
		return nil, badInput("the arrow file is malformed or compressed")
	}
	start, end, err := arrowStreamRange(f, size)
	if err != nil {
		return nil, err
	}
	if size > int64(^uint(0)>>1) {
		return nil, badInput("the arrow file is too large to map")
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map the arrow input: %w", err)
	}
	a := &arrowReader{f: f, data: data, mm: &mappedMessages{data: data[:end], pos: start}}
	a.stream, err = ipc.NewReaderFromMessageReader(a.mm, ipc.WithAllocator(mem))
	if err != nil {
		a.unmap()
		return nil, badInput("the arrow stream is malformed")
	}
	if a.stream.Schema().Endianness() == endian.NativeEndian {
		return a, nil
	}
	// The other byte order: arrow-go swaps the buffers in place, which a
	// read-only mapping does not allow; read it by copying instead.
	a.stream.Release()
	a.unmap()
	a.cr = &countingReader{r: bufio.NewReaderSize(io.NewSectionReader(f, start, end-start), 64<<10)}
	a.stream, err = ipc.NewReader(a.cr, ipc.WithAllocator(mem), ipc.WithEnsureNativeEndian(true), ipc.WithBodySizeLimit(arrowCopyLimit))
	if err != nil {
		return nil, badInput("the arrow stream is malformed")
	}
	a.cr.n += start
	return a, nil
}

// arrowStreamRange returns where the IPC stream of f starts and ends: the
// whole of a stream, or the part of a file between its magic and footer.
func arrowStreamRange(f *os.File, size int64) (int64, int64, error) {
	var head [6]byte
	if _, err := f.ReadAt(head[:], 0); err != nil || string(head[:]) != "ARROW1" {
		return 0, size, nil
	}
	var tail [4]byte
	if _, err := f.ReadAt(tail[:], size-10); err != nil {
		return 0, 0, badInput("the arrow file is malformed")
	}
	flen := int64(binary.LittleEndian.Uint32(tail[:])) // checked by checkArrowIPC
	return 8, size - 10 - flen, nil
}

func (a *arrowReader) unmap() {
	if a.data != nil {
		syscall.Munmap(a.data)
		a.data = nil
	}
}

func (a *arrowReader) Schema() *arrow.Schema { return a.stream.Schema() }

// Close releases the reader; every batch it handed on must have been
// released first, since their buffers may be in the mapping.
func (a *arrowReader) Close() error {
	if a.cur != nil {
		a.cur.Release()
		a.cur = nil
	}
	a.stream.Release()
	a.unmap()
	return a.f.Close()
}

func (a *arrowReader) bytesRead() int64 {
	if a.cur == nil || a.cur.NumRows() == 0 {
		if a.cr != nil {
			return a.cr.n
		}
		return int64(a.mm.pos)
	}
	return a.curStart + (a.curEnd-a.curStart)*a.curRow/a.cur.NumRows()
}

func (a *arrowReader) Next() (batch, error) {
	rec, err := a.next1()
	if err != nil {
		return batch{}, err
	}
	return batch{rec: rec, where: rowWhere(a.rows), bytesRead: a.bytesRead()}, nil
}

func (a *arrowReader) next1() (rec arrow.RecordBatch, err error) {
	defer func() {
		if r := recover(); r != nil {
			rec, err = nil, badInput("arrow batch %d is malformed", a.batches)
		}
	}()
	a.rows += a.last
	a.last = 0
	for a.cur == nil {
		if err := a.nextBatch(); err != nil {
			return nil, err
		}
	}
	end := min(a.curRow+a.curStep, a.cur.NumRows())
	if a.curRow == 0 && end == a.cur.NumRows() {
		rec = a.cur
		rec.Retain()
	} else {
		rec = a.cur.NewSlice(a.curRow, end)
	}
	n := end - a.curRow
	a.curRow = end
	if a.curRow == a.cur.NumRows() {
		a.cur.Release()
		a.cur = nil
	}
	if err := validateBatch(rec); err != nil {
		rec.Release()
		return nil, badInput("arrow batch %d is malformed", a.batches)
	}
	if a.data != nil {
		// Give the pages read so far back to the kernel now and then.
		a.sinceDrop += a.stepBytes(n)
		if a.sinceDrop >= arrowDropBytes {
			syscall.Madvise(a.data, syscall.MADV_DONTNEED)
			a.sinceDrop = 0
		}
	}
	a.last = n
	return rec, nil
}

// stepBytes estimates the bytes of n rows of the batch being sliced: their
// share of its message.
func (a *arrowReader) stepBytes(n int64) int64 {
	return n * (a.curEnd - a.curStart) / max(1, a.curBatchRows)
}

// nextBatch reads the next record batch of the stream into a.cur and
// decides its slices.
func (a *arrowReader) nextBatch() error {
	a.curStart = a.bytesRead()
	if !a.stream.Next() {
		if err := a.stream.Err(); err != nil && !errors.Is(err, io.EOF) {
			return badInput("arrow batch %d is malformed", a.batches+1)
		}
		return io.EOF
	}
	a.batches++
	rec := a.stream.RecordBatch()
	rec.Retain()
	a.curEnd = a.bytesRead()
	// A batch that claims more rows than its buffers can hold is refused
	// before any slice of it is made (validateBatch checks each slice's
	// contents).
	bufBytes, err := checkBatchShape(rec)
	if err != nil {
		rec.Release()
		return badInput("arrow batch %d is malformed", a.batches)
	}
	n := rec.NumRows()
	a.curRow, a.curStep, a.curBatchRows = 0, max(n, 1), n
	if bufBytes > arrowSliceBytes && n > 1 {
		slices := (bufBytes + arrowSliceBytes - 1) / arrowSliceBytes
		a.curStep = max(1, (n+slices-1)/slices)
	}
	if n == 0 {
		rec.Release()
		return nil
	}
	a.cur = rec
	return nil
}

// mappedMessages reads the messages of an IPC stream in place: each
// message's metadata and body are slices of data, never copies. Its
// framing and metadata were checked by checkArrowIPC; it checks again that
// every part lies inside data.
type mappedMessages struct {
	data []byte
	pos  int64
	refs atomic.Int64
}

var _ ipc.MessageReader = (*mappedMessages)(nil)

func (m *mappedMessages) Retain()  { m.refs.Add(1) }
func (m *mappedMessages) Release() { m.refs.Add(-1) }

// Message returns the next message, or io.EOF at the end marker or the
// end of the data.
func (m *mappedMessages) Message() (*ipc.Message, error) {
	end := int64(len(m.data))
	u32 := func() (int64, bool) {
		if m.pos+4 > end {
			return 0, false
		}
		v := int64(binary.LittleEndian.Uint32(m.data[m.pos:]))
		m.pos += 4
		return v, true
	}
	n, ok := u32()
	if !ok {
		return nil, io.EOF // a stream without end marker
	}
	if n == 0xFFFFFFFF {
		if n, ok = u32(); !ok {
			return nil, errMalformed
		}
	}
	if n == 0 {
		return nil, io.EOF
	}
	if n > end-m.pos {
		return nil, errMalformed
	}
	meta := m.data[m.pos : m.pos+n]
	m.pos += n
	body, err := checkMessage(meta)
	if err != nil || body > end-m.pos {
		return nil, errMalformed
	}
	b := m.data[m.pos : m.pos+body]
	m.pos += body
	return ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(b)), nil
}
