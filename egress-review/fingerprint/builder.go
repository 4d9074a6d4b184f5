package fingerprint

import (
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
	// mergeFanIn bounds the number of runs merged (and files open) at once
	// for each kind: 128 runs of a 16 MiB budget cover some 8 GiB of input
	// in one merge.
	mergeFanIn = 128
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
	bufMem       *words   // buf's and scratch's memory, outside the Go heap
	scratchMem   *words
	nv, nr       int

	spill     bool
	dir       string
	maxBytes  int
	valueRuns []string // sorted, deduplicated runs of each kind
	rowRuns   []string
	files     []string   // every run file made, for reset and Close
	filesMu   sync.Mutex // WriteSet merges the two kinds at once
	err       error      // the first spill error, returned by Build and WriteSet
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
// again of scratch space, so the Builder holds 2*maxBytes, outside the Go
// heap on Linux (released by Close, or once the Builder is unreachable). WriteSet merges
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

// AddValues adds value fingerprints as AddValue does each, copying them in
// blocks rather than one call per fingerprint.
func (b *Builder) AddValues(hs []uint64) {
	if !b.spill && !b.closed {
		b.values = append(b.values, hs...)
		return
	}
	for len(hs) > 0 && b.room() {
		n := copy(b.buf[b.nv:len(b.buf)-b.nr], hs)
		b.nv += n
		hs = hs[n:]
	}
}

// AddRows adds row fingerprints as AddRow does each, copying them in
// blocks rather than one call per fingerprint.
func (b *Builder) AddRows(hs []uint64) {
	if !b.spill && !b.closed {
		b.rows = append(b.rows, hs...)
		return
	}
	for len(hs) > 0 && b.room() {
		// Rows grow from the back of the buffer (in any order: it is
		// sorted before it is used).
		free := b.buf[b.nv : len(b.buf)-b.nr]
		n := copy(free[max(len(free)-len(hs), 0):], hs)
		b.nr += n
		hs = hs[n:]
	}
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
		b.bufMem = newWords(b, b.maxBytes/8)
		b.buf = b.bufMem.s
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
		b.scratchMem = newWords(b, len(b.buf))
		b.scratch = b.scratchMem.s
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
// number of fingerprints written. It closes src.
func (b *Builder) writeRun(src source) (string, uint64, error) {
	defer src.close()
	f, err := os.CreateTemp(b.dir, "fingerprints-*.run")
	if err != nil {
		return "", 0, fmt.Errorf("create fingerprint run: %w", err)
	}
	name := f.Name()
	b.filesMu.Lock()
	b.files = append(b.files, name)
	b.filesMu.Unlock()
	fail := func(err error) (string, uint64, error) {
		f.Close()
		os.Remove(name)
		return "", 0, fmt.Errorf("write fingerprint run: %w", err)
	}
	enc := newEncoder(f)
	var n uint64
	for {
		xs, err := src.block()
		if err != nil {
			return fail(err)
		}
		if len(xs) == 0 {
			break
		}
		n += uint64(len(xs))
		if err := enc.write(xs); err != nil {
			return fail(err)
		}
	}
	if err := enc.flush(); err != nil {
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
			xs, err := r.block()
			if err != nil {
				r.close()
				return nil, err
			}
			if len(xs) == 0 {
				break
			}
			out = append(out, xs...)
		}
		r.close()
	}
	return append(out, buffered...), nil
}

// WriteSet writes the set of everything added, exactly as Build().WriteTo
// would, and returns the number of distinct value and row fingerprints.
// With spill runs it merges the runs (and the buffer) of each kind into
// deduplicated run files, counted for the header, the two kinds at once
// and the larger in two ranges at once (three goroutines), and streams
// those, so its memory stays within the WithSpill budget plus a small read
// buffer per run. Like Build, it leaves
// the Builder empty; its run files are removed whatever the outcome.
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
	var (
		vsrc, rsrc source
		nv, nr     uint64
		verr, rerr error
		wg         sync.WaitGroup
	)
	// The two kinds at once, and the larger in two ranges at once too,
	// so that two cores have work until the end.
	vparts, rparts := 2, 1
	if len(br) > len(bv) {
		vparts, rparts = 1, 2
	}
	wg.Go(func() { vsrc, nv, verr = b.mergeAll(b.valueRuns, bv, vparts) })
	rsrc, nr, rerr = b.mergeAll(b.rowRuns, br, rparts)
	wg.Wait()
	for _, s := range []source{vsrc, rsrc} {
		if s != nil {
			defer s.close()
		}
	}
	if err := errors.Join(verr, rerr); err != nil {
		return 0, 0, err
	}
	if nv > MaxEntries || nr > MaxEntries {
		return 0, 0, fmt.Errorf("fingerprint set of %d values and %d rows exceeds %d: %w", nv, nr, MaxEntries, errdefs.ErrOutOfRange)
	}
	if _, err := writeSet(w, b.keyID, vsrc, nv, rsrc, nr); err != nil {
		return 0, 0, err
	}
	return int(nv), int(nr), nil
}

// mergeAll merges runs and the sorted, deduplicated buffered fingerprints
// into one deduplicated sequence and returns it with its length: the
// buffer itself when there are no runs, else run files made by merging
// mergeFanIn runs at a time (removing them as it goes, to bound the disk
// space used) until at most mergeFanIn are left, then those with the
// buffer. The last pass is split into parts ranges of fingerprints, merged
// at once on goroutines of their own into a run file each, when it has at
// least splitMin fingerprints to read.
func (b *Builder) mergeAll(runs []string, buffered []uint64, parts int) (source, uint64, error) {
	if len(runs) == 0 {
		return &sliceSource{s: buffered}, uint64(len(buffered)), nil
	}
	for len(runs) > mergeFanIn {
		src, err := openMerge(runs[:mergeFanIn], nil)
		if err != nil {
			return nil, 0, err
		}
		name, _, err := b.writeRun(src)
		if err != nil {
			return nil, 0, err
		}
		for _, old := range runs[:mergeFanIn] {
			os.Remove(old)
		}
		runs = append(slices.Clone(runs[mergeFanIn:]), name)
	}
	if len(runs) > 1 || len(buffered) > 0 {
		total := int64(len(buffered))
		for _, name := range runs {
			st, err := os.Stat(name)
			if err != nil {
				return nil, 0, fmt.Errorf("open fingerprint run: %w", err)
			}
			total += st.Size() / 8
		}
		if total < splitMin {
			parts = 1
		}
		var err error
		if runs, err = b.mergeParts(runs, buffered, parts); err != nil {
			return nil, 0, err
		}
	}
	var srcs concatSource
	var n uint64
	for _, name := range runs {
		r, err := openRun(name)
		if err != nil {
			srcs.close()
			return nil, 0, err
		}
		srcs = append(srcs, r)
		n += uint64(r.size / 8)
	}
	return &srcs, n, nil
}

// splitMin is the number of fingerprints from which mergeAll splits its
// last pass; a variable for tests.
var splitMin int64 = 1 << 20

// mergeParts merges runs and buffered into parts run files, the
// fingerprints of each below those of the next, merged on a goroutine
// each, and removes runs. The ranges are cut at fingerprints of the first
// run, which is a sample of them all.
func (b *Builder) mergeParts(runs []string, buffered []uint64, parts int) ([]string, error) {
	cuts, err := runQuantiles(runs[0], parts)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(cuts)+1)
	errs := make([]error, len(cuts)+1)
	var wg sync.WaitGroup
	for p := range out {
		lo, hi := uint64(0), ^uint64(0)
		hasHi := p < len(cuts)
		if p > 0 {
			lo = cuts[p-1]
		}
		if hasHi {
			hi = cuts[p]
		}
		part := func() {
			src, err := openMergeRange(runs, buffered, lo, hi, hasHi)
			if err == nil {
				out[p], _, err = b.writeRun(src)
			}
			errs[p] = err
		}
		if p == len(out)-1 {
			part()
		} else {
			wg.Go(part)
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, old := range runs {
		os.Remove(old)
	}
	return out, nil
}

// runQuantiles returns up to parts-1 increasing fingerprints of run file
// name that cut it into parts of about the same length.
func runQuantiles(name string, parts int) ([]uint64, error) {
	if parts < 2 {
		return nil, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open fingerprint run: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open fingerprint run: %w", err)
	}
	n := st.Size() / 8
	var cuts []uint64
	for p := 1; p < parts; p++ {
		x, err := runAt(f, n*int64(p)/int64(parts))
		if err != nil {
			return nil, err
		}
		if len(cuts) == 0 || x > cuts[len(cuts)-1] {
			cuts = append(cuts, x)
		}
	}
	return cuts, nil
}

// runAt reads the fingerprint at index i of a run file.
func runAt(f *os.File, i int64) (uint64, error) {
	var p [8]byte
	if _, err := f.ReadAt(p[:], 8*i); err != nil {
		return 0, fmt.Errorf("read fingerprint run: %w", err)
	}
	return binary.LittleEndian.Uint64(p[:]), nil
}

// searchRun returns the index of the first fingerprint of a run file of n
// that is at least x (n when none is).
func searchRun(f *os.File, n int64, x uint64) (int64, error) {
	lo, hi := int64(0), n
	for lo < hi {
		m := lo + (hi-lo)/2
		v, err := runAt(f, m)
		if err != nil {
			return 0, err
		}
		if v < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, nil
}

// openMergeRange returns the deduplicated merge of the fingerprints in
// [lo, hi) (in [lo, ^0] when hasHi is false) of runs and of the sorted,
// deduplicated buffered fingerprints.
func openMergeRange(runs []string, buffered []uint64, lo, hi uint64, hasHi bool) (source, error) {
	srcs := make([]source, 0, len(runs)+1)
	fail := func(err error) (source, error) {
		for _, s := range srcs {
			s.close()
		}
		return nil, err
	}
	for _, name := range runs {
		r, err := openRun(name)
		if err != nil {
			return fail(err)
		}
		srcs = append(srcs, r)
		n := r.size / 8
		from, to := int64(0), n
		if lo > 0 {
			if from, err = searchRun(r.f, n, lo); err != nil {
				return fail(err)
			}
		}
		if hasHi {
			if to, err = searchRun(r.f, n, hi); err != nil {
				return fail(err)
			}
		}
		if err := r.limit(from, to); err != nil {
			return fail(err)
		}
	}
	from, _ := slices.BinarySearch(buffered, lo)
	to := len(buffered)
	if hasHi {
		to, _ = slices.BinarySearch(buffered, hi)
	}
	if from < to {
		srcs = append(srcs, &sliceSource{s: buffered[from:to]})
	}
	return newMerger(srcs)
}

// concatSource yields its sources one after the other.
type concatSource []source

func (c *concatSource) block() ([]uint64, error) {
	for len(*c) > 0 {
		xs, err := (*c)[0].block()
		if err != nil || len(xs) > 0 {
			return xs, err
		}
		(*c)[0].close()
		*c = (*c)[1:]
	}
	return nil, nil
}

func (c *concatSource) close() {
	for _, s := range *c {
		s.close()
	}
	*c = nil
}

// openMerge returns the deduplicated merge of runs and the sorted,
// deduplicated buffered fingerprints.
func openMerge(runs []string, buffered []uint64) (source, error) {
	srcs := make([]source, 0, len(runs)+1)
	for _, name := range runs {
		r, err := openRun(name)
		if err != nil {
			for _, s := range srcs {
				s.close()
			}
			return nil, err
		}
		srcs = append(srcs, r)
	}
	if len(buffered) > 0 {
		srcs = append(srcs, &sliceSource{s: buffered})
	}
	return newMerger(srcs)
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
	b.bufMem.free()
	b.scratchMem.free()
	b.bufMem, b.scratchMem = nil, nil
	b.closed = true
	return err
}

// runReader reads a run file a block at a time.
type runReader struct {
	f    *os.File
	size int64
	left int64    // bytes left to read
	blk  []byte   // the last block read
	vals []uint64 // its fingerprints
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
	vals := make([]uint64, runBufSize/8)
	blk := make([]byte, runBufSize)
	if littleEndian {
		blk = uint64Bytes(vals)
	}
	return &runReader{f: f, size: st.Size(), left: st.Size(), blk: blk, vals: vals[:0]}, nil
}

// limit makes r read only the fingerprints from index from up to to.
func (r *runReader) limit(from, to int64) error {
	if _, err := r.f.Seek(8*from, io.SeekStart); err != nil {
		return fmt.Errorf("read fingerprint run: %w", err)
	}
	r.left = 8 * max(to-from, 0)
	return nil
}

func (r *runReader) block() ([]uint64, error) {
	if r.left == 0 {
		return nil, nil
	}
	n, err := io.ReadFull(r.f, r.blk[:min(int64(len(r.blk)), r.left)])
	r.left -= int64(n)
	switch {
	case err == io.EOF:
		return nil, nil
	case err == io.ErrUnexpectedEOF && n%8 == 0:
	case err == io.ErrUnexpectedEOF:
		return nil, fmt.Errorf("read fingerprint run: %d bytes at the end: %w", n, errdefs.ErrDataLoss)
	case err != nil:
		return nil, fmt.Errorf("read fingerprint run: %w", err)
	}
	if littleEndian {
		// r.blk is r.vals's memory: the bytes are the fingerprints.
		return r.vals[:n/8], nil
	}
	r.vals = r.vals[:n/8]
	for i := range r.vals {
		r.vals[i] = binary.LittleEndian.Uint64(r.blk[8*i:])
	}
	return r.vals, nil
}

func (r *runReader) close() { r.f.Close() }

// merger is a k-way merge of increasing sources that drops duplicates. It
// is a tree of losers (Knuth, TAOCP vol. 3, 5.4.1) over the sources' head
// values, kept in one slice: each fingerprint costs one comparison of two
// loaded words per level of the tree, and an interface call per block. A
// source that is done has the head ^uint64(0), which sorts after every
// other value but that one; block tells them apart when it wins.
type merger struct {
	srcs  []source
	keys  []uint64   // each source's head value; ^0 when done
	rest  [][]uint64 // what is left of each source's block after its head
	done  []bool
	tree  []int // tree[0] the winner, tree[1:] the loser at each node
	out   []uint64
	last  uint64
	any   bool
	ended bool
}

// mergeBlock is the length of the blocks a merger returns.
const mergeBlock = 4096

// newMerger returns the merge of srcs, taking ownership of them.
func newMerger(srcs []source) (*merger, error) {
	k := len(srcs)
	m := &merger{srcs: srcs, keys: make([]uint64, k), rest: make([][]uint64, k), done: make([]bool, k),
		out: make([]uint64, 0, mergeBlock)}
	for i := range srcs {
		if err := m.next(i); err != nil {
			m.close()
			return nil, err
		}
	}
	m.tree = make([]int, max(k, 1))
	for i := range m.tree {
		m.tree[i] = -1
	}
	if k == 0 {
		m.ended = true
		return m, nil
	}
	// Leaves k to 2k-1 stand for the sources; each climbs until it finds
	// a node no other has reached yet and waits there, or plays the one
	// waiting, leaves the loser and climbs on with the winner.
	for i := range k {
		w := i
		for p := (i + k) / 2; p > 0; p /= 2 {
			if m.tree[p] < 0 {
				m.tree[p], w = w, -1
				break
			}
			if m.keys[m.tree[p]] < m.keys[w] {
				m.tree[p], w = w, m.tree[p]
			}
		}
		if w >= 0 {
			m.tree[0] = w
		}
	}
	return m, nil
}

// next moves source i's head to its next value, reading its next block
// when the current one is used up.
func (m *merger) next(i int) error {
	for len(m.rest[i]) == 0 {
		if m.done[i] {
			return nil
		}
		xs, err := m.srcs[i].block()
		if err != nil {
			return err
		}
		if len(xs) == 0 {
			m.done[i], m.keys[i] = true, ^uint64(0)
			return nil
		}
		m.rest[i] = xs
	}
	m.keys[i], m.rest[i] = m.rest[i][0], m.rest[i][1:]
	return nil
}

func (m *merger) block() ([]uint64, error) {
	out := m.out[:0]
	if m.ended {
		return out, nil
	}
	k := len(m.srcs)
	keys, tree := m.keys, m.tree
	for len(out) < cap(out) {
		w := tree[0]
		x := keys[w]
		if m.done[w] {
			// Every source left has the head ^0 (the winner's), so
			// only that value can be left to yield.
			m.ended = true
			for i := range k {
				if !m.done[i] && (!m.any || m.last != x) {
					out = append(out, x)
					m.last, m.any = x, true
				}
			}
			break
		}
		if !m.any || x != m.last {
			out = append(out, x)
			m.last, m.any = x, true
		}
		if r := m.rest[w]; len(r) > 0 {
			keys[w], m.rest[w] = r[0], r[1:]
		} else if err := m.next(w); err != nil {
			return nil, err
		}
		kw := keys[w]
		for p := (w + k) / 2; p > 0; p /= 2 {
			// Without a branch (conditional moves): which source
			// wins at a node is as good as random.
			t := tree[p]
			kt := keys[t]
			win, lose := w, t
			if kt < kw {
				win, lose = t, w
			}
			tree[p] = lose
			w, kw = win, min(kt, kw)
		}
		tree[0] = w
	}
	return out, nil
}

func (m *merger) close() {
	for _, s := range m.srcs {
		s.close()
	}
	m.srcs, m.rest = nil, nil
	m.ended = true
}
