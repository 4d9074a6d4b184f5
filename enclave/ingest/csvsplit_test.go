package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/synth"
)

// splitRef reads data with the reference (encoding/csv behind the line
// limiter) and with the splitter, through a reader that returns chunk
// bytes at a time, and fails unless they give the same records up to the
// first error and both fail there (with the same kind and line when both
// report a quoting error). A record the splitter refuses for its length
// ends the comparison.
func splitRef(t *testing.T, data []byte, maxLine, maxRecord, chunk int) {
	t.Helper()
	lim := &lineLimiter{r: bytes.NewReader(data), max: maxLine, line: 1}
	ref := csv.NewReader(bufio.NewReaderSize(lim, 64<<10))
	ref.FieldsPerRecord = -1
	var in io.Reader = bytes.NewReader(data)
	if chunk > 0 {
		in = iotest.HalfReader(&chunkReader{r: in, n: chunk})
	}
	sp := newCSVSplitter(in, maxLine, maxRecord)
	for n := 0; ; n++ {
		want, werr := ref.Read()
		gerr := sp.next()
		if errors.Is(gerr, errRecordTooLong) {
			return
		}
		switch {
		case errors.Is(werr, io.EOF):
			if !errors.Is(gerr, io.EOF) {
				t.Fatalf("record %d: got %v, want the end", n, gerr)
			}
			return
		case werr != nil:
			if gerr == nil || errors.Is(gerr, io.EOF) {
				t.Fatalf("record %d: got a record or the end (%v), want an error like %v", n, gerr, werr)
			}
			var pe *csv.ParseError
			var se *csvSplitError
			if errors.As(werr, &pe) && errors.As(gerr, &se) && !errors.Is(gerr, errLineTooLong) {
				if se.err != pe.Err || se.startLine != pe.StartLine {
					t.Fatalf("record %d: got %v at line %d, want %v at line %d", n, se.err, se.startLine, pe.Err, pe.StartLine)
				}
			}
			return
		}
		if gerr != nil {
			t.Fatalf("record %d: got error %v, want %d fields", n, gerr, len(want))
		}
		got := make([]string, sp.numFields())
		for i := range got {
			got[i] = string(sp.field(i))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("record %d: got %q, want %q", n, got, want)
		}
		if line, _ := ref.FieldPos(0); sp.recLine != line {
			t.Fatalf("record %d: got line %d, want %d", n, sp.recLine, line)
		}
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

var splitCases = []string{
	"a,b,c\n1,2,3\n",
	"a,b\r\n1,2\r\n",
	"a,b\n1,2",
	"a,b\n1,2\r",
	"a,b\n\n\r\n1,2\n\n",
	"\r\n\na\n",
	"a,b\n\"x,y\",\"he said \"\"hi\"\"\"\n",
	"a,b\n\"line one\r\nline two\",z\n",
	"a,b\n\"two\n\nbreaks\",\n",
	"a,b\n,\n",
	"a,\"\"\n\"\",\n",
	"\ufeffa,b\n1,2\n",
	"a,b\nx\"y,1\n",
	"a,b\n\"x\"y,1\n",
	"a,b\n\"unterminated,1\n",
	"a,b\n\"unterminated\n",
	"a,b\n\"x\"\r,1\n",
	"a,b\n\"x\"\r",
	"a,b\n\"x\r",
	"a\r\r\nb\rc\n",
	"a,b,c\n1,2\n",
	"\"",
	"\"\"",
	"\n",
	"",
	"a,b\n" + strings.Repeat("x", 70) + ",1\n",
	"a,b,c,d,e,f,g,h,i,j\n" + strings.Repeat("1234567,", 20) + "é\n",
	"k\n" + strings.Repeat("long field without commas ", 4) + "\n",
	"a,b\n\"" + strings.Repeat("y\n", 40) + "\",1\n",
	"a,b\n\"short\n" + strings.Repeat("z", 80) + "\",1\n",
	"名前,値\n\"東京\",1\n",
}

func TestCSVSplitterMatchesEncodingCSV(t *testing.T) {
	for _, tc := range splitCases {
		for _, chunk := range []int{0, 1, 3} {
			splitRef(t, []byte(tc), 64, 256, chunk)
		}
	}
	data := benchCSV(t, 3000)
	splitRef(t, data, DefaultMaxLineBytes, maxCSVRecord, 0)
	splitRef(t, data, DefaultMaxLineBytes, 4096, 777)
}

// FuzzCSVSplitter compares the splitter with encoding/csv on any input,
// with a small line limit and buffer so that refusals and refills happen.
func FuzzCSVSplitter(f *testing.F) {
	for _, tc := range splitCases {
		f.Add([]byte(tc), uint8(5))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		splitRef(t, data, 64, 200, int(chunk%16))
	})
}

// TestCSVReaderMatchesReference imports the same CSV files through the
// import's reader and through the reference one and checks that the
// stored data and fingerprint index are byte for byte the same, or that
// both refuse the file with the same message.
func TestCSVReaderMatchesReference(t *testing.T) {
	var synthCSV bytes.Buffer
	if err := synth.WriteCSV(&synthCSV, 7, 2000); err != nil {
		t.Fatal(err)
	}
	const mixedSpec = `name: mixed
market: ordinary
columns:
  id:    {level: general-1, rule: keep}
  name:  {level: general-2, rule: keep}
  note:  {level: general-3, pi: identity, rule: {hash: {}}}
  n:     {level: general-1, type: int64, rule: keep}
  phone: {level: general-4, pi: identity, rule: {mask: {keep_first: 3, keep_last: 4}}}
`
	mixed := "\ufeffid,name,note,n,phone\r\n" +
		"1,\"Smith, J\",\"said \"\"no\"\"\",5,13912345678\r\n" +
		"\r\n" +
		"2,,\"two\r\nlines\",,\r\n" +
		"3,王小明,,7,13800001111\n" +
		"4,\"\",x,,\"\"\n" +
		"5,e,\"f\",-3,139"
	var long strings.Builder
	long.WriteString("id,name,note,n,phone\n")
	for i := range 500 {
		if i%50 == 0 {
			long.WriteString("9,,,,\n")
			continue
		}
		long.WriteString("7,\"a b\",c" + strings.Repeat("d", i%40) + "," + "12,13900002222\n")
	}
	bad := map[string]string{
		"bare quote":     "id,name,note,n,phone\n1,a\"b,c,1,2\n",
		"open quote":     "id,name,note,n,phone\n1,\"ab,c,1,2\n",
		"after quote":    "id,name,note,n,phone\n1,\"a\"b,c,1,2\n",
		"field count":    "id,name,note,n,phone\n1,a,b,1\n",
		"not utf-8":      "id,name,note,n,phone\n1,a\xff,b,1,2\n",
		"not int":        "id,name,note,n,phone\n1,a,b,x,2\n",
		"long line":      "id,name,note,n,phone\n1,a,b,1," + strings.Repeat("9", 300) + "\n",
		"header only":    "id,name,note,n,phone\n",
		"empty":          "\n\r\n",
		"duplicate name": "id,id,note,n,phone\n1,2,3,4,5\n",
	}
	type input struct {
		name, spec, data string
	}
	inputs := []input{
		{"synthetic", synth.Spec("credit_penalties"), synthCSV.String()},
		{"mixed", mixedSpec, mixed},
		{"nulls across batches", mixedSpec, long.String()},
	}
	for name, data := range bad {
		inputs = append(inputs, input{name, mixedSpec, data})
	}
	for _, in := range inputs {
		for _, batchRows := range []int{7, DefaultBatchRows} {
			t.Run(in.name, func(t *testing.T) {
				e := newEnv(t)
				path := e.write(t, "in.csv", []byte(in.data))
				spec := mustSpec(t, in.spec)
				imp := func(dir string) (*Result, string, error) {
					opts := e.opts(dir)
					opts.BatchRows = batchRows
					opts.MaxLineBytes = 256
					res, err := Import(context.Background(), Source{Path: path, Format: "csv"}, spec, opts)
					if err != nil {
						return nil, "", err
					}
					set, err := OpenFingerprints(context.Background(), opts.Dir, e.kr, "dataset/test@1", res.WrappedKey)
					if err != nil {
						t.Fatal(err)
					}
					var sb strings.Builder
					if _, err := set.WriteTo(&sb); err != nil {
						t.Fatal(err)
					}
					return res, sb.String(), nil
				}
				got, gotSet, gerr := imp("new")
				useReference(t)
				want, wantSet, werr := imp("ref")
				if (gerr == nil) != (werr == nil) {
					t.Fatalf("got error %v, want %v", gerr, werr)
				}
				if werr != nil {
					if !errdefs.IsInvalidArgument(gerr) || gerr.Error() != werr.Error() {
						t.Fatalf("got error %q, want %q", gerr, werr)
					}
					return
				}
				if got.DataSHA256 != want.DataSHA256 || got.Bytes != want.Bytes || got.Rows != want.Rows {
					t.Fatalf("got data %s (%d bytes, %d rows), want %s (%d bytes, %d rows)", got.DataSHA256, got.Bytes, got.Rows, want.DataSHA256, want.Bytes, want.Rows)
				}
				if gotSet != wantSet {
					t.Fatal("got a different fingerprint index, want the same")
				}
			})
		}
	}
}

// useReference makes imports read CSV with the reference reader until
// the test ends.
func useReference(t *testing.T) {
	prev := newCSVSource
	newCSVSource = func(f *os.File, spec *Spec, mem memory.Allocator, batchRows, maxLine int) (batchReader, error) {
		return newRefCSVReader(f, spec, mem, batchRows, maxLine)
	}
	t.Cleanup(func() { newCSVSource = prev })
}

// TestCSVSplitterBounds checks the splitter's refusals of hostile input:
// a line over the line limit is refused before it is buffered whole (at
// its line), and a quoted field that runs over many short lines past the
// record limit is refused at its record, with the buffer kept under the
// limit.
func TestCSVSplitterBounds(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		wantErr  error
		wantLine int
	}{
		{"long line", "a,b\n1,2\n" + strings.Repeat("x", 5000) + "\n", errLineTooLong, 3},
		{"long line at the end", "a,b\n" + strings.Repeat("x", 5000), errLineTooLong, 2},
		{"long record", "a,b\n1,2\n\"" + strings.Repeat("short line\n", 2000) + "\",1\n", errRecordTooLong, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp := newCSVSplitter(&chunkReader{r: strings.NewReader(tc.data), n: 100}, 1024, 4096)
			var err error
			for err == nil {
				err = sp.next()
			}
			var se *csvSplitError
			if !errors.As(err, &se) || !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			line := se.line
			if tc.wantErr == errRecordTooLong {
				line = se.startLine
			}
			if line != tc.wantLine {
				t.Fatalf("got line %d, want %d", line, tc.wantLine)
			}
			if len(sp.buf) > 4096+1 {
				t.Fatalf("got a buffer of %d bytes, want at most the record limit", len(sp.buf))
			}
		})
	}
}

// TestImportRefusesLongRecord imports a CSV whose second record is a
// quoted field of many short lines running past maxCSVRecord: the import
// is refused, naming the record's line and no value, and leaves nothing.
func TestImportRefusesLongRecord(t *testing.T) {
	e := newEnv(t)
	var b bytes.Buffer
	b.WriteString("id,name\n1,a\n2,\"")
	for b.Len() < maxCSVRecord+1024 {
		b.WriteString("secret words\n")
	}
	b.WriteString("\"\n")
	path := e.write(t, "long.csv", b.Bytes())
	spec := mustSpec(t, "name: long\nmarket: ordinary\ncolumns:\n  id: {level: general-1, rule: keep}\n  name: {level: general-1, rule: keep}\n")
	opts := e.opts("v1")
	_, err := Import(context.Background(), Source{Path: path}, spec, opts)
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "record starting at line 3 is longer than") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("got %v, want a refusal of the record at line 3 that names no value", err)
	}
	if _, err := os.Stat(opts.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got the staging directory left behind (%v), want it removed", err)
	}
}

// TestIsASCII checks isASCII against a byte loop with one byte from 0x80
// up at every place of every length around the word size, and none.
func TestIsASCII(t *testing.T) {
	for n := 0; n <= 40; n++ {
		b := bytes.Repeat([]byte{0x7F}, n)
		if !isASCII(b) {
			t.Fatalf("got %d ASCII bytes not ASCII", n)
		}
		for i := range n {
			b[i] = 0x80
			if isASCII(b) {
				t.Fatalf("got %d bytes with 0x80 at %d ASCII", n, i)
			}
			b[i] = 0x7F
		}
	}
}
