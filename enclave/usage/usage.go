// Package usage is the bureau's ledger of resource use: it rolls the
// metered use of jobs (the jobs table's usage column) and the fate of
// export requests (the exports table) up per organisation, person, dataset,
// day or month, and turns the figures into charges under a price list.
//
// The ledger is the usage_ledger table, a copy of each job's metered use in
// numeric columns kept by triggers on the jobs table (so that a report
// parses no JSON), and the exports table of enclave/exports, which
// callers import (its schema part registers itself) before opening the
// store.
package usage

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// By is the key a report rolls up by.
type By string

// The roll-up keys.
const (
	ByOrg     By = "org"
	ByPerson  By = "person"
	ByDataset By = "dataset"
	ByDay     By = "day"
	ByMonth   By = "month"
)

// Bys lists every roll-up key.
var Bys = []By{ByOrg, ByPerson, ByDataset, ByDay, ByMonth}

// Query selects what a report covers.
type Query struct {
	// Org limits the report to one organisation; "" is every organisation.
	Org string
	// From is the first instant covered; zero means from the beginning.
	From time.Time
	// Until is the first instant no longer covered (exclusive); zero means
	// no end. A DATE given on the command line becomes the next midnight.
	Until time.Time
	// By is the roll-up key; "" means ByOrg.
	By By
	// Coarse rolls up each job's figures as the coarse view shows them
	// (jobs.Usage.Coarse: every figure rounded up to a power of two of its
	// unit) instead of the exact ones. Operators' reports are coarse: a
	// report over a day with one job is that job's figures, and exact
	// figures are a way out. The charges are then computed from the coarse
	// figures too (a charge to the cent would give the exact ones back).
	Coarse bool
}

// Validate checks q. Errors are of class errdefs.ErrInvalidArgument.
func (q Query) Validate() error {
	if q.By != "" && !slices.Contains(Bys, q.By) {
		return fmt.Errorf("usage report key %q is not one of org, person, dataset, day, month: %w", q.By, errdefs.ErrInvalidArgument)
	}
	if !q.From.IsZero() && !q.Until.IsZero() && !q.Until.After(q.From) {
		return fmt.Errorf("usage report period ends before it starts: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// Row is the use of one key (an organisation, a person, a dataset, a day
// "2006-01-02" or a month "2006-01"). Jobs count by their creation time,
// exports by the time they were requested. Under ByDataset a job that read
// several datasets counts in full under each of them, so the rows do not
// add up to the total.
type Row struct {
	Key              string  `json:"key"`
	Jobs             int64   `json:"jobs"`
	CPUSeconds       float64 `json:"cpu_seconds"`
	CPUHours         float64 `json:"cpu_hours"`
	PeakMemoryBytes  uint64  `json:"peak_memory_bytes"`
	MemoryGBHours    float64 `json:"memory_gb_hours"`
	InputBytes       int64   `json:"input_bytes"`
	OutputBytes      int64   `json:"output_bytes"`
	WallSeconds      float64 `json:"wall_seconds"`
	ExportsRequested int64   `json:"exports_requested"`
	ExportsApproved  int64   `json:"exports_approved"`
	ExportsRejected  int64   `json:"exports_rejected"`
	Charge           Charge  `json:"charge"`
}

// Report is a usage report: one row per key, sorted by key, and the total
// over the jobs and exports covered.
type Report struct {
	Org      string    `json:"org"`
	From     time.Time `json:"from,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	By       By        `json:"by"`
	Currency string    `json:"currency"`
	Rows     []Row     `json:"rows"`
	Total    Row       `json:"total"`
}

// Querier is a *sql.DB or a *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var _ Querier = (*sql.DB)(nil)
var _ Querier = (*sql.Tx)(nil)

// bound formats t for a comparison with the times the tables hold: in
// their codec, whose text order is time order.
func bound(t time.Time) string { return storetime.Format(t) }

// keyExpr returns the SQL of the key over table alias a (jobs j or exports e).
func keyExpr(by By, exports bool) string {
	switch by {
	case ByPerson:
		if exports {
			return "e.requester"
		}
		return "j.owner"
	case ByDataset:
		return "json_extract(d.value, '$.dataset')"
	case ByDay:
		if exports {
			return "substr(e.created_at, 1, 10)"
		}
		return "substr(j.created_at, 1, 10)"
	case ByMonth:
		if exports {
			return "substr(e.created_at, 1, 7)"
		}
		return "substr(j.created_at, 1, 7)"
	default:
		if exports {
			return "e.org"
		}
		return "j.org"
	}
}

func where(col string, q Query) (string, []any) {
	w := " WHERE (? = '' OR " + col + ".org = ?)"
	args := []any{q.Org, q.Org}
	if !q.From.IsZero() {
		w += " AND " + col + ".created_at >= ?"
		args = append(args, bound(q.From))
	}
	if !q.Until.IsZero() {
		w += " AND " + col + ".created_at < ?"
		args = append(args, bound(q.Until))
	}
	return w, args
}

const jobAggregates = `COUNT(*), COALESCE(SUM(j.cpu), 0), COALESCE(MAX(j.peak), 0), COALESCE(SUM(j.mem_gbh), 0),
	COALESCE(SUM(j.input), 0), COALESCE(SUM(j.output), 0), COALESCE(SUM(j.wall), 0)`

const exportAggregates = `COUNT(*),
	COALESCE(SUM(e.state = 'released'), 0),
	COALESCE(SUM(e.state = 'rejected'), 0)`

func scanJobs(sc interface{ Scan(...any) error }, r *Row, key *sql.NullString) error {
	var peak float64
	dst := []any{&r.Jobs, &r.CPUSeconds, &peak, &r.MemoryGBHours, &r.InputBytes, &r.OutputBytes, &r.WallSeconds}
	if key != nil {
		dst = append([]any{key}, dst...)
	}
	if err := sc.Scan(dst...); err != nil {
		return fmt.Errorf("read job usage: %w", err)
	}
	r.PeakMemoryBytes = uint64(peak)
	r.CPUHours = r.CPUSeconds / 3600
	return nil
}

// exportCounts returns the export figures per key.
func exportCounts(ctx context.Context, db Querier, q Query) (map[string]*Row, error) {
	from := "exports e"
	if q.By == ByDataset {
		from = "exports e JOIN jobs j ON j.id = e.job, json_each(j.inputs) d"
	}
	w, args := where("e", q)
	k := keyExpr(q.By, true)
	rows, err := db.QueryContext(ctx, `SELECT `+k+`, `+exportAggregates+` FROM `+from+w+` GROUP BY 1`, args...)
	if err != nil {
		return nil, fmt.Errorf("query exports: %w", err)
	}
	defer rows.Close()
	out := map[string]*Row{}
	for rows.Next() {
		var key sql.NullString
		r := &Row{}
		if err := rows.Scan(&key, &r.ExportsRequested, &r.ExportsApproved, &r.ExportsRejected); err != nil {
			return nil, fmt.Errorf("read exports: %w", err)
		}
		out[key.String] = r
	}
	return out, rows.Err()
}

// Stream computes the rows of q and calls fn with each as soon as it is
// known, keys with jobs in key order first, then keys that only have
// exports, in key order. An error from fn stops the stream and is returned.
func Stream(ctx context.Context, db Querier, q Query, prices PriceList, fn func(Row) error) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if q.By == "" {
		q.By = ByOrg
	}
	ex, err := exportCounts(ctx, db, q)
	if err != nil {
		return err
	}
	from := "usage_ledger j"
	if q.By == ByDataset {
		from = "usage_ledger j, json_each(j.inputs) d"
	}
	if q.Coarse {
		if err := streamCoarse(ctx, db, q, prices, ex, fn); err != nil {
			return err
		}
		return streamExports(ex, prices, fn)
	}
	w, args := where("j", q)
	// The unary plus keeps SQLite from walking the (org, created_at)
	// index for the grouping, which reads the table in random order: one
	// sequential pass and a sort of the groups is faster.
	rows, err := db.QueryContext(ctx, `SELECT `+keyExpr(q.By, false)+`, `+jobAggregates+` FROM `+from+w+` GROUP BY +`+keyExpr(q.By, false)+` ORDER BY 1`, args...)
	if err != nil {
		return fmt.Errorf("query job usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key sql.NullString
		var r Row
		if err := scanJobs(rows, &r, &key); err != nil {
			return err
		}
		r.Key = key.String
		if e, ok := ex[r.Key]; ok {
			r.ExportsRequested, r.ExportsApproved, r.ExportsRejected = e.ExportsRequested, e.ExportsApproved, e.ExportsRejected
			delete(ex, r.Key)
		}
		r.Charge = prices.Charge(r)
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read job usage: %w", err)
	}
	rows.Close()
	return streamExports(ex, prices, fn)
}

// streamExports calls fn with the rows of keys that only have exports, in
// key order.
func streamExports(ex map[string]*Row, prices PriceList, fn func(Row) error) error {
	rest := make([]string, 0, len(ex))
	for k := range ex {
		rest = append(rest, k)
	}
	slices.Sort(rest)
	for _, k := range rest {
		r := *ex[k]
		r.Key = k
		r.Charge = prices.Charge(r)
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Compute returns the report of q under prices: every row, sorted by key,
// and the total (where a job counts once, whatever the key).
func Compute(ctx context.Context, db Querier, q Query, prices PriceList) (*Report, error) {
	if q.By == "" {
		q.By = ByOrg
	}
	rep := &Report{Org: q.Org, From: q.From, Until: q.Until, By: q.By, Currency: prices.Currency, Rows: []Row{}}
	if err := Stream(ctx, db, q, prices, func(r Row) error { rep.Rows = append(rep.Rows, r); return nil }); err != nil {
		return nil, err
	}
	slices.SortFunc(rep.Rows, func(a, b Row) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	if q.Coarse {
		all := q
		all.By = ByOrg // each job once
		if err := coarseJobs(ctx, db, all, func(_ string, u jobs.Usage) { addCoarse(&rep.Total, u) }); err != nil {
			return nil, err
		}
	} else {
		w, args := where("j", q)
		if err := scanJobs(db.QueryRowContext(ctx, `SELECT `+jobAggregates+` FROM usage_ledger j`+w, args...), &rep.Total, nil); err != nil {
			return nil, err
		}
	}
	w, args := where("e", q)
	if err := db.QueryRowContext(ctx, `SELECT `+exportAggregates+` FROM exports e`+w, args...).Scan(
		&rep.Total.ExportsRequested, &rep.Total.ExportsApproved, &rep.Total.ExportsRejected); err != nil {
		return nil, fmt.Errorf("read exports: %w", err)
	}
	rep.Total.Key = "total"
	rep.Total.Charge = prices.Charge(rep.Total)
	return rep, nil
}

func cents(v float64) float64 { return math.Round(v*100) / 100 }

// coarseJobs calls fn with the key and the coarse figures of every job q
// covers (under ByDataset once per dataset the job read).
func coarseJobs(ctx context.Context, db Querier, q Query, fn func(key string, u jobs.Usage)) error {
	from := "usage_ledger j"
	if q.By == ByDataset {
		from = "usage_ledger j, json_each(j.inputs) d"
	}
	w, args := where("j", q)
	rows, err := db.QueryContext(ctx, `SELECT `+keyExpr(q.By, false)+`, j.cpu, j.peak, j.input, j.output, j.wall FROM `+from+w, args...)
	if err != nil {
		return fmt.Errorf("query job usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key sql.NullString
		var u jobs.Usage
		var peak, input, output float64
		if err := rows.Scan(&key, &u.CPUSeconds, &peak, &input, &output, &u.WallSeconds); err != nil {
			return fmt.Errorf("read job usage: %w", err)
		}
		u.PeakMemoryBytes, u.InputBytes, u.OutputBytes = uint64(peak), int64(input), uint64(output)
		fn(key.String, u.Coarse())
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read job usage: %w", err)
	}
	return nil
}

// addCoarse adds one job's coarse figures to r, as the ledger's
// aggregates do with the exact ones (memory GB-hours from the coarse peak
// and wall time).
func addCoarse(r *Row, u jobs.Usage) {
	r.Jobs++
	r.CPUSeconds += u.CPUSeconds
	r.CPUHours = r.CPUSeconds / 3600
	r.PeakMemoryBytes = max(r.PeakMemoryBytes, u.PeakMemoryBytes)
	r.MemoryGBHours += float64(u.PeakMemoryBytes) / 1e9 * u.WallSeconds / 3600
	r.InputBytes += u.InputBytes
	r.OutputBytes += int64(u.OutputBytes)
	r.WallSeconds += u.WallSeconds
}

// streamCoarse calls fn with the rows of q rolled up from each job's
// coarse figures, in key order, merging the export figures of ex (and
// removing them from ex).
func streamCoarse(ctx context.Context, db Querier, q Query, prices PriceList, ex map[string]*Row, fn func(Row) error) error {
	byKey := map[string]*Row{}
	err := coarseJobs(ctx, db, q, func(key string, u jobs.Usage) {
		r := byKey[key]
		if r == nil {
			r = &Row{Key: key}
			byKey[key] = r
		}
		addCoarse(r, u)
	})
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r := *byKey[k]
		if e, ok := ex[k]; ok {
			r.ExportsRequested, r.ExportsApproved, r.ExportsRejected = e.ExportsRequested, e.ExportsApproved, e.ExportsRejected
			delete(ex, k)
		}
		r.Charge = prices.Charge(r)
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
