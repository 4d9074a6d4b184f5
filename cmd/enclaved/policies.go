package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/enclave-dev/enclave/egress-review/checks"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/metrics"
	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa"
)

// loadPolicies loads the built-in policies and cfg.PolicyDir, evaluated by
// cfg.PolicyEvaluator, with opts. Policies that do not compile, or whose
// egress thresholds are undefined or invalid, are an error: the daemon
// does not start.
func loadPolicies(ctx context.Context, cfg Config, opts ...opa.Option) (*opa.Engine, error) {
	opts = append([]opa.Option{opa.WithEvaluator(cfg.PolicyEvaluator)}, opts...)
	if cfg.PolicyDir != "" {
		opts = append(opts, opa.WithPolicyDir(cfg.PolicyDir))
	}
	engine, err := opa.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	return engine, nil
}

// appender is the part of the audit log the policy checks write to.
type appender interface {
	Append(ctx context.Context, ev audit.Event) (uint64, error)
}

// policyShadow checks the decisions of the evaluator against OPA's
// topdown at run time (opa.WithShadow): every check is counted in
// /metrics, and an action whose decision topdown made otherwise, which the
// engine then decides by topdown, is logged and recorded in the audit log
// as policy.divergence, with outcomes and rule names only. The engine
// switches the action before the record is written, so that a slow or
// failing audit log does not keep the diverging evaluator deciding.
func policyShadow(log *slog.Logger, alog appender, mtr *metrics.Metrics, evaluator string) opa.Shadow {
	return opa.Shadow{
		Checked: func(action, result string) { mtr.ObservePolicyCheck(action, evaluator, result) },
		Diverged: func(d opa.Divergence) {
			log.Error("the policy evaluator decided otherwise than OPA's topdown; the action is decided by topdown from now on",
				"action", d.Action, "evaluator", d.Evaluator, "evaluator_allow", d.Got.Allow, "evaluator_rules", strings.Join(d.Got.Rules, ","),
				"topdown_allow", d.Want.Allow, "topdown_rules", strings.Join(d.Want.Rules, ","), "policy_revision", d.Revision)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ev := audit.Event{Actor: "system", Action: "policy.divergence", Objects: []string{"action:" + d.Action}, Outcome: audit.OutcomeOK,
				Reason:    "the policy evaluator decided otherwise than OPA's topdown; the action is decided by topdown",
				Retention: audit.Retention5y,
				Details: map[string]string{"evaluator": d.Evaluator, "switched_to": opa.EvaluatorTopdown, "policy_revision": d.Revision,
					"evaluator_outcome": outcomeText(d.Got), "topdown_outcome": outcomeText(d.Want),
					"evaluator_rules": strings.Join(d.Got.Rules, ","), "topdown_rules": strings.Join(d.Want.Rules, ",")}}
			if _, err := alog.Append(ctx, ev); err != nil {
				log.Error("audit a policy divergence", "action", d.Action, "err", err)
			}
		},
	}
}

func outcomeText(o opa.Outcome) string {
	switch {
	case o.Error:
		return "error"
	case o.Allow:
		return "allow"
	}
	return "deny"
}

// newExports is the export service over the jobs, with every check and
// the thresholds of the policies (data.enclave.egress_thresholds). The
// checks, and everything else that parses a job's outputs, run in check
// processes (exports.go).
func newExports(cfg Config, log *slog.Logger, engine policy.Engine, mgr *jobs.Manager, cat *datasets.Catalog, kr keys.Keyring) *exports.Service {
	return &exports.Service{Dir: cfg.exportsDir(), Jobs: mgr, Catalog: cat, Keyring: kr, Checks: checks.Default(),
		CheckSet: exports.DefaultCheckSet, Runner: checkRunner(cfg, log), Params: exports.ParamsFromPolicy(engine.EgressThresholds())}
}
