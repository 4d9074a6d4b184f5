package usage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	_ "github.com/enclave-dev/enclave/enclave/exports" // the exports table
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
	policy "github.com/enclave-dev/enclave/policies"
)

// testJob is a metered job to seed.
type testJob struct {
	id, org, owner string
	created        time.Time
	datasets       []string
	use            jobs.Usage
}

type testExport struct {
	id, job, org, requester, state string
	created                        time.Time
}

func openDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func seed(t testing.TB, db *store.DB, js []testJob, es []testExport) {
	t.Helper()
	ctx := context.Background()
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		for _, j := range js {
			var ins []jobs.Input
			for _, d := range j.datasets {
				ins = append(ins, jobs.Input{Dataset: d, Version: 1, Level: "general-2", Market: "ordinary"})
			}
			in, _ := json.Marshal(ins)
			u, _ := json.Marshal(j.use)
			if _, err := tx.ExecContext(ctx, `INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at)
				VALUES (?, ?, ?, 'sha256:x', '[]', ?, '{}', '{}', 'complete', ?, ?)`, j.id, j.org, j.owner, string(in), string(u),
				storetime.Format(j.created)); err != nil {
				return err
			}
		}
		for _, e := range es {
			if _, err := tx.ExecContext(ctx, `INSERT INTO exports(id, job, org, requester, purpose, scenario, files, declared, level, state, result, approvals_needed, created_at)
				VALUES (?, ?, ?, ?, 'p', 's', '[]', '{}', 'general-2', ?, '{}', 1, ?)`, e.id, e.job, e.org, e.requester, e.state,
				storetime.Format(e.created)); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func day(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, time.UTC) }

// fixture: two organisations, three people, two datasets, two months.
func fixture(t testing.TB) *store.DB {
	db := openDB(t)
	seed(t, db, []testJob{
		{"j1", "acme", "p-a1", day(1, 5), []string{"census"}, jobs.Usage{CPUSeconds: 3600, PeakMemoryBytes: 2e9, InputBytes: 1e9, OutputBytes: 5e8, WallSeconds: 1800}},
		{"j2", "acme", "p-a2", day(1, 20), []string{"census", "trade"}, jobs.Usage{CPUSeconds: 7200, PeakMemoryBytes: 1e9, InputBytes: 3e9, OutputBytes: 1e8, WallSeconds: 3600}},
		{"j3", "acme", "p-a1", day(2, 3), []string{"trade"}, jobs.Usage{CPUSeconds: 1800, PeakMemoryBytes: 4e9, InputBytes: 2e9, OutputBytes: 0, WallSeconds: 900}},
		{"j4", "globex", "p-g1", day(2, 10), []string{"census"}, jobs.Usage{CPUSeconds: 360, PeakMemoryBytes: 5e8, InputBytes: 1e9, OutputBytes: 2e9, WallSeconds: 7200}},
	}, []testExport{
		{"x1", "j1", "acme", "p-a1", "released", day(1, 6)},
		{"x2", "j2", "acme", "p-a2", "rejected", day(1, 21)},
		{"x3", "j2", "acme", "p-a2", "pending-review", day(2, 1)},
		{"x4", "j4", "globex", "p-g1", "released", day(3, 1)},
	})
	return db
}

func TestComputeBy(t *testing.T) {
	db := fixture(t)
	ctx := context.Background()
	prices := DefaultPriceList()
	type want struct {
		key                   string
		jobs                  int64
		cpuHours              float64
		peak                  uint64
		input, output         int64
		requested, ok, reject int64
	}
	tests := []struct {
		name string
		q    Query
		rows []want
	}{
		{"by org", Query{}, []want{
			{"acme", 3, 3.5, 4e9, 6e9, 6e8, 3, 1, 1},
			{"globex", 1, 0.1, 5e8, 1e9, 2e9, 1, 1, 0},
		}},
		{"by person, one org", Query{Org: "acme", By: ByPerson}, []want{
			{"p-a1", 2, 1.5, 4e9, 3e9, 5e8, 1, 1, 0},
			{"p-a2", 1, 2, 1e9, 3e9, 1e8, 2, 0, 1},
		}},
		{"by dataset", Query{By: ByDataset}, []want{
			{"census", 3, 3.1, 2e9, 5e9, 26e8, 4, 2, 1},
			{"trade", 2, 2.5, 4e9, 5e9, 1e8, 2, 0, 1},
		}},
		{"by month", Query{By: ByMonth}, []want{
			{"2026-01", 2, 3, 2e9, 4e9, 6e8, 2, 1, 1},
			{"2026-02", 2, 0.6, 4e9, 3e9, 2e9, 1, 0, 0},
			{"2026-03", 0, 0, 0, 0, 0, 1, 1, 0},
		}},
		{"by day, period", Query{By: ByDay, From: time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 2, 4, 0, 0, 0, 0, time.UTC)}, []want{
			{"2026-01-20", 1, 2, 1e9, 3e9, 1e8, 0, 0, 0},
			{"2026-01-21", 0, 0, 0, 0, 0, 1, 0, 1},
			{"2026-02-01", 0, 0, 0, 0, 0, 1, 0, 0},
			{"2026-02-03", 1, 0.5, 4e9, 2e9, 0, 0, 0, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Compute(ctx, db.SQL(), tc.q, prices)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Rows) != len(tc.rows) {
				t.Fatalf("got %d rows %+v, want %d", len(rep.Rows), rep.Rows, len(tc.rows))
			}
			for i, w := range tc.rows {
				r := rep.Rows[i]
				got := want{r.Key, r.Jobs, math.Round(r.CPUHours*1000) / 1000, r.PeakMemoryBytes, r.InputBytes, r.OutputBytes, r.ExportsRequested, r.ExportsApproved, r.ExportsRejected}
				if got != w {
					t.Errorf("row %d: got %+v, want %+v", i, got, w)
				}
				if c := prices.Charge(r); r.Charge != c {
					t.Errorf("row %d charge: got %+v, want %+v", i, r.Charge, c)
				}
			}
		})
	}
}

func TestComputeTotal(t *testing.T) {
	db := fixture(t)
	rep, err := Compute(context.Background(), db.SQL(), Query{By: ByDataset}, DefaultPriceList())
	if err != nil {
		t.Fatal(err)
	}
	// A job that read two datasets counts once in the total.
	if rep.Total.Jobs != 4 || rep.Total.InputBytes != 7e9 || rep.Total.ExportsRequested != 4 || rep.Total.PeakMemoryBytes != 4e9 {
		t.Errorf("got total %+v, want 4 jobs, 7e9 input bytes, 4 exports, peak 4e9", rep.Total)
	}
	// CPU 3.6 h * 0.50 = 1.80; memory GB-h = 2*0.5+1*1+4*0.25+0.5*2 = 4 -> 0.20;
	// input 7 GB * 0.10 = 0.70; output 2.6 GB * 1.00 = 2.60; jobs 4 * 0.20 = 0.80; exports 4 * 5 = 20.
	want := Charge{CPU: 1.80, Memory: 0.20, Input: 0.70, Output: 2.60, Jobs: 0.80, Exports: 20, Total: 26.10}
	if rep.Total.Charge != want {
		t.Errorf("got charge %+v, want %+v", rep.Total.Charge, want)
	}
}

func TestStreamStops(t *testing.T) {
	db := fixture(t)
	stop := fmt.Errorf("enough")
	n := 0
	err := Stream(context.Background(), db.SQL(), Query{By: ByMonth}, DefaultPriceList(), func(Row) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("got err %v after %d rows, want the callback's error after 1", err, n)
	}
}

func TestQueryValidate(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		ok   bool
	}{
		{"default", Query{}, true},
		{"unknown key", Query{By: "colour"}, false},
		{"reversed period", Query{From: day(2, 1), Until: day(1, 1)}, false},
		{"empty period", Query{From: day(2, 1), Until: day(2, 1)}, false},
		{"period", Query{From: day(1, 1), Until: day(2, 1), By: ByDay}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.q.Validate()
			if (err == nil) != tc.ok || (err != nil && !errdefs.IsInvalidArgument(err)) {
				t.Errorf("got %v, want ok=%v (or an invalid-argument error)", err, tc.ok)
			}
		})
	}
}

func TestParsePriceList(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *PriceList
	}{
		{"yaml", "currency: EUR\ncpu_hour: 1.5\nexport: 2\n", &PriceList{Currency: "EUR", Prices: Prices{CPUHour: 1.5, Export: 2}}},
		{"json", `{"cpu_hour": 0.25, "output_gb": 3}`, &PriceList{Currency: "CNY", Prices: Prices{CPUHour: 0.25, OutputGB: 3}}},
		{"public interest at cost", "cpu_hour: 1\ncall: 0.02\npublic_interest: {cpu_hour: 0.25, call: 0.01}\n",
			&PriceList{Currency: "CNY", Prices: Prices{CPUHour: 1, Call: 0.02}, PublicInterest: Prices{CPUHour: 0.25, Call: 0.01}}},
		{"public interest above the industry price", "cpu_hour: 1\npublic_interest: {cpu_hour: 2}\n", nil},
		{"public interest unknown field", "public_interest: {cpu: 0}\n", nil},
		{"public interest negative", "public_interest: {job: -1}\n", nil},
		{"unknown field", "cpu_hours: 1\n", nil},
		{"negative", "job: -1\n", nil},
		{"bad currency", "currency: euro\n", nil},
		{"not a number", "job: lots\n", nil},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePriceList([]byte(tc.in))
			if tc.want == nil {
				if !errdefs.IsInvalidArgument(err) {
					t.Errorf("got %+v, %v; want an invalid-argument error", got, err)
				}
				return
			}
			if err != nil || got != *tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, *tc.want)
			}
		})
	}
}

func FuzzParsePriceList(f *testing.F) {
	f.Add([]byte("currency: EUR\ncpu_hour: 1.5\n"))
	f.Add([]byte(`{"job": 1e308}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePriceList(data)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got error %v, want invalid-argument", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed list does not validate: %v", err)
		}
	})
}

func TestQuota(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	four, big, neg := int64(4), int64(1<<40), int64(-1)
	tests := []struct {
		name string
		set  *policy.Quota
		want policy.Quota
		err  bool
	}{
		{"none on record", nil, policy.Quota{}, false},
		{"set", &policy.Quota{ConcurrentJobs: &four, MemoryBytesPerJob: &big}, policy.Quota{ConcurrentJobs: &four, MemoryBytesPerJob: &big}, false},
		{"replaced", &policy.Quota{CPUSecondsMonth: &big}, policy.Quota{CPUSecondsMonth: &big}, false},
		{"negative refused", &policy.Quota{ConcurrentJobs: &neg}, policy.Quota{CPUSecondsMonth: &big}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.set != nil {
				err := SetQuota(ctx, db.SQL(), "acme", *tc.set, "p-auth", "2026-11-23T09:00:00Z")
				if (err != nil) != tc.err || (err != nil && !errdefs.IsInvalidArgument(err)) {
					t.Fatalf("got error %v, want error=%v", err, tc.err)
				}
			}
			got, err := GetQuota(ctx, db.SQL(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			if show(got) != show(tc.want) {
				t.Errorf("got %s, want %s", show(got), show(tc.want))
			}
		})
	}
}

func show(q policy.Quota) string {
	b, _ := json.Marshal(q)
	return string(b)
}

func TestLedgerFollowsJobs(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	seed(t, db, []testJob{{"j1", "acme", "p-a1", day(1, 5), []string{"census"}, jobs.Usage{}}}, nil)
	total := func() Row {
		rep, err := Compute(ctx, db.SQL(), Query{}, DefaultPriceList())
		if err != nil {
			t.Fatal(err)
		}
		return rep.Total
	}
	steps := []struct {
		name, sql string
		jobs      int64
		cpu       float64
	}{
		{"queued job counts with no use", "", 1, 0},
		{"the job ends with its use", `UPDATE jobs SET state = 'complete', usage = '{"cpu_seconds": 7200, "wall_seconds": 10}' WHERE id = 'j1'`, 1, 7200},
		{"a state change alone keeps the use", `UPDATE jobs SET message = 'x' WHERE id = 'j1'`, 1, 7200},
		{"a removed job leaves the ledger", `DELETE FROM jobs WHERE id = 'j1'`, 0, 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.sql != "" {
				if _, err := db.SQL().ExecContext(ctx, st.sql); err != nil {
					t.Fatal(err)
				}
			}
			if got := total(); got.Jobs != st.jobs || got.CPUSeconds != st.cpu {
				t.Errorf("got %d jobs, %v CPU seconds; want %d, %v", got.Jobs, got.CPUSeconds, st.jobs, st.cpu)
			}
		})
	}
}
