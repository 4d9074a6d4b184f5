//go:build unix

package review_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
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
// benchmark line itself is wall time on a shared machine): the raw-values
// and row-copy checks, as a review runs them on the output, with 1,000,000
// input fingerprints, on an aggregate Arrow table and on a text report,
// each with planted input values that must be found, next to a plain read
// of the same bytes and a baseline that hashes every cell or token
// (SipHash-2-4, no filter) and looks it up in a Go map[uint64]struct{},
// measured in the same run.
//
//	go test -run '^$' -bench Scan -benchtime 3x ./egress-review/

const (
	benchPersons = 200_000 // about 5 value fingerprints and 1 row each
	benchRows    = 400_000
	benchPlanted = 40 // planted values per output (a fraction of them in each column)
)

type benchEnv struct {
	h      *fingerprint.Hasher
	set    *fingerprint.Set
	index  map[uint64]struct{}
	ids    []string // raw resident IDs of the input
	phones []string // raw phone numbers of the input
}

// residentID returns a synthetic 18-character resident ID with a valid
// ISO 7064 MOD 11-2 check character.
func residentID(r *rand.Rand) string {
	body := fmt.Sprintf("%06d%04d%02d%02d%03d", 110101+r.IntN(9000)*10, 1950+r.IntN(60), 1+r.IntN(12), 1+r.IntN(28), r.IntN(1000))
	sum := 0
	for i, c := range body {
		w := 1
		for range 17 - i {
			w = w * 2 % 11
		}
		sum += int(c-'0') * w
	}
	return body + string("10X98765432"[sum%11])
}

var (
	surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
	given    = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英")
)

// newBenchEnv builds the input's fingerprint set as the importer does:
// for each synthetic person a raw and a masked resident ID, a raw and a
// masked phone number and a name, and the row of those five cells.
func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	key := bytes.Repeat([]byte{42}, fingerprint.KeySize)
	h, err := fingerprint.NewHasher(key)
	if err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{h: h, index: map[uint64]struct{}{}}
	bld := fingerprint.NewBuilder()
	bld.SetKeyID(h.ID())
	add := func(v string) {
		for _, x := range h.Value(v) {
			bld.AddValue(x)
			e.index[x] = struct{}{}
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range benchPersons {
		id := residentID(r)
		phone := fmt.Sprintf("1%d%d%08d", 3+r.IntN(6), r.IntN(10), r.IntN(100000000))
		name := string([]rune{surnames[r.IntN(len(surnames))], given[r.IntN(len(given))], given[r.IntN(len(given))]}[:2+r.IntN(2)])
		row := []string{id, id[:3] + "***********" + id[14:], phone, phone[:3] + "****" + phone[7:], name}
		for _, v := range row {
			add(v)
		}
		bld.AddRow(h.Row(row))
		e.ids = append(e.ids, id)
		e.phones = append(e.phones, phone)
	}
	if e.set, err = bld.Build(); err != nil {
		b.Fatal(err)
	}
	return e
}

func (e *benchEnv) request(b *testing.B, name, path string) *review.Request {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return &review.Request{
		Files:  []review.File{{Name: name, Path: path, SHA256: hex.EncodeToString(sum[:])}},
		Inputs: []review.Input{{Dataset: "bench", Version: 1, Level: "general-2", HasPI: true, Fingerprints: e.set, Rows: benchPersons}},
		Hasher: e.h,
	}
}

var (
	districts  = []string{"Haidian", "Chaoyang", "Fengtai", "Dongcheng", "Xicheng", "Shijingshan", "Tongzhou", "Shunyi", "Changping", "Daxing", "Fangshan", "Mentougou", "Huairou", "Pinggu", "Miyun", "Yanqing"}
	industries = []string{"A0111", "B0610", "C1310", "C2614", "C3911", "D4411", "E4710", "F5111", "G5411", "H6110", "I6510", "J6620", "K7010", "L7212", "M7320"}
	ageBands   = []string{"18-29", "30-39", "40-49", "50-59", "60+"}
)

// writeArrow writes an aggregate table (district as a dictionary column,
// month, industry, age band, a count, a sum and a mean) with planted input
// values: resident IDs in the industry column, phone numbers in the sum
// column. It returns the expected hits per column.
func writeArrow(b *testing.B, e *benchEnv, path string) map[string]int {
	mem := memory.NewGoAllocator()
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "district", Type: dictType},
		{Name: "month", Type: arrow.BinaryTypes.String},
		{Name: "industry", Type: arrow.BinaryTypes.String},
		{Name: "age_band", Type: arrow.BinaryTypes.String},
		{Name: "enterprises", Type: arrow.PrimitiveTypes.Int64},
		{Name: "total_amount", Type: arrow.PrimitiveTypes.Int64},
		{Name: "mean_amount", Type: arrow.PrimitiveTypes.Float64},
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
	want := map[string]int{}
	every := benchRows / benchPlanted
	for done := 0; done < benchRows; {
		n := min(64<<10, benchRows-done)
		for i := range n {
			row := done + i
			if err := bld.Field(0).(*array.BinaryDictionaryBuilder).AppendString(districts[r.IntN(len(districts))]); err != nil {
				b.Fatal(err)
			}
			bld.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("20%02d-%02d", 18+r.IntN(6), 1+r.IntN(12)))
			industry := industries[r.IntN(len(industries))]
			// Means of 1e5 to 1e6 with two decimals (8 digits) and sums
			// of 8 or 9 digits: no number of 6 or 7 digits, which could
			// be the digits form of a masked phone number or resident
			// ID by chance (integral means are scanned as integers
			// too), and no mean that %g prints with an exponent
			// (whose digits form could be a phone number by chance).
			count := int64(100 + r.IntN(500))
			mean := float64((10_000_000+r.IntN(90_000_000))|1) / 100 // never integral
			total := int64(mean * float64(count))
			switch {
			case row%every == 0 && row/every%2 == 0:
				industry = e.ids[r.IntN(len(e.ids))]
				want["industry"]++
			case row%every == 0:
				total, _ = strconv.ParseInt(e.phones[r.IntN(len(e.phones))], 10, 64)
				want["total_amount"]++
			}
			bld.Field(2).(*array.StringBuilder).Append(industry)
			bld.Field(3).(*array.StringBuilder).Append(ageBands[r.IntN(len(ageBands))])
			bld.Field(4).(*array.Int64Builder).Append(count)
			bld.Field(5).(*array.Int64Builder).Append(total)
			bld.Field(6).(*array.Float64Builder).Append(mean)
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
	return want
}

// writeText writes a report of log-like lines with planted phone numbers
// (plain and dashed) and resident IDs. (Spaced groups are found too, but
// "158 9894" alone may be the digits form of a masked phone number, which
// makes the count of hits depend on the draw.)
func writeText(b *testing.B, e *benchEnv, path string) map[string]int {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	r := rand.New(rand.NewPCG(3, 4))
	every := benchRows / benchPlanted
	planted := 0
	for i := range benchRows {
		// Numbers of at most 5 digits: see writeArrow.
		fmt.Fprintf(w, "20%02d-%02d-%02d job step %d: district %s industry %s processed %d records, mean amount %.1f in %dms",
			18+r.IntN(6), 1+r.IntN(12), 1+r.IntN(28), i%1000, districts[r.IntN(len(districts))], industries[r.IntN(len(industries))],
			r.IntN(100000), r.Float64()*1e4, r.IntN(5000))
		if i%every == 0 {
			p := e.phones[r.IntN(len(e.phones))]
			switch i / every % 3 {
			case 0:
				fmt.Fprintf(w, " contact %s", p)
			case 1:
				fmt.Fprintf(w, " contact %s-%s-%s", p[:3], p[3:7], p[7:])
			default:
				fmt.Fprintf(w, " owner id=%s", e.ids[r.IntN(len(e.ids))])
			}
			planted++
		}
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return map[string]int{checks.ColumnText: planted}
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

// arrowMapBaseline hashes every cell as a straightforward scanner would
// and looks it up in a Go map.
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
			case *array.Dictionary:
				d := a.Dictionary().(*array.String)
				for j := 0; j < a.Len(); j++ {
					look(e.h.AppendValue(hs[:0], d.Value(a.GetValueIndex(j))))
				}
			case *array.Int64:
				for _, v := range a.Int64Values() {
					look(e.h.ValueBytes(hs[:0], strconv.AppendInt(buf[:0], v, 10)))
				}
			case *array.Float64:
				for _, v := range a.Float64Values() {
					look(e.h.ValueBytes(hs[:0], strconv.AppendFloat(buf[:0], v, 'g', -1, 64)))
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

// benchScan measures the checks that scan output content, RawValues and
// RowCopy, on one output file, and checks that they find exactly the
// planted values.
func benchScan(b *testing.B, name string, write func(*testing.B, *benchEnv, string) map[string]int, mapBaseline func(e *benchEnv, path string) int) {
	e := newBenchEnv(b)
	path := filepath.Join(b.TempDir(), name)
	want := write(b, e, path)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	size := st.Size()
	req := e.request(b, name, path)
	scanners := []review.Check{checks.RawValues{}, checks.RowCopy{}}

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
		var fs []review.Finding
		for _, c := range scanners {
			f, err := c.Run(b.Context(), req)
			if err != nil {
				b.Fatalf("%s: %v", c.Name(), err)
			}
			fs = append(fs, f...)
		}
		scan = min(scan, cpuNow()-start)
		got := map[string]int{}
		for _, f := range fs {
			switch {
			case f.Verdict == review.VerdictFail && f.Column != "":
				got[f.Column] += f.Count
			case f.Verdict != review.VerdictPass:
				b.Fatalf("unexpected finding %+v", f)
			}
		}
		if !maps.Equal(got, want) {
			b.Fatalf("hits per column: got %v, want %v", got, want)
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
