package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/store"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	ctrd "github.com/enclave-dev/enclave/sandbox-runtime/containerd"
)

// The host ids a job's root maps to: an unprivileged range no host user has.
const (
	jobUID    = 100000000
	jobGID    = 100000000
	jobIDSize = 65536
	namespace = "enclave"
)

// startJobs starts (or connects to) containerd, or connects to Kubernetes
// (--sandbox kubernetes), the sandbox runtime and
// the job manager, and recovers what a previous daemon left behind.
func startJobs(ctx context.Context, cfg Config, log *slog.Logger, db *store.DB, cat *datasets.Catalog, alog *audit.Log, kr keys.Keyring) (*jobs.Manager, func(), error) {
	if err := prepareSandboxDir(cfg.SandboxDir); err != nil {
		return nil, nil, err
	}
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	var rt sandbox.Runtime
	addr := cfg.ContainerdAddress
	if cfg.SandboxKind == sandboxKubernetes {
		k, err := kubernetesRuntime(ctx, cfg, log)
		if err != nil {
			return nil, nil, err
		}
		rt, addr = k, "kubernetes"
	} else {
		if addr == "" {
			d, err := ctrd.StartDaemon(ctx, filepath.Join(cfg.SandboxDir, "containerd"), log.With("part", "containerd"))
			if err != nil {
				return nil, nil, fmt.Errorf("start the private containerd (install containerd and runc, or pass --containerd-address): %w", err)
			}
			stops = append(stops, func() {
				if err := d.Stop(); err != nil {
					log.Warn("stop containerd", "err", err)
				}
			})
			addr = d.Address()
		}
		c, err := ctrd.New(ctx, addr, namespace, ctrd.WithLogger(log.With("part", "sandbox")),
			ctrd.WithWorkDir(filepath.Join(cfg.SandboxDir, "work")), ctrd.WithIDRange(jobUID, jobGID, jobIDSize))
		if err != nil {
			stop()
			return nil, nil, err
		}
		rt = c
	}
	stops = append(stops, func() { rt.Close() })
	// A job's plaintext (its log while it runs, its outputs until they are
	// sealed) lives in the sandbox's directory, never under the data
	// directory.
	mgr, err := jobs.NewManager(jobs.Config{Dir: cfg.jobsDir(), InputDir: filepath.Join(cfg.SandboxDir, "inputs"), UID: jobUID, GID: jobGID,
		PlainDir: filepath.Join(cfg.SandboxDir, "plain"), Keyring: kr,
		MaxRunning: cfg.MaxJobs, Log: log.With("part", "jobs")}, db, rt, cat, alog)
	if err != nil {
		stop()
		return nil, nil, err
	}
	stops = append(stops, mgr.Close)
	if err := mgr.Recover(ctx); err != nil {
		stop()
		return nil, nil, err
	}
	log.Info("sandbox ready", "containerd", addr, "namespace", namespace, "dir", cfg.SandboxDir)
	return mgr, stop, nil
}
