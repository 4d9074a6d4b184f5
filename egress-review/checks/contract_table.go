package checks

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	review "github.com/enclave-dev/enclave/egress-review"
)

// outCol is one column of an output table as the contract reads it.
type outCol struct {
	name    string
	stat    string // declared statistic, "label" or ""
	isLabel bool   // read as labels (codes), else as numbers (nums)
	bad     string // a type the contract cannot judge, for evidence
	// Labels: a code per row (-1 for null) into dict.
	codes []int32
	dict  []string
	index *internTable
	// whether some code may be -1 (a null): false means none is
	maybeNull bool
	// the last label looked up (aggregates repeat their outer labels):
	// its key when short (see pack; lastW1 is 0 when none), else itself
	lastW0, lastW1 uint64
	last           string
	hasLast        bool
	lastCode       int32
	keys           [][2]uint64 // per code: its key when short (see pack), else zeros
	nums           []float64   // NaN for null or suppressed
	notNum         int         // cells of a statistic column that are not numbers
	// the digits of nums as they were read (see roundedAs), for the
	// statistics whose rounding is judged
	digits digitCount
	// per code: whether the label is a total (see wild), and its number
	// when it reads as one (see ordered)
	totals  []bool
	numbers []labelNumber
}

// labelNumber is a label read as a number, if it reads as one.
type labelNumber struct {
	v  float64
	ok bool
}

// wild reports whether the label of row r stands for every value of its
// column: null or a total.
func (c *outCol) wild(r int) bool {
	if len(c.totals) != len(c.dict) {
		c.findTotals()
	}
	k := c.codes[r]
	return k < 0 || c.totals[k]
}

func (c *outCol) findTotals() {
	c.totals = make([]bool, len(c.dict))
	for i, s := range c.dict {
		c.totals[i] = totalLabel(s)
	}
}

// ranks returns the place of each label in the order that ordered
// compares labels by (as numbers when both read as numbers, else as
// strings; equal labels share a place), or nil when the column mixes
// labels that read as numbers with labels that do not: that comparison is
// then no order of all the labels (1e1 < 5a < 9 < 1e1), and rows are
// compared label by label.
func (c *outCol) ranks() []int32 {
	nums := 0
	for k := range c.dict {
		if _, ok := c.number(int32(k)); ok {
			nums++
		}
	}
	if nums != 0 && nums != len(c.dict) {
		return nil
	}
	cmpCodes := func(a, b int32) int {
		if nums > 0 {
			x, _ := c.number(a)
			y, _ := c.number(b)
			return cmpFloat(x, y)
		}
		return strings.Compare(c.dict[a], c.dict[b])
	}
	order := make([]int32, len(c.dict))
	for k := range order {
		order[k] = int32(k)
	}
	slices.SortFunc(order, cmpCodes)
	ranks := make([]int32, len(c.dict))
	for i, k := range order {
		ranks[k] = int32(i)
		if i > 0 && cmpCodes(order[i-1], k) == 0 {
			ranks[k] = ranks[order[i-1]]
		}
	}
	return ranks
}

// number returns label k read as a number.
func (c *outCol) number(k int32) (float64, bool) {
	if len(c.numbers) != len(c.dict) {
		c.numbers = make([]labelNumber, len(c.dict))
		for i, s := range c.dict {
			v, err := strconv.ParseFloat(s, 64)
			c.numbers[i] = labelNumber{v, err == nil}
		}
	}
	n := c.numbers[k]
	return n.v, n.ok
}

// errTooManyRows stops reading an output table with more rows than groups
// of the inputs can make.
var errTooManyRows = errors.New("too many rows")

// suppressed are the spellings of a suppressed cell in a CSV.
func suppressed(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "na", "nan", "null", "none", "*", "-", "x", "suppressed", "..":
		return true
	}
	return strings.HasPrefix(strings.TrimSpace(s), "<")
}

// tableFile judges one output table.
func (c Contract) tableFile(ctx context.Context, req *review.Request, pr *profile, f review.File, kind Kind, mf ManifestFile, declared map[string]bool, p review.Params) []review.Finding {
	var out []review.Finding
	fail := func(col, ev string, n int) {
		out = append(out, review.Finding{Verdict: review.VerdictFail, File: f.Name, Column: col, Count: n, Evidence: ev})
	}
	if len(pr.tables) == 0 {
		fail("", "the inputs' rows cannot be read, so no cell of a table can be traced to a group of input records", 0)
		return out
	}
	maxRows := max(1, pr.rows/p.MinCell)
	statOf := func(name string, md arrow.Metadata) string {
		if s := metaGet(md, MarkStat); s != "" {
			return s
		}
		if s := mf.Columns[name].Stat; s != "" {
			return s
		}
		return StatOf(name)
	}
	inputMarks := map[string]bool{}
	for _, in := range req.Inputs {
		for k, v := range in.Marks {
			inputMarks[k+"\x00"+v] = true
		}
	}
	var cols []*outCol
	rows := 0
	names := pr.textRule(p)
	var meta textCost
	addRows := func(n int) error {
		rows += n
		if rows > maxRows {
			return errTooManyRows
		}
		return nil
	}
	var err error
	switch kind {
	case KindCSV:
		err = csvTable(ctx, f.Path, func(hdr, cells []string) {
			if cols == nil {
				for _, h := range hdr {
					h = strings.TrimSpace(h)
					s := statOf(h, arrow.Metadata{})
					cols = append(cols, &outCol{name: h, stat: s, isLabel: s == "" || s == "label"})
					names.line(&meta, []byte(h), 1)
				}
			}
			if rows > maxRows {
				return
			}
			rows++
			for j, col := range cols {
				v := ""
				if j < len(cells) {
					v = cells[j]
				}
				col.addString(v)
			}
		})
		if err == nil && rows > maxRows {
			err = errTooManyRows
		}
	default:
		var sc *arrow.Schema
		// outCol copies what it keeps of a batch: the batches may be read
		// from a mapping of the file
		sc, err = c.table.forEachMapped(ctx, f.Path, kind, p.MaxFileBytes, func(rec arrow.RecordBatch) error {
			if cols == nil {
				for _, fl := range rec.Schema().Fields() {
					s := statOf(fl.Name, fl.Metadata)
					col := &outCol{name: fl.Name, stat: s}
					col.isLabel, col.bad = columnRole(fl.Type, s)
					cols = append(cols, col)
					names.line(&meta, []byte(fl.Name), 1)
					chargeMetadata(names, &meta, fl.Metadata, inputMarks)
				}
			}
			if err := addRows(int(rec.NumRows())); err != nil {
				return err
			}
			for j, col := range cols {
				col.addArrow(rec.Column(j))
			}
			return nil
		})
		if err == nil && sc != nil {
			chargeMetadata(names, &meta, sc.Metadata(), inputMarks)
		}
		if err == nil && kind == KindParquet {
			err = parquetMetadata(f.Path, func(md arrow.Metadata) { chargeMetadata(names, &meta, md, inputMarks) })
		}
		if err == nil && kind == KindParquet {
			if why := parquetStatistics(f.Path, cols); why != "" {
				fail("", why, 0)
				return out
			}
		}
	}
	switch {
	case errors.Is(err, errTooManyRows):
		fail("", fmt.Sprintf("more than %d rows: a table whose rows stand for groups of at least %d input records has at most the inputs' rows / %d", maxRows, p.MinCell, p.MinCell), rows)
		return out
	case err != nil:
		fail("", "cannot read table: "+err.Error(), 0)
		return out
	}
	if meta.bits > p.TextBudgetBits/4 {
		fail("", fmt.Sprintf("column names and metadata carry %.0f bits of identifier-like tokens, over %.0f: %s", meta.bits, p.TextBudgetBits/4, meta.evidence()), 0)
	}
	t := &outTable{file: f.Name, cols: cols, rows: rows, pr: pr, p: p, declared: declared}
	defer func() {
		// the findings keep no cell: the columns' rows go back to the pool
		for _, c := range cols {
			poolInt32.put(c.codes)
			poolFloat64.put(c.nums)
			c.codes, c.nums = nil, nil
		}
	}()
	out = append(out, t.judge()...)
	if len(out) == 0 {
		out = append(out, review.Finding{Verdict: review.VerdictPass, File: f.Name,
			Evidence: fmt.Sprintf("%d rows, each a group of at least %d input records; every cell a label or a statistic traced to the inputs", rows, p.MinCell)})
	}
	return out
}

// chargeMetadata charges the keys and values of Arrow metadata (the
// values only of enclave marks), except marks copied from an input (the
// same key and value among the inputs' marks; inputMarks holds key NUL
// value) and arrow-go's own serialized schema in a Parquet file (whose
// metadata is read as the schema's).
func chargeMetadata(r *textRule, c *textCost, md arrow.Metadata, inputMarks map[string]bool) {
	for i, k := range md.Keys() {
		if k == "ARROW:schema" {
			continue
		}
		v := md.Values()[i]
		if strings.HasPrefix(k, "enclave.") && inputMarks[k+"\x00"+v] {
			continue // a mark copied from an input (its source, its digest)
		}
		if !strings.HasPrefix(k, "enclave.") {
			r.line(c, []byte(k), 1)
		}
		if startsJSON([]byte(v)) && r.json(c, []byte(v)) == nil {
			continue // pandas and other tools' metadata, decoded
		}
		r.line(c, []byte(v), 1)
	}
}

// columnRole says how a column of Arrow type t with statistic stat is read:
// as labels, as numbers, or not at all (bad names the type).
func columnRole(t arrow.DataType, stat string) (label bool, bad string) {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.BOOL, arrow.DATE32, arrow.DATE64:
		return stat == "" || stat == "label", ""
	case arrow.DICTIONARY:
		if d, ok := t.(*arrow.DictionaryType); ok && (d.ValueType.ID() == arrow.STRING || d.ValueType.ID() == arrow.LARGE_STRING) {
			return stat == "" || stat == "label", ""
		}
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return stat == "label", ""
	case arrow.FLOAT32, arrow.FLOAT64:
		if stat == "label" {
			return false, t.String() + " labels"
		}
		return false, ""
	case arrow.NULL:
		return true, ""
	}
	return false, t.String()
}

// code returns the code of label v in the column's dictionary, adding it
// (a copy: v may point into a record batch's buffers) when new. The rows
// of an aggregate repeat their outer labels and cycle through their inner
// ones in order: a short label is compared with the last one, the one
// after it and the first by its key before it is looked up.
func (c *outCol) code(v string) int32 {
	if len(v) <= maxPacked {
		w0, w1 := pack(v)
		if w1 == c.lastW1 && w0 == c.lastW0 {
			return c.lastCode
		}
		return c.codeOf(v, w0, w1)
	}
	if c.hasLast && v == c.last {
		return c.lastCode
	}
	return c.codeOf(v, 0, 0)
}

// codeOf is code for a label that is not the last one, with its key when
// short (w1 is 0 when long).
func (c *outCol) codeOf(v string, w0, w1 uint64) int32 {
	var k int32
	var ok bool
	if w1 != 0 {
		key := [2]uint64{w0, w1}
		switch next := int(c.lastCode) + 1; {
		case next < len(c.keys) && c.keys[next] == key:
			k, ok = int32(next), true
		case len(c.keys) > 0 && c.keys[0] == key:
			k, ok = 0, true
		default:
			k, ok = c.index.getPacked(w0, w1)
		}
	} else {
		k, ok = c.index.get(v)
	}
	if !ok {
		if c.index == nil {
			c.index = &internTable{}
		}
		v = strings.Clone(v)
		k = int32(len(c.dict))
		c.index.put(v, k)
		c.dict = append(c.dict, v)
		c.keys = append(c.keys, [2]uint64{w0, w1})
	}
	if w1 != 0 {
		c.lastW0, c.lastW1, c.hasLast = w0, w1, false
	} else {
		c.lastW1, c.last, c.hasLast = 0, c.dict[k], true
	}
	c.lastCode = k
	return k
}

// label returns the label of row r ("" when null).
func (c *outCol) label(r int) (string, bool) {
	if k := c.codes[r]; k >= 0 {
		return c.dict[k], true
	}
	return "", false
}

func (c *outCol) addString(v string) {
	v = strings.TrimSpace(v)
	if c.isLabel {
		if v == "" {
			c.codes, c.maybeNull = append(c.codes, -1), true
		} else {
			c.codes = append(c.codes, c.code(v))
		}
		return
	}
	if suppressed(v) {
		c.nums = append(c.nums, math.NaN())
		return
	}
	if c.stat == "share" {
		v = strings.TrimSuffix(v, "%") // 12.5%
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		c.notNum++
		x = math.NaN()
	}
	c.nums = append(c.nums, x)
}

func (c *outCol) addArrow(a arrow.Array) {
	if c.bad != "" {
		return
	}
	n := a.Len()
	if c.isLabel {
		if c.codes == nil {
			c.codes = poolInt32.get(n)
		}
		c.codes = slices.Grow(c.codes, n)
		switch a := a.(type) {
		case *array.String:
			c.addStrings(a)
		case *array.Dictionary:
			// one lookup per dictionary entry, not per row
			d := a.Dictionary()
			dcodes := make([]int32, d.Len())
			for k := range dcodes {
				dcodes[k] = -1
				c.maybeNull = true // (a valid index may point at it)
				if d.IsValid(k) {
					dcodes[k] = c.code(cellString(d, k))
				}
			}
			for i := 0; i < n; i++ {
				if a.IsNull(i) {
					c.codes, c.maybeNull = append(c.codes, -1), true
				} else {
					c.codes = append(c.codes, dcodes[a.GetValueIndex(i)])
				}
			}
		default:
			for i := 0; i < n; i++ {
				if a.IsNull(i) {
					c.codes, c.maybeNull = append(c.codes, -1), true
				} else {
					c.codes = append(c.codes, c.code(cellString(a, i)))
				}
			}
		}
		return
	}
	nullable := a.NullN() > 0
	if c.nums == nil {
		c.nums = poolFloat64.get(n)
	}
	c.nums = slices.Grow(c.nums, n)
	from := len(c.nums)
	switch a := a.(type) {
	case *array.Int64:
		dst := c.nums[from : from+n]
		for i, v := range a.Int64Values()[:n] {
			dst[i] = float64(v)
		}
		c.nums = c.nums[:from+n]
		if nullable {
			c.nullsNaN(a, dst)
		}
		return
	case *array.Float64:
		c.nums = append(c.nums, a.Float64Values()[:n]...)
		dst := c.nums[from:]
		if nullable {
			c.nullsNaN(a, dst)
		}
		// NaN (a null) and infinities (not numbers) have every bit of
		// the exponent set: one test per cell finds both
		const exp = 0x7ff << 52
		for i, v := range dst {
			if math.Float64bits(v)&exp == exp {
				if math.IsInf(v, 0) {
					c.notNum++
				}
				dst[i] = math.NaN()
			}
		}
		if c.digits.n == from && roundingJudged(c.stat) {
			c.digits.add(dst)
		}
		return
	}
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			c.nums = append(c.nums, math.NaN())
			continue
		}
		if sa, ok := a.(*array.String); ok {
			c.addString(sa.Value(i))
			continue
		}
		v, ok := numeric64(a, i)
		if !ok || math.IsInf(v, 0) {
			c.notNum++
			v = math.NaN()
		}
		c.nums = append(c.nums, v)
	}
}

// nullsNaN writes NaN in dst over the cells of a that are null.
func (c *outCol) nullsNaN(a arrow.Array, dst []float64) {
	for i := range dst {
		if a.IsNull(i) {
			dst[i] = math.NaN()
		}
	}
}

// addStrings appends the codes of the labels of a (see code). A label of
// at most maxPacked bytes is keyed as pack keys it, from the two words at
// its offset masked to its length (its last 16 bytes of a buffer aside,
// which pack reads), and compared with the last label inline. Each cell's
// bytes are sliced from the offsets, bounds checked as Value checks them.
func (c *outCol) addStrings(a *array.String) {
	n := a.Len()
	offs, data := a.ValueOffsets(), a.ValueBytes()
	offs = offs[:n+1]
	base := int(offs[0])
	nulls := a.NullN() > 0
	codes := c.codes[len(c.codes) : len(c.codes)+n]
	if !nulls && len(data) >= 16 && offsetsInOrder(offs) {
		c.addStringsInOrder(codes, offs, data)
		c.codes = c.codes[:len(c.codes)+n]
		return
	}
	lastW0, lastW1, lastCode := c.lastW0, c.lastW1, c.lastCode
	o1 := 0
	for i := range codes {
		o0 := o1
		o1 = int(offs[i+1]) - base
		if nulls && a.IsNull(i) {
			codes[i], c.maybeNull = -1, true
			continue
		}
		b := data[o0:o1]
		m := len(b)
		v := unsafe.String(unsafe.SliceData(b), m)
		if m > maxPacked {
			c.lastW0, c.lastW1, c.lastCode = lastW0, lastW1, lastCode
			codes[i] = c.code(v)
			lastW0, lastW1, lastCode = c.lastW0, c.lastW1, c.lastCode
			continue
		}
		var w0, w1 uint64
		if o0 <= len(data)-16 {
			w := data[o0 : o0+16]
			mk := &packMasks[m&maxPacked]
			w0 = binary.LittleEndian.Uint64(w) & mk[0]
			w1 = binary.LittleEndian.Uint64(w[8:])&mk[1] | mk[2]
		} else {
			w0, w1 = pack(v)
		}
		if w1 == lastW1 && w0 == lastW0 {
			codes[i] = lastCode
			continue
		}
		// the label after the last one (inner labels cycle in order), as
		// codeOf would find it first
		if next := int(lastCode) + 1; next < len(c.keys) && c.keys[next] == [2]uint64{w0, w1} {
			codes[i] = int32(next)
			lastW0, lastW1, lastCode = w0, w1, int32(next)
			c.hasLast = false
			continue
		}
		c.lastW0, c.lastW1, c.lastCode = lastW0, lastW1, lastCode
		codes[i] = c.codeOf(v, w0, w1)
		lastW0, lastW1, lastCode = c.lastW0, c.lastW1, c.lastCode
	}
	c.lastW0, c.lastW1, c.lastCode = lastW0, lastW1, lastCode
	c.codes = c.codes[:len(c.codes)+n]
}

// offsetsInOrder reports whether offs never go down: the cells' bytes, from
// offs[i] to offs[i+1] less offs[0], then all lie in the values' bytes,
// which run from offs[0] to the last offset.
func offsetsInOrder(offs []int32) bool {
	for i := 1; i < len(offs); i++ {
		if offs[i] < offs[i-1] {
			return false
		}
	}
	return true
}

// addStringsInOrder is addStrings for cells without nulls whose offsets are
// in order (so every cell's bytes lie in data): a short label's two words
// are read where it starts without bounds checks, its first 16 bytes
// being in data.
func (c *outCol) addStringsInOrder(codes []int32, offs []int32, data []byte) {
	codes = codes[:len(offs)-1]
	base := int(offs[0])
	p := unsafe.Pointer(unsafe.SliceData(data))
	end := len(data) - 16 // the last start of 16 bytes in data
	lastW0, lastW1, lastCode := c.lastW0, c.lastW1, c.lastCode
	o1 := 0
	for i, next := range offs[1:] {
		o0 := o1
		o1 = int(next) - base
		m := o1 - o0
		if m > maxPacked || o0 > end {
			v := string(data[o0:o1]) // a copy: rare (long labels, the last bytes)
			c.lastW0, c.lastW1, c.lastCode = lastW0, lastW1, lastCode
			codes[i] = c.code(v)
			lastW0, lastW1, lastCode = c.lastW0, c.lastW1, c.lastCode
			continue
		}
		w := (*[16]byte)(unsafe.Add(p, o0))
		mk := &packMasks[m&maxPacked]
		w0 := binary.LittleEndian.Uint64(w[:8]) & mk[0]
		w1 := binary.LittleEndian.Uint64(w[8:])&mk[1] | mk[2]
		if w1 == lastW1 && w0 == lastW0 {
			codes[i] = lastCode
			continue
		}
		if k := int(lastCode) + 1; k < len(c.keys) && c.keys[k] == [2]uint64{w0, w1} {
			codes[i] = int32(k)
			lastW0, lastW1, lastCode = w0, w1, int32(k)
			c.hasLast = false
			continue
		}
		c.lastW0, c.lastW1, c.lastCode = lastW0, lastW1, lastCode
		codes[i] = c.codeOf(unsafe.String((*byte)(unsafe.Add(p, o0)), m), w0, w1)
		lastW0, lastW1, lastCode = c.lastW0, c.lastW1, c.lastCode
	}
	c.lastW0, c.lastW1, c.lastCode = lastW0, lastW1, lastCode
}

// packMasks are, per length of a value up to maxPacked, the masks of its
// bytes in the two words at its offset and the length bits of its key (see
// pack).
var packMasks = func() (t [maxPacked + 1][3]uint64) {
	for m := range t {
		for i := range m {
			t[m][i/8] |= 0xff << (8 * (i % 8))
		}
		t[m][2] = uint64(m)<<56 | 1<<63
	}
	return t
}()

// roundingJudged reports whether the cells of a statistic are matched to
// their figures as rounded (see roundedAs).
func roundingJudged(stat string) bool {
	switch stat {
	case "sum", "mean", "std", "share":
		return true
	}
	return false
}

// parquetMetadata calls fn with the key-value metadata of a Parquet file's
// footer (which the Arrow schema does not always carry).
func parquetMetadata(path string, fn func(arrow.Metadata)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet footer cannot be read")
		}
	}()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return fmt.Errorf("parquet footer cannot be read")
	}
	defer pf.Close()
	kv := pf.MetaData().KeyValueMetadata()
	fn(arrow.NewMetadata(kv.Keys(), kv.Values()))
	return nil
}

// parquetStatistics checks the statistics a Parquet file's footer keeps
// for each column chunk (a writer chooses them: they are a place to hide
// values): every minimum and maximum must be a value of the column, null
// counts must add up to the column's nulls, and no distinct count or page
// index may be set. It returns why the file fails, or "".
func parquetStatistics(path string, cols []*outCol) (why string) {
	defer func() {
		if r := recover(); r != nil {
			why = "parquet statistics cannot be read"
		}
	}()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return "parquet footer cannot be read"
	}
	defer pf.Close()
	byName := map[string]*outCol{}
	for _, c := range cols {
		byName[c.name] = c
	}
	nums := map[*outCol]map[float64]bool{}
	holds := func(c *outCol, v any) bool {
		switch v := v.(type) {
		case string:
			if c.isLabel {
				_, ok := c.index.get(v)
				return ok
			}
			return false
		case bool:
			_, ok := c.index.get(strconv.FormatBool(v))
			return ok
		case float64:
			if c.isLabel {
				_, ok := c.index.get(strconv.FormatFloat(v, 'f', -1, 64))
				return ok
			}
			set := nums[c]
			if set == nil {
				set = map[float64]bool{}
				for _, x := range c.nums {
					set[x] = true
				}
				nums[c] = set
			}
			return set[v]
		}
		return false
	}
	md := pf.MetaData()
	nullsOf := map[*outCol]int64{}
	for g := 0; g < md.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		for j := 0; j < rg.NumColumns(); j++ {
			cc, err := rg.ColumnChunk(j)
			if err != nil {
				return "parquet column chunk metadata cannot be read"
			}
			if cc.GetColumnIndexLocation() != nil {
				return "parquet file holds a page index (per-page minima and maxima)"
			}
			path := cc.PathInSchema()
			c := byName[path[len(path)-1]]
			if c == nil || len(path) != 1 {
				return "parquet column chunk of a column the table does not have"
			}
			set, err := cc.StatsSet()
			if err != nil {
				return "parquet statistics cannot be read"
			}
			if !set {
				continue
			}
			st, err := cc.Statistics()
			if err != nil || st == nil {
				return "parquet statistics cannot be read"
			}
			if st.HasDistinctCount() {
				return "parquet statistics hold a distinct count"
			}
			if st.HasNullCount() {
				nullsOf[c] += st.NullCount()
			}
			if !st.HasMinMax() {
				continue
			}
			var lo, hi any
			switch st := st.(type) {
			case *metadata.Int32Statistics:
				lo, hi = float64(st.Min()), float64(st.Max())
			case *metadata.Int64Statistics:
				lo, hi = float64(st.Min()), float64(st.Max())
			case *metadata.Float32Statistics:
				lo, hi = float64(st.Min()), float64(st.Max())
			case *metadata.Float64Statistics:
				lo, hi = st.Min(), st.Max()
			case *metadata.ByteArrayStatistics:
				lo, hi = string(st.Min()), string(st.Max())
			case *metadata.BooleanStatistics:
				lo, hi = st.Min(), st.Max()
			default:
				return "parquet statistics of a type the contract does not read"
			}
			if !holds(c, lo) || !holds(c, hi) {
				return fmt.Sprintf("parquet statistics of column %q hold a minimum or maximum that is not a value of the column", c.name)
			}
		}
	}
	for c, n := range nullsOf {
		var have int64
		if c.isLabel {
			for _, k := range c.codes {
				if k < 0 {
					have++
				}
			}
		} else {
			for _, v := range c.nums {
				if math.IsNaN(v) {
					have++
				}
			}
		}
		if n != have {
			return fmt.Sprintf("parquet statistics of column %q count nulls the column does not have", c.name)
		}
	}
	return ""
}
