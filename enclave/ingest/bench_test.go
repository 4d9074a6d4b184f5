package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/enclave-dev/enclave/enclave/synth"
)

// BenchmarkImport imports 20,000 synthetic rows per iteration; see
// internal/bench for the ratio against a plain arrow-go conversion.
func BenchmarkImport(b *testing.B) {
	root := b.TempDir()
	in := filepath.Join(root, "p.csv")
	f, _ := os.Create(in)
	synth.WriteCSV(f, 1, 20000)
	f.Close()
	st, _ := os.Stat(in)
	spec, err := ParseSpec(strings.NewReader(synth.Spec("credit_penalties")))
	if err != nil {
		b.Fatal(err)
	}
	kr := newFakeKeyring()
	b.SetBytes(st.Size())
	i := 0
	for b.Loop() {
		i++
		dir := filepath.Join(root, fmt.Sprint("v", i))
		if _, err := Import(context.Background(), Source{Path: in}, spec, ImportOptions{Version: 1, Dir: dir, Keyring: kr,
			KeyObject: "dataset/b@1", Allocator: memory.NewGoAllocator()}); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(dir)
	}
}
