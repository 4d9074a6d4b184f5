package audit

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if verifyBench.dir != "" {
		os.RemoveAll(verifyBench.dir)
	}
	os.Exit(code)
}

// plainAppend appends the records of events from..from+n to f, one write
// and one fdatasync (the log's own sync call) per event: the reference that
// group commit is measured against.
func plainAppend(b *testing.B, f *os.File, from, n int) time.Duration {
	start := time.Now()
	for i := from; i < from+n; i++ {
		body, _ := MarshalEvent(testEvent(i))
		if _, err := f.Write(appendRecord(nil, typeEntry, body)); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// BenchmarkDurableAppend measures durable appends per second from 32
// concurrent writers with group commit, next to a plain append of the same
// record bytes with one fdatasync per event, measured in the same run. The
// two alternate in four rounds so that a change in the machine's load hits
// both; "ratio" is group commit's rate over the plain rate.
func BenchmarkDurableAppend(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "plain"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	l, _, _ := openTest(b, b.TempDir())
	defer l.Close()
	writers := 32
	const rounds, plainPerRound = 4, 250
	var plainTime, groupTime time.Duration
	plainN, groupN := 0, 0
	b.ResetTimer()
	for round := 0; round < rounds; round++ {
		b.StopTimer()
		plainTime += plainAppend(b, f, plainN, plainPerRound)
		plainN += plainPerRound
		b.StartTimer()
		n := b.N / rounds
		if round == rounds-1 {
			n = b.N - groupN
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					if _, err := l.Append(context.Background(), testEvent(groupN+i)); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		groupTime += time.Since(start)
		groupN += n
	}
	b.StopTimer()
	group := float64(groupN) / groupTime.Seconds()
	plain := float64(plainN) / plainTime.Seconds()
	b.ReportMetric(group, "events/s")
	b.ReportMetric(plain, "plain-events/s")
	b.ReportMetric(group/plain, "ratio")
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
