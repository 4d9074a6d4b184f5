package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/pii"
)

// parallelInput is a CSV whose row i has id "r<i>", a resident ID number
// to pseudonymize and, in an acknowledged column, text, then resident ID
// numbers from row 1500 and mobile numbers from row 2000 (so the
// acknowledged kinds are found in that order, in different batches).
func parallelInput(t *testing.T, rows int) []byte {
	var b bytes.Buffer
	b.WriteString("id,person,contact,amount\n")
	for i := 0; i < rows; i++ {
		contact := fmt.Sprintf("note %d", i)
		switch {
		case i >= 2000 && i%3 == 0:
			contact = fmt.Sprintf("call 139%08d", i)
		case i >= 1500 && i%5 == 0:
			contact = rid(t, "19850412", i%1000)
		}
		fmt.Fprintf(&b, "r%d,%s,%s,%d\n", i, rid(t, "19900307", i%700), contact, i*37-5000)
	}
	return b.Bytes()
}

const parallelSpec = `name: par
market: ordinary
columns:
  id:      {level: general-1, rule: keep}
  person:  {level: general-4, pi: identity, rule: {hash: {}}}
  contact: {level: general-3, rule: keep, acknowledge: [mobile, resident-id]}
  amount:  {level: general-2, type: int64, rule: {generalize: {bucket: 100}}}
`

// TestImportParallelSameOutput imports the same file with one worker and
// with several (and a fingerprint budget small enough to spill), and
// checks that the data file, the fingerprint index and the acknowledged
// kinds are the same, and that the rows are stored in input order.
func TestImportParallelSameOutput(t *testing.T) {
	e := newEnv(t)
	const rows = 3000
	in := e.write(t, "p.csv", parallelInput(t, rows))
	spec := mustSpec(t, parallelSpec)
	type outcome struct {
		data, set string
		ack       []pii.Kind
	}
	run := func(t *testing.T, name string, workers, fpMem int) outcome {
		opts := e.opts(name)
		opts.BatchRows = 64
		opts.Workers = workers
		opts.FingerprintMemory = fpMem
		var progress []int64
		opts.Progress = func(_, rows int64) { progress = append(progress, rows) }
		res, err := Import(context.Background(), Source{Path: in}, spec, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(progress) || progress[len(progress)-1] != rows {
			t.Fatalf("got progress ending %d (sorted %v), want increasing to %d", progress[len(progress)-1], slices.IsSorted(progress), rows)
		}
		_, cols := e.readBack(t, opts.Dir, res)
		for i, id := range cols["id"] {
			if want := fmt.Sprintf("r%d", i); id != want {
				t.Fatalf("row %d: got id %q, want %q (batches reordered)", i, id, want)
			}
		}
		set, err := OpenFingerprints(context.Background(), opts.Dir, e.kr, "dataset/test@1", res.WrappedKey)
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		if _, err := set.WriteTo(&sb); err != nil {
			t.Fatal(err)
		}
		if v, r := set.Len(); v != res.FingerprintValues || r != res.FingerprintRows || r != rows {
			t.Fatalf("got %d values %d rows in the index (result %d %d), want %d rows", v, r, res.FingerprintValues, res.FingerprintRows, rows)
		}
		return outcome{res.DataSHA256, sb.String(), res.Columns[2].Acknowledged}
	}
	want := run(t, "one", 1, 0)
	if !slices.Equal(want.ack, []pii.Kind{pii.KindResidentID, pii.KindMobile}) {
		t.Fatalf("got acknowledged %v, want [resident-id mobile]", want.ack)
	}
	tests := []struct {
		name           string
		workers, fpMem int
	}{
		{"four workers", 4, 0},
		{"three workers spilling", 3, 512},
		{"one worker spilling", 1, 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, strings.ReplaceAll(tc.name, " ", "-"), tc.workers, tc.fpMem)
			if got.data != want.data {
				t.Fatalf("got data sha256 %s, want %s", got.data, want.data)
			}
			if got.set != want.set {
				t.Fatal("got a different fingerprint index, want the same")
			}
			if !slices.Equal(got.ack, want.ack) {
				t.Fatalf("got acknowledged %v, want %v", got.ack, want.ack)
			}
		})
	}
}

// TestImportLeavesOnlyItsFiles checks that the fingerprint spill directory
// is gone after a successful import and after one refused late, once runs
// were spilled.
func TestImportLeavesOnlyItsFiles(t *testing.T) {
	e := newEnv(t)
	data := parallelInput(t, 3000)
	spec := mustSpec(t, parallelSpec)
	opts := e.opts("ok")
	opts.FingerprintMemory = 256
	if _, err := Import(context.Background(), Source{Path: e.write(t, "p.csv", data)}, spec, opts); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ent := range ents {
		names = append(names, ent.Name())
	}
	if want := []string{DataFile, FingerprintsFile}; !slices.Equal(names, want) {
		t.Fatalf("got %v in the version directory, want %v", names, want)
	}

	// The same file without the acknowledgement is refused at row 1500.
	refused := strings.Replace(parallelSpec, ", acknowledge: [mobile, resident-id]", "", 1)
	for _, pre := range []bool{false, true} {
		opts := e.opts(fmt.Sprintf("refused-%v", pre))
		opts.FingerprintMemory = 256
		if pre {
			os.Mkdir(opts.Dir, 0o700)
		}
		_, err := Import(context.Background(), Source{Path: e.write(t, "p.csv", data)}, mustSpec(t, refused), opts)
		if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `"contact"`) || !strings.Contains(err.Error(), "line 1502") {
			t.Fatalf("got %v, want a refusal of column \"contact\" at line 1502", err)
		}
		ents, err := os.ReadDir(opts.Dir)
		switch {
		case pre && (err != nil || len(ents) != 0):
			t.Fatalf("got %d entries (%v) left in the caller's directory, want none", len(ents), err)
		case !pre && !os.IsNotExist(err):
			t.Fatalf("got %v for the directory the import created, want it removed", err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(e.root, "*", ".fingerprints-*")); len(m) != 0 {
		t.Fatalf("got spill directories left: %v", m)
	}
}

// TestImportCSVBatchBytes checks that a CSV batch ends once its values
// reach csvBatchBytes, whatever BatchRows says.
func TestImportCSVBatchBytes(t *testing.T) {
	defer func(n int) { csvBatchBytes = n }(csvBatchBytes)
	csvBatchBytes = 1000
	e := newEnv(t)
	data := parallelInput(t, 300)
	opts := e.opts("v")
	opts.BatchRows = 100000
	calls := 0
	opts.Progress = func(int64, int64) { calls++ }
	res, err := Import(context.Background(), Source{Path: e.write(t, "p.csv", data)}, mustSpec(t, parallelSpec), opts)
	if err != nil {
		t.Fatal(err)
	}
	// about 50 value bytes per row: 20 rows per batch
	if res.Rows != 300 || calls < 300*50/1000/2 || calls > 300*50/1000*2 {
		t.Fatalf("got %d rows in %d batches, want 300 rows in about %d", res.Rows, calls, 300*50/1000)
	}
}

// TestCellCache checks that cached Cell fingerprints are Cell's, that a
// cached value does not change with the batch it came from, and that a
// column of values that do not repeat stops using the cache.
func TestCellCache(t *testing.T) {
	h, err := fingerprint.NewHasher(bytes.Repeat([]byte{3}, fingerprint.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	var c cellCache
	buf := []byte("Anping,Beiling,Anping, x Y ,,Anping")
	cells := strings.Split(unsafe.String(unsafe.SliceData(buf), len(buf)), ",")
	hs := make([]uint64, len(cells))
	shapes := make([]fingerprint.Shape, len(cells))
	c.fill(h, hs, shapes, cells)
	for r, v := range cells {
		if x, shape := h.CellShape(v); hs[r] != x || shapes[r] != shape {
			t.Fatalf("cell %d: got %x %#x, want CellShape's %x %#x", r, hs[r], shapes[r], x, shape)
		}
	}
	copy(buf, "Xxxxxx") // the batch's buffer is reused
	c.fill(h, hs[:1], shapes[:1], []string{"Anping"})
	if x, shape := h.CellShape("Anping"); hs[0] != x || shapes[0] != shape || c.off {
		t.Fatalf("got %x %#x (off %v) after the batch changed, want CellShape's %x %#x", hs[0], shapes[0], c.off, x, shape)
	}
	// Values that share a slot replace each other and are hashed again,
	// never taken for one another.
	var shared cellCache
	var many []string
	for range 3 {
		for i := range 1000 {
			many = append(many, fmt.Sprintf("d%d", i))
		}
	}
	hs = make([]uint64, len(many))
	shapes = make([]fingerprint.Shape, len(many))
	for range 2 {
		shared.fill(h, hs, shapes, many)
		for r, v := range many {
			if hs[r] != h.Cell(v) {
				t.Fatalf("cell %d of 1000 values: got %x, want Cell's %x", r, hs[r], h.Cell(v))
			}
		}
	}
	if shared.off {
		t.Fatal("got the cache off for 1000 values that repeat, want it on")
	}
	distinct := make([]string, 3*cellCacheLen)
	for i := range distinct {
		distinct[i] = fmt.Sprintf("v%d", i)
	}
	hs = make([]uint64, len(distinct))
	shapes = make([]fingerprint.Shape, len(distinct))
	c.fill(h, hs, shapes, distinct)
	if !c.off || c.slots != nil {
		t.Fatal("got the cache still on after a batch of distinct values, want it off")
	}
	c.fill(h, hs, shapes, distinct)
	for r, v := range distinct {
		if x, shape := h.CellShape(v); hs[r] != x || shapes[r] != shape {
			t.Fatalf("cell %d: got %x, want Cell's %x with the cache off", r, hs[r], h.Cell(v))
		}
	}
}
