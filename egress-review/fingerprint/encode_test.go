package fingerprint

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"testing"
)

// TestSetFormatBytes checks the bytes of a written set against an encoding
// made here field by field, so that a change of byte order or layout in the
// writer (whether it encodes or writes memory as it is) fails: through
// Build and WriteTo, and through WriteSet with runs spilled, sorted by
// partition and read back.
func TestSetFormatBytes(t *testing.T) {
	a := randomAdds(23, 20000, 7000)
	values := slices.Compact(slices.Sorted(slices.Values(a.values)))
	rows := slices.Compact(slices.Sorted(slices.Values(a.rows)))
	const keyID = 0x0123456789abcdef
	var want []byte
	want = append(want, magic[:]...)
	want = binary.LittleEndian.AppendUint32(want, FormatVersion)
	want = binary.LittleEndian.AppendUint32(want, 0)
	want = binary.LittleEndian.AppendUint64(want, keyID)
	want = binary.LittleEndian.AppendUint64(want, uint64(len(values)))
	want = binary.LittleEndian.AppendUint64(want, uint64(len(rows)))
	for _, x := range append(slices.Clone(values), rows...) {
		want = binary.LittleEndian.AppendUint64(want, x)
	}
	sum := sha256.Sum256(want)
	want = append(want, sum[:]...)

	tests := []struct {
		name  string
		write func(t *testing.T, b *Builder) []byte
		opts  []BuilderOption
	}{
		{"build", func(t *testing.T, b *Builder) []byte {
			s, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := s.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}, nil},
		{"write set spilling", func(t *testing.T, b *Builder) []byte {
			var buf bytes.Buffer
			if _, _, err := b.WriteSet(&buf); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}, []BuilderOption{WithSpill(t.TempDir(), 1024)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(tc.opts...)
			defer b.Close()
			b.SetKeyID(keyID)
			a.apply(b)
			if tc.opts != nil && len(b.valueRuns.runs) < 2 {
				t.Fatalf("got %d value runs, want several", len(b.valueRuns.runs))
			}
			if got := tc.write(t, b); !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes (sha256 %x), want %d (sha256 %x)", len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
			}
		})
	}
}
