package review_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/checks"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// The scanner benchmarks (per core, from CPU time; MB/s from the Go
// benchmark line itself is wall time on a shared machine): raw-values throughput with 1,000,000 fingerprints
// on an Arrow output and on a text output, each next to a plain read of the
// same bytes and a baseline that hashes the same cells or tokens and looks
// them up in a Go map[uint64]struct{}, measured in the same run.
//
//	go test -run XXX -bench Scan -benchtime 5x ./egress-review/

const (
	benchFingerprints = 1_000_000
	benchRows         = 400_000
)

type benchEnv struct {
	h     *fingerprint.Hasher
	set   *fingerprint.Set
	index map[uint64]struct{}
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	key := bytes.Repeat([]byte{42}, fingerprint.KeySize)
	h, err := fingerprint.NewHasher(key)
	if err != nil {
		b.Fatal(err)
	}
	bld := fingerprint.NewBuilder()
	bld.SetKeyID(h.ID())
	index := make(map[uint64]struct{}, benchFingerprints)
	for i := range benchFingerprints {
		for _, x := range h.Value(fmt.Sprintf("1%010d", i*7919%10000000000)) {
			bld.AddValue(x)
			index[x] = struct{}{}
		}
	}
	set, err := bld.Build()
	if err != nil {
		b.Fatal(err)
	}
	return &benchEnv{h: h, set: set, index: index}
}

func (e *benchEnv) request(b *testing.B, name, path string) *review.Request {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return &review.Request{
		Files:  []review.File{{Name: name, Path: path, SHA256: hex.EncodeToString(sum[:])}},
		Inputs: []review.Input{{Dataset: "bench", Version: 1, Level: "general-2", HasPI: true, Fingerprints: e.set}},
		Hasher: e.h,
	}
}

var districts = []string{"Haidian", "Chaoyang", "Fengtai", "Dongcheng", "Xicheng", "Shijingshan", "Tongzhou", "Shunyi"}

func writeArrow(b *testing.B, path string) {
	mem := memory.NewGoAllocator()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "uscc", Type: arrow.BinaryTypes.String},
		{Name: "district", Type: arrow.BinaryTypes.String},
		{Name: "month", Type: arrow.BinaryTypes.String},
		{Name: "amount", Type: arrow.PrimitiveTypes.Int64},
		{Name: "rate", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(sc), ipc.WithAllocator(mem))
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	bld := array.NewRecordBuilder(mem, sc)
	defer bld.Release()
	for done := 0; done < benchRows; {
		n := min(64<<10, benchRows-done)
		for range n {
			bld.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("9111%04dMA%06dX", r.IntN(10000), r.IntN(1000000)))
			bld.Field(1).(*array.StringBuilder).Append(districts[r.IntN(len(districts))])
			bld.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("2023-%02d", 1+r.IntN(12)))
			bld.Field(3).(*array.Int64Builder).Append(int64(r.IntN(1000000)))
			bld.Field(4).(*array.Float64Builder).Append(r.Float64())
		}
		rec := bld.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
		rec.Release()
		done += n
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

func writeText(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range benchRows {
		fmt.Fprintf(w, "2023-%02d-%02d job step %d: district %s processed %d records, mean amount %.2f in %dms\n",
			1+r.IntN(12), 1+r.IntN(28), i, districts[r.IntN(len(districts))], r.IntN(100000), r.Float64()*1e5, r.IntN(5000))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// cpuNow returns the CPU time the process has used. The machine these
// benchmarks run on is shared (load far above its core count), so
// throughput per core is computed from CPU time, not wall time.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timeIt returns the least CPU time of three runs of fn.
func timeIt(fn func()) time.Duration {
	best := time.Duration(1 << 62)
	for range 3 {
		start := cpuNow()
		fn()
		best = min(best, cpuNow()-start)
	}
	return best
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

// arrowMapBaseline hashes every cell as the scanner does and looks it up
// in a Go map.
func arrowMapBaseline(b *testing.B, e *benchEnv, path string) int {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	hits := 0
	var buf [32]byte
	var hs [2]uint64
	look := func(x []uint64) {
		for _, v := range x {
			if _, ok := e.index[v]; ok {
				hits++
			}
		}
	}
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			b.Fatal(err)
		}
		for _, col := range rec.Columns() {
			switch a := col.(type) {
			case *array.String:
				for j := 0; j < a.Len(); j++ {
					look(e.h.AppendValue(hs[:0], a.Value(j)))
				}
			case *array.Int64:
				for _, v := range a.Int64Values() {
					look(e.h.ValueBytes(hs[:0], fmt.Appendf(buf[:0], "%d", v)))
				}
			case *array.Float64:
				for _, v := range a.Float64Values() {
					look(e.h.ValueBytes(hs[:0], fmt.Appendf(buf[:0], "%g", v)))
				}
			}
		}
	}
	return hits
}

func textMapBaseline(e *benchEnv, path string) int {
	data, _ := os.ReadFile(path)
	hits := 0
	var hs [2]uint64
	for _, tok := range bytes.Fields(data) {
		for _, v := range e.h.ValueBytes(hs[:0], tok) {
			if _, ok := e.index[v]; ok {
				hits++
			}
		}
	}
	return hits
}

func benchScan(b *testing.B, name string, write func(*testing.B, string), mapBaseline func(e *benchEnv, path string) int) {
	e := newBenchEnv(b)
	path := filepath.Join(b.TempDir(), name)
	write(b, path)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	size := st.Size()
	req := e.request(b, name, path)
	check := checks.RawValues{}

	plain := timeIt(func() {
		f, _ := os.Open(path)
		io.Copy(io.Discard, f)
		f.Close()
	})
	mapped := timeIt(func() { mapBaseline(e, path) })

	b.SetBytes(size)
	b.ResetTimer()
	scan := time.Duration(1 << 62)
	for b.Loop() {
		start := cpuNow()
		fs, err := check.Run(b.Context(), req)
		scan = min(scan, cpuNow()-start)
		if err != nil || len(fs) != 1 || fs[0].Verdict != review.VerdictPass {
			b.Fatalf("got %+v, %v, want one pass finding", fs, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(mbps(size, scan), "scan-MB/s")
	b.ReportMetric(mbps(size, plain), "plain-read-MB/s")
	b.ReportMetric(mbps(size, mapped), "map-baseline-MB/s")
	b.ReportMetric(plain.Seconds()/scan.Seconds(), "scan/plain-read")
	b.ReportMetric(mapped.Seconds()/scan.Seconds(), "scan/map-baseline")
}

func BenchmarkScanArrow(b *testing.B) {
	benchScan(b, "out.arrow", writeArrow, func(e *benchEnv, path string) int { return arrowMapBaseline(b, e, path) })
}

func BenchmarkScanText(b *testing.B) {
	benchScan(b, "out.txt", writeText, textMapBaseline)
}
