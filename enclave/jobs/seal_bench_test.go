package jobs

import (
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkSealOutput measures sealing a 64 MiB output (read, hash,
// AES-256-GCM, write, fsync, rename: what a job's end costs per output)
// against the reference the manager did before outputs were sealed, a
// plain hash of the same file, and a plain copy with fsync, in the same
// run; it reports the ratios.
func BenchmarkSealOutput(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "out.arrow")
	data := make([]byte, 64<<20)
	rand.Read(data)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	var seal, hash, cp time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, _, err := sealFile(src, filepath.Join(dir, "sealed"), key); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		f, _ := os.Open(src)
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		t2 := time.Now()
		in, _ := os.Open(src)
		out, _ := os.Create(filepath.Join(dir, "copy"))
		io.Copy(out, in)
		out.Sync()
		out.Close()
		in.Close()
		t3 := time.Now()
		seal, hash, cp = seal+t1.Sub(t0), hash+t2.Sub(t1), cp+t3.Sub(t2)
	}
	b.ReportMetric(float64(seal)/float64(hash), "seal/hash")
	b.ReportMetric(float64(seal)/float64(cp), "seal/copy")
	b.ReportMetric(float64(len(data))*float64(b.N)/seal.Seconds()/1e6, "seal-MB/s")
}
