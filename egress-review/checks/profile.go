package checks

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/containerd/errdefs"
	review "github.com/enclave-dev/enclave/egress-review"
)

// maxCategories is the most distinct values an input column may hold and
// still be a source of labels and groups; a column with more is kept only
// for its numbers (if any).
const maxCategories = 1 << 16

// inputCol is one column of an input dataset version, as the contract
// needs it: the category of each row (codes into dict) when the column has
// few enough distinct values, and the number of each row when it is
// numeric.
type inputCol struct {
	name  string
	pi    bool // marked as personal information (enclave.pi)
	dict  []string
	index *internTable
	codes []int32   // per row; -1 for null; nil when not categorical
	nums  []float64 // per row; NaN for null; nil when not numeric
}

// inputTable is one input dataset version's rows, by column.
type inputTable struct {
	name string
	rows int
	cols []*inputCol
	cube *cube // the records grouped by the small categorical columns, or nil
}

// profile is what the contract knows of a request's inputs: their rows,
// the labels (values that occur at least MinCell times in a category
// column: one without a personal-information mark and with at most
// MaxLabels distinct values) and the names of their columns.
type profile struct {
	tables []*inputTable
	labels map[string]bool
	words  map[string]bool // the ASCII tokens of labels and column names, for the text rule
	// wordStarts has, per first byte of the words (lower case), a bit per
	// length (at most 63)
	wordStarts [256]uint64
	// short holds the words of at most 8 bytes again, for lookups with no
	// call or hashing of bytes
	short   shortWords
	names   map[string]bool
	rows    int  // rows of the largest input
	missing bool // some input's rows could not be read
}

// isLabel reports whether s is a label of the inputs: a value that occurs
// at least MinCell times in one of their columns, or a column name.
func (p *profile) isLabel(s string) bool {
	return p.labels[s] || p.names[strings.ToLower(s)]
}

// isWord reports whether a text token (ASCII, as the text rule's tokens
// are) is (part of) a label or name. The text rule asks it of most numbers
// of a long text, so it allocates nothing, most tokens that are no word
// are told by their first byte and length alone, and short ones are
// looked up in p.short.
func (p *profile) isWord(tok []byte) bool {
	if len(tok) == 0 {
		return false
	}
	first := tok[0]
	if 'A' <= first && first <= 'Z' {
		first += 'a' - 'A'
	}
	if p.wordStarts[first]>>min(len(tok), 63)&1 == 0 {
		return false
	}
	if len(tok) <= 8 {
		var k uint64
		for _, c := range tok {
			if c == 0 {
				return p.words[strings.ToLower(string(tok))]
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			k = k<<8 | uint64(c)
		}
		return p.short.has(k)
	}
	var buf [64]byte
	if len(tok) > len(buf) {
		return p.words[strings.ToLower(string(tok))]
	}
	for i, c := range tok {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return p.words[string(buf[:len(tok)])]
}

// buildProfile reads every input's rows (Input.Path).
func buildProfile(ctx context.Context, t table, req *review.Request, p review.Params) (*profile, error) {
	pr := &profile{labels: map[string]bool{}, words: map[string]bool{}, names: map[string]bool{}}
	for _, name := range statNames {
		pr.addWords(name)
	}
	for _, in := range req.Inputs {
		if in.Path == "" {
			pr.missing = true
			continue
		}
		it, err := readInput(ctx, t, in)
		if err != nil {
			return nil, fmt.Errorf("input %s@%d: %w", in.Dataset, in.Version, err)
		}
		it.cube = buildCube(it, p)
		pr.tables = append(pr.tables, it)
		pr.rows = max(pr.rows, it.rows)
		for _, c := range it.cols {
			pr.names[strings.ToLower(c.name)] = true
			pr.addWords(c.name)
			if c.codes == nil || c.pi || len(c.dict) > p.MaxLabels {
				// Not a category: personal information, or as many
				// distinct values as an identifier has (a value that
				// repeats in such a column is still an identifier).
				continue
			}
			counts := make([]int, len(c.dict))
			for _, k := range c.codes {
				if k >= 0 {
					counts[k]++
				}
			}
			for k, n := range counts {
				if n >= p.MinCell {
					pr.labels[c.dict[k]] = true
					pr.addWords(c.dict[k])
				}
			}
		}
	}
	return pr, nil
}

// statNames are words a table or report uses for its statistics.
var statNames = []string{"count", "sum", "mean", "average", "median", "total", "all", "share", "percent", "rate", "std", "min", "max"}

func (p *profile) addWords(s string) {
	p.addWord(strings.ToLower(s))
	start := -1
	for i := 0; i <= len(s); i++ {
		alnum := i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9')
		switch {
		case alnum && start < 0:
			start = i
		case !alnum && start >= 0:
			p.addWord(strings.ToLower(s[start:i]))
			start = -1
		}
	}
}

// addWord adds a word in lower case.
func (p *profile) addWord(w string) {
	p.words[w] = true
	if w != "" {
		p.wordStarts[w[0]] |= 1 << min(len(w), 63)
	}
	if shortable(w) {
		p.short.add(packShort(w))
	}
}

// readInput reads one input's Arrow IPC file into columns.
func readInput(ctx context.Context, t table, in review.Input) (*inputTable, error) {
	it := &inputTable{name: in.Dataset}
	var cols []*inputCol
	_, err := t.forEachMapped(ctx, in.Path, KindArrowFile, 1<<40, func(rec arrow.RecordBatch) error {
		if cols == nil {
			for _, f := range rec.Schema().Fields() {
				cols = append(cols, &inputCol{name: f.Name, index: &internTable{}, pi: metaGet(f.Metadata, MarkPI) != ""})
			}
		}
		if int(rec.NumCols()) != len(cols) {
			return fmt.Errorf("record batches of different widths: %w", errdefs.ErrDataLoss)
		}
		n := int(rec.NumRows())
		for j, c := range cols {
			c.add(rec.Column(j), it.rows, n)
		}
		it.rows += n
		return nil
	})
	if err != nil {
		return nil, err
	}
	it.cols = cols
	return it, nil
}

// add appends n rows of a to the column (which holds base rows already).
func (c *inputCol) add(a arrow.Array, base, n int) {
	numeric := isNumericType(a.DataType())
	if numeric {
		if c.nums == nil && base == 0 {
			c.nums = make([]float64, 0, n)
		}
		if c.nums != nil {
			c.addNums(a, n)
		}
	}
	if c.index == nil || a.DataType().ID() == arrow.FLOAT32 || a.DataType().ID() == arrow.FLOAT64 {
		c.index = nil // measurements, not categories
		c.codes = nil
		return
	}
	if base == 0 && c.codes == nil {
		c.codes = make([]int32, 0, n)
	}
	c.codes = slices.Grow(c.codes, n)
	codes := c.codes[len(c.codes) : len(c.codes)+n]
	ok := true
	if sa, isStr := a.(*array.String); isStr {
		ok = c.addStrings(sa, codes)
	} else {
		for i := 0; i < n && ok; i++ {
			if a.IsNull(i) {
				codes[i] = -1
				continue
			}
			codes[i], ok = c.intern(cellString(a, i))
		}
	}
	if !ok {
		c.index, c.dict, c.codes = nil, nil, nil
		return
	}
	c.codes = c.codes[:len(c.codes)+n]
}

// addNums appends the numbers of a's n cells (NaN for null).
func (c *inputCol) addNums(a arrow.Array, n int) {
	nulls := a.NullN() > 0
	switch a := a.(type) {
	case *array.Float64:
		for i, v := range a.Float64Values() {
			if nulls && a.IsNull(i) {
				v = math.NaN()
			}
			c.nums = append(c.nums, v)
		}
		return
	case *array.Int64:
		for i, v := range a.Int64Values() {
			x := float64(v)
			if nulls && a.IsNull(i) {
				x = math.NaN()
			}
			c.nums = append(c.nums, x)
		}
		return
	}
	for i := 0; i < n; i++ {
		v, ok := numeric64(a, i)
		if !ok {
			v = math.NaN()
		}
		c.nums = append(c.nums, v)
	}
}

// addStrings writes the codes of a's cells into codes; false when the
// column has more than maxCategories distinct values.
func (c *inputCol) addStrings(a *array.String, codes []int32) bool {
	nulls := a.NullN() > 0
	var lastW0, lastW1 uint64 // the key of the last short value (see pack)
	var lastCode int32
	for i := range codes {
		if nulls && a.IsNull(i) {
			codes[i] = -1
			continue
		}
		s := a.Value(i)
		if len(s) <= maxPacked {
			w0, w1 := pack(s)
			if w1 == lastW1 && w0 == lastW0 {
				codes[i] = lastCode
				continue
			}
			k, ok := c.index.getPacked(w0, w1)
			if !ok {
				if k, ok = c.intern(s); !ok {
					return false
				}
			}
			codes[i], lastW0, lastW1, lastCode = k, w0, w1, k
			continue
		}
		k, ok := c.intern(s)
		if !ok {
			return false
		}
		codes[i] = k
	}
	return true
}

// intern returns the code of s, adding it (a copy: s may point into a
// record batch's buffers) when new; false when the column has more than
// maxCategories distinct values.
func (c *inputCol) intern(s string) (int32, bool) {
	if k, ok := c.index.get(s); ok {
		return k, true
	}
	if len(c.dict) >= maxCategories {
		return 0, false
	}
	s = strings.Clone(s)
	k := int32(len(c.dict))
	c.index.put(s, k)
	c.dict = append(c.dict, s)
	return k, true
}

// cellString returns the text of cell i as a label: strings as they are,
// integers in decimal, booleans as true or false, other types as arrow-go
// writes them.
func cellString(a arrow.Array, i int) string {
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Dictionary:
		return cellString(a.Dictionary(), a.GetValueIndex(i))
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int8:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.FormatUint(a.Value(i), 10)
	case *array.Uint32:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint8:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	}
	return a.ValueStr(i)
}

// isNumericType reports whether a column of type t holds numbers.
func isNumericType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return false
}

// numeric64 is numeric for the numeric types only (no parsing of strings).
func numeric64(a arrow.Array, i int) (float64, bool) {
	if _, ok := a.(*array.String); ok {
		return 0, false
	}
	return numeric(a, i)
}
