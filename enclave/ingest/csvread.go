package ingest

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var errLineTooLong = errors.New("line too long")

// csvBatchBytes ends a CSV batch early once its values reach this many
// bytes, so that a batch of long lines stays small (a variable for tests).
var csvBatchBytes = 16 << 20

// maxCSVRecord bounds a CSV record whose quoted fields span lines (the
// splitter buffers a record whole), as csvBatchBytes bounds a batch.
const maxCSVRecord = 16 << 20

// newCSVSource opens CSV input; a variable so that tests can put the
// reference reader (encoding/csv) in its place and compare imports.
var newCSVSource = func(f *os.File, spec *Spec, mem memory.Allocator, batchRows, maxLine int) (batchReader, error) {
	return newCSVReader(f, spec, mem, batchRows, maxLine)
}

// csvReader turns CSV input into record batches: the columns' types come
// from the spec; an empty field is null. String columns are built
// straight into Arrow buffers from the splitter's fields, without a Go
// string per field.
type csvReader struct {
	f        *os.File
	sp       *csvSplitter
	schema   *arrow.Schema
	types    []string
	names    []string
	mem      memory.Allocator
	batch    int
	lines    []int
	builders []array.Builder // per column: for typed columns
	strs     []*stringColumn // per column: for string columns
	eof      bool
}

func newCSVReader(f *os.File, spec *Spec, mem memory.Allocator, batchRows, maxLine int) (*csvReader, error) {
	sp := newCSVSplitter(f, maxLine, maxCSVRecord)
	if err := sp.next(); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, badInput("the csv file is empty")
		}
		return nil, csvSplitErr(err, maxLine, 0)
	}
	header := make([]string, sp.numFields())
	for i := range header {
		header[i] = string(sp.field(i))
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	seen := map[string]bool{}
	fields := make([]arrow.Field, len(header))
	types := make([]string, len(header))
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, badInput("csv line 1: column %d name is not valid utf-8", i+1)
		}
		if h == "" {
			return nil, badInput("csv line 1: column %d has no name", i+1)
		}
		if seen[h] {
			return nil, badInput("csv line 1: duplicate column %q", h)
		}
		seen[h] = true
		types[i] = "string"
		if c := spec.Column(h); c != nil {
			types[i] = c.Type
		}
		fields[i] = arrow.Field{Name: h, Type: csvType(types[i]), Nullable: true}
	}
	c := &csvReader{f: f, sp: sp, schema: arrow.NewSchema(fields, nil), types: types, names: header, mem: mem, batch: batchRows}
	c.builders = make([]array.Builder, len(types))
	c.strs = make([]*stringColumn, len(types))
	for j, fl := range fields {
		if fl.Type.ID() == arrow.STRING {
			c.strs[j] = &stringColumn{mem: mem}
		} else {
			c.builders[j] = array.NewBuilder(mem, fl.Type)
		}
	}
	return c, nil
}

func csvType(t string) arrow.DataType {
	switch t {
	case "int64":
		return arrow.PrimitiveTypes.Int64
	case "float64":
		return arrow.PrimitiveTypes.Float64
	case "bool":
		return arrow.FixedWidthTypes.Boolean
	case "date":
		return arrow.FixedWidthTypes.Date32
	case "timestamp":
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
	return arrow.BinaryTypes.String
}

// csvSplitErr is the import's error for a splitter error.
func csvSplitErr(err error, maxLine, want int) error {
	var se *csvSplitError
	if !errors.As(err, &se) {
		return err
	}
	switch {
	case errors.Is(se.err, errLineTooLong):
		return badInput("csv line %d is longer than %d bytes", se.line, maxLine)
	case errors.Is(se.err, errRecordTooLong):
		return badInput("csv record starting at line %d is longer than %d bytes", se.startLine, maxCSVRecord)
	}
	return badInput("csv line %d: %s", se.startLine, se.err.Error())
}

func (c *csvReader) Schema() *arrow.Schema { return c.schema }
func (c *csvReader) Close() error {
	for _, b := range c.builders {
		if b != nil {
			b.Release()
		}
	}
	for _, s := range c.strs {
		if s != nil {
			s.reset()
		}
	}
	return c.f.Close()
}

func (c *csvReader) Next() (batch, error) {
	if c.eof {
		return batch{}, io.EOF
	}
	c.lines = make([]int, 0, c.batch)
	for j, b := range c.builders {
		if b != nil {
			b.Reserve(c.batch)
		} else {
			c.strs[j].start(c.batch)
		}
	}
	size := 0
	want := len(c.names)
	for len(c.lines) < c.batch && size < csvBatchBytes {
		err := c.sp.next()
		if errors.Is(err, io.EOF) {
			c.eof = true
			break
		}
		if err != nil {
			c.abort()
			return batch{}, csvSplitErr(err, c.sp.maxLine, want)
		}
		line := c.sp.recLine
		if c.sp.numFields() != want {
			c.abort()
			return batch{}, badInput("csv line %d has the wrong number of fields (the header has %d)", line, want)
		}
		c.lines = append(c.lines, line)
		// A record that is all ASCII is valid UTF-8 in every field.
		ascii := isASCII(c.sp.record())
		for j := 0; j < want; j++ {
			v := c.sp.field(j)
			size += len(v)
			if !ascii && !utf8.Valid(v) {
				c.abort()
				return batch{}, badInput("csv line %d column %q is not valid utf-8", line, c.names[j])
			}
			if s := c.strs[j]; s != nil {
				s.append(v)
				continue
			}
			if err := appendCSV(c.builders[j], c.types[j], unsafe.String(unsafe.SliceData(v), len(v))); err != nil {
				c.abort()
				return batch{}, badInput("csv line %d column %q: the value is not a valid %s", line, c.names[j], c.types[j])
			}
		}
	}
	n := len(c.lines)
	if n == 0 {
		c.abort()
		return batch{}, io.EOF
	}
	cols := make([]arrow.Array, len(c.names))
	for j := range cols {
		if s := c.strs[j]; s != nil {
			cols[j] = s.finish(n)
		} else {
			cols[j] = c.builders[j].NewArray()
		}
	}
	rec := array.NewRecordBatch(c.schema, cols, int64(n))
	for _, a := range cols {
		a.Release()
	}
	lines := c.lines
	where := func(i int) string { return "line " + strconv.Itoa(lines[i]) }
	return batch{rec: rec, where: where, bytesRead: c.sp.read}, nil
}

// abort drops the batch being built.
func (c *csvReader) abort() {
	for _, s := range c.strs {
		if s != nil {
			s.reset()
		}
	}
	for _, b := range c.builders {
		if b != nil {
			a := b.NewArray()
			a.Release()
		}
	}
}

// isASCII reports whether b holds only ASCII bytes, eight at a time.
func isASCII(b []byte) bool {
	var acc uint64
	n := len(b)
	if n >= 8 {
		// the last eight bytes once more covers the tail without a loop
		acc = binary.LittleEndian.Uint64(b[n-8:])
	}
	for len(b) >= 8 {
		acc |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	if n < 8 {
		for _, c := range b {
			acc |= uint64(c)
		}
	}
	return acc&0x8080808080808080 == 0
}

// stringColumn builds one batch of a string column in Arrow buffers from
// the allocator, laid out as arrow-go's StringBuilder lays them out, so
// that the stored file does not depend on which of the two built the
// batch: the CSV reader's columns (append: an empty field is null) and the
// string rules' outputs (appendValue and appendNull).
type stringColumn struct {
	mem      memory.Allocator
	offsets  *memory.Buffer
	data     *memory.Buffer
	valid    *memory.Buffer // nil until the first null
	offs     []int32        // view of offsets
	bytes    []byte         // view of data
	bits     []byte         // view of valid
	n, dlen  int
	nulls    int
	lastData int // data bytes of the last batch, to size the next
}

// start begins a batch of at most rows rows, with room for about as
// many data bytes as the last batch had.
func (s *stringColumn) start(rows int) {
	s.startData(rows, s.lastData+s.lastData/8)
}

// startData begins a batch of at most rows rows with room for data bytes.
func (s *stringColumn) startData(rows, data int) {
	s.reset()
	s.offsets = memory.NewResizableBuffer(s.mem)
	s.offsets.Reserve((rows + 1) * arrow.Int32SizeBytes)
	s.offs = arrow.Int32Traits.CastFromBytes(s.offsets.Buf())[:rows+1]
	s.offs[0] = 0
	s.data = memory.NewResizableBuffer(s.mem)
	s.data.Reserve(max(data, 1024))
	s.bytes = s.data.Buf()
}

// append adds a CSV field: an empty one is null.
func (s *stringColumn) append(v []byte) {
	if len(v) == 0 {
		s.appendNull()
		return
	}
	s.appendValue(v)
}

// appendNull adds a null.
func (s *stringColumn) appendNull() {
	if s.valid == nil {
		s.startValidity()
	}
	s.nulls++
	s.n++
	s.offs[s.n] = int32(s.dlen)
}

// appendValue adds the value v, which may be empty.
func (s *stringColumn) appendValue(v []byte) {
	if s.dlen+len(v)+32 > len(s.bytes) {
		s.data.Reserve(2*len(s.bytes) + len(v) + 32)
		s.bytes = s.data.Buf()
	}
	if len(v) <= 32 && cap(v) >= 32 {
		// A short field (most are) as four eight-byte moves, without a
		// call: the bytes past it, from the rest of the line, land past
		// dlen, where the next field overwrites them; the batch's data
		// ends at dlen, and its buffers are cleared before they are
		// used again.
		d := s.bytes[s.dlen : s.dlen+32]
		w := v[:32]
		binary.LittleEndian.PutUint64(d, binary.LittleEndian.Uint64(w))
		binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(w[8:]))
		binary.LittleEndian.PutUint64(d[16:], binary.LittleEndian.Uint64(w[16:]))
		binary.LittleEndian.PutUint64(d[24:], binary.LittleEndian.Uint64(w[24:]))
	} else {
		copy(s.bytes[s.dlen:], v)
	}
	s.dlen += len(v)
	if s.valid != nil {
		bitutil.SetBit(s.bits, s.n)
	}
	s.n++
	s.offs[s.n] = int32(s.dlen)
}

// startValidity makes the validity bitmap, with the rows so far valid.
func (s *stringColumn) startValidity() {
	rows := len(s.offs) - 1
	s.valid = memory.NewResizableBuffer(s.mem)
	nb := int(bitutil.BytesForBits(int64(bitutil.NextPowerOf2(rows))))
	s.valid.Reserve(nb)
	s.bits = s.valid.Buf()
	clear(s.bits)
	bitutil.SetBitsTo(s.bits, 0, int64(s.n), true)
}

// finish returns the batch's column of n rows.
func (s *stringColumn) finish(n int) arrow.Array {
	s.offsets.ResizeNoShrink((n + 1) * arrow.Int32SizeBytes)
	s.data.ResizeNoShrink(s.dlen)
	var valid *memory.Buffer
	if s.valid != nil {
		// StringBuilder's bitmap has a byte per eight rows of its
		// capacity, the power of two its Reserve(rows) rounds to; the
		// Arrow writer copies a bitmap longer than the batch needs and
		// writes a shorter one as it is, so the length shows in the file.
		s.valid.ResizeNoShrink(int(bitutil.BytesForBits(int64(bitutil.NextPowerOf2(len(s.offs) - 1)))))
		valid = s.valid
	}
	d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{valid, s.offsets, s.data}, nil, s.nulls, 0)
	a := array.NewStringData(d)
	d.Release()
	s.lastData = s.dlen
	s.reset()
	return a
}

// reset releases the buffers of the batch being built.
func (s *stringColumn) reset() {
	for _, b := range []*memory.Buffer{s.offsets, s.data, s.valid} {
		if b != nil {
			b.Release()
		}
	}
	s.offsets, s.data, s.valid = nil, nil, nil
	s.offs, s.bytes, s.bits = nil, nil, nil
	s.n, s.dlen, s.nulls = 0, 0, 0
}
