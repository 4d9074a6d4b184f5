// Package metrics is the enclave's Prometheus view for the data bureau
// jobs by state, job durations, resource use by organisation (all
// three as the coarse view of jobs shows them, jobs.Coarse),
// policy decisions by outcome, the run-time checks of the policy evaluator
// against OPA's topdown and their mismatches, exports by state and the
// audit log's size,
// in the exposition format of client_golang. Figures held in the state
// database are read when scraped, so they survive a restart; decisions are
// counted in memory since the daemon started.
package metrics

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// Outcomes of a policy decision, as the decisions counter labels them.
const (
	Allow = "allow"
	Deny  = "deny"
	Error = "error" // the policy could not decide; denied (fail closed)
)

// DurationBuckets are the bounds, in seconds, of the job duration histogram.
var DurationBuckets = []float64{1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600}

// Options configure Metrics.
type Options struct {
	// AuditSize returns the number of entries in the audit log; nil leaves
	// the gauge out.
	AuditSize func() uint64
	// Timeout bounds the database queries of one scrape (default 10 s).
	Timeout time.Duration
	// Now is the clock that says which objections are overdue (default
	// time.Now).
	Now func() time.Time
}

// Metrics holds the enclave's collectors. It is safe for concurrent use.
type Metrics struct {
	reg        *prometheus.Registry
	decisions  *prometheus.CounterVec
	checks     *prometheus.CounterVec
	mismatches *prometheus.CounterVec
}

// Results of a check of a policy decision against OPA's topdown, as the
// checks counter labels them (the values of policies/opa's Shadow*).
const (
	CheckAgree    = "agree"
	CheckMismatch = "mismatch"
	CheckSkipped  = "skipped" // not checked: the checks were behind
)

// New returns the metrics over the state database db.
func New(db *sql.DB, opts Options) *Metrics {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enclave_policy_decisions_total",
			Help: "Policy decisions since the daemon started, by action and outcome (allow, deny, error).",
		}, []string{"action", "outcome"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enclave_policy_shadow_checks_total",
			Help: "Policy decisions decided again by OPA's topdown in the background since the daemon started, by action and result (agree, mismatch, skipped).",
		}, []string{"action", "result"}),
		mismatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enclave_policy_mismatches_total",
			Help: "Policy decisions of the evaluator that OPA's topdown decided otherwise since the daemon started, by action and evaluator; each switches its action to topdown.",
		}, []string{"action", "evaluator"}),
	}
	m.reg.MustRegister(m.decisions, m.checks, m.mismatches, &stateCollector{db: db, timeout: opts.Timeout})
	if opts.AuditSize != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "enclave_audit_log_entries",
			Help: "Entries in the tamper-evident audit log.",
		}, func() float64 { return float64(opts.AuditSize()) }))
	}
	m.reg.MustRegister(&incidentCollector{db: db, timeout: opts.Timeout}) // issue 18
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m.reg.MustRegister(&objectionCollector{db: db, timeout: opts.Timeout, now: opts.Now}) // issue 20 item 4
	return m
}

// ObserveDecision counts one policy decision on action with outcome Allow,
// Deny or Error.
func (m *Metrics) ObserveDecision(action, outcome string) {
	m.decisions.WithLabelValues(action, outcome).Inc()
}

// ObservePolicyCheck counts one check of a decision of evaluator on action
// against topdown with result CheckAgree, CheckMismatch or CheckSkipped; a
// mismatch is counted in enclave_policy_mismatches_total too.
func (m *Metrics) ObservePolicyCheck(action, evaluator, result string) {
	m.checks.WithLabelValues(action, result).Inc()
	if result == CheckMismatch {
		m.mismatches.WithLabelValues(action, evaluator).Inc()
	}
}

// Handler serves the metrics in the Prometheus exposition format. It does
// not authenticate: the daemon serves it behind its authz seam.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

var (
	jobsDesc = prometheus.NewDesc("enclave_jobs", "Jobs by state.", []string{"state"}, nil)
	durDesc  = prometheus.NewDesc("enclave_job_duration_seconds", "Wall time of ended jobs.", nil, nil)
	cpuDesc  = prometheus.NewDesc("enclave_org_cpu_seconds_total", "CPU seconds used by the jobs of an organisation.", []string{"org"}, nil)
	inDesc   = prometheus.NewDesc("enclave_org_input_bytes_total", "Dataset bytes read by the jobs of an organisation.", []string{"org"}, nil)
	outDesc  = prometheus.NewDesc("enclave_org_output_bytes_total", "Output bytes collected from the jobs of an organisation.", []string{"org"}, nil)
	wallDesc = prometheus.NewDesc("enclave_org_wall_seconds_total", "Wall seconds of the jobs of an organisation.", []string{"org"}, nil)
	peakDesc = prometheus.NewDesc("enclave_org_peak_memory_bytes", "Highest peak memory of any job of an organisation.", []string{"org"}, nil)
	orgJobs  = prometheus.NewDesc("enclave_org_jobs_total", "Jobs of an organisation.", []string{"org"}, nil)
	expDesc  = prometheus.NewDesc("enclave_exports", "Export requests by state.", []string{"state"}, nil)
	upDesc   = prometheus.NewDesc("enclave_metrics_state_up", "1 when the state database answered this scrape, else 0.", nil, nil)
)

// stateCollector reads its figures from the state database at each scrape.
type stateCollector struct {
	db      *sql.DB
	timeout time.Duration
}

var _ prometheus.Collector = (*stateCollector)(nil)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobsDesc, durDesc, cpuDesc, inDesc, outDesc, wallDesc, peakDesc, orgJobs, expDesc, upDesc} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := c.collect(ctx, ch); err != nil {
		ch <- prometheus.NewInvalidMetric(upDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
}

func (c *stateCollector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	if err := c.jobs(ctx, ch, time.Now()); err != nil {
		return err
	}
	return c.counts(ctx, ch, `SELECT state, COUNT(*) FROM exports GROUP BY state`, expDesc)
}

// orgUse is what the metrics show of one organisation's jobs.
type orgUse struct {
	jobs, cpu, in, out, wall, peak float64
}

// jobs sends the jobs by state, the use by organisation and the histogram
// of ended jobs' wall time, all as the coarse view shows them at now:
// whoever scrapes /metrics (an admin, the Prometheus of the operations
// staff) reads no job more finely than its operator does. A job that
// ended is counted as running, and its use left out, until its end is
// revealed (jobs.Job.RevealAt); each job's figures are rounded up by
// jobs.Coarse before they are summed. Otherwise the difference of two
// scrapes would give one job's exact CPU seconds and peak memory, and the
// moment it moved from running to complete its exact end.
func (c *stateCollector) jobs(ctx context.Context, ch chan<- prometheus.Metric, now time.Time) error {
	rows, err := c.db.QueryContext(ctx, `SELECT id, org, state, usage, started_at, ended_at FROM jobs`)
	if err != nil {
		return err
	}
	defer rows.Close()
	states := map[string]float64{}
	orgs := map[string]*orgUse{}
	var count uint64
	var sum float64
	cum := make([]uint64, len(DurationBuckets))
	for rows.Next() {
		var id, org, state, use, started, ended string
		if err := rows.Scan(&id, &org, &state, &use, &started, &ended); err != nil {
			return err
		}
		j := jobs.Job{ID: id, State: jobs.State(state)}
		if j.StartedAt, err = storetime.OptionalColumn("job", id, "started_at", started); err != nil {
			return err
		}
		if j.EndedAt, err = storetime.OptionalColumn("job", id, "ended_at", ended); err != nil {
			return err
		}
		o := orgs[org]
		if o == nil {
			o = &orgUse{}
			orgs[org] = o
		}
		o.jobs++
		if j.State.Terminal() && now.Before(j.RevealAt()) {
			states[string(jobs.Running)]++
			continue
		}
		states[state]++
		var u jobs.Usage
		if use != "" {
			if err := json.Unmarshal([]byte(use), &u); err != nil {
				return fmt.Errorf("job %q: usage: %w", id, err)
			}
		}
		u = u.Coarse()
		o.cpu += u.CPUSeconds
		o.in += float64(u.InputBytes)
		o.out += float64(u.OutputBytes)
		o.wall += u.WallSeconds
		o.peak = max(o.peak, float64(u.PeakMemoryBytes))
		if j.State.Terminal() {
			count++
			sum += u.WallSeconds
			for i, b := range DurationBuckets {
				if u.WallSeconds <= b {
					cum[i]++
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for state, n := range states {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, n, state)
	}
	for org, o := range orgs {
		ch <- prometheus.MustNewConstMetric(orgJobs, prometheus.CounterValue, o.jobs, org)
		ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, o.cpu, org)
		ch <- prometheus.MustNewConstMetric(inDesc, prometheus.CounterValue, o.in, org)
		ch <- prometheus.MustNewConstMetric(outDesc, prometheus.CounterValue, o.out, org)
		ch <- prometheus.MustNewConstMetric(wallDesc, prometheus.CounterValue, o.wall, org)
		ch <- prometheus.MustNewConstMetric(peakDesc, prometheus.GaugeValue, o.peak, org)
	}
	buckets := make(map[float64]uint64, len(DurationBuckets))
	for i, b := range DurationBuckets {
		buckets[b] = cum[i]
	}
	ch <- prometheus.MustNewConstHistogram(durDesc, count, sum, buckets)
	return nil
}

func (c *stateCollector) counts(ctx context.Context, ch chan<- prometheus.Metric, query string, d *prometheus.Desc) error {
	rows, err := c.db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n float64
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, n, k)
	}
	return rows.Err()
}
