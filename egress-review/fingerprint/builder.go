package fingerprint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
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
	// when a partition too long to sort in memory is sorted in pieces and
	// merged (see partSource).
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
	// from its front and rows from its back, and a full buffer is cut in
	// partitions (see partRuns) and written out as one run file per kind.
	values, rows []uint64
	buf          []uint64
	scratch      []uint64 // for the radix sort of buf, as large
	bufMem       *words   // buf's and scratch's memory, outside the Go heap
	scratchMem   *words
	nv, nr       int

	spill     bool
	dir       string
	maxBytes  int
	valueRuns partRuns // the runs of each kind, cut in partitions
	rowRuns   partRuns
	files     []string   // every run file made, for reset and Close
	filesMu   sync.Mutex // WriteSet sorts the two kinds at once
	err       error      // the first spill error, returned by Build and WriteSet
	closed    bool
}

// errClosed is returned by Build and WriteSet after Close: an empty set
// written by mistake would find nothing.
var errClosed = fmt.Errorf("fingerprint builder is closed: %w", errdefs.ErrFailedPrecondition)

// BuilderOption configures a Builder made by NewBuilder.
type BuilderOption func(*Builder)

// WithSpill bounds the Builder's memory: it keeps at most maxBytes of
// fingerprints in memory and beyond that cuts them in partitions into a run
// file (mode 0600) in dir (os.TempDir when empty). Cutting and sorting use
// as much again of scratch space, so the Builder holds 2*maxBytes, outside
// the Go heap on Linux (released by Close, or once the Builder is
// unreachable). WriteSet sorts the runs partition by partition in that
// memory, with every run file open meanwhile. Budgets under 64 bytes are
// raised to 64. Call Close to remove the run files.
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

// spillBuffer writes the buffer out as one run per kind, each cut in
// partitions (see partRuns) but not sorted: sorting waits until WriteSet
// has every run, when each partition of all the runs together is sorted
// once, in cache, instead of each run sorted here and all merged there.
func (b *Builder) spillBuffer() error {
	if err := b.spillKind(&b.valueRuns, b.buf[:b.nv]); err != nil {
		return err
	}
	if err := b.spillKind(&b.rowRuns, b.buf[len(b.buf)-b.nr:]); err != nil {
		return err
	}
	b.nv, b.nr = 0, 0
	return nil
}

// spillKind cuts xs in k's partitions, in scratch, and writes them as a
// run of k. The first run of a kind sets its partitions' bounds.
func (b *Builder) spillKind(k *partRuns, xs []uint64) error {
	if len(xs) == 0 {
		return nil
	}
	if k.cut == nil {
		k.cut = cutTable(xs)
	}
	s := b.scratchFor(len(xs))
	off := scatterParts(xs, s, k.cut)
	name, _, err := b.writeRun(&sliceSource{s: s})
	if err != nil {
		return err
	}
	k.runs = append(k.runs, partRun{name: name, off: off})
	return nil
}

// scratchFor returns the first n words of the scratch space, which is
// allocated once, as the buffer is, rather than at every spill.
func (b *Builder) scratchFor(n int) []uint64 {
	if b.scratch == nil {
		b.scratchMem = newWords(b, len(b.buf))
		b.scratch = b.scratchMem.s
	}
	return b.scratch[:n]
}

// buffered sorts and deduplicates the spill buffer in place and returns its
// two halves.
func (b *Builder) buffered() (values, rows []uint64) {
	values, rows = b.buf[:b.nv], b.buf[len(b.buf)-b.nr:]
	sortBoth(values, rows, b.scratchFor(len(b.buf)))
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
		if values, err = b.collect(b.valueRuns.names(), b.buf[:b.nv]); err != nil {
			return nil, err
		}
		if rows, err = b.collect(b.rowRuns.names(), b.buf[len(b.buf)-b.nr:]); err != nil {
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
// With spill runs it writes the buffer as a last run and then sorts each
// partition of each kind (all the runs' parts of it together) and writes
// it deduplicated to a run file, the two kinds at once and the larger in
// two ranges of partitions at once (three goroutines, each in a third of
// the buffer and of its scratch space), and streams those files. A
// partition larger than its third is sorted in pieces and merged. Memory
// stays within the WithSpill budget plus a small read buffer per run. Like
// Build, it leaves the Builder empty; its run files are removed whatever
// the outcome.
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
	var vsrc, rsrc source
	var nv, nr uint64
	if len(b.valueRuns.runs) == 0 && len(b.rowRuns.runs) == 0 {
		bv, br := b.buffered()
		vsrc, nv = &sliceSource{s: bv}, uint64(len(bv))
		rsrc, nr = &sliceSource{s: br}, uint64(len(br))
	} else {
		if err := b.spillBuffer(); err != nil {
			return 0, 0, err
		}
		if vsrc, nv, rsrc, nr, err = b.sortRuns(); err != nil {
			return 0, 0, err
		}
	}
	defer vsrc.close()
	defer rsrc.close()
	if nv > MaxEntries || nr > MaxEntries {
		return 0, 0, fmt.Errorf("fingerprint set of %d values and %d rows exceeds %d: %w", nv, nr, MaxEntries, errdefs.ErrOutOfRange)
	}
	if _, err := writeSet(w, b.keyID, vsrc, nv, rsrc, nr); err != nil {
		return 0, 0, err
	}
	return int(nv), int(nr), nil
}

// sortRuns sorts and deduplicates every run of both kinds (see WriteSet)
// and returns each kind's fingerprints, in increasing order, with their
// number.
func (b *Builder) sortRuns() (vsrc source, nv uint64, rsrc source, nr uint64, err error) {
	kinds := []*partRuns{&b.valueRuns, &b.rowRuns}
	var jobs []partJob
	for i, k := range kinds {
		parts := 1
		if k.total() > kinds[1-i].total() {
			parts = 2 // the larger kind in two ranges
		}
		for _, r := range k.ranges(parts) {
			jobs = append(jobs, partJob{kind: i, from: r[0], to: r[1]})
		}
	}
	// Each job sorts in its share of the buffer and of the scratch space.
	share := len(b.buf) / len(jobs)
	s := b.scratchFor(len(b.buf))
	var files [2][]*os.File
	defer func() {
		for _, fs := range files {
			for _, f := range fs {
				f.Close()
			}
		}
	}()
	for i, k := range kinds {
		for _, r := range k.runs {
			f, err := os.Open(r.name)
			if err != nil {
				return nil, 0, nil, 0, fmt.Errorf("open fingerprint run: %w", err)
			}
			files[i] = append(files[i], f)
		}
	}
	var wg sync.WaitGroup
	for j := range jobs {
		job := &jobs[j]
		g, t := b.buf[j*share:(j+1)*share:(j+1)*share], s[j*share:(j+1)*share:(j+1)*share]
		run := func() {
			src := &partSource{b: b, k: kinds[job.kind], files: files[job.kind], p: job.from, to: job.to, g: g, t: t}
			job.name, job.n, job.err = b.writeRun(src)
		}
		if j == len(jobs)-1 {
			run()
		} else {
			wg.Go(run)
		}
	}
	wg.Wait()
	var srcs [2]concatSource
	var ns [2]uint64
	var errs []error
	for _, job := range jobs {
		errs = append(errs, job.err)
		if job.err != nil {
			continue
		}
		r, err := openRun(job.name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		srcs[job.kind] = append(srcs[job.kind], r)
		ns[job.kind] += job.n
	}
	if err := errors.Join(errs...); err != nil {
		srcs[0].close()
		srcs[1].close()
		return nil, 0, nil, 0, err
	}
	// The runs are read now; their disk space can go.
	for _, k := range kinds {
		for _, r := range k.runs {
			os.Remove(r.name)
		}
	}
	return &srcs[0], ns[0], &srcs[1], ns[1], nil
}

// partJob is one range of partitions of one kind for sortRuns: its result
// is a run file of n fingerprints.
type partJob struct {
	kind     int
	from, to int
	name     string
	n        uint64
	err      error
}

// partSource yields partitions [p, to) of k, whose run files are files,
// sorted and deduplicated, one after the other. It reads each partition
// into g and sorts it with t (as long) as scratch; a partition longer than
// g is sorted in pieces of g's length, written out and merged.
type partSource struct {
	b      *Builder
	k      *partRuns
	files  []*os.File
	p, to  int
	g, t   []uint64
	merged source // the merge of a large partition's pieces
	pieces []string
	sorted bool // the partitions so far were mostly distinct: sort them as they are
}

func (ps *partSource) block() ([]uint64, error) {
	for {
		if ps.merged != nil {
			xs, err := ps.merged.block()
			if err != nil || len(xs) > 0 {
				return xs, err
			}
			ps.closeMerged()
		}
		if ps.p >= ps.to {
			return nil, nil
		}
		p := ps.p
		ps.p++
		size := ps.k.size(p)
		switch {
		case size == 0:
			continue
		case size <= int64(len(ps.g)):
			xs := ps.g[:0]
			for i, r := range ps.k.runs {
				var err error
				if xs, err = readRun(ps.files[i], r.off[p], r.off[p+1], xs); err != nil {
					return nil, err
				}
			}
			if !ps.sorted && distinctTable(len(xs)) <= len(ps.t) {
				// Most value fingerprints come back several times
				// (an identifier in every row of its holder): drop
				// the copies first, in a table in cache, and sort
				// what is left. A kind whose partitions are mostly
				// distinct (the rows) is sorted as it is from then on.
				all := len(xs)
				xs = distinct(xs, ps.t)
				ps.sorted = 4*len(xs) > 3*all
			}
			sortHashes(xs, ps.t)
			return slices.Compact(xs), nil
		default:
			if err := ps.mergePieces(p); err != nil {
				return nil, err
			}
		}
	}
}

// distinctTable is the length of the table distinct needs for n values:
// a power of two at least 1.5 times n (at most two thirds full), small
// enough to stay in cache for a partition.
func distinctTable(n int) int {
	size := 16
	for size < n+n/2 {
		size *= 2
	}
	return size
}

// distinct moves the distinct values of xs to its front, in no order, and
// returns them. It uses table (at least distinctTable(len(xs)) long) as an
// open addressing hash set; 0 marks an empty slot, so a 0 in xs is kept
// apart.
func distinct(xs, table []uint64) []uint64 {
	size := distinctTable(len(xs))
	tab := table[:size]
	clear(tab)
	shift := 64 - uint(bits.Len(uint(size-1)))
	mask := uint64(size - 1)
	zero := false
	for _, x := range xs {
		if x == 0 {
			zero = true
			continue
		}
		// Fibonacci hashing: the slot is the product's top bits, spread
		// whatever the values' low bits (fingerprints' are keyed hash
		// already; a test's may not be).
		for i := (x * 0x9E3779B97F4A7C15) >> shift; ; i = (i + 1) & mask {
			if v := tab[i]; v == x {
				break
			} else if v == 0 {
				tab[i] = x
				break
			}
		}
	}
	out := xs[:0]
	if zero {
		out = append(out, 0)
	}
	for _, v := range tab {
		if v != 0 {
			out = append(out, v)
		}
	}
	return out
}

// mergePieces sorts partition p in pieces as long as g, writes each out
// and opens their merge.
func (ps *partSource) mergePieces(p int) error {
	xs := ps.g[:0]
	piece := func() error {
		if len(xs) == 0 {
			return nil
		}
		sortHashes(xs, ps.t)
		name, _, err := ps.b.writeRun(&sliceSource{s: slices.Compact(xs)})
		if err != nil {
			return err
		}
		ps.pieces = append(ps.pieces, name)
		xs = ps.g[:0]
		return nil
	}
	for i, r := range ps.k.runs {
		for from := r.off[p]; from < r.off[p+1]; {
			to := min(r.off[p+1], from+int64(cap(xs)-len(xs)))
			var err error
			if xs, err = readRun(ps.files[i], from, to, xs); err != nil {
				return err
			}
			from = to
			if len(xs) == cap(xs) {
				if err := piece(); err != nil {
					return err
				}
			}
		}
	}
	if err := piece(); err != nil {
		return err
	}
	src, err := ps.b.mergeRuns(ps.pieces)
	if err != nil {
		return err
	}
	ps.merged = src
	return nil
}

func (ps *partSource) closeMerged() {
	if ps.merged != nil {
		ps.merged.close()
		ps.merged = nil
	}
	for _, name := range ps.pieces {
		os.Remove(name)
	}
	ps.pieces = nil
}

func (ps *partSource) close() { ps.closeMerged() }

// readRun appends the fingerprints from index from up to to of run file f
// to xs, which must have room for them.
func readRun(f *os.File, from, to int64, xs []uint64) ([]uint64, error) {
	if to <= from {
		return xs, nil
	}
	n := len(xs)
	xs = xs[:n+int(to-from)]
	dst := xs[n:]
	if _, err := f.ReadAt(uint64Bytes(dst), 8*from); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("read fingerprint run: ends before fingerprint %d: %w", to, errdefs.ErrDataLoss)
		}
		return nil, fmt.Errorf("read fingerprint run: %w", err)
	}
	if !littleEndian {
		for i, x := range dst {
			dst[i] = bits.ReverseBytes64(x)
		}
	}
	return xs, nil
}

// mergeRuns returns the deduplicated merge of sorted runs: when there are
// more than mergeFanIn, it first merges them mergeFanIn at a time into new
// run files (removing the old ones, to bound the disk space used) until
// at most mergeFanIn are left.
func (b *Builder) mergeRuns(runs []string) (source, error) {
	for len(runs) > mergeFanIn {
		src, err := openMerge(runs[:mergeFanIn])
		if err != nil {
			return nil, err
		}
		name, _, err := b.writeRun(src)
		if err != nil {
			return nil, err
		}
		for _, old := range runs[:mergeFanIn] {
			os.Remove(old)
		}
		runs = append(slices.Clone(runs[mergeFanIn:]), name)
	}
	return openMerge(runs)
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

// openMerge returns the deduplicated merge of sorted runs.
func openMerge(runs []string) (source, error) {
	srcs := make([]source, 0, len(runs))
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
	b.valueRuns, b.rowRuns, b.files = partRuns{}, partRuns{}, nil
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
