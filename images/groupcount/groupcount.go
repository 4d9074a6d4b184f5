// Command groupcount is the enclave's built-in aggregation job:
//
//	groupcount -in /in/NAME/data.arrow -by COLUMN -out /out/FILE.arrow [-min 10]
//
// It counts the rows of an Arrow IPC file (file or stream format) per value
// of one column, drops every group with fewer than -min rows (small-cell
// suppression), and writes an Arrow IPC file with two columns: COLUMN (as
// utf8, null for the null group) and "count" (int64), sorted by value.
//
// The output carries its input's classification marks: every schema
// metadata key prefixed "enclave." is copied; enclave.source is set to the
// input's enclave.dataset@enclave.version; the COLUMN field keeps the input
// field's enclave.* metadata except its level; every field's enclave.level
// and the schema's are the highest level found in the input (schema or any
// field): derived data is classified at least as high as the highest input
// it was computed from (DESIGN.md section 4, "take the higher when in
// doubt"). A lower level is for the operator to declare and officers to
// approve at export.
package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// MarkPrefix prefixes every classification mark key.
const MarkPrefix = "enclave."

// levels in ascending order of sensitivity.
var levels = []string{"general-1", "general-2", "general-3", "general-4", "important", "core"}

func levelRank(l string) int { return slices.Index(levels, l) }

// higher returns the higher of two levels; an unknown level counts as the
// highest known one, so that a mark never gets lower by mistake.
func higher(a, b string) string {
	ra, rb := levelRank(a), levelRank(b)
	if a != "" && ra < 0 {
		ra, a = len(levels)-1, levels[len(levels)-1]
	}
	if b != "" && rb < 0 {
		rb, b = len(levels)-1, levels[len(levels)-1]
	}
	if rb > ra {
		return b
	}
	return a
}

type group struct {
	key   string
	null  bool
	count int64
}

// Count reads an Arrow IPC file or stream from r, counts rows per value of
// column by and returns the output record (caller releases it).
func Count(mem memory.Allocator, r io.ReadSeeker, by string, min int64) (arrow.RecordBatch, error) {
	schema, next, closeFn, err := open(mem, r)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	idx := schema.FieldIndices(by)
	if len(idx) != 1 {
		return nil, fmt.Errorf("column %q not found once in input", by)
	}
	col := idx[0]
	counts := map[string]*group{}
	var nullGroup group
	nullGroup.null = true
	for {
		rec, err := next()
		if err != nil {
			return nil, err
		}
		if rec == nil {
			break
		}
		if int(rec.NumCols()) != schema.NumFields() {
			return nil, fmt.Errorf("record batch does not match the schema")
		}
		if err := countBatch(rec.Column(col), counts, &nullGroup); err != nil {
			return nil, fmt.Errorf("column %q invalid: %w", by, err)
		}
	}
	var groups []group
	for _, g := range counts {
		if g.count >= min {
			groups = append(groups, *g)
		}
	}
	slices.SortFunc(groups, func(a, b group) int { return strings.Compare(a.key, b.key) })
	if nullGroup.count >= min {
		groups = append(groups, nullGroup)
	}
	return build(mem, schema, by, col, groups), nil
}

// countBatch adds the values of one batch to the groups. The input is
// outside data: every offset and bitmap is checked before values are read,
// and since arrow-go's own checks can still index out of range on some
// corrupt buffers, a runtime panic here is turned into an error.
func countBatch(a arrow.Array, counts map[string]*group, nullGroup *group) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("corrupt array buffers")
		}
	}()
	if err := array.ValidateFull(a); err != nil {
		return err
	}
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			nullGroup.count++
			continue
		}
		k := a.ValueStr(i)
		g := counts[k]
		if g == nil {
			g = &group{key: k}
			counts[k] = g
		}
		g.count++
	}
	return nil
}

// open returns the schema and a record iterator for either IPC format.
func open(mem memory.Allocator, r io.ReadSeeker) (*arrow.Schema, func() (arrow.RecordBatch, error), func(), error) {
	if err := guard(r); err != nil {
		return nil, nil, nil, fmt.Errorf("input is not an arrow ipc file or stream: %w", err)
	}
	if ra, ok := r.(ipc.ReadAtSeeker); ok {
		if fr, err := ipc.NewFileReader(ra, ipc.WithAllocator(mem)); err == nil {
			i := 0
			next := func() (arrow.RecordBatch, error) {
				if i >= fr.NumRecords() {
					return nil, nil
				}
				rec, err := fr.RecordBatch(i)
				i++
				if err != nil {
					return nil, fmt.Errorf("read record batch %d: %w", i-1, err)
				}
				return rec, nil
			}
			return fr.Schema(), next, func() { fr.Close() }, nil
		}
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, nil, nil, err
		}
	}
	sr, err := ipc.NewReader(r, ipc.WithAllocator(mem))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("input is not an arrow ipc file or stream: %w", err)
	}
	next := func() (arrow.RecordBatch, error) {
		if sr.Next() {
			return sr.RecordBatch(), nil
		}
		if err := sr.Err(); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read record batch: %w", err)
		}
		return nil, nil
	}
	return sr.Schema(), next, sr.Release, nil
}

// marks returns the enclave.* entries of md.
func marks(md arrow.Metadata) map[string]string {
	out := map[string]string{}
	for i, k := range md.Keys() {
		if strings.HasPrefix(k, MarkPrefix) {
			out[k] = md.Values()[i]
		}
	}
	return out
}

func metadata(m map[string]string) arrow.Metadata {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = m[k]
	}
	return arrow.NewMetadata(keys, vals)
}

// outputSchema derives the output schema and its marks from the input's.
func outputSchema(in *arrow.Schema, by string, col int) *arrow.Schema {
	sm := marks(in.Metadata())
	top := sm[MarkPrefix+"level"]
	for _, f := range in.Fields() {
		top = higher(top, marks(f.Metadata)[MarkPrefix+"level"])
	}
	if ds, v := sm[MarkPrefix+"dataset"], sm[MarkPrefix+"version"]; ds != "" {
		sm[MarkPrefix+"source"] = ds + "@" + v
	}
	if top != "" {
		sm[MarkPrefix+"level"] = top
	}
	sm[MarkPrefix+"derived"] = "groupcount by " + strconv.Quote(by)
	keyMarks := marks(in.Field(col).Metadata)
	if top != "" {
		keyMarks[MarkPrefix+"level"] = top
	}
	countMarks := map[string]string{}
	if top != "" {
		countMarks[MarkPrefix+"level"] = top
	}
	if src := sm[MarkPrefix+"source"]; src != "" {
		countMarks[MarkPrefix+"source"] = src
	}
	md := metadata(sm)
	return arrow.NewSchema([]arrow.Field{
		{Name: by, Type: arrow.BinaryTypes.String, Nullable: true, Metadata: metadata(keyMarks)},
		{Name: "count", Type: arrow.PrimitiveTypes.Int64, Metadata: metadata(countMarks)},
	}, &md)
}

func build(mem memory.Allocator, in *arrow.Schema, by string, col int, groups []group) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, outputSchema(in, by, col))
	defer b.Release()
	kb := b.Field(0).(*array.StringBuilder)
	cb := b.Field(1).(*array.Int64Builder)
	for _, g := range groups {
		if g.null {
			kb.AppendNull()
		} else {
			kb.Append(g.key)
		}
		cb.Append(g.count)
	}
	return b.NewRecordBatch()
}

// Write writes rec as an Arrow IPC file to w.
func Write(mem memory.Allocator, w io.Writer, rec arrow.RecordBatch) error {
	fw, err := ipc.NewFileWriter(w, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(mem))
	if err != nil {
		return err
	}
	if err := fw.Write(rec); err != nil {
		fw.Close()
		return err
	}
	return fw.Close()
}
