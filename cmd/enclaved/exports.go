package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/enclave-dev/enclave/enclave/checker"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/server"
)

// runCheckChild is the hidden command checker.ChildCommand: the daemon
// runs its own binary again with it to check a job's outputs (and preview
// them, rebuild them for release, filter its log) in a process of their
// own, under limits, so that a parser bug costs a check, not the daemon.
// It serves one request on stdin and stdout and returns the exit status.
func runCheckChild(args []string) int {
	return checker.Serve(args, os.Stdin, os.Stdout, exports.ChildOps(exports.DefaultCheckSets()))
}

// checkRunner starts the daemon's check processes under the default
// limits, in the exports directory.
func checkRunner(cfg Config, log *slog.Logger) *checker.Runner {
	return &checker.Runner{Dir: cfg.exportsDir(), Log: log.With("part", "checks")}
}

// finishReleases finishes, before the daemon serves, the releases a
// stopped daemon left between the last approval and the bundle
// (server.FinishReleases).
func finishReleases(ctx context.Context, log *slog.Logger, srv *server.Server) error {
	released, rolledBack, err := srv.FinishReleases(ctx)
	if err != nil {
		return fmt.Errorf("finish the releases a stopped daemon left: %w", err)
	}
	if released+rolledBack > 0 {
		log.Warn("releases left unfinished by a stop", "released", released, "rolled_back", rolledBack)
	}
	return nil
}
