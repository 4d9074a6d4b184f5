package ingest

// The reference CSV reader: the import's reader before issue 23
// (encoding/csv behind a line limiter), kept as the oracle of the
// purpose-built one. TestCSVReaderMatchesReference imports the same files
// through both and compares the stored bytes; FuzzCSVSplitter compares the
// splitter with encoding/csv record by record.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// lineLimiter counts lines and refuses a line longer than max bytes, so
// that the CSV parser's memory stays bounded.
type lineLimiter struct {
	r       io.Reader
	max     int
	cur     int   // bytes in the current line so far
	line    int   // 1-based line of the next byte
	n       int64 // bytes read
	invalid error
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	if l.invalid != nil {
		return 0, l.invalid
	}
	n, err := l.r.Read(p)
	for i := 0; i < n; {
		k := bytes.IndexByte(p[i:n], '\n')
		if k < 0 {
			k = n - i
		}
		if l.cur+k > l.max {
			i += l.max - l.cur
			l.invalid = errLineTooLong
			l.n += int64(i)
			return i, l.invalid
		}
		if i+k == n { // no newline in the rest
			l.cur += k
			break
		}
		l.line++
		l.cur = 0
		i += k + 1
	}
	l.n += int64(n)
	return n, err
}

type refCSVReader struct {
	f       *os.File
	lim     *lineLimiter
	r       *csv.Reader
	schema  *arrow.Schema
	types   []string
	names   []string
	mem     memory.Allocator
	batch   int
	lines   []int
	builder *array.RecordBuilder
	dataLen []int                  // per column: string bytes in the last batch
	strs    []*array.StringBuilder // per column: its builder if it is a string column
	eof     bool
}

func newRefCSVReader(f *os.File, spec *Spec, mem memory.Allocator, batchRows, maxLine int) (*refCSVReader, error) {
	lim := &lineLimiter{r: f, max: maxLine, line: 1}
	r := csv.NewReader(bufio.NewReaderSize(lim, 64<<10))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, badInput("the csv file is empty")
		}
		return nil, refCSVError(err, lim, len(header))
	}
	header = append([]string(nil), header...)
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
	schema := arrow.NewSchema(fields, nil)
	c := &refCSVReader{f: f, lim: lim, r: r, schema: schema, types: types, names: header, mem: mem,
		batch: batchRows, builder: array.NewRecordBuilder(mem, schema)}
	c.strs = make([]*array.StringBuilder, len(types))
	for j, t := range types {
		if csvType(t).ID() == arrow.STRING {
			c.strs[j] = c.builder.Field(j).(*array.StringBuilder)
		}
	}
	return c, nil
}

func refCSVError(err error, lim *lineLimiter, want int) error {
	if errors.Is(err, errLineTooLong) {
		return badInput("csv line %d is longer than %d bytes", lim.line, lim.max)
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return badInput("csv line %d has the wrong number of fields (the header has %d)", pe.StartLine, want)
		}
		return badInput("csv line %d: %s", pe.StartLine, pe.Err.Error())
	}
	return fmt.Errorf("read csv: %w", err)
}

func (c *refCSVReader) Schema() *arrow.Schema { return c.schema }
func (c *refCSVReader) Close() error {
	c.builder.Release()
	return c.f.Close()
}

func (c *refCSVReader) Next() (batch, error) {
	if c.eof {
		return batch{}, io.EOF
	}
	c.lines = make([]int, 0, c.batch)
	// Size the builders like the last batch, so that they do not grow
	// (and copy) value by value.
	c.builder.Reserve(c.batch)
	for j, f := range c.builder.Fields() {
		if sb, ok := f.(*array.StringBuilder); ok && j < len(c.dataLen) {
			sb.ReserveData(c.dataLen[j] + c.dataLen[j]/8)
		}
	}
	size := 0
	for len(c.lines) < c.batch && size < csvBatchBytes {
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			c.eof = true
			break
		}
		if err != nil {
			return batch{}, refCSVError(err, c.lim, len(c.names))
		}
		line, _ := c.r.FieldPos(0)
		c.lines = append(c.lines, line)
		for j, v := range rec {
			size += len(v)
			if !utf8.ValidString(v) {
				return batch{}, badInput("csv line %d column %q is not valid utf-8", line, c.names[j])
			}
			if sb := c.strs[j]; sb != nil {
				// the common case, without appendCSV's switch
				if v == "" {
					sb.AppendNull()
				} else {
					sb.Append(v)
				}
				continue
			}
			if err := appendCSV(c.builder.Field(j), c.types[j], v); err != nil {
				return batch{}, badInput("csv line %d column %q: the value is not a valid %s", line, c.names[j], c.types[j])
			}
		}
	}
	if len(c.lines) == 0 {
		return batch{}, io.EOF
	}
	lines := c.lines
	where := func(i int) string { return "line " + strconv.Itoa(lines[i]) }
	c.dataLen = c.dataLen[:0]
	for _, f := range c.builder.Fields() {
		n := 0
		if sb, ok := f.(*array.StringBuilder); ok {
			n = sb.DataLen()
		}
		c.dataLen = append(c.dataLen, n)
	}
	return batch{rec: c.builder.NewRecordBatch(), where: where, bytesRead: c.lim.n}, nil
}
