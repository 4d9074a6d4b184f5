package metrics

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/enclave-dev/enclave/enclave/objections"
)

// Issue 20 item 4: the bureau sees the objections that wait past their
// due time.
var (
	objectionsDesc = prometheus.NewDesc("enclave_objections",
		"Objections about datasets by state at the scrape: open (within the 5 working days), answered, overdue (open past the due time).",
		[]string{"state"}, nil)
	objectionsUpDesc = prometheus.NewDesc("enclave_metrics_objections_up", "1 when the objection register answered this scrape, else 0.", nil, nil)
)

// objectionCollector reads the objection register at each scrape.
type objectionCollector struct {
	db      *sql.DB
	timeout time.Duration
	now     func() time.Time
}

var _ prometheus.Collector = (*objectionCollector)(nil)

func (c *objectionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- objectionsDesc
	ch <- objectionsUpDesc
}

func (c *objectionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	n, err := objections.CountAt(ctx, c.db, c.now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(objectionsUpDesc, err)
		return
	}
	for _, s := range []struct {
		state string
		n     int64
	}{{objections.Open, n.Open}, {objections.Answered, n.Answered}, {objections.Overdue, n.Overdue}} {
		ch <- prometheus.MustNewConstMetric(objectionsDesc, prometheus.GaugeValue, float64(s.n), s.state)
	}
	ch <- prometheus.MustNewConstMetric(objectionsUpDesc, prometheus.GaugeValue, 1)
}
