package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/enclave-dev/enclave/egress-review/checks"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/keys"
	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa"
)

// loadPolicies loads the built-in policies and cfg.PolicyDir. Policies
// that do not compile, or whose egress thresholds are undefined or
// invalid, are an error: the daemon does not start.
func loadPolicies(ctx context.Context, cfg Config) (*opa.Engine, error) {
	var opts []opa.Option
	if cfg.PolicyDir != "" {
		opts = append(opts, opa.WithPolicyDir(cfg.PolicyDir))
	}
	engine, err := opa.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	return engine, nil
}

// newExports is the export service over the jobs, with every check and
// the thresholds of the policies (data.enclave.egress_thresholds). The
// checks, and everything else that parses a job's outputs, run in check
// processes (exports.go).
func newExports(cfg Config, log *slog.Logger, engine policy.Engine, mgr *jobs.Manager, cat *datasets.Catalog, kr keys.Keyring) *exports.Service {
	return &exports.Service{Dir: cfg.exportsDir(), Jobs: mgr, Catalog: cat, Keyring: kr, Checks: checks.Default(),
		CheckSet: exports.DefaultCheckSet, Runner: checkRunner(cfg, log), Params: exports.ParamsFromPolicy(engine.EgressThresholds())}
}
