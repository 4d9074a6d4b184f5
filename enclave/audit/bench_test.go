package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// BenchmarkAppendLatency measures the latency of durable appends, as
// multiples of one plain write and fdatasync of the same record bytes
// measured in the same run (the floor: an acknowledged event costs at
// least one sync). Three loads: one caller at a time (a lone caller must
// pay one sync), 32 callers back to back, and 32 callers sending events
// on a fixed schedule of 5,000 per second, latency counted from the time
// each was due.
func BenchmarkAppendLatency(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "plain"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	l, _, _ := openTest(b, b.TempDir())
	defer l.Close()
	var plain []time.Duration
	for i := range 400 {
		plain = append(plain, plainAppend(b, f, i, 1))
	}
	pct := func(d []time.Duration, p float64) time.Duration {
		slices.Sort(d)
		return d[int(p*float64(len(d)-1))]
	}
	sync50, sync99 := pct(plain, 0.5), pct(plain, 0.99)
	next := 0
	// Besides time (which on a shared disk varies more than the log's own
	// cost), each load reports events per group commit and the most group
	// commits one append waited for: the design's bound is 2.
	var shape []string
	run := func(writers, n int, rate float64) (p50, p99 time.Duration, perSec float64) {
		st0 := l.Stats()
		l.maxWaited.Store(0)
		defer func() {
			st := l.Stats()
			g := float64(st.Groups - st0.Groups)
			shape = append(shape, fmt.Sprintf("%d callers: %.1f events per group, a group commit took %.2f ms of which fdatasync %.2f ms, an append waited for at most %d group commits",
				writers, float64(st.Entries-st0.Entries)/g, float64((st.Commit-st0.Commit).Microseconds())/g/1000,
				float64((st.Sync-st0.Sync).Microseconds())/g/1000, l.maxWaited.Load()))
		}()
		lat := make([]time.Duration, n)
		var k atomic.Int64
		var wg sync.WaitGroup
		base := next
		start := time.Now()
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(k.Add(1)) - 1
					if i >= n {
						return
					}
					t0 := time.Now()
					if rate > 0 {
						t0 = start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
						time.Sleep(time.Until(t0))
					}
					if _, err := l.Append(context.Background(), testEvent(base+i)); err != nil {
						b.Error(err)
						return
					}
					lat[i] = time.Since(t0)
				}
			}()
		}
		wg.Wait()
		perSec = float64(n) / time.Since(start).Seconds()
		next += n
		return pct(lat, 0.5), pct(lat, 0.99), perSec
	}
	b.ResetTimer()
	lone50, lone99, _ := run(1, 400, 0)
	c50, c99, cRate := run(32, 8000, 0)
	r50, r99, rRate := run(32, 10000, 5000)
	b.StopTimer()
	x := func(d time.Duration) float64 { return float64(d) / float64(sync50) }
	b.Logf("one write+fdatasync p50 %v p99 %.2fx; lone caller p50 %.2fx p99 %.2fx; 32 callers %.0f/s p50 %.2fx p99 %.2fx; 5,000/s offered: %.0f/s p50 %.2fx p99 %.2fx",
		sync50, x(sync99), x(lone50), x(lone99), cRate, x(c50), x(c99), rRate, x(r50), x(r99))
	for _, sh := range shape {
		b.Log(sh)
	}
	b.ReportMetric(x(lone50), "lone-p50-syncs")
	b.ReportMetric(x(c50), "32-p50-syncs")
	b.ReportMetric(x(c99), "32-p99-syncs")
	b.ReportMetric(x(r99), "5000/s-p99-syncs")
}
