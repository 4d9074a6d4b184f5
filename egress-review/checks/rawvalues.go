package checks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/containerd/errdefs"
	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/egress-review/scan"
)

// Column labels of raw-value findings that are not about a table column.
const (
	ColumnFileName   = "(file name)"
	ColumnMetadata   = "(schema metadata)"
	ColumnText       = "(text)"
	ColumnPNGChunks  = "(png text and ancillary chunks)"
	ColumnPNGTrailer = "(bytes after png IEND)"
	ColumnPDFStrings = "(pdf strings)"
)

// RawValues looks for input values in the outputs: every cell
// of Arrow and Parquet files (and their schema and field metadata and field
// names), every token of text files, every string and number of JSON files,
// the text and ancillary chunks of PNG files and anything after IEND, the
// strings of PDF files, and the file names; each canonicalized and also
// decoded where it looks encoded, and looked up in the fingerprint sets of
// the job's inputs. Any hit fails, naming file, column and count.
type RawValues struct {
	table table // Arrow and Parquet reader; set by WithAllocator
}

var _ review.Check = RawValues{}

// Name implements review.Check.
func (RawValues) Name() string { return "raw-values" }

// Version implements review.Check.
func (RawValues) Version() string { return "1" }

// newScanner builds the request's scanner and says which inputs with
// personal information have no fingerprints (fail closed on those).
func newScanner(req *review.Request) (*scan.Scanner, []string, error) {
	sets := make([]*fingerprint.Set, len(req.Inputs))
	var missing []string
	for i, in := range req.Inputs {
		sets[i] = in.Fingerprints
		if in.HasPI && in.Fingerprints == nil {
			missing = append(missing, in.Dataset)
		}
	}
	if req.Hasher == nil {
		return nil, nil, fmt.Errorf("no fingerprint hasher in the request: %w", errdefs.ErrInvalidArgument)
	}
	sc, err := scan.New(req.Hasher, sets)
	return sc, missing, err
}

// hits counts matches per column of one file.
type hits struct {
	order []string
	count map[string]int
}

func (h *hits) add(col string, n int) {
	if n <= 0 {
		return
	}
	if h.count == nil {
		h.count = map[string]int{}
	}
	if _, ok := h.count[col]; !ok {
		h.order = append(h.order, col)
	}
	h.count[col] += n
}

// Run implements review.Check.
func (c RawValues) Run(ctx context.Context, req *review.Request) ([]review.Finding, error) {
	sc, missing, err := newScanner(req)
	if err != nil {
		return nil, err
	}
	var out []review.Finding
	for _, ds := range missing {
		out = append(out, review.Finding{Verdict: review.VerdictFail,
			Evidence: fmt.Sprintf("input %q has personal-information columns but no fingerprint index", ds)})
	}
	if sc.Empty() {
		if len(out) == 0 {
			out = append(out, review.Finding{Verdict: review.VerdictPass, Evidence: "inputs hold no fingerprinted values"})
		}
		return out, nil
	}
	p := req.Params.Effective()
	scanned := 0
	for _, f := range req.Files {
		var h hits
		if sc.Value(f.Name) {
			h.add(ColumnFileName, 1)
		}
		n, err := c.scanFile(ctx, sc, f, p, &h)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			out = append(out, review.Finding{Verdict: review.VerdictFail, File: f.Name, Evidence: "cannot scan file: " + err.Error()})
		}
		scanned += n
		for _, col := range h.order {
			out = append(out, review.Finding{Verdict: review.VerdictFail, File: f.Name, Column: col, Count: h.count[col],
				Evidence: fmt.Sprintf("%d cells or tokens match input fingerprints", h.count[col])})
		}
	}
	if len(out) == 0 {
		out = append(out, review.Finding{Verdict: review.VerdictPass, Count: scanned,
			Evidence: fmt.Sprintf("%d cells and tokens scanned, none matches an input value", scanned)})
	}
	return out, nil
}

// scanFile scans one file by kind and returns how many cells or tokens it
// looked at.
func (c RawValues) scanFile(ctx context.Context, sc *scan.Scanner, f review.File, p review.Params, h *hits) (int, error) {
	st, err := os.Stat(f.Path)
	if err != nil {
		return 0, fmt.Errorf("stat: %w", errdefs.ErrNotFound)
	}
	if st.Size() > p.MaxFileBytes {
		return 0, errTooBig
	}
	kind, err := scanKind(f.Path, f.Name)
	if err != nil {
		return 0, err
	}
	switch kind := scanRoute(kind); {
	case kind.Tabular():
		return scanTable(ctx, c.table, sc, f, kind, p, h)
	case kind == KindJSON:
		return scanJSON(ctx, sc, f.Path, h)
	case kind == KindPNG:
		return scanPNG(sc, f.Path, p.MaxFileBytes, h)
	case kind == KindPDF:
		return scanPDF(sc, f.Path, p.MaxFileBytes, h)
	}
	return scanTextFile(ctx, sc, f.Path, h)
}

// scanRoute returns the kind as which scanFile scans a file of kind k:
// tables, JSON, PNG and PDF as themselves, anything else as text (other
// text kinds, and kinds that may not leave, which the file-type check
// fails, scanned anyway so that the findings say what they carry).
func scanRoute(k Kind) Kind {
	switch {
	case k.Tabular(), k == KindJSON, k == KindPNG, k == KindPDF:
		return k
	}
	return KindText
}

func scanTextFile(ctx context.Context, sc *scan.Scanner, path string, h *hits) (int, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open: %w", errdefs.ErrNotFound)
	}
	defer fh.Close()
	return scanText(ctx, sc.NewText(), fh, textChunk, h)
}

// textChunk is how much of a text file scanText reads at a time.
const textChunk = 256 << 10

// scanText scans the text of r a chunk of size bytes at a time, each cut
// after its last newline, and returns how many lines it scanned. Text finds
// in a chunk of whole lines what it finds in each line, since a newline
// ends tokens and windows of joined tokens alike. A line longer than a
// chunk is scanned in pieces cut at pieceCut, each counted as a line.
func scanText(ctx context.Context, ts *scan.TextScanner, r io.Reader, size int, h *hits) (int, error) {
	buf := make([]byte, size)
	lines, k := 0, 0 // k: bytes carried to the start of buf
	for {
		n, err := io.ReadFull(r, buf[k:])
		data := buf[:k+n]
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return lines, fmt.Errorf("read: %w", errdefs.ErrDataLoss)
		}
		cut := len(data)
		if !eof {
			if nl := bytes.LastIndexByte(data, '\n'); nl >= 0 {
				cut = nl + 1
			} else {
				cut = pieceCut(data)
				lines++ // a piece of a long line
			}
			if cut == 0 {
				cut = len(data) // (only with chunks shorter than maxCut)
			}
		}
		lines += bytes.Count(data[:cut], []byte{'\n'})
		if eof && cut > 0 && data[cut-1] != '\n' {
			lines++ // the last line, without a newline
		}
		h.add(ColumnText, ts.Text(data[:cut]))
		if eof {
			return lines, nil
		}
		k = copy(buf, data[cut:])
		if ctx.Err() != nil {
			return lines, ctx.Err()
		}
	}
}

// What pieceCut keeps of a piece for the next one: at most maxCut bytes
// after a cut point, or maxCarry bytes when there is none.
const (
	maxCut   = 64 << 10
	maxCarry = 4 << 10
)

// pieceCut returns where to cut a piece of a long line: at its last ASCII
// separator other than space and tab (within maxCut bytes of its end),
// which neither tokens nor windows of joined tokens cross (see
// scan.Scanner.Text). Without one, it keeps the last maxCarry bytes from a
// space or tab, so that only a token longer than that, or windows reaching
// further back, can be split.
func pieceCut(p []byte) int {
	for i := len(p) - 1; i >= max(len(p)-maxCut, 0); i-- {
		if b := p[i]; b < utf8.RuneSelf && b != ' ' && b != '\t' && !scan.TokenByte(b) {
			return i
		}
	}
	i := max(len(p)-maxCarry, 0)
	for i < len(p) && p[i] != ' ' && p[i] != '\t' {
		i++
	}
	return i
}

func scanJSON(ctx context.Context, sc *scan.Scanner, path string, h *hits) (int, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open: %w", errdefs.ErrNotFound)
	}
	defer fh.Close()
	dec := json.NewDecoder(bufio.NewReader(fh))
	dec.UseNumber()
	n := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("json: %w", errdefs.ErrDataLoss)
		}
		var s string
		switch v := tok.(type) {
		case string:
			s = v
		case json.Number:
			s = string(v)
		default:
			continue
		}
		n++
		if sc.Value(s) {
			h.add(ColumnText, 1)
		}
		if n%65536 == 0 && ctx.Err() != nil {
			return n, ctx.Err()
		}
	}
}

// scanTable scans the schema, field names and metadata and every cell.
func scanTable(ctx context.Context, t table, sc *scan.Scanner, f review.File, kind Kind, p review.Params, h *hits) (int, error) {
	cells := 0
	ts := sc.NewText()
	var fields []arrow.Field
	// The cell scan keeps nothing of a batch (the memos copy what they
	// keep), so the batches can come from a mapping of the file.
	schema, err := t.forEachMapped(ctx, f.Path, kind, p.MaxFileBytes, func(rec arrow.RecordBatch) error {
		if fields == nil {
			fields = rec.Schema().Fields()
		}
		var cs cellScanner
		cs.sc = sc
		cs.ts = ts
		for i, col := range rec.Columns() {
			cs.n = 0
			cs.hits = 0
			cs.array(col)
			if cs.err != nil {
				return cs.err
			}
			cells += cs.n
			name := "#" + strconv.Itoa(i)
			if i < len(fields) {
				name = fields[i].Name
			}
			h.add(name, cs.hits)
		}
		return nil
	})
	if err != nil {
		return cells, err
	}
	md := schema.Metadata()
	for i, k := range md.Keys() {
		if sc.Value(k) || sc.Value(md.Values()[i]) {
			h.add(ColumnMetadata, 1)
		}
	}
	for _, fld := range schema.Fields() {
		if sc.Value(fld.Name) {
			h.add(fld.Name, 1)
		}
		for i, k := range fld.Metadata.Keys() {
			if sc.Value(k) || sc.Value(fld.Metadata.Values()[i]) {
				h.add(fld.Name, 1)
			}
		}
	}
	return cells, nil
}

// cellScanner scans the cells of one array, recursing into nested types and
// dictionaries.
type cellScanner struct {
	sc   *scan.Scanner
	ts   *scan.TextScanner // memo of short cells
	n    int
	hits int
	err  error // a malformed array: the file cannot be scanned
}

func (c *cellScanner) array(a arrow.Array) {
	switch a := a.(type) {
	case *array.String:
		if a.NullN() == 0 {
			var data []byte
			if b := a.Data().Buffers()[2]; b != nil {
				data = b.Bytes()
			}
			n, err := c.ts.Strings(a.ValueOffsets(), data)
			if err != nil {
				c.err = err
				return
			}
			c.n += a.Len()
			c.hits += n
			return
		}
		for i := 0; i < a.Len(); i++ {
			if a.IsValid(i) {
				c.str(a.Value(i))
			}
		}
	case *array.LargeString:
		for i := 0; i < a.Len(); i++ {
			if a.IsValid(i) {
				c.str(a.Value(i))
			}
		}
	case *array.StringView:
		for i := 0; i < a.Len(); i++ {
			if a.IsValid(i) {
				c.str(a.Value(i))
			}
		}
	case *array.Binary:
		for i := 0; i < a.Len(); i++ {
			if a.IsValid(i) {
				c.bytes(a.Value(i))
			}
		}
	case *array.LargeBinary:
		for i := 0; i < a.Len(); i++ {
			if a.IsValid(i) {
				c.bytes(a.Value(i))
			}
		}
	case *array.BinaryView:
		for i := 0; i < a.Len(); i++ {
			if a.IsValid(i) {
				c.bytes(a.Value(i))
			}
		}
	case *array.FixedSizeBinary:
		for i := 0; i < a.Len(); i++ {
			if a.IsValid(i) {
				c.bytes(a.Value(i))
			}
		}
	case *array.Int64:
		vs := a.Int64Values()
		if a.NullN() == 0 {
			c.hits += c.sc.Ints(vs)
			c.n += len(vs)
			return
		}
		for i, v := range vs {
			if a.IsValid(i) {
				c.int(v)
			}
		}
	case *array.Int32:
		for i, v := range a.Int32Values() {
			if a.IsValid(i) {
				c.int(int64(v))
			}
		}
	case *array.Uint64:
		for i, v := range a.Uint64Values() {
			if a.IsValid(i) {
				c.n++
				if c.sc.Uint(v) {
					c.hits++
				}
			}
		}
	case *array.Uint32:
		for i, v := range a.Uint32Values() {
			if a.IsValid(i) {
				c.int(int64(v))
			}
		}
	case *array.Int16, *array.Int8, *array.Uint16, *array.Uint8, *array.Boolean, *array.Null:
		// Too short to hold an identifier of MinDigits digits in full,
		// and too few distinct values to be a value of the index alone.
		c.n += a.Len()
	case *array.Float64:
		vs := a.Float64Values()
		if a.NullN() == 0 {
			c.hits += c.sc.Floats(vs)
			c.n += len(vs)
			return
		}
		for i, v := range vs {
			if a.IsValid(i) {
				c.float(v)
			}
		}
	case *array.Float32:
		for i, v := range a.Float32Values() {
			if a.IsValid(i) {
				c.float(float64(v))
			}
		}
	case *array.Dictionary:
		c.array(a.Dictionary())
	case array.ListLike:
		c.array(a.ListValues())
	case *array.Struct:
		for i := 0; i < a.NumField(); i++ {
			c.array(a.Field(i))
		}
	case array.Union:
		for i := 0; i < a.NumFields(); i++ {
			c.array(a.Field(i))
		}
	case *array.RunEndEncoded:
		c.array(a.Values())
	case array.ExtensionArray:
		c.array(a.Storage())
	default:
		for i := 0; i < a.Len(); i++ {
			if s, ok := fingerprint.CellString(a, i); ok {
				c.str(s)
			}
		}
	}
}

func (c *cellScanner) str(s string) {
	c.n++
	if c.ts.Value(s) {
		c.hits++
	}
}

func (c *cellScanner) bytes(b []byte) {
	c.n++
	if c.sc.Bytes(b) {
		c.hits++
	}
}

func (c *cellScanner) int(v int64) {
	c.n++
	if c.sc.Int(v) {
		c.hits++
	}
}

func (c *cellScanner) float(v float64) {
	c.n++
	if c.sc.Float(v) {
		c.hits++
	}
}
