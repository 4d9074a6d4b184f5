package main

import (
	"context"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/client"
)

// BenchmarkWhoami measures the whoami round trip over the unix socket
// (authentication, the policy decision, the audit append of the read)
// next to /v1/health on the same daemon in the same run (no token, no
// policy, no audit), and reports p50 and p99 of each and their ratio.
func BenchmarkWhoami(b *testing.B) {
	ctx := context.Background()
	cfg := Default()
	cfg.DataDir = filepath.Join(b.TempDir(), "data")
	res, err := initDataDir(ctx, cfg, testAdmin("platform"))
	if err != nil {
		b.Fatal(err)
	}
	d := startDaemon(b, cfg.DataDir)
	defer func() { d.Process.Signal(syscall.SIGTERM); d.Wait() }()
	c, _ := client.New(filepath.Join(cfg.DataDir, "enclaved.sock"), res.AdminToken)
	n := max(b.N, 200)
	who := make([]time.Duration, 0, n)
	health := make([]time.Duration, 0, n)
	b.ResetTimer()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := c.Health(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := c.Whoami(ctx); err != nil {
			b.Fatal(err)
		}
		health = append(health, t1.Sub(t0))
		who = append(who, time.Since(t1))
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) float64 {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds())
	}
	w50, w99, h50, h99 := pct(who, 0.5), pct(who, 0.99), pct(health, 0.5), pct(health, 0.99)
	b.ReportMetric(w50, "whoami-p50-µs")
	b.ReportMetric(w99, "whoami-p99-µs")
	b.ReportMetric(h50, "health-p50-µs")
	b.ReportMetric(h99, "health-p99-µs")
	if h50 > 0 {
		b.ReportMetric(w50/h50, "p50-ratio")
	}
}
