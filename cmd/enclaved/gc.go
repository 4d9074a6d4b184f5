package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// gcHeadroom is how far the heap may grow past what is live before a
// collection starts, at the least.
//
// The daemon's live heap is small (about 30 MiB: the compiled policies,
// services' indexes, the audit log's tree), and its calls allocate (TLS,
// JSON, the audit entry): at Go's default GOGC=100 a service under 5,000
// verify calls/s collected three times a second, and each collection's mark
// phase took a quarter of the two cores for about 25 ms, so the calls due
// during it queued. That was the p99 of BenchmarkServiceVerify: 12-18 ms at
// 5,000 calls/s offered, against 1-5 ms with collections a few seconds apart.
// A floor on the headroom keeps collections seconds apart for a small heap
// and leaves a large one (a service over millions of keys) at GOGC=100.
const gcHeadroom = 256 << 20

// gcPercent is the GOGC that gives a live heap of live bytes at least
// headroom bytes of growth before the next collection, and never less than
// Go's default of 100.
func gcPercent(live, headroom uint64) int {
	if live == 0 {
		live = 1 << 20
	}
	p := headroom * 100 / live
	return int(max(100, min(p, 10_000)))
}

// keepGCHeadroom sets the collector's GOGC from the live heap now and
// after every collection (checked each second) until ctx ends, unless
// GOGC or GOMEMLIMIT was set in the environment, which then decides as
// usual. It returns at once.
func keepGCHeadroom(ctx context.Context, headroom uint64) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	var cycles uint64
	current := -1
	adjust := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 || sample[1].Value.Kind() != metrics.KindUint64 {
			return // not this Go's metrics: leave GOGC alone
		}
		n := sample[1].Value.Uint64()
		if n == cycles && current >= 0 {
			return // no collection since: the live heap is as it was
		}
		cycles = n
		if p := gcPercent(sample[0].Value.Uint64(), headroom); p != current {
			debug.SetGCPercent(p)
			current = p
		}
	}
	adjust()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				adjust()
			}
		}
	}()
}
