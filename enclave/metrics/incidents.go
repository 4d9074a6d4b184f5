package metrics

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Issue 18: the bureau sees incidents and grants that ended or are held.
var (
	incidentsDesc = prometheus.NewDesc("enclave_incidents", "Incidents by state (open, closed) and what they are on (job, dataset, grant, org).",
		[]string{"state", "kind"}, nil)
	grantsDesc  = prometheus.NewDesc("enclave_grants", "Grants by status (approved, suspended, revoked, expired).", []string{"status"}, nil)
	stoppedDesc = prometheus.NewDesc("enclave_incident_stopped_jobs_total", "Jobs stopped by incidents when they were reported.", nil, nil)
	basisUpDesc = prometheus.NewDesc("enclave_metrics_incidents_up", "1 when the incident register answered this scrape, else 0.", nil, nil)
)

// incidentCollector reads the incident register and the grants' statuses
// from the state database at each scrape.
type incidentCollector struct {
	db      *sql.DB
	timeout time.Duration
}

var _ prometheus.Collector = (*incidentCollector)(nil)

func (c *incidentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{incidentsDesc, grantsDesc, stoppedDesc, basisUpDesc} {
		ch <- d
	}
}

func (c *incidentCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := c.collect(ctx, ch); err != nil {
		ch <- prometheus.NewInvalidMetric(basisUpDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(basisUpDesc, prometheus.GaugeValue, 1)
}

func (c *incidentCollector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := c.db.QueryContext(ctx, `SELECT state, kind, COUNT(*) FROM incidents GROUP BY state, kind`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var state, kind string
		var n float64
		if err := rows.Scan(&state, &kind, &n); err != nil {
			return err
		}
		ch <- prometheus.MustNewConstMetric(incidentsDesc, prometheus.GaugeValue, n, state, kind)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	var stopped float64
	if err := c.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(json_array_length(stopped)), 0) FROM incidents`).Scan(&stopped); err != nil {
		return err
	}
	ch <- prometheus.MustNewConstMetric(stoppedDesc, prometheus.CounterValue, stopped)
	rows, err = c.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM grants GROUP BY status`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n float64
		if err := rows.Scan(&status, &n); err != nil {
			return err
		}
		ch <- prometheus.MustNewConstMetric(grantsDesc, prometheus.GaugeValue, n, status)
	}
	return rows.Err()
}
