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
