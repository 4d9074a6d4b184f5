package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestGCPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{30 * mib, 853},   // the daemon's usual heap: 256 MiB of headroom
		{256 * mib, 100},  // as much live as headroom: Go's default
		{2048 * mib, 100}, // a large heap never collects more often than GOGC=100
		{0, 10_000},       // before the first collection: capped
		{1024, 10_000},    // capped, not overflowing
		{200 * mib, 128},  // 256/200
		{255 * mib, 100},  // 100.39 rounds down to the default
	} {
		if got := gcPercent(c.live, 256*mib); got != c.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", c.live/mib, got, c.want)
		}
	}
}

// TestKeepGCHeadroom: the daemon raises GOGC for its small heap, and leaves
// it to the environment when GOGC or GOMEMLIMIT is set there.
func TestKeepGCHeadroom(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)

	t.Setenv("GOGC", "123")
	ctx, cancel := context.WithCancel(context.Background())
	debug.SetGCPercent(123)
	keepGCHeadroom(ctx, 1<<40)
	if got := debug.SetGCPercent(123); got != 123 {
		t.Errorf("with GOGC=123 in the environment, GOGC became %d", got)
	}
	cancel()
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "64MiB")
	ctx, cancel = context.WithCancel(context.Background())
	keepGCHeadroom(ctx, 1<<40)
	if got := debug.SetGCPercent(123); got != 123 {
		t.Errorf("with GOMEMLIMIT in the environment, GOGC became %d", got)
	}
	cancel()

	t.Setenv("GOMEMLIMIT", "")
	runtime.GC() // a live heap figure to start from
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	keepGCHeadroom(ctx, 1<<40) // a terabyte of headroom: the cap
	if got := debug.SetGCPercent(100); got != 10_000 {
		t.Errorf("GOGC = %d, want the cap of 10000 for a small heap", got)
	}
}
