package ingest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// importRSSBound is the peak resident memory an import may reach whatever
// its input's size and shape (issue 23).
const importRSSBound = 256 << 20

// TestImportMemoryBounded imports a 1 GiB Arrow file of one record batch
// and a 1 GiB Parquet file of one row group, each in a child process
// (internal/memcheck, built without the race detector, whose shadow memory
// would count), and checks the child's peak RSS against importRSSBound.
// The files are made by the same program in processes of their own.
func TestImportMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("imports two 1 GiB files")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "memcheck")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	build := exec.Command(gobin, "build", "-o", bin, "./internal/memcheck")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build memcheck: %v\n%s", err, out)
	}
	const mb = 1024
	wantRows := int64(mb << 20 / (1000 + 16))
	for _, format := range []string{"arrow", "parquet"} {
		t.Run(format, func(t *testing.T) {
			in := filepath.Join(dir, "in."+format)
			defer os.Remove(in)
			if out, err := exec.Command(bin, "gen", "-format", format, "-mb", "1024", "-out", in).CombinedOutput(); err != nil {
				t.Fatalf("generate: %v\n%s", err, out)
			}
			work := filepath.Join(dir, "import-"+format)
			defer os.RemoveAll(work)
			if err := os.Mkdir(work, 0o700); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "import", "-in", in, "-dir", work)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			var res struct {
				Rows, Bytes int64
				PeakRSS     int64 `json:"peak_rss"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("import answered %q: %v", out, err)
			}
			// The child's own high-water mark: its rusage would carry the
			// test binary's, which vfork shares until exec.
			rss := res.PeakRSS
			if rss <= 0 {
				t.Fatalf("import reported no peak resident memory: %q", out)
			}
			t.Logf("%s: %d rows, %d MiB stored, peak RSS %d MiB", format, res.Rows, res.Bytes>>20, rss>>20)
			if res.Rows != wantRows || res.Bytes < mb<<20 {
				t.Fatalf("got %d rows and %d bytes stored, want %d rows and at least 1 GiB", res.Rows, res.Bytes, wantRows)
			}
			if rss > importRSSBound {
				t.Fatalf("got a peak RSS of %d MiB for a 1 GiB %s input, want at most %d MiB", rss>>20, format, importRSSBound>>20)
			}
		})
	}
}
