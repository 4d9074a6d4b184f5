package audit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPurgeAfterRetention: sealed segments whose events are all past
// their retention are purged oldest first; 5-year events hold their
// segment; Verify passes after the purge and the log takes new entries.
func TestPurgeAfterRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, _, pub := openTest(t, dir, WithSegmentSize(2048))
	appendN(t, l, 0, 40) // 3-year events of 2026-11-23
	for i := 40; i < 60; i++ {
		ev := testEvent(i)
		ev.Retention = Retention5y
		if _, err := l.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	appendN(t, l, 60, 20)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 4 {
		t.Fatalf("want several sealed segments for the test, got %d", len(segs))
	}
	tooSoon := time.Date(2029, 11, 22, 0, 0, 0, 0, time.UTC)
	if rep, _, err := l.Purgeable(ctx, tooSoon); err != nil || rep.Entries != 0 {
		t.Fatalf("before 3 years: got %+v %v, want nothing purgeable", rep, err)
	}
	after3 := time.Date(2029, 11, 24, 0, 0, 0, 0, time.UTC)
	rep, firsts, err := l.Purgeable(ctx, after3)
	if err != nil || rep.Entries == 0 || rep.Last >= 40 {
		t.Fatalf("after 3 years: got %+v %v, want a prefix of the 3-year entries only", rep, err)
	}
	if err := l.Purge(ctx, firsts); err != nil {
		t.Fatal(err)
	}
	for _, f := range firsts {
		if _, err := os.Stat(filepath.Join(dir, segName(f))); !os.IsNotExist(err) {
			t.Fatalf("segment %d still there", f)
		}
		if _, err := os.Stat(filepath.Join(dir, leavesName(f))); err != nil {
			t.Fatalf("leaves of segment %d are gone: %v", f, err)
		}
	}
	v, err := l.Verify(ctx)
	if err != nil || !v.OK {
		t.Fatalf("verify after purge: %+v %v", v, err)
	}
	appendN(t, l, 80, 5)
	l.Close()
	v, err = VerifyDir(ctx, dir, pub)
	if err != nil || !v.OK || v.Entries != 85 {
		t.Fatalf("offline verify after purge and appends: %+v %v", v, err)
	}
}
