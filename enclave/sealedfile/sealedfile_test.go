package sealedfile

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"

	"github.com/containerd/errdefs"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func seal(t testing.TB, plain []byte, key []byte, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, key, WithChunkSize(chunk))
	if err != nil {
		t.Fatal(err)
	}
	// Write in odd pieces to exercise the buffering.
	for p := plain; len(p) > 0; {
		n := min(len(p), 7)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(sealed, key []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(sealed), key)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		chunk int
	}{
		{"empty", 0, 16},
		{"one byte", 1, 16},
		{"exactly one chunk", 16, 16},
		{"chunk plus one", 17, 16},
		{"many chunks", 16*10 + 5, 16},
		{"exact multiple", 16 * 10, 16},
		{"default chunk", 3*DefaultChunkSize + 11, DefaultChunkSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain := make([]byte, tc.size)
			rand.Read(plain)
			sealed := seal(t, plain, testKey(1), tc.chunk)
			if got, want := int64(len(sealed)), int64(tc.size)+Overhead(int64(tc.size), tc.chunk); got != want {
				t.Fatalf("got %d sealed bytes, want %d", got, want)
			}
			got, err := open(sealed, testKey(1))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("got %d bytes back that differ, want the %d written", len(got), len(plain))
			}
			if bytes.Contains(sealed, plain) && tc.size > 8 {
				t.Fatal("got plaintext in the sealed file, want none")
			}
		})
	}
}

func TestTamper(t *testing.T) {
	const chunk = 16
	plain := bytes.Repeat([]byte("0123456789abcdef"), 4) // four full chunks
	plain = append(plain, "tail"...)
	sealed := seal(t, plain, testKey(2), chunk)
	c := chunk + tagSize
	chunkAt := func(i int) []byte { return sealed[headerSize+i*c : headerSize+(i+1)*c] }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	hdr := sealed[:headerSize]
	lastChunk := sealed[headerSize+4*c:]
	tests := []struct {
		name string
		data []byte
		key  []byte
	}{
		{"wrong key", sealed, testKey(3)},
		{"swap chunks", cat(hdr, chunkAt(1), chunkAt(0), chunkAt(2), chunkAt(3), lastChunk), nil},
		{"drop a middle chunk", cat(hdr, chunkAt(0), chunkAt(2), chunkAt(3), lastChunk), nil},
		{"drop the last chunk", cat(hdr, chunkAt(0), chunkAt(1), chunkAt(2), chunkAt(3)), nil},
		{"duplicate a chunk", cat(hdr, chunkAt(0), chunkAt(0), chunkAt(1), chunkAt(2), chunkAt(3), lastChunk), nil},
		{"append a byte", cat(sealed, []byte{0}), nil},
		{"header only", hdr, nil},
		{"short header", hdr[:10], nil},
		{"empty", nil, nil},
		{"bad magic", cat([]byte("XNCSEAL\x00"), sealed[8:]), nil},
		{"bad version", cat(sealed[:11], []byte{2}, sealed[12:]), nil},
		{"huge chunk size", cat(sealed[:12], []byte{0xff, 0xff, 0xff, 0xff}, sealed[16:]), nil},
		{"other chunk size", cat(sealed[:12], []byte{0, 0, 0, 32}, sealed[16:]), nil},
	}
	for i := 0; i < len(sealed); i += 5 {
		mod := bytes.Clone(sealed)
		mod[i] ^= 0x40
		tests = append(tests, struct {
			name string
			data []byte
			key  []byte
		}{"flip byte " + string(rune('0'+i%10)), mod, nil})
	}
	for i := 1; i < len(sealed); i += 3 {
		tests = append(tests, struct {
			name string
			data []byte
			key  []byte
		}{"truncate", sealed[:len(sealed)-i], nil})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == nil {
				key = testKey(2)
			}
			got, err := open(tc.data, key)
			if err == nil {
				t.Fatalf("got %d bytes and no error, want a data loss error", len(got))
			}
			if !errdefs.IsDataLoss(err) {
				t.Fatalf("got error %v, want data loss class", err)
			}
		})
	}
}

func TestReaderReturnsOnlyAuthenticatedData(t *testing.T) {
	plain := bytes.Repeat([]byte("a"), 40)
	sealed := seal(t, plain, testKey(4), 16)
	sealed[len(sealed)-1] ^= 1 // corrupt the last chunk only
	r, err := NewReader(bytes.NewReader(sealed), testKey(4))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errdefs.IsDataLoss(err) {
		t.Fatalf("got error %v, want data loss", err)
	}
	if len(got) != 32 {
		t.Fatalf("got %d bytes before the error, want the 32 of the two good chunks", len(got))
	}
}

func TestBadKeySize(t *testing.T) {
	if _, err := NewWriter(io.Discard, make([]byte, 16)); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("got %v, want invalid argument", err)
	}
	if _, err := NewWriter(io.Discard, testKey(1), WithChunkSize(MaxChunkSize+1)); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("got %v, want invalid argument", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(seal(f, []byte("hello, sealed world"), testKey(5), 4))
	f.Add(seal(f, nil, testKey(5), 4))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), testKey(5))
		if err != nil {
			return
		}
		io.Copy(io.Discard, r)
	})
}

func BenchmarkRead(b *testing.B) {
	plain := make([]byte, 8<<20)
	sealed := seal(b, plain, testKey(6), DefaultChunkSize)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		r, _ := NewReader(bytes.NewReader(sealed), testKey(6))
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
