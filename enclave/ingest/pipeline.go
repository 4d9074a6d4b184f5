package ingest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/pii"
)

// work is one input batch in flight through the pipeline.
type work struct {
	seq  int64
	b    batch
	err  error         // the reader's or a worker's error
	out  []arrow.Array // desensitized columns, by output index
	done chan struct{} // closed when a worker is through with it

	values []uint64     // value fingerprints
	rows   []uint64     // row fingerprints, one per row
	found  [][]pii.Kind // per input column: acknowledged kinds seen, in order
}

func (w *work) release() {
	if w.b.rec != nil {
		w.b.rec.Release()
		w.b.rec = nil
	}
	for _, c := range w.out {
		if c != nil {
			c.Release()
		}
	}
	w.out = nil
}

// pipeline reads, desensitizes, checks, fingerprints and writes the input.
// A reader goroutine parses record batches; Workers goroutines each take
// whole batches (rules, the R-03 safety net, value and row fingerprints);
// the calling goroutine writes the batches in the input's order, so that
// the output does not depend on the number of workers or their timing, and
// reports the first error in input order. About 2*Workers batches are in
// flight (channels of that depth), which bounds memory.
func (im *importer) pipeline(ctx context.Context, src batchReader, w *ipc.FileWriter) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nw := im.opts.Workers
	ordered := make(chan *work, 2*nw) // in input order, to the writer
	jobs := make(chan *work, 2*nw)    // to the workers
	// as many fingerprint slices as can be in flight: a batch's with each
	// worker, in the queues and in the sink
	im.freeValues = make(chan []uint64, 4*nw+sinkDepth+2)
	im.freeRows = make(chan []uint64, 4*nw+sinkDepth+2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		defer close(ordered)
		for seq := int64(0); ctx.Err() == nil; seq++ {
			b, err := src.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			wk := &work{seq: seq, b: b, err: err, done: make(chan struct{})}
			select {
			case ordered <- wk:
			case <-ctx.Done():
				wk.release()
				return
			}
			if err != nil {
				close(wk.done)
				return
			}
			// Workers drain jobs until it is closed, so this cannot block
			// for ever.
			jobs <- wk
		}
	}()
	for range nw {
		wg.Add(1)
		wk := im.newWorker()
		go func() {
			defer wg.Done()
			for w := range jobs {
				if ctx.Err() == nil {
					wk.process(w)
				}
				close(w.done)
			}
		}()
	}
	// The fingerprint builder sorts and spills now and then; a goroutine of
	// its own keeps that off the writer's path, and a queue of sinkDepth
	// batches (about half a MiB each) lets the writer go on meanwhile.
	sink := make(chan fpBatch, sinkDepth)
	sinkDone := make(chan struct{})
	go func() {
		defer close(sinkDone)
		for fb := range sink {
			im.fps.AddValues(fb.values)
			im.fps.AddRows(fb.rows)
			// the builder copied them
			recycle(im.freeValues, fb.values)
			recycle(im.freeRows, fb.rows)
		}
	}()
	var rows int64
	var err error
	for wk := range ordered {
		<-wk.done
		if err == nil {
			if err = im.commit(ctx, wk, w, sink, &rows); err != nil {
				cancel()
			}
		}
		wk.release()
	}
	close(sink)
	<-sinkDone
	wg.Wait()
	if err == nil {
		err = ctx.Err() // the reader stops early on a cancelled context
	}
	if err != nil {
		return 0, err
	}
	return rows, nil
}

// commit writes one processed batch and adds its fingerprints.
func (im *importer) commit(ctx context.Context, wk *work, w *ipc.FileWriter, sink chan<- fpBatch, rows *int64) error {
	if wk.err != nil {
		return wk.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n := wk.b.rec.NumRows()
	out := array.NewRecordBatch(im.schema, wk.out, n)
	err := w.Write(out)
	out.Release()
	if err != nil {
		return fmt.Errorf("write arrow batch: %w", err)
	}
	for i, kinds := range wk.found {
		for _, k := range kinds {
			if !slices.Contains(im.found[i], k) {
				im.found[i] = append(im.found[i], k)
			}
		}
	}
	sink <- fpBatch{wk.values, wk.rows}
	wk.values, wk.rows = nil, nil // the sink's now, and then recycled
	*rows += n
	if im.opts.Progress != nil {
		im.opts.Progress(wk.b.bytesRead, *rows)
	}
	return nil
}

// sinkDepth is how many batches of fingerprints wait for the builder
// while it spills: sorting a spill buffer takes as long as the workers
// take for several batches.
const sinkDepth = 16

// fpBatch is the fingerprints of one batch, on their way to the builder.
type fpBatch struct{ values, rows []uint64 }

// fpSlice returns a slice of length 0 and capacity at least n, from free
// when it has one of that capacity: the batches' slices are large (64 KiB
// of row fingerprints for 8,192 rows), and a new one is cleared and
// collected each time.
func fpSlice(free chan []uint64, n int) []uint64 {
	select {
	case s := <-free:
		if cap(s) >= n {
			return s[:0]
		}
	default:
	}
	return make([]uint64, 0, n)
}

// recycle gives s back to free, unless free is full.
func recycle(free chan []uint64, s []uint64) {
	if cap(s) == 0 {
		return
	}
	select {
	case free <- s[:0]:
	default:
	}
}

// worker is one goroutine's private state.
type worker struct {
	im       *importer
	appliers []*applier
	cols     [][]string            // per output column, its cells as strings
	hashes   [][]uint64            // per output column, the Cell fingerprint of each cell
	shapes   [][]fingerprint.Shape // per output column, each cell's Shape
	rowCells []uint64
	cells    []cellCache // per output column
	valueCap int         // capacity for the next batch's value fingerprints
}

// cellCache remembers the Cell fingerprints of a column's values, for the
// many columns that repeat a few values (a district, a type, a month): a
// lookup costs less than canonicalizing and hashing the value again. It is
// a direct-mapped table: a value goes to the slot its bytes pick and
// replaces what was there, so a lookup is one hash of the value's ends and
// one comparison, and a value that shares its slot is only hashed again.
// A column whose values do not repeat within a batch stops using it.
type cellCache struct {
	slots  []cellSlot
	stored int // values stored so far
	off    bool
}

type cellSlot struct {
	v     string
	h     uint64
	shape fingerprint.Shape
	set   bool
}

// Limits of a cellCache: values longer than cellCacheValue bytes are not
// kept; a column that misses in more than half its cells once
// cellCacheLen values have been stored is left alone from then on.
const (
	cellCacheLen   = 4096
	cellCacheValue = 64
	cellSlotBits   = 12 // 4096 slots
)

// cellSlotOf picks v's slot from its length and its first and last eight
// bytes (all of them when it is shorter).
func cellSlotOf(v string) uint64 {
	n := len(v)
	var a, b uint64
	if n >= 8 {
		a = binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(v), 8))
		b = binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(v[n-8:]), 8))
	} else {
		for i := 0; i < n; i++ {
			a = a<<8 | uint64(v[i])
		}
	}
	x := (a ^ bits.RotateLeft64(b, 31) ^ uint64(n)<<56) * 0x9E3779B97F4A7C15
	return x >> (64 - cellSlotBits)
}

// fill sets hs[r] and shapes[r] to the Cell fingerprint and the Shape of
// cells[r].
func (c *cellCache) fill(h *fingerprint.Hasher, hs []uint64, shapes []fingerprint.Shape, cells []string) {
	if c.off {
		for r, v := range cells {
			hs[r], shapes[r] = h.CellShape(v)
		}
		return
	}
	if c.slots == nil {
		c.slots = make([]cellSlot, 1<<cellSlotBits)
	}
	misses := 0
	for r, v := range cells {
		s := &c.slots[cellSlotOf(v)]
		if s.set && s.v == v {
			hs[r], shapes[r] = s.h, s.shape
			continue
		}
		misses++
		x, shape := h.CellShape(v)
		hs[r], shapes[r] = x, shape
		if len(v) <= cellCacheValue {
			*s = cellSlot{v: strings.Clone(v), h: x, shape: shape, set: true} // v points into the batch
			c.stored++
		}
	}
	if c.stored >= cellCacheLen && 2*misses > len(cells) {
		c.off, c.slots = true, nil
	}
}

func (im *importer) newWorker() *worker {
	wk := &worker{im: im, appliers: make([]*applier, len(im.appliers))}
	for i, a := range im.appliers {
		wk.appliers[i] = a.clone()
	}
	wk.cols = make([][]string, len(im.schema.Fields()))
	wk.hashes = make([][]uint64, len(im.schema.Fields()))
	wk.shapes = make([][]fingerprint.Shape, len(im.schema.Fields()))
	wk.rowCells = make([]uint64, len(im.schema.Fields()))
	wk.cells = make([]cellCache, len(im.schema.Fields()))
	return wk
}

// process desensitizes, checks and fingerprints one batch; it sets w.err
// on failure.
func (wk *worker) process(w *work) {
	im := wk.im
	rec := w.b.rec
	w.out = make([]arrow.Array, len(im.schema.Fields()))
	for i, a := range wk.appliers {
		if a.out == nil {
			continue
		}
		a.reseed(w.seq)
		out, err := a.apply(rec.Column(i), w.b.where)
		if err != nil {
			w.err = err
			return
		}
		w.out[im.outIdx[i]] = out
	}
	// The safety net looks at the cells as cellHashes left them, with the
	// digits and '@' their fingerprints counted.
	wk.cellHashes(w.out, int(rec.NumRows()))
	for i, a := range wk.appliers {
		if a.out == nil || !im.scan[i] {
			continue
		}
		j := im.outIdx[i]
		kinds, err := safetyNet(a.col, wk.cols[j], wk.shapes[j], w.b.where)
		if err != nil {
			w.err = err
			return
		}
		if len(kinds) > 0 {
			if w.found == nil {
				w.found = make([][]pii.Kind, len(wk.appliers))
			}
			w.found[i] = kinds
		}
	}
	w.values = wk.valueFingerprints(rec, w.out)
	w.rows = wk.rowFingerprints(w.out, int(rec.NumRows()))
	for j := range wk.cols {
		clear(wk.cols[j]) // do not keep the batch's strings alive
	}
}

// valueFingerprints returns the value fingerprints of the
// personal-information (and acknowledged) columns, raw and desensitized.
func (wk *worker) valueFingerprints(in arrow.RecordBatch, out []arrow.Array) []uint64 {
	// The slice goes to the builder with the batch; sized after the last
	// batch's, it is allocated once instead of grown a dozen times.
	dst := fpSlice(wk.im.freeValues, wk.valueCap)
	defer func() { wk.valueCap = max(wk.valueCap, len(dst)+len(dst)/8) }()
	add := func(v []byte) {
		dst = wk.im.hasher.ValueBytes(dst, v)
	}
	for i := range wk.appliers {
		if !wk.im.fpCol[i] {
			continue
		}
		eachCellBytes(in.Column(i), add)
		if j := wk.im.outIdx[i]; j >= 0 {
			// The output cell's first form was hashed for the row
			// fingerprints already: Cell is that form's value
			// fingerprint. A null cell is "" and has none.
			for r, v := range wk.cols[j] {
				dst = wk.im.hasher.AppendValueOfShape(dst, wk.hashes[j][r], wk.shapes[j][r], v)
			}
		}
	}
	return dst
}

// cellHashes sets wk.cols and wk.hashes to every output cell, as a
// string, and its Cell fingerprint.
func (wk *worker) cellHashes(out []arrow.Array, n int) {
	h := wk.im.hasher
	for j, c := range out {
		wk.cols[j] = columnStrings(wk.cols[j], c)
		wk.hashes[j] = slices.Grow(wk.hashes[j][:0], n)[:n]
		wk.shapes[j] = slices.Grow(wk.shapes[j][:0], n)[:n]
		wk.cells[j].fill(h, wk.hashes[j], wk.shapes[j], wk.cols[j])
	}
}

// rowFingerprints returns the tuple fingerprint of every output row, from
// the Cell fingerprints cellHashes left: Row(cells) is RowOf of the Cell
// fingerprints of the cells.
func (wk *worker) rowFingerprints(out []arrow.Array, n int) []uint64 {
	h := wk.im.hasher
	rows := fpSlice(wk.im.freeRows, n)[:n]
	for r := range rows {
		for j := range out {
			wk.rowCells[j] = wk.hashes[j][r]
		}
		rows[r] = h.RowOf(wk.rowCells)
	}
	return rows
}

// safetyNet scans a column kept raw for personal identifiers: its
// cells as columnStrings formats them ("" for a null), with the Shapes
// their fingerprints found. It returns the acknowledged kinds it found, in
// order of first appearance, or an error naming the column, the kind and
// the first place of an identifier the spec does not acknowledge.
func safetyNet(c *ColumnSpec, cells []string, shapes []fingerprint.Shape, where func(int) string) ([]pii.Kind, error) {
	var found []pii.Kind
	var hit error
	for r, v := range cells {
		if len(v) < 6 {
			continue
		}
		if s := shapes[r]; s.Counted() {
			if !mayHoldPersonalCounted(v, s.Digits(), s.At()) {
				continue
			}
		} else if !mayHoldPersonal(v) {
			continue
		}
		pii.ScanFunc(v, func(m pii.Match) bool {
			if !m.Kind.Personal() {
				return true
			}
			if slices.Contains(c.Acknowledge, m.Kind) {
				if !slices.Contains(found, m.Kind) {
					found = append(found, m.Kind)
				}
				return true
			}
			hit = fmt.Errorf("input: column %q holds %s values kept raw (first at %s); declare pi with a desensitizing rule, or acknowledge: [%s] on the column: %w",
				c.Name, m.Kind, where(r), m.Kind, errdefs.ErrInvalidArgument)
			return false
		})
		if hit != nil {
			return nil, hit
		}
	}
	return found, nil
}
