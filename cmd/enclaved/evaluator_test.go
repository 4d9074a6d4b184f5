package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/metrics"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/policies/opa"
)

// TestPolicyEvaluatorFlag: `enclaved run --policy-evaluator` chooses what
// evaluates the policies without a rebuild (vm by default); each serves
// the same decisions and the daemon's start record names it; an unknown
// one is refused before anything starts, naming it and the choices.
func TestPolicyEvaluatorFlag(t *testing.T) {
	base := filepath.Join(t.TempDir(), "data")
	_, err := runConfig([]string{"--data-dir", base, "--policy-evaluator", "jit"})
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `"jit"`) || !strings.Contains(err.Error(), "vm, topdown, wasm") {
		t.Fatalf("got %v, want a usage error naming \"jit\" and the evaluators", err)
	}
	cfg, err := runConfig([]string{"--data-dir", base})
	if err != nil || cfg.PolicyEvaluator != opa.EvaluatorVM {
		t.Fatalf("default: got %q, %v, want %q", cfg.PolicyEvaluator, err, opa.EvaluatorVM)
	}
	for _, ev := range opa.Evaluators {
		t.Run(ev, func(t *testing.T) {
			if testing.Short() && ev != opa.EvaluatorTopdown {
				// A daemon each: under -short only the switch an operator
				// turns; the other daemon tests serve with the default (vm),
				// and package opa tests wasm.
				t.Skip("under -short only topdown is served")
			}
			dir := filepath.Join(t.TempDir(), "data")
			cfg, err := runConfig([]string{"--data-dir", dir, "--sandbox=false", "--policy-evaluator", ev})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.PolicyEvaluator != ev {
				t.Fatalf("got evaluator %q, want %q", cfg.PolicyEvaluator, ev)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res, err := initDataDir(ctx, cfg, testAdmin("platform"))
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- serve(ctx, cfg, slog.New(slog.DiscardHandler)) }()
			defer func() {
				cancel()
				if err := <-served; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()
			c, _ := client.New(cfg.socketPath(), res.AdminToken)
			deadline := time.Now().Add(2 * time.Minute) // wasm compiles every action at start
			for {
				if _, err := c.Health(ctx); err == nil {
					break
				}
				select {
				case err := <-served:
					t.Fatalf("serve: %v", err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("daemon did not answer")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if _, err := c.Whoami(ctx); err != nil {
				t.Errorf("whoami: %v, want allowed", err)
			}
			if _, err := c.ListDatasets(ctx, false); !errdefs.IsPermissionDenied(err) {
				t.Errorf("dataset list as admin: got %v, want permission denied", err)
			}
			evs, err := c.AuditList(ctx, client.AuditFilter{Action: "daemon.start"})
			if err != nil || len(evs) != 1 || evs[0].Details["policy_evaluator"] != ev {
				t.Fatalf("got start records %+v, %v, want one naming evaluator %q", evs, err, ev)
			}
		})
	}
}

// TestPolicyDivergenceWiring: what the engine reports of its run-time
// checks (opa.Shadow) reaches /metrics, the log and the audit log: each
// check is counted by result, a mismatch by action and evaluator, and a
// divergence is one policy.divergence record and one error line, with
// outcomes and rule names and never the reasons' messages.
// policies/opa's TestShadowSwitchesOnDivergence injects a broken program
// and sees the engine report through the same opa.Shadow.
func TestPolicyDivergenceWiring(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kr, err := local.Create(filepath.Join(dir, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kr.PublicKey(ctx)
	alog, err := audit.Open(filepath.Join(dir, "audit"), kr, pub)
	if err != nil {
		t.Fatal(err)
	}
	defer alog.Close()
	mtr := metrics.New(db.SQL(), metrics.Options{})
	var logged bytes.Buffer
	s := policyShadow(slog.New(slog.NewJSONHandler(&logged, nil)), alog, mtr, opa.EvaluatorVM)

	s.Checked("job.run", opa.ShadowAgree)
	s.Checked("job.run", opa.ShadowMismatch)
	s.Checked("whoami", opa.ShadowSkipped)
	s.Diverged(opa.Divergence{Action: "job.run", Evaluator: opa.EvaluatorVM, Revision: "sha256:ab",
		Got:  opa.Outcome{Allow: true},
		Want: opa.Outcome{Rules: []string{"grant.dataset_not_granted", "image.not_approved"}}})

	rec := httptest.NewRecorder()
	mtr.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"enclave_policy_mismatches_total", map[string]string{"action": "job.run", "evaluator": "vm"}, 1},
		{"enclave_policy_shadow_checks_total", map[string]string{"action": "job.run", "result": "agree"}, 1},
		{"enclave_policy_shadow_checks_total", map[string]string{"action": "whoami", "result": "skipped"}, 1},
	} {
		if got := counter(fams[tc.name], tc.labels); got != tc.want {
			t.Errorf("%s%v: got %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}

	entries, err := alog.List(ctx, audit.Filter{Action: "policy.divergence"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("got %d policy.divergence records, %v, want 1", len(entries), err)
	}
	ev := entries[0].Event
	want := map[string]string{"evaluator": "vm", "switched_to": "topdown", "evaluator_outcome": "allow", "topdown_outcome": "deny",
		"topdown_rules": "grant.dataset_not_granted,image.not_approved", "policy_revision": "sha256:ab"}
	for k, v := range want {
		if ev.Details[k] != v {
			t.Errorf("record detail %s: got %q, want %q", k, ev.Details[k], v)
		}
	}
	if ev.Actor != "system" || len(ev.Objects) != 1 || ev.Objects[0] != "action:job.run" || ev.Retention != audit.Retention5y {
		t.Errorf("got record %+v, want by system on action:job.run, kept 5 years", ev)
	}
	line := logged.String()
	if strings.Count(line, "\n") != 1 || !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, `"action":"job.run"`) ||
		!strings.Contains(line, `"topdown_rules":"grant.dataset_not_granted,image.not_approved"`) {
		t.Errorf("got log %q, want one error line naming the action and topdown's rules", line)
	}
}

// counter returns the value of the sample of f whose labels include want.
func counter(f *dto.MetricFamily, want map[string]string) float64 {
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		return m.Counter.GetValue()
	}
	return -1
}
