package fingerprint

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/containerd/errdefs"
)

// Spill tuning.
const (
	// minSpillBytes is the smallest in-memory budget WithSpill accepts;
	// smaller values are raised to it.
	minSpillBytes = 64
	// mergeFanIn bounds the number of runs merged (and files open) at once.
	mergeFanIn = 32
	// runBufSize is the read or write buffer of one run file.
	runBufSize = 16 << 10
)

// Builder collects fingerprints for a Set. It is not safe for concurrent
// use. The zero value is usable and keeps everything in memory; NewBuilder
// with WithSpill bounds its memory.
type Builder struct {
	keyID uint64

	// Without spilling, values and rows are plain growing slices. With
	// spilling, they share one buffer of at most maxBytes: values grow
	// from its front and rows from its back, and a full buffer is sorted,
	// deduplicated and written out as one run file per kind.
	values, rows []uint64
	buf          []uint64
	scratch      []uint64 // for the radix sort of buf, as large
	nv, nr       int

	spill     bool
	dir       string
	maxBytes  int
	valueRuns []string // sorted, deduplicated runs of each kind
	rowRuns   []string
	files     []string // every run file made, for reset and Close
	err       error    // the first spill error, returned by Build and WriteSet
	closed    bool
}

// errClosed is returned by Build and WriteSet after Close: an empty set
// written by mistake would find nothing.
var errClosed = fmt.Errorf("fingerprint builder is closed: %w", errdefs.ErrFailedPrecondition)

// BuilderOption configures a Builder made by NewBuilder.
type BuilderOption func(*Builder)

// WithSpill bounds the Builder's memory: it keeps at most maxBytes of
// fingerprints in memory and beyond that sorts and deduplicates them into a
// run file (mode 0600) in dir (os.TempDir when empty). Sorting uses as much
// again of scratch space, so the Builder holds 2*maxBytes. WriteSet merges
// the runs with memory bounded by that plus small read buffers. Budgets
// under 64 bytes are raised to 64. Call Close to remove the run files.
func WithSpill(dir string, maxBytes int) BuilderOption {
	return func(b *Builder) {
		b.spill = true
		b.dir = dir
		b.maxBytes = max(maxBytes, minSpillBytes)
	}
}

// NewBuilder returns an empty Builder configured by opts.
func NewBuilder(opts ...BuilderOption) *Builder {
	b := &Builder{}
	for _, o := range opts {
		o(b)
	}
	return b
}

// SetKeyID records the ID of the Hasher that made the fingerprints, so that
// readers can refuse to use the set with another key.
func (b *Builder) SetKeyID(id uint64) { b.keyID = id }

// AddValue adds a value fingerprint (from Hasher.Value). An I/O error while
// spilling is remembered and returned by Build or WriteSet.
func (b *Builder) AddValue(h uint64) {
	if !b.spill && !b.closed {
		b.values = append(b.values, h)
		return
	}
	if !b.room() {
		return
	}
	b.buf[b.nv] = h
	b.nv++
}

// AddRow adds a row fingerprint (from Hasher.Row). An I/O error while
// spilling is remembered and returned by Build or WriteSet.
func (b *Builder) AddRow(h uint64) {
	if !b.spill && !b.closed {
		b.rows = append(b.rows, h)
		return
	}
	if !b.room() {
		return
	}
	b.nr++
	b.buf[len(b.buf)-b.nr] = h
}

// room makes room in the spill buffer for one fingerprint, spilling when it
// is full; it returns false after a spill error.
func (b *Builder) room() bool {
	if b.closed {
		b.err = errClosed
	}
	if b.err != nil {
		return false
	}
	if b.buf == nil {
		// Allocated once; pages are only touched as they fill.
		b.buf = make([]uint64, b.maxBytes/8)
	}
	if b.nv+b.nr < len(b.buf) {
		return true
	}
	if err := b.spillBuffer(); err != nil {
		b.err = err
		return false
	}
	return true
}

// spillBuffer writes the sorted, deduplicated buffer as one run per kind.
func (b *Builder) spillBuffer() error {
	values, rows := b.buffered()
	if len(values) > 0 {
		name, _, err := b.writeRun(&sliceSource{s: values})
		if err != nil {
			return err
		}
		b.valueRuns = append(b.valueRuns, name)
	}
	if len(rows) > 0 {
		name, _, err := b.writeRun(&sliceSource{s: rows})
		if err != nil {
			return err
		}
		b.rowRuns = append(b.rowRuns, name)
	}
	b.nv, b.nr = 0, 0
	return nil
}

// buffered sorts and deduplicates the spill buffer in place and returns its
// two halves.
func (b *Builder) buffered() (values, rows []uint64) {
	values, rows = b.buf[:b.nv], b.buf[len(b.buf)-b.nr:]
	if b.scratch == nil {
		// The radix sort's scratch space, allocated once (as the buffer
		// is) rather than at every spill.
		b.scratch = make([]uint64, len(b.buf))
	}
	sortBoth(values, rows, b.scratch)
	return slices.Compact(values), slices.Compact(rows)
}

// sortBoth sorts a and b, at the same time when both are large: the final
// sort of an import runs after its pipeline, when the other cores are idle.
// scratch, when it holds len(a)+len(b) values, is the sorts' scratch space.
func sortBoth(a, b, scratch []uint64) {
	var sa, sb []uint64
	if len(scratch) >= len(a)+len(b) {
		sa, sb = scratch[:len(a)], scratch[len(a):len(a)+len(b)]
	}
	if len(a) < 1<<16 || len(b) < 1<<16 {
		sortHashes(a, sa)
		sortHashes(b, sb)
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { sortHashes(a, sa) })
	sortHashes(b, sb)
	wg.Wait()
}

// writeRun writes src to a new run file and returns its name and the
// number of fingerprints written.
func (b *Builder) writeRun(src source) (string, uint64, error) {
	f, err := os.CreateTemp(b.dir, "fingerprints-*.run")
	if err != nil {
		return "", 0, fmt.Errorf("create fingerprint run: %w", err)
	}
	name := f.Name()
	b.files = append(b.files, name)
	fail := func(err error) (string, uint64, error) {
		f.Close()
		os.Remove(name)
		return "", 0, fmt.Errorf("write fingerprint run: %w", err)
	}
	blk := make([]byte, 0, runBufSize)
	var n uint64
	for {
		x, ok, err := src.next()
		if err != nil {
			return fail(err)
		}
		if !ok {
			break
		}
		blk = binary.LittleEndian.AppendUint64(blk, x)
		n++
		if len(blk) == cap(blk) {
			if _, err := f.Write(blk); err != nil {
				return fail(err)
			}
			blk = blk[:0]
		}
	}
	if _, err := f.Write(blk); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", 0, fmt.Errorf("write fingerprint run: %w", err)
	}
	return name, n, nil
}

// Build sorts and deduplicates what was added and builds the filters. The
// Builder may be reused afterwards; it starts empty again. With spill runs
// it reads them all back into memory: use WriteSet for large sets.
func (b *Builder) Build() (*Set, error) {
	if b.closed {
		return nil, errClosed
	}
	defer b.reset()
	if b.err != nil {
		return nil, b.err
	}
	values, rows := b.values, b.rows
	if b.spill {
		var err error
		if values, err = b.collect(b.valueRuns, b.buf[:b.nv]); err != nil {
			return nil, err
		}
		if rows, err = b.collect(b.rowRuns, b.buf[len(b.buf)-b.nr:]); err != nil {
			return nil, err
		}
	}
	b.values, b.rows = nil, nil
	sortBoth(values, rows, nil)
	values = slices.Compact(values)
	rows = slices.Compact(rows)
	if len(values) > MaxEntries || len(rows) > MaxEntries {
		return nil, fmt.Errorf("fingerprint set of %d values and %d rows exceeds %d: %w", len(values), len(rows), MaxEntries, errdefs.ErrOutOfRange)
	}
	return newSet(b.keyID, values, rows)
}

// collect reads the runs back and appends the buffered fingerprints.
func (b *Builder) collect(runs []string, buffered []uint64) ([]uint64, error) {
	var out []uint64
	for _, name := range runs {
		r, err := openRun(name)
		if err != nil {
			return nil, err
		}
		for {
			x, ok, err := r.next()
			if err != nil {
				r.close()
				return nil, err
			}
			if !ok {
				break
			}
			out = append(out, x)
		}
		r.close()
	}
	return append(out, buffered...), nil
}

// WriteSet writes the set of everything added, exactly as Build().WriteTo
// would, and returns the number of distinct value and row fingerprints.
// With spill runs it merges them (and the buffer) into one deduplicated run
// per kind, to count them, and streams those, so its memory stays within
// the WithSpill budget plus small buffers. Like Build, it leaves the
// Builder empty; its run files are removed whatever the outcome.
func (b *Builder) WriteSet(w io.Writer) (values, rows int, err error) {
	if b.closed {
		return 0, 0, errClosed
	}
	defer b.reset()
	if b.err != nil {
		return 0, 0, b.err
	}
	if !b.spill {
		set, err := b.Build()
		if err != nil {
			return 0, 0, err
		}
		nv, nr := set.Len()
		if _, err := set.WriteTo(w); err != nil {
			return 0, 0, err
		}
		return nv, nr, nil
	}
	bv, br := b.buffered()
	// The sort's scratch is free now: the last merge of each kind can go
	// there instead of into one more run file.
	spare := b.scratch
	vsrc, nv, used, err := b.mergeAll(b.valueRuns, bv, spare)
	if err != nil {
		return 0, 0, err
	}
	defer vsrc.close()
	rsrc, nr, _, err := b.mergeAll(b.rowRuns, br, spare[used:])
	if err != nil {
		return 0, 0, err
	}
	defer rsrc.close()
	if nv > MaxEntries || nr > MaxEntries {
		return 0, 0, fmt.Errorf("fingerprint set of %d values and %d rows exceeds %d: %w", nv, nr, MaxEntries, errdefs.ErrOutOfRange)
	}
	if _, err := writeSet(w, b.keyID, vsrc, nv, rsrc, nr); err != nil {
		return 0, 0, err
	}
	return int(nv), int(nr), nil
}

// closingSource is a source that may hold an open file.
type closingSource interface {
	source
	close()
}

type sliceCloser struct{ sliceSource }

func (sliceCloser) close() {}

// mergeAll merges runs and the sorted, deduplicated buffered fingerprints
// into one deduplicated sequence and returns it with its length. Runs are
// merged mergeFanIn at a time into new runs until at most one is left with
// the buffer.
//
// When the last pass fits in spare (memory the Builder holds anyway and
// does not need any more, such as the sort's scratch), it merges into spare
// rather than into one more run file, and returns how much of spare it used.
func (b *Builder) mergeAll(runs []string, buffered, spare []uint64) (closingSource, uint64, int, error) {
	if len(runs) > 0 && len(runs) <= mergeFanIn {
		total := uint64(len(buffered))
		for _, name := range runs {
			st, err := os.Stat(name)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("open fingerprint run: %w", err)
			}
			total += uint64(st.Size()) / 8
		}
		if total <= uint64(len(spare)) {
			out, err := b.mergeInto(spare[:0], runs, buffered)
			if err != nil {
				return nil, 0, 0, err
			}
			return &sliceCloser{sliceSource{s: out}}, uint64(len(out)), len(out), nil
		}
	}
	src, n, err := b.mergeAllRuns(runs, buffered)
	return src, n, 0, err
}

// mergeInto appends the deduplicated merge of runs and buffered to dst.
func (b *Builder) mergeInto(dst []uint64, runs []string, buffered []uint64) ([]uint64, error) {
	m := &merger{}
	defer m.close()
	for _, name := range runs {
		r, err := openRun(name)
		if err != nil {
			return nil, err
		}
		if err := m.push(r); err != nil {
			return nil, err
		}
	}
	if len(buffered) > 0 {
		if err := m.push(&sliceCloser{sliceSource{s: buffered}}); err != nil {
			return nil, err
		}
	}
	for {
		x, ok, err := m.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return dst, nil
		}
		dst = append(dst, x)
	}
}

// mergeAllRuns is mergeAll through run files.
func (b *Builder) mergeAllRuns(runs []string, buffered []uint64) (closingSource, uint64, error) {
	for len(runs) > 1 {
		k := min(len(runs), mergeFanIn)
		var (
			name string
			err  error
		)
		if k == len(runs) {
			// Last pass: the buffer joins in, and the result is counted.
			var n uint64
			name, n, err = b.mergeRuns(runs, buffered)
			if err != nil {
				return nil, 0, err
			}
			b.track(&runs, k, name)
			r, err := openRun(name)
			if err != nil {
				return nil, 0, err
			}
			return r, n, nil
		}
		name, _, err = b.mergeRuns(runs[:k], nil)
		if err != nil {
			return nil, 0, err
		}
		b.track(&runs, k, name)
	}
	if len(runs) == 0 {
		return &sliceCloser{sliceSource{s: buffered}}, uint64(len(buffered)), nil
	}
	if len(buffered) == 0 {
		r, err := openRun(runs[0])
		if err != nil {
			return nil, 0, err
		}
		return r, uint64(r.size / 8), nil
	}
	name, n, err := b.mergeRuns(runs, buffered)
	if err != nil {
		return nil, 0, err
	}
	b.track(&runs, 1, name)
	r, err := openRun(name)
	if err != nil {
		return nil, 0, err
	}
	return r, n, nil
}

// track replaces the first k runs of *runs by the merged run name,
// removing their files early to bound the disk space used.
func (b *Builder) track(runs *[]string, k int, name string) {
	for _, old := range (*runs)[:k] {
		os.Remove(old)
	}
	*runs = append(slices.Clone((*runs)[k:]), name)
}

// mergeRuns writes the deduplicated merge of runs and buffered to a new run.
func (b *Builder) mergeRuns(runs []string, buffered []uint64) (string, uint64, error) {
	m := &merger{}
	defer m.close()
	for _, name := range runs {
		r, err := openRun(name)
		if err != nil {
			return "", 0, err
		}
		if err := m.push(r); err != nil {
			return "", 0, err
		}
	}
	if len(buffered) > 0 {
		if err := m.push(&sliceCloser{sliceSource{s: buffered}}); err != nil {
			return "", 0, err
		}
	}
	return b.writeRun(m)
}

// reset empties the Builder and removes its run files.
func (b *Builder) reset() error {
	var errs []error
	for _, name := range b.files {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove fingerprint run: %w", err))
		}
	}
	b.valueRuns, b.rowRuns, b.files = nil, nil, nil
	b.values, b.rows = nil, nil
	b.nv, b.nr = 0, 0
	b.err = nil
	return errors.Join(errs...)
}

// Close removes the run files and releases the buffer. It is safe to call
// twice and after WriteSet or Build; afterwards Build and WriteSet return
// an errdefs.ErrFailedPrecondition class error instead of an empty set.
func (b *Builder) Close() error {
	err := b.reset()
	b.buf, b.scratch = nil, nil
	b.closed = true
	return err
}

// runReader reads a run file a block at a time.
type runReader struct {
	f    *os.File
	size int64
	blk  []byte   // the last block read
	vals []uint64 // its fingerprints
	i    int      // the next of vals
}

func openRun(name string) (*runReader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open fingerprint run: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open fingerprint run: %w", err)
	}
	if st.Size()%8 != 0 {
		f.Close()
		return nil, fmt.Errorf("fingerprint run of %d bytes: %w", st.Size(), errdefs.ErrDataLoss)
	}
	return &runReader{f: f, size: st.Size(), blk: make([]byte, runBufSize), vals: make([]uint64, 0, runBufSize/8)}, nil
}

func (r *runReader) next() (uint64, bool, error) {
	if r.i < len(r.vals) {
		x := r.vals[r.i]
		r.i++
		return x, true, nil
	}
	n, err := io.ReadFull(r.f, r.blk)
	switch {
	case err == io.EOF:
		return 0, false, nil
	case err == io.ErrUnexpectedEOF && n%8 == 0:
	case err == io.ErrUnexpectedEOF:
		return 0, false, fmt.Errorf("read fingerprint run: %d bytes at the end: %w", n, errdefs.ErrDataLoss)
	case err != nil:
		return 0, false, fmt.Errorf("read fingerprint run: %w", err)
	}
	r.vals = r.vals[:n/8]
	for i := range r.vals {
		r.vals[i] = binary.LittleEndian.Uint64(r.blk[8*i:])
	}
	r.i = 1
	return r.vals[0], true, nil
}

func (r *runReader) close() { r.f.Close() }

// merger is a k-way merge of increasing sources that drops duplicates.
type merger struct {
	h       mergeHeap
	last    uint64
	started bool
}

type mergeItem struct {
	head uint64
	src  closingSource
}

type mergeHeap []mergeItem

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return h[i].head < h[j].head }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// push adds a source, taking ownership of it.
func (m *merger) push(src closingSource) error {
	x, ok, err := src.next()
	if err != nil || !ok {
		src.close()
		return err
	}
	heap.Push(&m.h, mergeItem{head: x, src: src})
	return nil
}

func (m *merger) next() (uint64, bool, error) {
	for len(m.h) > 0 {
		top := &m.h[0]
		x := top.head
		nx, ok, err := top.src.next()
		if err != nil {
			return 0, false, err
		}
		if ok {
			top.head = nx
			heap.Fix(&m.h, 0)
		} else {
			top.src.close()
			heap.Pop(&m.h)
		}
		if m.started && x == m.last {
			continue
		}
		m.started, m.last = true, x
		return x, true, nil
	}
	return 0, false, nil
}

func (m *merger) close() {
	for _, it := range m.h {
		it.src.close()
	}
	m.h = nil
}
