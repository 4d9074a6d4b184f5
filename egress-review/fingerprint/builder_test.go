package fingerprint

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/errdefs"
)

// adds is a sequence of AddValue and AddRow calls.
type adds struct {
	values, rows []uint64
}

func (a adds) apply(b *Builder) {
	// Interleave the kinds so that both halves of the buffer fill.
	for i := range max(len(a.values), len(a.rows)) {
		if i < len(a.values) {
			b.AddValue(a.values[i])
		}
		if i < len(a.rows) {
			b.AddRow(a.rows[i])
		}
	}
}

// applyBlocks makes the same additions as apply through AddValues and
// AddRows, in blocks of random lengths (some empty, some larger than a
// spill buffer).
func (a adds) applyBlocks(b *Builder, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 2))
	vs, rs := a.values, a.rows
	for len(vs) > 0 || len(rs) > 0 {
		n := min(r.IntN(40), len(vs))
		b.AddValues(vs[:n])
		vs = vs[n:]
		n = min(r.IntN(12), len(rs))
		b.AddRows(rs[:n])
		rs = rs[n:]
	}
}

// randomAdds draws n values and n/4 rows from distinct possible hashes, so
// that there are duplicates within and across runs.
func randomAdds(seed uint64, n, distinct int) adds {
	r := rand.New(rand.NewPCG(seed, 1))
	var a adds
	pick := func() uint64 {
		// Spread over the whole range, including 0 and the top bits.
		x := uint64(r.IntN(distinct))
		return x*0x9e3779b97f4a7c15 ^ x>>3
	}
	for range n {
		a.values = append(a.values, pick())
	}
	for range n / 4 {
		a.rows = append(a.rows, pick())
	}
	return a
}

func runFiles(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("run file %q: got mode %v, want 0600", e.Name(), perm)
		}
	}
	return len(ents)
}

func TestBuilderWriteSetMatchesBuild(t *testing.T) {
	for _, tc := range []struct {
		name        string
		n, distinct int
		maxBytes    int
		wantRuns    bool
	}{
		{"empty", 0, 1, 64, false},
		{"fits in memory", 100, 1000, 1 << 20, false},
		{"one spill", 20, 10, 64, true},
		{"runs merged in memory", 20, 5, 128, true},
		{"many runs many duplicates", 1500, 300, 64, true},
		{"many runs few duplicates", 3000, 1 << 30, 200, true},
		{"multi-pass merge", 3000, 1000, 64, true},
		{"budget below minimum", 500, 100, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := randomAdds(uint64(tc.n)*31+uint64(tc.maxBytes), tc.n, tc.distinct)
			testWriteSetMatchesBuild(t, a, tc.maxBytes, tc.wantRuns)
		})
	}
	// Partitions cut after a first run unlike the rest: the values of
	// the first fill the bottom of the range and those after the top, so
	// that a few partitions take nearly everything and are sorted in
	// pieces, merged in several passes.
	t.Run("partitions cut on an unlike first run", func(t *testing.T) {
		var a adds
		for i := range 6000 {
			x := uint64(i) * 0x9e3779b97f4a7c15 >> 8
			if i >= 40 {
				x |= 0xff << 56
			}
			a.values = append(a.values, x, x^1)
			a.rows = append(a.rows, x>>1)
		}
		testWriteSetMatchesBuild(t, a, 256, true)
	})
	// One value repeated in every row: its partition holds every copy
	// until the end.
	t.Run("one value repeated", func(t *testing.T) {
		var a adds
		for i := range 5000 {
			a.values = append(a.values, 0x1234_5678_9abc_def0, uint64(i)*0x9e3779b97f4a7c15)
			a.rows = append(a.rows, uint64(i)*0x2545f4914f6cdd1d)
		}
		testWriteSetMatchesBuild(t, a, 512, true)
	})
}

// testWriteSetMatchesBuild is one case of TestBuilderWriteSetMatchesBuild.
func testWriteSetMatchesBuild(t *testing.T, a adds, maxBytes int, wantRuns bool) {

	ref := NewBuilder()
	ref.SetKeyID(42)
	a.apply(ref)
	set, err := ref.Build()
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if _, err := set.WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	wantV, wantR := set.Len()

	dir := t.TempDir()
	b := NewBuilder(WithSpill(dir, maxBytes))
	b.SetKeyID(42)
	a.apply(b)
	if got := runFiles(t, dir) > 0; got != wantRuns {
		t.Errorf("run files made: got %v, want %v", got, wantRuns)
	}
	var got bytes.Buffer
	nv, nr, err := b.WriteSet(&got)
	if err != nil {
		t.Fatalf("WriteSet: %v", err)
	}
	if nv != wantV || nr != wantR {
		t.Errorf("WriteSet counts: got %d, %d, want %d, %d", nv, nr, wantV, wantR)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("WriteSet: got %d bytes differing from Build().WriteTo's %d", got.Len(), want.Len())
	}
	if n := runFiles(t, dir); n != 0 {
		t.Errorf("after WriteSet: got %d run files, want 0", n)
	}

	// Build with spill runs gives the same set.
	b2 := NewBuilder(WithSpill(dir, maxBytes))
	b2.SetKeyID(42)
	a.apply(b2)
	set2, err := b2.Build()
	if err != nil {
		t.Fatalf("Build with spill: %v", err)
	}
	var got2 bytes.Buffer
	if _, err := set2.WriteTo(&got2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got2.Bytes(), want.Bytes()) {
		t.Errorf("Build with spill: got a set differing from Build without")
	}
	for _, c := range []*Builder{b, b2, b2} {
		if err := c.Close(); err != nil {
			t.Errorf("Close: got %v, want nil", err)
		}
	}
	if n := runFiles(t, dir); n != 0 {
		t.Errorf("after Close: got %d run files, want 0", n)
	}
}

// TestBuilderAddBlocks checks that AddValues and AddRows build the same
// set as AddValue and AddRow, in memory and spilling.
func TestBuilderAddBlocks(t *testing.T) {
	for _, maxBytes := range []int{0, 64, 200, 1 << 20} {
		for _, n := range []int{0, 7, 300, 3000} {
			a := randomAdds(uint64(n)+uint64(maxBytes), n, 500)
			var opts []BuilderOption
			if maxBytes > 0 {
				opts = append(opts, WithSpill(t.TempDir(), maxBytes))
			}
			one, blocks := NewBuilder(opts...), NewBuilder(opts...)
			a.apply(one)
			a.applyBlocks(blocks, uint64(n))
			var want, got bytes.Buffer
			wv, wr, err := one.WriteSet(&want)
			if err != nil {
				t.Fatal(err)
			}
			gv, gr, err := blocks.WriteSet(&got)
			if err != nil {
				t.Fatal(err)
			}
			if gv != wv || gr != wr || !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("budget %d, %d values: got %d values, %d rows (%d bytes), want %d, %d (%d bytes, the same)",
					maxBytes, n, gv, gr, got.Len(), wv, wr, want.Len())
			}
			one.Close()
			blocks.Close()
		}
	}
}

func TestBuilderCloseRemovesRuns(t *testing.T) {
	dir := t.TempDir()
	b := NewBuilder(WithSpill(dir, 64))
	randomAdds(7, 1000, 100).apply(b)
	if n := runFiles(t, dir); n == 0 {
		t.Fatalf("got no run files, want some")
	}
	if got := 8 * cap(b.buf); got > 64 {
		t.Errorf("in-memory buffer: got %d bytes, want at most 64", got)
	}
	for i := range 2 {
		if err := b.Close(); err != nil {
			t.Errorf("Close %d: got %v, want nil", i, err)
		}
		if n := runFiles(t, dir); n != 0 {
			t.Errorf("after Close %d: got %d run files, want 0", i, n)
		}
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestBuilderErrors(t *testing.T) {
	errDisk := errors.New("disk full")
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (*Builder, func(*Builder) error)
	}{
		{"spill directory missing", func(t *testing.T) (*Builder, func(*Builder) error) {
			b := NewBuilder(WithSpill(filepath.Join(t.TempDir(), "gone"), 64))
			return b, func(b *Builder) error {
				_, _, err := b.WriteSet(&bytes.Buffer{})
				return err
			}
		}},
		{"spill directory missing, Build", func(t *testing.T) (*Builder, func(*Builder) error) {
			b := NewBuilder(WithSpill(filepath.Join(t.TempDir(), "gone"), 64))
			return b, func(b *Builder) error {
				_, err := b.Build()
				return err
			}
		}},
		{"run file removed", func(t *testing.T) (*Builder, func(*Builder) error) {
			dir := t.TempDir()
			b := NewBuilder(WithSpill(dir, 64))
			return b, func(b *Builder) error {
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					os.Remove(filepath.Join(dir, e.Name()))
				}
				_, _, err := b.WriteSet(&bytes.Buffer{})
				return err
			}
		}},
		{"writer fails", func(t *testing.T) (*Builder, func(*Builder) error) {
			b := NewBuilder(WithSpill(t.TempDir(), 64))
			return b, func(b *Builder) error {
				_, _, err := b.WriteSet(failWriter{errDisk})
				if !errors.Is(err, errDisk) {
					t.Errorf("got %v, want it to wrap %v", err, errDisk)
				}
				return err
			}
		}},
		{"writer fails without spill", func(t *testing.T) (*Builder, func(*Builder) error) {
			return NewBuilder(), func(b *Builder) error {
				_, _, err := b.WriteSet(failWriter{errDisk})
				return err
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, finish := tc.setup(t)
			randomAdds(3, 1000, 500).apply(b)
			if err := finish(b); err == nil {
				t.Errorf("got nil error, want one")
			}
			if err := b.Close(); err != nil {
				t.Errorf("Close: got %v, want nil", err)
			}
		})
	}
}

func TestBuilderReuse(t *testing.T) {
	dir := t.TempDir()
	b := NewBuilder(WithSpill(dir, 64))
	defer b.Close()
	for round := range 2 {
		a := randomAdds(uint64(round), 300, 100)
		a.apply(b)
		var got bytes.Buffer
		nv, _, err := b.WriteSet(&got)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ReadSet(&got)
		if err != nil {
			t.Fatalf("round %d: ReadSet: %v", round, err)
		}
		if n, _ := s.Len(); n != nv {
			t.Errorf("round %d: got %d values, want %d", round, n, nv)
		}
		for _, x := range a.values {
			if !s.HasValue(x) {
				t.Fatalf("round %d: value %#x missing", round, x)
			}
		}
	}
}

func TestBuilderAfterClose(t *testing.T) {
	for _, opts := range [][]BuilderOption{nil, {WithSpill(t.TempDir(), 64)}} {
		b := NewBuilder(opts...)
		randomAdds(1, 100, 50).apply(b)
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		b.AddValue(1)
		b.AddRow(2)
		if _, _, err := b.WriteSet(&bytes.Buffer{}); !errdefs.IsFailedPrecondition(err) {
			t.Errorf("WriteSet after Close: got %v, want a failed precondition", err)
		}
		if _, err := b.Build(); !errdefs.IsFailedPrecondition(err) {
			t.Errorf("Build after Close: got %v, want a failed precondition", err)
		}
	}
}

// TestMerger: the tree of losers gives the sorted, deduplicated union of
// its sources for any number of them (odd and even, one, none), with
// duplicates within and across sources and blocks of any size.
func TestMerger(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{0, 1, 2, 3, 5, 8, 13, 33} {
		for _, tc := range []struct {
			distinct int
			top      bool
		}{{4, false}, {1000, false}, {1 << 30, false}, {4, true}, {1 << 30, true}} {
			distinct, top := tc.distinct, tc.top
			var srcs []source
			var want []uint64
			for range k {
				n := r.IntN(3000)
				if r.IntN(4) == 0 {
					n = 0
				}
				s := make([]uint64, n)
				for i := range s {
					x := uint64(r.IntN(distinct))
					s[i] = x*0x9e3779b97f4a7c15 ^ x>>3
				}
				if top && r.IntN(2) == 0 {
					// the largest fingerprint is also a done
					// source's head in the merger
					s = append(s, ^uint64(0))
				}
				slices.Sort(s)
				s = slices.Compact(s)
				want = append(want, s...)
				srcs = append(srcs, &chunkSource{s: s, n: 1 + r.IntN(700)})
			}
			slices.Sort(want)
			want = slices.Compact(want)
			m, err := newMerger(srcs)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for {
				xs, err := m.block()
				if err != nil {
					t.Fatal(err)
				}
				if len(xs) == 0 {
					break
				}
				got = append(got, xs...)
			}
			m.close()
			if !slices.Equal(got, want) {
				t.Errorf("%d sources, %d distinct, max %v: got %d fingerprints, want %d, sorted and distinct", k, distinct, top, len(got), len(want))
			}
		}
	}
}

// chunkSource yields a slice in blocks of n.
type chunkSource struct {
	s []uint64
	n int
}

func (c *chunkSource) block() ([]uint64, error) {
	k := min(c.n, len(c.s))
	b := c.s[:k]
	c.s = c.s[k:]
	return b, nil
}

func (*chunkSource) close() {}

// TestPartitions checks the cutting of runs in partitions: the cut table
// is monotone and its partitions about as long as each other on the run
// it came from, even when the top byte takes few values; scatterParts puts
// every fingerprint in its partition; ranges covers every partition once.
func TestPartitions(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tags := range []int{1, 3, 40} {
		xs := make([]uint64, 1<<18)
		for i := range xs {
			xs[i] = withTag(r.Uint64(), 11+r.IntN(tags))
		}
		cut := cutTable(xs)
		for v := 1; v < len(cut); v++ {
			if cut[v] < cut[v-1] {
				t.Fatalf("%d tags: cut table goes down at %#x", tags, v)
			}
		}
		dst := make([]uint64, len(xs))
		off := scatterParts(xs, dst, cut)
		if off[0] != 0 || off[numParts] != int64(len(xs)) {
			t.Fatalf("%d tags: offsets from %d to %d, want 0 to %d", tags, off[0], off[numParts], len(xs))
		}
		largest := int64(0)
		for p := range numParts {
			largest = max(largest, off[p+1]-off[p])
			for _, x := range dst[off[p]:off[p+1]] {
				if int(cut[x>>48]) != p {
					t.Fatalf("%d tags: %#x in partition %d, its cut says %d", tags, x, p, cut[x>>48])
				}
			}
		}
		if !slices.Equal(slices.Sorted(slices.Values(dst)), slices.Sorted(slices.Values(xs))) {
			t.Fatalf("%d tags: scatterParts lost or changed fingerprints", tags)
		}
		// A partition is one value of the top 16 bits or more; with one
		// tag a value holds 1/256 of the run.
		if limit := int64(len(xs)) / 256 * 3 / 2; largest > limit {
			t.Errorf("%d tags: largest partition %d fingerprints, want at most %d", tags, largest, limit)
		}
		k := partRuns{cut: cut, runs: []partRun{{off: off}, {off: off}}}
		for n := 1; n <= 3; n++ {
			rs := k.ranges(n)
			if len(rs) != n || rs[0][0] != 0 || rs[n-1][1] != numParts {
				t.Fatalf("%d tags: ranges(%d) = %v", tags, n, rs)
			}
			for i := 1; i < n; i++ {
				if rs[i][0] != rs[i-1][1] {
					t.Fatalf("%d tags: ranges(%d) = %v, not contiguous", tags, n, rs)
				}
			}
		}
	}
}
