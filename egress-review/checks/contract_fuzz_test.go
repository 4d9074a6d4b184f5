package checks

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	review "github.com/enclave-dev/enclave/egress-review"
)

// FuzzContract feeds any bytes, under each of the names that choose how a
// file is read (CSV, JSON, Markdown, SVG; Arrow, Parquet, PNG, JPEG and
// PDF are chosen by their magic), to the output contract with a real
// input: it must answer (a finding, never a panic or an error), and its
// evidence must be UTF-8.
func FuzzContract(f *testing.F) {
	md, clean := cleanAggregate()
	f.Add(uint8(0), []byte("district,n\nHaidian,120\n"))
	f.Add(uint8(1), []byte(`{"coef": {"amount": 0.25}, "n": 259}`))
	f.Add(uint8(2), []byte("# Report\n\nPenalties fell by 12.5% in Haidian.\n"))
	f.Add(uint8(3), []byte(`<svg viewBox="0 0 10 10"><rect x="1" y="2"/><!-- c --></svg>`))
	f.Add(uint8(4), arrowFile(f, md, clean))
	f.Add(uint8(4), pngFile([][]byte{pngChunk("tEXt", []byte("Software\x00matplotlib"))}, nil))
	f.Add(uint8(4), []byte("\xff\xd8\xff\xfe\x00\x05abc\xff\xd9"))
	f.Add(uint8(4), []byte("%PDF-1.4\n1 0 obj << /Length 5 >> stream\nhello\nendstream endobj\n%%EOF\n"))
	names := []string{"out.csv", "out.json", "out.md", "chart.svg", "out.bin"}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		name := names[int(which)%len(names)]
		p := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		req := &review.Request{Inputs: e.req.Inputs, Hasher: e.req.Hasher,
			Files: []review.File{{Name: name, Path: p, SHA256: hex.EncodeToString(sum[:])}}}
		fs, err := Contract{}.Run(t.Context(), req)
		if err != nil {
			t.Fatalf("the contract could not answer: %v", err)
		}
		if len(fs) == 0 {
			t.Fatal("no finding")
		}
		for _, f := range fs {
			if !utf8.ValidString(f.Evidence) {
				t.Fatalf("evidence is not utf-8: %q", f.Evidence)
			}
		}
	})
}
