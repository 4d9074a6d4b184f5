package checks

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	review "github.com/enclave-dev/enclave/egress-review"
)

// TestCodedNamesWithheld checks that a file or column name that carries a
// value in some encoding never reaches a finding, while plain names do.
func TestCodedNamesWithheld(t *testing.T) {
	e := newEnv(t)
	coded := "ab" + strings.Repeat("9f3c", 6) // no input value, but a hex code
	md, clean := cleanAggregate()
	e.add("summary.arrow", arrowFile(t, md, clean))
	e.add(coded+".csv", []byte("x\n1\n"))
	e.add("by_district.arrow", arrowFile(t, md, append(clean[:1:1], col{name: coded, level: "general-3", vals: []int64{1, 2, 3}})))
	res := e.run()
	if res.Verdict != review.VerdictFail {
		t.Fatalf("got %s, want fail", res.Verdict)
	}
	sawPlain := false
	for _, f := range res.Findings {
		if strings.Contains(f.File, coded) || strings.Contains(f.Column, coded) || strings.Contains(f.Evidence, coded) {
			t.Fatalf("finding repeats a coded name: %+v", f)
		}
		sawPlain = sawPlain || f.File == "summary.arrow"
		if f.File == review.WithheldCodedName+" #1" && f.Check == "" {
			t.Fatalf("finding without a check: %+v", f)
		}
	}
	if !sawPlain {
		t.Fatalf("plain file names were withheld too: %+v", res.Findings)
	}
	withheld := 0
	for _, f := range res.Findings {
		if strings.HasPrefix(f.File, review.WithheldCodedName) || f.Column == review.WithheldCodedName {
			withheld++
		}
	}
	if withheld == 0 {
		t.Fatalf("no name withheld: %+v", res.Findings)
	}
}

// TestCopiedMarksAreFree checks that a table may carry its input's marks
// (a digest among them) while the same digest under a mark the input does
// not have, or in another metadata key, is charged.
func TestCopiedMarksAreFree(t *testing.T) {
	digest := strings.Repeat("3fa9c2d1e5b7a04c", 4)
	for _, tc := range []struct {
		name string
		key  string
		want review.Verdict
	}{
		{"copied from the input", "enclave.source_sha256", review.VerdictPass},
		{"under a mark the input lacks", "enclave.note", review.VerdictFail},
		{"under another key", "note", review.VerdictFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.req.Inputs[0].Marks = map[string]string{"enclave.source_sha256": digest}
			md, clean := cleanAggregate()
			md[tc.key] = digest
			e.add("summary.arrow", arrowFile(t, md, clean))
			if got, fs := contractVerdict(t, e.req); got != tc.want {
				t.Fatalf("got %s, want %s: %+v", got, tc.want, fs)
			}
		})
	}
}

// TestRowOrder checks that a table in an order no tool writes is sent to
// review (its order carries bits), and that the orders of labels and of
// a statistic pass.
func TestRowOrder(t *testing.T) {
	md, clean := cleanAggregate()
	reorder := func(idx []int) []col {
		var out []col
		for _, c := range clean {
			switch v := c.vals.(type) {
			case []string:
				n := make([]string, len(idx))
				for i, k := range idx {
					n[i] = v[k]
				}
				c.vals = n
			case []int64:
				n := make([]int64, len(idx))
				for i, k := range idx {
					n[i] = v[k]
				}
				c.vals = n
			case []float64:
				n := make([]float64, len(idx))
				for i, k := range idx {
					n[i] = v[k]
				}
				c.vals = n
			}
			out = append(out, c)
		}
		return out
	}
	// clean is Haidian 120, Chaoyang 98, Fengtai 41 (mean 51234.5,
	// 48211.25, 60500): by count descending.
	for _, tc := range []struct {
		name string
		idx  []int
		want review.Verdict
	}{
		{"by count, as written", []int{0, 1, 2}, review.VerdictPass},
		{"by label", []int{1, 2, 0}, review.VerdictPass},
		{"by mean", []int{1, 0, 2}, review.VerdictPass},
		{"labels alone, by label", []int{1, 2, 0}, review.VerdictPass},
		// with three rows and three keys every order is some key's; with
		// the labels alone it is not
		{"labels alone, no order", []int{0, 1, 2}, review.VerdictReview},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cols := reorder(tc.idx)
			if strings.HasPrefix(tc.name, "labels alone") {
				cols = cols[:1]
			}
			e.add("summary.arrow", arrowFile(t, md, cols))
			if got, fs := contractVerdict(t, e.req); got != tc.want {
				t.Fatalf("got %s, want %s: %+v", got, tc.want, fs)
			}
		})
	}
}

// TestRepeatedRows checks that rows with the labels of another row fail,
// whether the rows are in the order of their labels (the repeat is then
// next to its twin) or not.
func TestRepeatedRows(t *testing.T) {
	md, clean := cleanAggregate()
	for _, tc := range []struct {
		name string
		idx  []int
		want bool
	}{
		{"in order", []int{1, 2, 0}, false},
		{"a row repeated, in order", []int{1, 1, 2, 0}, true},
		{"a row repeated, out of order", []int{1, 2, 0, 1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cols []col
			for _, c := range clean {
				switch v := c.vals.(type) {
				case []string:
					c.vals = pick(v, tc.idx)
				case []int64:
					c.vals = pick(v, tc.idx)
				case []float64:
					c.vals = pick(v, tc.idx)
				}
				cols = append(cols, c)
			}
			e := newEnv(t)
			e.add("summary.arrow", arrowFile(t, md, cols))
			_, fs := contractVerdict(t, e.req)
			got := false
			for _, f := range fs {
				got = got || f.Verdict == review.VerdictFail && strings.Contains(f.Evidence, "repeat the labels of another row")
			}
			if got != tc.want {
				t.Fatalf("got a repeat finding %v, want %v: %+v", got, tc.want, fs)
			}
		})
	}
}

func pick[T any](v []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, k := range idx {
		out[i] = v[k]
	}
	return out
}

// TestParquetStatistics checks that the minima, maxima and null counts a
// Parquet footer keeps must be the column's own: compared with the
// columns as read they pass, compared with other values (as a writer that
// forged them would leave them) they fail.
func TestParquetStatistics(t *testing.T) {
	md, clean := cleanAggregate()
	p := filepath.Join(t.TempDir(), "t.parquet")
	if err := os.WriteFile(p, parquetFile(t, md, clean), 0o600); err != nil {
		t.Fatal(err)
	}
	read := func() []*outCol {
		var cols []*outCol
		_, err := table{}.forEach(t.Context(), p, KindParquet, 1<<30, func(rec arrow.RecordBatch) error {
			if cols == nil {
				for _, f := range rec.Schema().Fields() {
					c := &outCol{name: f.Name, stat: metaGet(f.Metadata, MarkStat)}
					c.isLabel, c.bad = columnRole(f.Type, c.stat)
					cols = append(cols, c)
				}
			}
			for j, c := range cols {
				c.addArrow(rec.Column(j))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return cols
	}
	if why := parquetStatistics(p, read()); why != "" {
		t.Fatalf("the file's own statistics failed: %s", why)
	}
	cols := read()
	cols[1].nums[0] = 7 // the maximum count is no longer a value of the column
	if why := parquetStatistics(p, cols); !strings.Contains(why, "minimum or maximum") {
		t.Fatalf("got %q, want a failure naming the minimum or maximum", why)
	}
	cols = read()
	cols[0].codes[0] = cols[0].code("Xicheng") // the district label no longer in the column
	cols[0].index = &internTable{}
	cols[0].index.put("Xicheng", 0)
	if why := parquetStatistics(p, cols); why == "" {
		t.Fatal("labels that are not the statistics' passed")
	}
}

// TestShares checks share columns: a percentage or fraction of the
// records, rounded as the column rounds, passes; a share moved to carry
// something fails.
func TestShares(t *testing.T) {
	manifest := `{"files": {"s.csv": {"level": "general-3", "market": "authorized", "columns": {"share": {"stat": "share"}}}}}`
	for _, tc := range []struct {
		name, csv string
		want      review.Verdict
	}{
		{"percent of all", "district,n,share\nChaoyang,98,37.84%\nFengtai,41,15.83%\nHaidian,120,46.33%\n", review.VerdictPass},
		{"fraction of all", "district, n, share\nChaoyang, 98, 0.378\nFengtai, 41, 0.158\nHaidian, 120, 0.463\n", review.VerdictPass},
		{"percent of the rows shown", "district,n,share\nChaoyang,98,44.95\nHaidian,120,55.05\n", review.VerdictPass},
		{"a share moved", "district,n,share\nChaoyang,98,37.84%\nFengtai,41,15.87%\nHaidian,120,46.33%\n", review.VerdictFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.add("s.csv", []byte(tc.csv))
			e.add(review.ManifestName, []byte(manifest))
			if got, fs := contractVerdict(t, e.req); got != tc.want {
				t.Fatalf("got %s, want %s: %+v", got, tc.want, fs)
			}
		})
	}
}

// TestStandardDeviations checks std columns against both the sample's and
// the whole group's standard deviation of an input column.
func TestStandardDeviations(t *testing.T) {
	manifest := `{"files": {"s.csv": {"level": "general-3", "market": "authorized", "columns": {"std_amount": {"stat": "std"}}}}}`
	for _, tc := range []struct {
		name, csv string
		want      review.Verdict
	}{
		{"of a sample", "district,n,std_amount\nChaoyang,98,1005.14\nFengtai,41,1000.00\nHaidian,120,1004.19\n", review.VerdictPass},
		{"of the group", "district,n,std_amount\nChaoyang,98,1000\nFengtai,41,987.73\nHaidian,120,1000\n", review.VerdictPass},
		{"one moved", "district,n,std_amount\nChaoyang,98,1005.14\nFengtai,41,1000.07\nHaidian,120,1004.19\n", review.VerdictFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.add("s.csv", []byte(tc.csv))
			e.add(review.ManifestName, []byte(manifest))
			if got, fs := contractVerdict(t, e.req); got != tc.want {
				t.Fatalf("got %s, want %s: %+v", got, tc.want, fs)
			}
		})
	}
}

// contractVerdict runs the contract alone over req and folds its verdict.
func contractVerdict(t *testing.T, req *review.Request) (review.Verdict, []review.Finding) {
	t.Helper()
	fs, err := Contract{}.Run(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := review.VerdictPass
	for _, f := range fs {
		got = review.Worse(got, f.Verdict)
	}
	return got, fs
}

// TestRoundingOf checks the rounding of a column read with the cheap test
// against writing every number out, over numbers with few decimals (as
// tables round them), random bits, and the edges of the cheap test.
func TestRoundingOf(t *testing.T) {
	slow := func(nums []float64) (int, int) {
		dec, sig := 0, 0
		for _, v := range nums {
			if math.IsNaN(v) {
				continue
			}
			f := strconv.FormatFloat(v, 'f', -1, 64)
			if _, frac, ok := strings.Cut(f, "."); ok {
				dec = max(dec, len(frac))
			}
			sig = max(sig, significant(digitsOf(v)))
		}
		return min(dec, 15), sig
	}
	r := rand.New(rand.NewPCG(3, 4))
	edges := []float64{0, math.Copysign(0, -1), 1, 9.999999999999999, 10, 0.1, 0.3, 1e21, 1e-20, 9007199254740993, 4503599627370496.5,
		123456.785, 0.000123, -42.5, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN()}
	for i := 0; i < 20000; i++ {
		n := 1 + r.IntN(40)
		nums := make([]float64, n)
		for j := range nums {
			switch r.IntN(5) {
			case 0:
				nums[j] = math.Float64frombits(r.Uint64())
			case 1:
				nums[j] = edges[r.IntN(len(edges))]
			default:
				d := r.IntN(6)
				nums[j] = float64(r.Int64N(1e9)-5e8) / math.Pow(10, float64(d))
			}
		}
		gd, gs := roundingOf(nums)
		wd, ws := slow(nums)
		if gd != wd || gs != ws {
			t.Fatalf("rounding of %v: got %d decimals and %d digits, want %d and %d", nums, gd, gs, wd, ws)
		}
	}
}
