package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	review "github.com/enclave-dev/enclave/egress-review"
)

func writePolicy(t *testing.T, name, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPolicyDirThresholdsReachExportChecks: a deployer's egress_overrides
// in --policy-dir become the parameters the export checks run with.
func TestPolicyDirThresholdsReachExportChecks(t *testing.T) {
	ctx := context.Background()
	cfg := Default()
	cfg.DataDir = t.TempDir()
	cfg.PolicyDir = writePolicy(t, "thresholds.rego", "package enclave\n\negress_overrides := {\"min_cell\": 20, \"max_files\": 2}\n")
	engine, err := loadPolicies(ctx, cfg)
	if err != nil {
		t.Fatalf("loadPolicies: %v", err)
	}
	svc := newExports(cfg, slog.New(slog.DiscardHandler), engine, nil, nil, nil)
	want := review.Default()
	want.MinCell, want.MaxFiles = 20, 2
	if svc.Params != want {
		t.Errorf("got params %+v, want %+v", svc.Params, want)
	}
	if len(svc.Checks) == 0 {
		t.Error("got no checks, want every check")
	}
	// The checks apply them: three files are over the deployer's limit.
	res := review.Run(ctx, &review.Request{Params: svc.Params, Files: make([]review.File, 3)}, svc.Checks...)
	if res.Verdict != review.VerdictFail || len(res.Findings) != 1 || res.Findings[0].Check != review.LimitsCheck ||
		!strings.Contains(res.Findings[0].Evidence, "limit of 2") {
		t.Errorf("got %v %+v, want one limits finding naming the limit of 2", res.Verdict, res.Findings)
	}
}

// TestBadThresholdsStopTheDaemon: thresholds that do not validate keep
// enclaved from starting, with an error naming the key.
func TestBadThresholdsStopTheDaemon(t *testing.T) {
	ctx := context.Background()
	cfg := Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Sandbox = false
	if _, err := initDataDir(ctx, cfg, testAdmin("platform")); err != nil {
		t.Fatal(err)
	}
	cfg.PolicyDir = writePolicy(t, "thresholds.rego", "package enclave\n\negress_overrides := {\"min_cell\": 1}\n")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	err := serve(ctx, cfg, slog.New(slog.DiscardHandler))
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `"min_cell"`) {
		t.Fatalf("got %v, want an invalid-argument error naming \"min_cell\"", err)
	}
	if _, err := os.Stat(cfg.socketPath()); !os.IsNotExist(err) {
		t.Errorf("got a socket (%v), want none: the daemon must not serve", err)
	}
}
