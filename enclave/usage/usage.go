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
	"strings"
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
// add up to the total. Charge is the sum of the charges of its price
// classes (Classes), each at the prices of its class.
type Row struct {
	Key              string     `json:"key"`
	Jobs             int64      `json:"jobs"`
	CPUSeconds       float64    `json:"cpu_seconds"`
	CPUHours         float64    `json:"cpu_hours"`
	PeakMemoryBytes  uint64     `json:"peak_memory_bytes"`
	MemoryGBHours    float64    `json:"memory_gb_hours"`
	InputBytes       int64      `json:"input_bytes"`
	OutputBytes      int64      `json:"output_bytes"`
	WallSeconds      float64    `json:"wall_seconds"`
	ExportsRequested int64      `json:"exports_requested"`
	ExportsApproved  int64      `json:"exports_approved"`
	ExportsRejected  int64      `json:"exports_rejected"`
	Charge           Charge     `json:"charge"`
	Classes          []ClassUse `json:"classes,omitempty"`
}

// ClassUse is the part of a row's use priced in one class (001 art. 23):
// its jobs and export requests, which prices applied and why.
type ClassUse struct {
	Class            string `json:"class"` // PublicInterest or Industry
	Jobs             int64  `json:"jobs"`
	ExportsRequested int64  `json:"exports_requested"`
	// Applications are the applications whose grants the jobs read under:
	// for public-interest use, the approved public-interest applications
	// that qualified it.
	Applications []Basis `json:"applications,omitempty"`
	// Why says why the class applied.
	Why    string `json:"why"`
	Charge Charge `json:"charge"`
}

// Basis is an application that a class of use rests on: its id and the
// purpose it was approved for.
type Basis struct {
	Application string `json:"application"`
	Purpose     string `json:"purpose"`
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

// scanJobs reads the job aggregates into r, after key (if not nil) and
// the columns of more (the class and applications of pricedJobs).
func scanJobs(sc interface{ Scan(...any) error }, r *Row, key *sql.NullString, more ...any) error {
	var peak float64
	dst := append(more, &r.Jobs, &r.CPUSeconds, &peak, &r.MemoryGBHours, &r.InputBytes, &r.OutputBytes, &r.WallSeconds)
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

// pricedRows is the condition of the ledger rows that are not plain
// industry use: public-interest jobs and jobs read under a grant, whose
// applications a report names. The partial index usage_ledger_priced
// holds these rows only, so that the class split of a report reads them
// and not the rest (nearly all jobs, which are the row's figures less
// theirs); a query that reads it through the index repeats the condition
// word for word, its columns qualified or not (SQLite uses a partial
// index only then, and INDEXED BY makes the query fail rather than scan
// the table).
const pricedRows = "basis != '' OR class = '" + PublicInterest + "'"

// classFig is the job figures and applications of one key and price
// class among the rows of pricedRows.
type classFig struct {
	row   Row
	basis string
}

// pricedJobs returns the figures of the jobs of pricedRows that q covers,
// per key (the SQL expression key) and price class.
func pricedJobs(ctx context.Context, db Querier, q Query, key string) (map[string]map[string]*classFig, error) {
	from := "usage_ledger j INDEXED BY usage_ledger_priced"
	if q.By == ByDataset {
		from += ", json_each(j.inputs) d"
	}
	w, args := where("j", q)
	rows, err := db.QueryContext(ctx, `SELECT `+key+`, j.class, COALESCE(group_concat(DISTINCT j.basis), ''), `+jobAggregates+
		` FROM `+from+w+` AND (`+pricedRows+`) GROUP BY 1, 2`, args...)
	if err != nil {
		return nil, fmt.Errorf("query job usage by price class: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]*classFig{}
	for rows.Next() {
		var k sql.NullString
		var class string
		f := &classFig{}
		if err := scanJobs(rows, &f.row, &k, &class, &f.basis); err != nil {
			return nil, err
		}
		if class != PublicInterest {
			class = Industry
		}
		if out[k.String] == nil {
			out[k.String] = map[string]*classFig{}
		}
		if g := out[k.String][class]; g != nil { // an unknown class is industry use
			g.row.sum(&f.row)
			g.basis += "," + f.basis
			continue
		}
		out[k.String][class] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read job usage by price class: %w", err)
	}
	return out, nil
}

// addJobs adds a key's job figures to b: total, all of its jobs, split
// by the figures of its jobs of pricedRows (pr, by class). The
// public-interest jobs are all in pr; the industry part is the rest of
// total, with the applications of pr's industry jobs.
func (b *builder) addJobs(total Row, pr map[string]*classFig) {
	ind := total
	if p := pr[PublicInterest]; p != nil {
		b.part(PublicInterest, p.basis).sum(&p.row)
		ind.Jobs -= p.row.Jobs
		ind.CPUSeconds = max(0, ind.CPUSeconds-p.row.CPUSeconds)
		ind.MemoryGBHours = max(0, ind.MemoryGBHours-p.row.MemoryGBHours)
		ind.InputBytes -= p.row.InputBytes
		ind.OutputBytes -= p.row.OutputBytes
		ind.WallSeconds = max(0, ind.WallSeconds-p.row.WallSeconds)
		ind.CPUHours = ind.CPUSeconds / 3600
		// The peak of the industry part is at most the row's, which is
		// all a peak adds to (no price is per peak).
	}
	if ind.Jobs > 0 {
		var basis string
		if p := pr[Industry]; p != nil {
			basis = p.basis
		}
		b.part(Industry, basis).sum(&ind)
	}
	b.exact = &total
}

// exportFig is the export figures of one key and price class.
type exportFig struct {
	requested, approved, rejected int64
	basis                         string
}

// exportCounts returns the export figures per key and price class (the
// class of the job each export came from): those of every export, less
// those of the exports of the jobs of pricedRows, are industry use.
func exportCounts(ctx context.Context, db Querier, q Query) (map[string]map[string]*exportFig, error) {
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
	out := map[string]map[string]*exportFig{}
	for rows.Next() {
		var key sql.NullString
		f := &exportFig{}
		if err := rows.Scan(&key, &f.requested, &f.approved, &f.rejected); err != nil {
			return nil, fmt.Errorf("read exports: %w", err)
		}
		out[key.String] = map[string]*exportFig{Industry: f}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read exports: %w", err)
	}
	rows.Close()
	// The exports of the jobs of pricedRows: the jobs read through the
	// partial index first (CROSS JOIN keeps that order), so that without
	// any the exports are not read again.
	from = "usage_ledger l INDEXED BY usage_ledger_priced CROSS JOIN exports e ON e.job = l.id"
	if q.By == ByDataset {
		from += " JOIN jobs j ON j.id = e.job, json_each(j.inputs) d"
	}
	rows, err = db.QueryContext(ctx, `SELECT `+k+`, l.class, COALESCE(group_concat(DISTINCT l.basis), ''), `+exportAggregates+
		` FROM `+from+w+` AND (l.basis != '' OR l.class = '`+PublicInterest+`') GROUP BY 1, 2`, args...)
	if err != nil {
		return nil, fmt.Errorf("query exports by price class: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key sql.NullString
		var class string
		f := &exportFig{}
		if err := rows.Scan(&key, &class, &f.basis, &f.requested, &f.approved, &f.rejected); err != nil {
			return nil, fmt.Errorf("read exports by price class: %w", err)
		}
		byClass := out[key.String]
		if byClass == nil { // requested between the two queries
			byClass = map[string]*exportFig{}
			out[key.String] = byClass
		}
		ind := byClass[Industry]
		if ind == nil {
			ind = &exportFig{}
			byClass[Industry] = ind
		}
		if class != PublicInterest {
			ind.basis += "," + f.basis // industry use: counted in ind already
			continue
		}
		ind.requested -= f.requested
		ind.approved -= f.approved
		ind.rejected -= f.rejected
		byClass[PublicInterest] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read exports by price class: %w", err)
	}
	for _, byClass := range out {
		if ind := byClass[Industry]; ind.requested <= 0 {
			delete(byClass, Industry) // every export came from public-interest jobs
		}
	}
	return out, nil
}

// builder rolls one key's use up by price class.
type builder struct {
	key   string
	parts map[string]*Row
	apps  map[string]map[string]bool
	// exact, when set, is the key's job figures as the ledger sums them,
	// which the row shows rather than the sum of its parts (addJobs).
	exact *Row
}

func newBuilder(key string) *builder {
	return &builder{key: key, parts: map[string]*Row{}, apps: map[string]map[string]bool{}}
}

// part returns the row of a class; an unknown class is industry use.
func (b *builder) part(class, basis string) *Row {
	if class != PublicInterest {
		class = Industry
	}
	r := b.parts[class]
	if r == nil {
		r = &Row{}
		b.parts[class] = r
	}
	for _, id := range strings.Split(basis, ",") {
		if id = strings.TrimSpace(id); id != "" {
			if b.apps[class] == nil {
				b.apps[class] = map[string]bool{}
			}
			b.apps[class][id] = true
		}
	}
	return r
}

// addExports adds the export figures of the key.
func (b *builder) addExports(ex map[string]*exportFig) {
	for class, f := range ex {
		r := b.part(class, f.basis)
		r.ExportsRequested += f.requested
		r.ExportsApproved += f.approved
		r.ExportsRejected += f.rejected
	}
}

// sum adds o's figures to r.
func (r *Row) sum(o *Row) {
	r.Jobs += o.Jobs
	r.CPUSeconds += o.CPUSeconds
	r.CPUHours = r.CPUSeconds / 3600
	r.PeakMemoryBytes = max(r.PeakMemoryBytes, o.PeakMemoryBytes)
	r.MemoryGBHours += o.MemoryGBHours
	r.InputBytes += o.InputBytes
	r.OutputBytes += o.OutputBytes
	r.WallSeconds += o.WallSeconds
	r.ExportsRequested += o.ExportsRequested
	r.ExportsApproved += o.ExportsApproved
	r.ExportsRejected += o.ExportsRejected
}

// purposes reads the purposes of applications, each once.
type purposes struct {
	db Querier
	m  map[string]string
}

func (p *purposes) of(ctx context.Context, id string) (string, error) {
	if v, ok := p.m[id]; ok {
		return v, nil
	}
	var v string
	err := p.db.QueryRowContext(ctx, `SELECT purpose FROM applications WHERE id = ?`, id).Scan(&v)
	if err != nil && err != sql.ErrNoRows {
		return "", fmt.Errorf("read the purpose of application %q: %w", id, err)
	}
	if p.m == nil {
		p.m = map[string]string{}
	}
	p.m[id] = v
	return v, nil
}

// Why each class applies.
const (
	whyPublicInterest = "every grant read under comes from an application approved as public-interest (001 art. 23: public governance and public welfare use is free or at cost)"
	whyIndustry       = "not every grant read under comes from an application approved as public-interest: industry and commercial use, paid (001 art. 23)"
	whyNoGrant        = "read under no grant (the organisation's own data) or under no approved public-interest application: industry and commercial use, paid (001 art. 23)"
)

// finish returns the row: the sum of its classes, each charged at the
// prices of its class, with the applications it rests on.
func (b *builder) finish(ctx context.Context, prices PriceList, ps *purposes) (Row, error) {
	out := Row{Key: b.key}
	for _, class := range Classes {
		r := b.parts[class]
		if r == nil {
			continue
		}
		out.sum(r)
		r.CPUHours = r.CPUSeconds / 3600
		cu := ClassUse{Class: class, Jobs: r.Jobs, ExportsRequested: r.ExportsRequested, Charge: prices.Of(class).Charge(*r)}
		ids := make([]string, 0, len(b.apps[class]))
		for id := range b.apps[class] {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			purpose, err := ps.of(ctx, id)
			if err != nil {
				return Row{}, err
			}
			cu.Applications = append(cu.Applications, Basis{Application: id, Purpose: purpose})
		}
		switch {
		case class == PublicInterest:
			cu.Why = whyPublicInterest
		case len(ids) > 0:
			cu.Why = whyIndustry
		default:
			cu.Why = whyNoGrant
		}
		out.Charge = out.Charge.add(cu.Charge)
		out.Classes = append(out.Classes, cu)
	}
	if e := b.exact; e != nil {
		out.Jobs, out.CPUSeconds, out.CPUHours, out.PeakMemoryBytes = e.Jobs, e.CPUSeconds, e.CPUSeconds/3600, e.PeakMemoryBytes
		out.MemoryGBHours, out.InputBytes, out.OutputBytes, out.WallSeconds = e.MemoryGBHours, e.InputBytes, e.OutputBytes, e.WallSeconds
	}
	return out, nil
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
	ps := &purposes{db: db}
	if q.Coarse {
		if err := streamCoarse(ctx, db, q, prices, ps, ex, fn); err != nil {
			return err
		}
		return streamExports(ctx, ex, prices, ps, fn)
	}
	from := "usage_ledger j"
	if q.By == ByDataset {
		from = "usage_ledger j, json_each(j.inputs) d"
	}
	key := keyExpr(q.By, false)
	pr, err := pricedJobs(ctx, db, q, key)
	if err != nil {
		return err
	}
	w, args := where("j", q)
	// The unary plus keeps SQLite from walking the (org, created_at)
	// index for the grouping, which reads the table in random order: one
	// sequential pass and a sort of the groups is faster. The split by
	// price class is pr's.
	rows, err := db.QueryContext(ctx, `SELECT `+key+`, `+jobAggregates+
		` FROM `+from+w+` GROUP BY +`+key+` ORDER BY 1`, args...)
	if err != nil {
		return fmt.Errorf("query job usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k sql.NullString
		var r Row
		if err := scanJobs(rows, &r, &k); err != nil {
			return err
		}
		b := newBuilder(k.String)
		b.addJobs(r, pr[k.String])
		b.addExports(ex[b.key])
		delete(ex, b.key)
		row, err := b.finish(ctx, prices, ps)
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read job usage: %w", err)
	}
	rows.Close()
	return streamExports(ctx, ex, prices, ps, fn)
}

// streamExports calls fn with the rows of keys that only have exports, in
// key order.
func streamExports(ctx context.Context, ex map[string]map[string]*exportFig, prices PriceList, ps *purposes, fn func(Row) error) error {
	rest := make([]string, 0, len(ex))
	for k := range ex {
		rest = append(rest, k)
	}
	slices.Sort(rest)
	for _, k := range rest {
		b := newBuilder(k)
		b.addExports(ex[k])
		r, err := b.finish(ctx, prices, ps)
		if err != nil {
			return err
		}
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
	slices.SortFunc(rep.Rows, func(a, b Row) int { return strings.Compare(a.Key, b.Key) })
	total := newBuilder("total")
	all := q
	all.By = ByOrg // each job once
	if q.Coarse {
		if err := coarseJobs(ctx, db, all, func(_, class, basis string, u jobs.Usage) { addCoarse(total.part(class, basis), u) }); err != nil {
			return nil, err
		}
	} else {
		pr, err := pricedJobs(ctx, db, all, "''")
		if err != nil {
			return nil, err
		}
		w, args := where("j", all)
		var r Row
		if err := scanJobs(db.QueryRowContext(ctx, `SELECT `+jobAggregates+` FROM usage_ledger j`+w, args...), &r, nil); err != nil {
			return nil, err
		}
		total.addJobs(r, pr[""])
	}
	allEx := q
	allEx.By = ByOrg
	ex, err := exportCounts(ctx, db, allEx)
	if err != nil {
		return nil, err
	}
	for _, byClass := range ex {
		total.addExports(byClass)
	}
	if rep.Total, err = total.finish(ctx, prices, &purposes{db: db}); err != nil {
		return nil, err
	}
	return rep, nil
}

func cents(v float64) float64 { return math.Round(v*100) / 100 }

// coarseJobs calls fn with the key, price class, applications and the
// coarse figures of every job q covers (under ByDataset once per dataset
// the job read).
func coarseJobs(ctx context.Context, db Querier, q Query, fn func(key, class, basis string, u jobs.Usage)) error {
	from := "usage_ledger j"
	if q.By == ByDataset {
		from = "usage_ledger j, json_each(j.inputs) d"
	}
	w, args := where("j", q)
	rows, err := db.QueryContext(ctx, `SELECT `+keyExpr(q.By, false)+`, j.class, j.basis, j.cpu, j.peak, j.input, j.output, j.wall FROM `+from+w, args...)
	if err != nil {
		return fmt.Errorf("query job usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key sql.NullString
		var class, basis string
		var u jobs.Usage
		var peak, input, output float64
		if err := rows.Scan(&key, &class, &basis, &u.CPUSeconds, &peak, &input, &output, &u.WallSeconds); err != nil {
			return fmt.Errorf("read job usage: %w", err)
		}
		u.PeakMemoryBytes, u.InputBytes, u.OutputBytes = uint64(peak), int64(input), uint64(output)
		fn(key.String, class, basis, u.Coarse())
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
func streamCoarse(ctx context.Context, db Querier, q Query, prices PriceList, ps *purposes, ex map[string]map[string]*exportFig, fn func(Row) error) error {
	byKey := map[string]*builder{}
	err := coarseJobs(ctx, db, q, func(key, class, basis string, u jobs.Usage) {
		b := byKey[key]
		if b == nil {
			b = newBuilder(key)
			byKey[key] = b
		}
		addCoarse(b.part(class, basis), u)
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
		b := byKey[k]
		b.addExports(ex[k])
		delete(ex, k)
		r, err := b.finish(ctx, prices, ps)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
