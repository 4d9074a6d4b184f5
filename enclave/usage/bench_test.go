package usage

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

var benchDB struct {
	once sync.Once
	dir  string
	db   *store.DB
	err  error
}

const benchJobs = 1_000_000

// buildBenchDB fills a state database with 1,000,000 metered jobs of 50
// organisations, 500 people and 20 datasets over a year, and 100,000
// exports, in one transaction.
func buildBenchDB() (*store.DB, string, error) {
	dir, err := os.MkdirTemp("", "usage-bench-")
	if err != nil {
		return nil, "", err
	}
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		return nil, dir, err
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		js, err := tx.PrepareContext(ctx, `INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at)
			VALUES (?, ?, ?, 'sha256:x', '[]', ?, '{}', '{}', 'complete', ?, ?)`)
		if err != nil {
			return err
		}
		defer js.Close()
		xs, err := tx.PrepareContext(ctx, `INSERT INTO exports(id, job, org, requester, purpose, scenario, files, declared, level, state, result, approvals_needed, created_at)
			VALUES (?, ?, ?, ?, 'p', 's', '[]', '{}', 'general-2', ?, '{}', 1, ?)`)
		if err != nil {
			return err
		}
		defer xs.Close()
		for i := 0; i < benchJobs; i++ {
			org := fmt.Sprintf("org-%02d", i%50)
			created := storetime.Format(start.Add(time.Duration(i) * 31 * time.Second))
			inputs := fmt.Sprintf(`[{"dataset":"ds-%02d","version":1}]`, i%20)
			use := fmt.Sprintf(`{"cpu_seconds":%d,"peak_memory_bytes":%d,"input_bytes":%d,"output_bytes":%d,"wall_seconds":%d}`,
				i%3600, (i%64+1)<<20, (i%1000)<<20, i%100000, i%7200)
			id := fmt.Sprintf("j_%07d", i)
			if _, err := js.ExecContext(ctx, id, org, fmt.Sprintf("p-%03d", i%500), inputs, use, created); err != nil {
				return err
			}
			if i%10 == 0 {
				st := []string{"released", "rejected", "pending-review"}[i/10%3]
				if _, err := xs.ExecContext(ctx, fmt.Sprintf("x_%07d", i), id, org, fmt.Sprintf("p-%03d", i%500), st, created); err != nil {
					return err
				}
			}
		}
		return nil
	}, nil)
	return db, dir, err
}

// BenchmarkUsageReport1M times a usage report over 1,000,000 metered jobs,
// by organisation and by month: time to the first row and to the whole
// report, each next to a plain SQL count over the same table in the same
// run (ratio = report / count).
func BenchmarkUsageReport1M(b *testing.B) {
	benchDB.once.Do(func() { benchDB.db, benchDB.dir, benchDB.err = buildBenchDB() })
	if benchDB.err != nil {
		b.Fatal(benchDB.err)
	}
	db := benchDB.db.SQL()
	ctx := context.Background()
	for _, by := range []By{ByOrg, ByMonth, ByDataset} {
		b.Run(string(by), func(b *testing.B) {
			var first, total, count, scan time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				var n int64
				if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs`).Scan(&n); err != nil || n != benchJobs {
					b.Fatalf("count: got %d, %v; want %d", n, err, benchJobs)
				}
				count += time.Since(t0)
				t0 = time.Now()
				var cpu float64
				if err := db.QueryRowContext(ctx, `SELECT SUM(json_extract(usage, '$.cpu_seconds')) FROM jobs`).Scan(&cpu); err != nil {
					b.Fatal(err)
				}
				scan += time.Since(t0)
				t0 = time.Now()
				rows := 0
				err := Stream(ctx, db, Query{By: by}, DefaultPriceList(), func(Row) error {
					if rows == 0 {
						first += time.Since(t0)
					}
					rows++
					return nil
				})
				total += time.Since(t0)
				if err != nil || rows == 0 {
					b.Fatalf("report: %d rows, %v", rows, err)
				}
			}
			per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
			b.ReportMetric(per(first), "s-first-row")
			b.ReportMetric(per(total), "s-total")
			b.ReportMetric(per(count), "s-sql-count")
			b.ReportMetric(per(scan), "s-sql-sum-scan")
			b.ReportMetric(per(first)/per(count), "first/count")
			b.ReportMetric(per(total)/per(count), "total/count")
			b.ReportMetric(per(total)/per(scan), "total/sum-scan")
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDB.db != nil {
		benchDB.db.Close()
		os.RemoveAll(benchDB.dir)
	}
	os.Exit(code)
}
