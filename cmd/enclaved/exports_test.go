package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/checks"
	"github.com/enclave-dev/enclave/enclave/checker"
	"github.com/enclave-dev/enclave/enclave/exports"
)

// init serves a check process when the daemon under test (this test
// binary, in process or re-executed) runs itself again as one, as main
// does: before the testing flags are parsed.
func init() {
	if len(os.Args) > 1 && os.Args[1] == checker.ChildCommand {
		os.Exit(runCheckChild(os.Args[2:]))
	}
}

// TestCheckChildServesTheDefaultChecks: the hidden command answers a
// review with every default check, as review.Run does in the process.
func TestCheckChildServesTheDefaultChecks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "summary.txt")
	if err := os.WriteFile(p, []byte("districts 12\nmean fine 340.5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := review.FileSHA256(p)
	if err != nil {
		t.Fatal(err)
	}
	req := &review.Request{Files: []review.File{{Name: "summary.txt", Path: p, SHA256: sum}}}
	r := checkRunner(Config{DataDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	r.Dir, r.Limits.Wall = "", time.Minute
	got := r.Review(context.Background(), exports.DefaultCheckSet, checks.Default(), req, nil)
	want := review.Run(context.Background(), req, checks.Default()...)
	if len(got.Checks) != len(checks.Default())+1 || got.Verdict != want.Verdict {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want.Checks {
		if got.Checks[i] != want.Checks[i] {
			t.Errorf("check %d: got %+v, want %+v", i, got.Checks[i], want.Checks[i])
		}
	}
}
