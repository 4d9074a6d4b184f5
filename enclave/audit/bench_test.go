package audit

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if verifyBench.dir != "" {
		os.RemoveAll(verifyBench.dir)
	}
	os.Exit(code)
}

// plainFsyncRate appends the records of n events to a file, one write and
// one fsync per event, and returns events per second: the reference that
// group commit is measured against.
func plainFsyncRate(b *testing.B, n int) float64 {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "plain"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	for i := 0; i < n; i++ {
		body, _ := MarshalEvent(testEvent(i))
		if _, err := f.Write(appendRecord(nil, typeEntry, body)); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkDurableAppend measures durable appends per second from 32
// concurrent writers with group commit, and reports them next to a plain
// fsync'd append of the same record bytes measured in the same run.
func BenchmarkDurableAppend(b *testing.B) {
	ref := plainFsyncRate(b, 1000)
	l, _, _ := openTest(b, b.TempDir())
	defer l.Close()
	var seq atomic.Int64
	b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(context.Background(), testEvent(int(seq.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	rate := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(ref, "fsync-events/s")
	b.ReportMetric(rate/ref, "ratio")
}

var verifyBench struct {
	once sync.Once
	dir  string
	err  error
}

// buildBenchLog appends n events from 512 concurrent writers, so that
// group commits are large and the log builds quickly.
func buildBenchLog(dir string, n int) error {
	s, pub := newSigner(1)
	l, err := Open(dir, s, pub)
	if err != nil {
		return err
	}
	defer l.Close()
	const writers = 512
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				if _, err := l.Append(context.Background(), testEvent(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// BenchmarkVerify1M times Verify of a log of 1,000,000 events (built once).
func BenchmarkVerify1M(b *testing.B) {
	const n = 1_000_000
	verifyBench.once.Do(func() {
		verifyBench.dir, verifyBench.err = os.MkdirTemp("", "audit-bench-")
		if verifyBench.err == nil {
			verifyBench.err = buildBenchLog(verifyBench.dir, n)
		}
	})
	if verifyBench.err != nil {
		b.Fatal(verifyBench.err)
	}
	_, pub := newSigner(1)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		rep, err := VerifyDir(context.Background(), verifyBench.dir, pub)
		if err != nil || !rep.OK || rep.Entries != n {
			b.Fatalf("VerifyDir: got %+v, %v; want OK with %d entries", rep, err, n)
		}
	}
	per := time.Since(start).Seconds() / float64(b.N)
	b.ReportMetric(per, "s/verify")
	b.ReportMetric(n/per, "events/s")
}
