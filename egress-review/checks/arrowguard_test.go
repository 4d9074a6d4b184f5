package checks

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestGuardHugeVector patches the vector length of the schema's custom
// metadata in an Arrow file's footer to two billion entries: arrow-go alone
// would try to allocate tens of gigabytes and crash the process; the guard
// refuses the file first.
func TestGuardHugeVector(t *testing.T) {
	md, clean := cleanAggregate()
	data := arrowFile(t, md, clean)
	n := int(binary.LittleEndian.Uint32(data[len(data)-10:]))
	footerAt := len(data) - 10 - n
	f := &fb{b: data[footerAt : len(data)-10]}
	root, err := f.ref(0)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := f.table(root, 1)
	if err != nil || sc == 0 {
		t.Fatalf("schema: %v", err)
	}
	p, err := f.field(sc, 2)
	if err != nil || p == 0 {
		t.Fatalf("custom metadata: %v", err)
	}
	vec, err := f.ref(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint32(f.b[vec:]); got != 2 {
		t.Fatalf("metadata entries: got %d, want 2", got)
	}

	for _, tc := range []struct {
		name  string
		count uint32
		ok    bool
	}{
		{"unchanged", 2, true},
		{"huge", 0x7fffffff, false},
		{"just too many", uint32((len(f.b)-vec-4)/4 + 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mut := append([]byte(nil), data...)
			binary.LittleEndian.PutUint32(mut[footerAt+vec:], tc.count)
			path := filepath.Join(t.TempDir(), "x.arrow")
			if err := os.WriteFile(path, mut, 0o600); err != nil {
				t.Fatal(err)
			}
			err := guardArrow(path, KindArrowFile)
			if (err == nil) != tc.ok {
				t.Fatalf("guardArrow: got %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, errBadFB) {
				t.Errorf("got %v, want errBadFB", err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			_, err = table{Mem: mem}.forEach(t.Context(), path, KindArrowFile, 1<<30, func(arrow.RecordBatch) error { return nil })
			if (err == nil) != tc.ok {
				t.Errorf("forEach: got %v, want ok=%v", err, tc.ok)
			}
			mem.AssertSize(t, 0)
		})
	}
}

// TestGuardFooterBlocks moves an Arrow file's first record batch after the
// stream's end marker, where a walk of the stream does not reach, and
// points the footer at it: arrow-go reads it there, so the guard checks the
// flatbuffers of every block the footer names.
func TestGuardFooterBlocks(t *testing.T) {
	md, clean := cleanAggregate()
	data := arrowFile(t, md, clean)
	n := int(binary.LittleEndian.Uint32(data[len(data)-10:]))
	footerAt := len(data) - 10 - n
	f := &fb{b: data[footerAt : len(data)-10]}
	root, err := f.ref(0)
	if err != nil {
		t.Fatal(err)
	}
	start, count, err := f.vector(root, 3, 24)
	if err != nil || count == 0 {
		t.Fatalf("record batch blocks: %d, %v", count, err)
	}
	blk := f.b[start:]
	off := int(binary.LittleEndian.Uint64(blk))
	metaLen := int(int32(binary.LittleEndian.Uint32(blk[8:])))
	bodyLen := int(binary.LittleEndian.Uint64(blk[16:]))
	moved := append([]byte(nil), data[off:off+metaLen+bodyLen]...)
	prefix := 8
	if binary.LittleEndian.Uint32(moved) != 0xFFFFFFFF {
		t.Fatalf("block metadata without the continuation token")
	}
	// The nodes vector of the batch's RecordBatch header.
	m := &fb{b: moved[prefix:metaLen]}
	mroot, err := m.ref(0)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := m.table(mroot, 2)
	if err != nil || hdr == 0 {
		t.Fatalf("header: %v", err)
	}
	nodes, err := m.field(hdr, 1)
	if err != nil || nodes == 0 {
		t.Fatalf("nodes: %v", err)
	}
	vec, err := m.ref(nodes)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		nodes uint32 // 0: unchanged
		ok    bool
	}{
		{"moved intact", 0, true},
		{"moved with a huge vector", 0x7fffffff, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hidden := append([]byte(nil), moved...)
			if tc.nodes != 0 {
				binary.LittleEndian.PutUint32(hidden[prefix+vec:], tc.nodes)
			}
			at := footerAt
			pad := (8 - at%8) % 8
			var mut []byte
			mut = append(mut, data[:footerAt]...)
			mut = append(mut, make([]byte, pad)...)
			mut = append(mut, hidden...)
			newFooter := len(mut)
			mut = append(mut, data[footerAt:]...)
			binary.LittleEndian.PutUint64(mut[newFooter+start:], uint64(at+pad))
			path := filepath.Join(t.TempDir(), "x.arrow")
			if err := os.WriteFile(path, mut, 0o600); err != nil {
				t.Fatal(err)
			}
			err := guardArrow(path, KindArrowFile)
			if (err == nil) != tc.ok || (!tc.ok && !errors.Is(err, errBadFB)) {
				t.Fatalf("guardArrow: got %v, want ok=%v", err, tc.ok)
			}
			rows := 0
			_, err = table{}.forEach(t.Context(), path, KindArrowFile, 1<<30, func(rec arrow.RecordBatch) error {
				rows += int(rec.NumRows())
				return nil
			})
			if (err == nil) != tc.ok || (tc.ok && rows == 0) {
				t.Errorf("forEach: got %d rows, %v, want ok=%v", rows, err, tc.ok)
			}
		})
	}
}
