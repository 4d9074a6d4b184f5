//go:build unix

package checks

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	review "github.com/enclave-dev/enclave/egress-review"
)

// The output contract's benchmarks (per core, from CPU time, each next to
// a plain read of the same bytes in the same run):
//
//   - ContractArrow: an honest aggregate (count, sum and mean of an amount
//     by district, month, industry and age band: 86,400 rows) of an input
//     of 4,000,000 records. The contract reads the inputs once per request
//     (the profile: their columns, and their records grouped by the small
//     categorical columns into a cube of cells) and then judges the output
//     (grouping the cells by the table's labels); both are reported, the
//     judging per output byte, the profile per input byte. The reference
//     for judging is a plain arrow-go read of the output (every batch and
//     every cell's value), taken in turn with each judging in the same
//     run; judge/arrow-read-of-output is judging's speed as a fraction of
//     that read's.
//   - ContractText: 40 MB of report text (words, labels, codes, figures),
//     through the text rule as the contract runs it: with the labels and
//     column names of the input of ContractArrow, which the rule looks up
//     for most figures of a long text.
//
//	go test -run '^$' -bench Contract -benchtime 3x ./egress-review/checks

var (
	// sorted, as the tools that write aggregates sort their groups
	benchDistricts  = []string{"Dadeng", "Dongfu", "Guankou", "Gulangyu", "Haicang", "Huli", "Jimei", "Lianhua", "Maxiang", "Neicuo", "Siming", "Tongan", "Xiamen-Port", "Xiangan", "Xindian", "Xinglin"}
	benchIndustries = []string{"A0111", "B0610", "C1310", "C2614", "C3911", "D4411", "E4710", "F5111", "G5411", "H6110", "I6510", "J6620", "K7010", "L7212", "M7320"}
	benchAges       = []string{"18-29", "30-39", "40-49", "50-59", "60+"}
)

const benchInputRows = 4_000_000

func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchBest(fn func()) time.Duration { return benchBestOf(3, fn) }

// judgeSamples is how many times each b.Loop iteration of
// BenchmarkContractArrow judges the output, and the samples of its
// references: the best of as many of each, on a loaded host.
const judgeSamples = 20

// benchBestOf returns the least CPU time of n runs of fn.
func benchBestOf(n int, fn func()) time.Duration {
	best := time.Duration(1 << 62)
	for range n {
		start := benchCPU()
		fn()
		best = min(best, benchCPU()-start)
	}
	return best
}

func benchPlainRead(path string, n int) time.Duration {
	return benchBestOf(n, func() {
		f, _ := os.Open(path)
		io.Copy(io.Discard, f)
		f.Close()
	})
}

// benchArrowRead is a plain arrow-go read of an Arrow IPC file: every
// record batch, and every cell's value (a string's bytes, a number).
func benchArrowRead(b *testing.B, path string, n int) time.Duration {
	return benchBestOf(n, func() {
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
		var n int
		var sum float64
		for i := range r.NumRecords() {
			rec, err := r.RecordBatch(i)
			if err != nil {
				b.Fatal(err)
			}
			for _, col := range rec.Columns() {
				switch a := col.(type) {
				case *array.String:
					for j := range a.Len() {
						n += len(a.Value(j))
					}
				case *array.Int64:
					for _, v := range a.Int64Values() {
						sum += float64(v)
					}
				case *array.Float64:
					for _, v := range a.Float64Values() {
						sum += v
					}
				}
			}
		}
		if n == 0 || sum == 0 {
			b.Fatal("the plain read read nothing")
		}
	})
}

func benchMBps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

// writeBenchInput writes the input records and returns their aggregate by
// district, month, industry and age band.
func writeBenchInput(b *testing.B, path string) map[[4]int]*numStats {
	mem := memory.NewGoAllocator()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "district", Type: arrow.BinaryTypes.String},
		{Name: "month", Type: arrow.BinaryTypes.String},
		{Name: "industry", Type: arrow.BinaryTypes.String},
		{Name: "age_band", Type: arrow.BinaryTypes.String},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
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
	months := make([]string, 72)
	for i := range months {
		months[i] = fmt.Sprintf("20%02d-%02d", 18+i/12, 1+i%12)
	}
	agg := map[[4]int]*numStats{}
	r := rand.New(rand.NewPCG(7, 8))
	bld := array.NewRecordBuilder(mem, sc)
	defer bld.Release()
	for done := 0; done < benchInputRows; {
		n := min(64<<10, benchInputRows-done)
		for range n {
			k := [4]int{r.IntN(len(benchDistricts)), r.IntN(len(months)), r.IntN(len(benchIndustries)), r.IntN(len(benchAges))}
			amount := float64(1000+r.IntN(50000)) + float64(r.IntN(100))/100
			bld.Field(0).(*array.StringBuilder).Append(benchDistricts[k[0]])
			bld.Field(1).(*array.StringBuilder).Append(months[k[1]])
			bld.Field(2).(*array.StringBuilder).Append(benchIndustries[k[2]])
			bld.Field(3).(*array.StringBuilder).Append(benchAges[k[3]])
			bld.Field(4).(*array.Float64Builder).Append(amount)
			s := agg[k]
			if s == nil {
				s = &numStats{}
				agg[k] = s
			}
			s.add(amount)
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
	return agg
}

// writeBenchOutput writes the honest aggregate, sorted by its labels, with
// groups under MinCell left out.
func writeBenchOutput(b *testing.B, path string, agg map[[4]int]*numStats) {
	mem := memory.NewGoAllocator()
	schemaMarks := arrow.NewMetadata([]string{MarkLevel, MarkMarket}, []string{"general-2", "ordinary"})
	field := func(name, stat string, t arrow.DataType) arrow.Field {
		md := arrow.Metadata{}
		if stat != "" {
			md = arrow.NewMetadata([]string{MarkStat}, []string{stat})
		}
		return arrow.Field{Name: name, Type: t, Metadata: md}
	}
	sc := arrow.NewSchema([]arrow.Field{
		field("district", "", arrow.BinaryTypes.String),
		field("month", "", arrow.BinaryTypes.String),
		field("industry", "", arrow.BinaryTypes.String),
		field("age_band", "", arrow.BinaryTypes.String),
		field("n", "count", arrow.PrimitiveTypes.Int64),
		field("sum_amount", "sum", arrow.PrimitiveTypes.Float64),
		field("mean_amount", "mean", arrow.PrimitiveTypes.Float64),
	}, &schemaMarks)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(sc), ipc.WithAllocator(mem))
	if err != nil {
		b.Fatal(err)
	}
	bld := array.NewRecordBuilder(mem, sc)
	defer bld.Release()
	for d := range benchDistricts {
		for m := range 72 {
			for i := range benchIndustries {
				for a := range benchAges {
					s := agg[[4]int{d, m, i, a}]
					if s == nil || s.n < 10 {
						continue
					}
					bld.Field(0).(*array.StringBuilder).Append(benchDistricts[d])
					bld.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("20%02d-%02d", 18+m/12, 1+m%12))
					bld.Field(2).(*array.StringBuilder).Append(benchIndustries[i])
					bld.Field(3).(*array.StringBuilder).Append(benchAges[a])
					bld.Field(4).(*array.Int64Builder).Append(int64(s.n))
					bld.Field(5).(*array.Float64Builder).Append(roundDecimals(s.sum, 2))
					bld.Field(6).(*array.Float64Builder).Append(roundDecimals(s.sum/float64(s.n), 2))
				}
			}
		}
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkContractArrow(b *testing.B) {
	dir := b.TempDir()
	in, out := filepath.Join(dir, "input.arrow"), filepath.Join(dir, "out.arrow")
	writeBenchOutput(b, out, writeBenchInput(b, in))
	inSize, outSize := fileSize(b, in), fileSize(b, out)
	req := &review.Request{
		Files:  []review.File{{Name: "out.arrow", Path: out}},
		Inputs: []review.Input{{Dataset: "bench", Version: 1, Level: "general-2", Market: "ordinary", Rows: benchInputRows, Path: in}},
	}
	p := review.Default()
	c := Contract{}
	plainIn := benchPlainRead(in, 3*judgeSamples)
	var pr *profile
	prof := benchBest(func() {
		var err error
		if pr, err = buildProfile(b.Context(), c.table, req, p); err != nil {
			b.Fatal(err)
		}
	})
	b.ResetTimer()
	// Each judging is taken between a plain read and an arrow-go read of
	// the output, so that the three see the same load on a shared host
	// (best of 3 × judgeSamples of each with make bench's -benchtime 3x),
	// each after a collection, so that none pays for the others' garbage
	// (one collection leaves sync.Pool's victims, which judging reuses).
	judge, plainOut, arrowOut := time.Duration(1<<62), time.Duration(1<<62), time.Duration(1<<62)
	for b.Loop() {
		for range judgeSamples {
			plainOut = min(plainOut, benchPlainRead(out, 1))
			runtime.GC() // no sample pays for the garbage of another
			start := benchCPU()
			fs, _ := c.file(b.Context(), req, pr, req.Files[0], ManifestFile{}, p)
			judge = min(judge, benchCPU()-start)
			if len(fs) != 1 || fs[0].Verdict != review.VerdictPass {
				b.Fatalf("the honest aggregate did not pass: %+v", fs)
			}
			runtime.GC()
			arrowOut = min(arrowOut, benchArrowRead(b, out, 1))
		}
	}
	b.StopTimer()
	// The contract's cost grows with the input records behind a table,
	// not with the table's bytes: both are reported.
	b.ReportMetric(benchMBps(outSize, judge), "judge-MB/s-of-output")
	b.ReportMetric(plainOut.Seconds()/judge.Seconds(), "judge/plain-read-of-output")
	// the reference of the same run: arrow-go reading the output's cells
	b.ReportMetric(benchMBps(outSize, arrowOut), "arrow-read-MB/s-of-output")
	b.ReportMetric(arrowOut.Seconds()/judge.Seconds(), "judge/arrow-read-of-output")
	b.ReportMetric(float64(benchInputRows)/1e6/judge.Seconds(), "judge-Mrecords/s")
	b.ReportMetric(plainIn.Seconds()/judge.Seconds(), "judge/plain-read-of-input")
	b.ReportMetric(benchMBps(inSize, prof), "profile-MB/s-of-input")
	b.ReportMetric(float64(benchInputRows)/1e6/prof.Seconds(), "profile-Mrecords/s")
	b.ReportMetric(plainIn.Seconds()/prof.Seconds(), "profile/plain-read-of-input")
}

func fileSize(b *testing.B, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

func BenchmarkContractText(b *testing.B) {
	path := filepath.Join(b.TempDir(), "report.md")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	r := rand.New(rand.NewPCG(9, 10))
	for w.Buffered()+int(fileSizeOrZero(f)) < 40<<20 {
		fmt.Fprintf(w, "In 20%02d-%02d the district of %s recorded %d penalty decisions in industry %s, with a mean of %.1f yuan (%.1f%% of the city's total) and a median of %d.\n",
			18+r.IntN(6), 1+r.IntN(12), benchDistricts[r.IntN(len(benchDistricts))], 10+r.IntN(5000), benchIndustries[r.IntN(len(benchIndustries))],
			float64(r.IntN(1_000_000))/10, float64(r.IntN(1000))/10, 1000+r.IntN(50000))
		if w.Buffered() > 1<<20 {
			w.Flush()
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	size := fileSize(b, path)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	pr := benchTextProfile()
	b.ResetTimer()
	// each sample of the rule in turn with a plain read, after a
	// collection (see BenchmarkContractArrow): best of 4 per iteration
	best, plain := time.Duration(1<<62), time.Duration(1<<62)
	for b.Loop() {
		for range 4 {
			plain = min(plain, benchPlainRead(path, 1))
			runtime.GC()
			start := benchCPU()
			var c textCost
			pr.textRule(review.Default()).text(&c, data, 1)
			best = min(best, benchCPU()-start)
			if c.counts[clsNumbers] == 0 {
				b.Fatal("the report's figures beyond the free allowance were not charged")
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(benchMBps(size, best), "text-rule-MB/s")
	b.ReportMetric(plain.Seconds()/best.Seconds(), "text-rule/plain-read")
}

// benchTextProfile is the profile that buildProfile makes of the input of
// ContractArrow, as far as the text rule reads it: the words of its labels
// and column names.
func benchTextProfile() *profile {
	pr := &profile{labels: map[string]bool{}, words: map[string]bool{}, names: map[string]bool{}}
	for _, name := range statNames {
		pr.addWords(name)
	}
	for _, name := range []string{"district", "month", "industry", "age_band", "amount"} {
		pr.names[name] = true
		pr.addWords(name)
	}
	labels := append(append(slices.Clone(benchDistricts), benchIndustries...), benchAges...)
	for i := range 72 {
		labels = append(labels, fmt.Sprintf("20%02d-%02d", 18+i/12, 1+i%12))
	}
	for _, l := range labels {
		pr.labels[l] = true
		pr.addWords(l)
	}
	return pr
}

func fileSizeOrZero(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}
