package usage

import (
	"context"
	"reflect"
	"testing"

	"github.com/enclave-dev/enclave/enclave/jobs"
)

func TestComputeCoarse(t *testing.T) {
	db := fixture(t)
	ctx := context.Background()
	type want struct {
		key                 string
		jobs                int64
		cpu, wall           float64
		peak                uint64
		input, output       int64
		requested, approved int64
	}
	tests := []struct {
		name  string
		q     Query
		rows  []want
		total want
	}{
		// acme: j1 cpu 3600 -> 4096, j2 7200 -> 8192, j3 1800 -> 2048; peak 2e9, 1e9, 4e9 -> 2^31, 2^30, 2^32;
		// input 1e9, 3e9, 2e9 -> 2^30, 2^32, 2^31; output 5e8, 1e8, 0 -> 2^29, 2^27, 0; wall 1800, 3600, 900 -> 2048, 4096, 1024.
		// globex: j4 cpu 360 -> 512, peak 5e8 -> 2^29, input 1e9 -> 2^30, output 2e9 -> 2^31, wall 7200 -> 8192.
		{"by org", Query{Coarse: true},
			[]want{
				{"acme", 3, 14336, 7168, 1 << 32, 7 << 30, 5 << 27, 3, 1},
				{"globex", 1, 512, 8192, 1 << 29, 1 << 30, 1 << 31, 1, 1},
			},
			want{"total", 4, 14848, 15360, 1 << 32, 8 << 30, (5 << 27) + (1 << 31), 4, 2}},
		{"by dataset, a job once in the total", Query{Coarse: true, By: ByDataset},
			[]want{
				{"census", 3, 4096 + 8192 + 512, 2048 + 4096 + 8192, 1 << 31, (1 << 30) + (1 << 32) + (1 << 30), (1 << 29) + (1 << 27) + (1 << 31), 4, 2},
				{"trade", 2, 8192 + 2048, 4096 + 1024, 1 << 32, (1 << 32) + (1 << 31), 1 << 27, 2, 0},
			},
			want{"total", 4, 14848, 15360, 1 << 32, 8 << 30, (5 << 27) + (1 << 31), 4, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Compute(ctx, db.SQL(), tc.q, DefaultPriceList())
			if err != nil {
				t.Fatal(err)
			}
			row := func(r Row) want {
				return want{r.Key, r.Jobs, r.CPUSeconds, r.WallSeconds, r.PeakMemoryBytes, r.InputBytes, r.OutputBytes, r.ExportsRequested, r.ExportsApproved}
			}
			if len(rep.Rows) != len(tc.rows) {
				t.Fatalf("got %d rows %+v, want %d", len(rep.Rows), rep.Rows, len(tc.rows))
			}
			for i, w := range tc.rows {
				if got := row(rep.Rows[i]); got != w {
					t.Errorf("row %d: got %+v, want %+v", i, got, w)
				}
				if c := DefaultPriceList().Charge(rep.Rows[i]); rep.Rows[i].Charge != c {
					t.Errorf("row %d: charge %+v, want the coarse figures' %+v", i, rep.Rows[i].Charge, c)
				}
			}
			if got := row(rep.Total); got != tc.total {
				t.Errorf("total: got %+v, want %+v", got, tc.total)
			}
		})
	}
}

// TestCoarseReportHidesExactFigures: two days whose one job each differs
// in every figure by a little give the same coarse rows, and different
// exact ones.
func TestCoarseReportHidesExactFigures(t *testing.T) {
	db := openDB(t)
	seed(t, db, []testJob{
		{"j1", "acme", "p-a1", day(1, 5), []string{"census"}, jobs.Usage{CPUSeconds: 300.1, PeakMemoryBytes: 300 << 20, InputBytes: 1e6, OutputBytes: 70000, WallSeconds: 40.02}},
		{"j2", "acme", "p-a1", day(1, 6), []string{"census"}, jobs.Usage{CPUSeconds: 500.9, PeakMemoryBytes: 500 << 20, InputBytes: 1e6, OutputBytes: 65537, WallSeconds: 63.9}},
	}, nil)
	for _, coarse := range []bool{true, false} {
		rep, err := Compute(context.Background(), db.SQL(), Query{By: ByDay, Coarse: coarse}, DefaultPriceList())
		if err != nil {
			t.Fatal(err)
		}
		a, b := rep.Rows[0], rep.Rows[1]
		a.Key, b.Key = "", ""
		if same := reflect.DeepEqual(a, b); same != coarse {
			t.Errorf("coarse %v: the two days' rows are the same: %v, want %v (%+v, %+v)", coarse, same, coarse, a, b)
		}
	}
}
