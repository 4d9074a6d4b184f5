package server

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/audit"
)

type benchSigner struct{ key ed25519.PrivateKey }

func (s benchSigner) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	return ed25519.Sign(s.key, msg), nil
}

var auditBench struct {
	once sync.Once
	dir  string
	log  *audit.Log
	err  error
}

const auditBenchN = 1_000_000

// buildAuditBench appends 1,000,000 events from 512 writers; one in 20 is
// about dataset ds-07 (a version of it, as job events name them).
func buildAuditBench() (string, *audit.Log, error) {
	dir, err := os.MkdirTemp("", "audit-query-bench-")
	if err != nil {
		return "", nil, err
	}
	pub, key, _ := ed25519.GenerateKey(nil)
	l, err := audit.Open(dir, benchSigner{key}, pub)
	if err != nil {
		return dir, nil, err
	}
	const writers = 512
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < auditBenchN; i += writers {
				ev := audit.Event{Time: t0.Add(time.Duration(i) * time.Second), Actor: fmt.Sprintf("p-%03d", i%500), Org: fmt.Sprintf("org-%02d", i%50),
					Action: "job.run", Outcome: "ok", Retention: "3y",
					Objects: []string{fmt.Sprintf("job:j_%07d", i), fmt.Sprintf("dataset:ds-%02d@1", i%20)}}
				if _, err := l.Append(context.Background(), ev); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return dir, l, <-errs
}

// countRecords is the plain count: read every segment file and walk its
// record headers (1 byte type, 4 bytes big-endian body size, 4 bytes
// CRC, the body, a 4-byte trailer), counting entries, without parsing
// them.
func countRecords(dir string) (int, error) {
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range segs {
		data, err := os.ReadFile(p)
		if err != nil {
			return 0, err
		}
		for off := 20; off+9 <= len(data); {
			if data[off] == 'E' {
				n++
			}
			off += 9 + int(binary.BigEndian.Uint32(data[off+1:off+5])) + 4
		}
	}
	return n, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if auditBench.log != nil {
		auditBench.log.Close()
	}
	if auditBench.dir != "" {
		os.RemoveAll(auditBench.dir)
	}
	os.Exit(code)
}

// BenchmarkAuditQuery1M times the custodian's audit query (events about
// one dataset) over 1,000,000 events: the first page (limit 100) and every
// match, each next to a plain count of the log's records (read the segment
// files and count lines) in the same run.
func BenchmarkAuditQuery1M(b *testing.B) {
	auditBench.once.Do(func() { auditBench.dir, auditBench.log, auditBench.err = buildAuditBench() })
	if auditBench.err != nil {
		b.Fatal(auditBench.err)
	}
	s := &Server{Deps: Deps{Audit: auditBench.log}}
	ctx := context.Background()
	var first, total, count time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		n, err := countRecords(auditBench.dir)
		count += time.Since(t0)
		if err != nil || n != auditBenchN {
			b.Fatalf("count: got %d entries, %v; want %d", n, err, auditBenchN)
		}
		t0 = time.Now()
		c := &call{r: httptest.NewRequest("GET", "/v1/audit?dataset=ds-07&limit=100", nil)}
		page, err := s.auditEntries(ctx, c, audit.Filter{Limit: 100, Newest: true})
		first += time.Since(t0)
		if err != nil || len(page) != 100 {
			b.Fatalf("first page: got %d, %v; want 100", len(page), err)
		}
		t0 = time.Now()
		c = &call{r: httptest.NewRequest("GET", "/v1/audit?dataset=ds-07", nil)}
		all, err := s.auditEntries(ctx, c, audit.Filter{})
		total += time.Since(t0)
		if err != nil || len(all) != auditBenchN/20 {
			b.Fatalf("all: got %d, %v; want %d", len(all), err, auditBenchN/20)
		}
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(first), "s-first-page")
	b.ReportMetric(per(total), "s-total")
	b.ReportMetric(per(count), "s-plain-count")
	b.ReportMetric(per(first)/per(count), "first/count")
	b.ReportMetric(per(total)/per(count), "total/count")
}
