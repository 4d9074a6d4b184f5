package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/console"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/metrics"
	"github.com/enclave-dev/enclave/enclave/server"
	"github.com/enclave-dev/enclave/enclave/services"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/sweeper"
	ledger "github.com/enclave-dev/enclave/enclave/usage"
	policy "github.com/enclave-dev/enclave/policies"
	"github.com/enclave-dev/enclave/policies/opa"
	k8s "github.com/enclave-dev/enclave/sandbox-runtime/kubernetes"
)

func runDaemon(args []string) error {
	cfg, err := runConfig(args)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log)
}

// runConfig is the configuration of enclaved run's flags, validated.
func runConfig(args []string) (Config, error) {
	cfg := Default()
	fs := flag.NewFlagSet("enclaved run", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "the data directory made by enclaved init")
	fs.StringVar(&cfg.Listen, "listen", "", "also serve HTTPS on this TCP address (for example 127.0.0.1:8443)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate for --listen (default: generated under the data directory)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.StringVar(&cfg.ContainerdAddress, "containerd-address", "", "containerd socket (default: start a private containerd under the sandbox directory)")
	fs.StringVar(&cfg.SandboxDir, "sandbox-dir", "", sandboxDirHelp)
	fs.Var(sandboxFlag{&cfg}, "sandbox", "what runs jobs: containerd, kubernetes (with --kubeconfig), or false to serve everything but jobs and images")
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "with --sandbox kubernetes: the kubeconfig of the cluster whose one node runs the jobs, beside this daemon")
	fs.StringVar(&cfg.KubeletConfig, "kubelet-config", "", "with --sandbox kubernetes: the configuration file of the kubelet of the node this daemon shares, for its containerd socket, cgroup root and pods pids limit (default "+k8s.DefaultKubeletConfig+")")
	fs.StringVar(&cfg.KubernetesNamespace, "namespace", cfg.KubernetesNamespace, "with --sandbox kubernetes: the jobs' namespace (made to enforce the restricted pod security profile)")
	fs.StringVar(&cfg.KubernetesRuntimeClass, "k8s-runtime-class", "", "with --sandbox kubernetes: run jobs under this RuntimeClass (default enclave; its handler must be enclave-runc)")
	fs.IntVar(&cfg.MaxJobs, "max-jobs", cfg.MaxJobs, "jobs that run at once; more wait queued")
	fs.StringVar(&cfg.VaultAddr, "vault-addr", "", "use Vault's transit engine at this URL for keys (token in VAULT_TOKEN)")
	fs.StringVar(&cfg.PolicyDir, "policy-dir", "", "directory of Rego files that add to or override the built-in policies")
	fs.StringVar(&cfg.PolicyEvaluator, "policy-evaluator", cfg.PolicyEvaluator, "what evaluates the policies: vm (checked against topdown at run time), topdown (OPA's reference) or wasm (OPA's WebAssembly on wazero: slower, each action compiled on its first request)")
	fs.DurationVar(&cfg.TokenTTL, "token-ttl", cfg.TokenTTL, "lifetime of newly issued tokens")
	fs.StringVar(&cfg.PriceList, "price-list", "", "YAML or JSON price list for usage charges (default: the built-in list, see enclave/usage)")
	fs.DurationVar(&cfg.TermGrace, "term-grace", cfg.TermGrace, "how long after a grant or licence ends its job areas and unreleased outputs are kept")
	fs.DurationVar(&cfg.SweepEvery, "sweep-every", cfg.SweepEvery, "how often the term sweeper looks for ended grants and licences")
	uploadQuota := fs.String("upload-quota", "", "what one organisation may keep of operators' uploads, pending and approved, as a size such as 512Mi or 4Gi (default 4Gi)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	orgTypes := fs.String("authorized-org-types", strings.Join(cfg.AuthorizedOrgTypes, ","), "organisation types that may use authorization-required data")
	if err := fs.Parse(args); err != nil {
		return cfg, usageError{err}
	}
	if fs.NArg() > 0 {
		return cfg, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	cfg.AuthorizedOrgTypes = strings.Split(*orgTypes, ",")
	if *uploadQuota != "" {
		q, err := jobs.ParseSize(*uploadQuota)
		if err != nil {
			return cfg, usageError{fmt.Errorf("--upload-quota: %v", err)}
		}
		cfg.UploadQuota = q
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, usageError{fmt.Errorf("--log-level: %v", err)}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	keepGCHeadroom(ctx, gcHeadroom)
	if fi, err := os.Stat(cfg.statePath()); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("data directory %q is not initialised; run enclaved init first", cfg.DataDir)
	}
	kr, err := openKeyring(ctx, cfg)
	if err != nil {
		return err
	}
	pub, err := kr.PublicKey(ctx)
	if err != nil {
		return fmt.Errorf("keyring public key: %w", err)
	}
	db, err := store.Open(ctx, cfg.statePath())
	if err != nil {
		return err
	}
	defer db.Close()
	alog, err := audit.Open(cfg.auditDir(), kr, pub)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	defer alog.Close()

	// Uploads in flight when the daemon stopped are raw data: remove them.
	os.RemoveAll(cfg.tempDir())
	if err := os.MkdirAll(cfg.tempDir(), 0o700); err != nil {
		return err
	}
	cat, err := datasets.New(db, cfg.datasetsDir(), kr, nil)
	if err != nil {
		return err
	}
	mtr := metrics.New(db.SQL(), metrics.Options{AuditSize: alog.Size})
	engine, err := loadPolicies(ctx, cfg, opa.WithShadow(policyShadow(log.With("part", "policy"), alog, mtr, cfg.PolicyEvaluator)))
	if err != nil {
		return err
	}
	defer engine.Close() // before the audit log closes
	az := &authz.Policy{Engine: engine, Config: policy.Config{AuthorizedOrgTypes: cfg.AuthorizedOrgTypes}}
	var mgr *jobs.Manager
	if cfg.Sandbox {
		var stopSandbox func()
		mgr, stopSandbox, err = startJobs(ctx, cfg, log, db, cat, alog, kr)
		if err != nil {
			return err
		}
		defer stopSandbox()
	}
	var exp *exports.Service
	if mgr != nil {
		if err := os.MkdirAll(cfg.exportsDir(), 0o700); err != nil {
			return err
		}
		exp = newExports(cfg, log, engine, mgr, cat, kr)
	}
	prices, err := ledger.LoadPriceList(cfg.PriceList)
	if err != nil {
		return fmt.Errorf("--price-list: %w", err)
	}
	shredder := newShredder(cfg, log, db, kr, alog, mgr)
	if err := applyTombstones(ctx, log, cfg, kr, alog, cat, shredder); err != nil {
		return err
	}
	var canceler sweeper.Canceler
	if mgr != nil {
		canceler = mgr
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		sweeper.New(db.SQL(), canceler, alog, sweeper.Config{JobsDir: cfg.jobsDir(), ExportsDir: cfg.exportsDir(), Grace: cfg.TermGrace,
			Log: log.With("part", "sweeper"), Shredder: termShredder{shredder}, Uploads: cat, Changed: db.Changed}).Run(sweepCtx, cfg.SweepEvery)
	}()
	defer func() { stopSweep(); <-swept }() // before the audit log and the state close
	var clientCA *services.CA
	if cfg.Listen != "" {
		if clientCA, err = ensureClientCA(cfg.tlsDir()); err != nil {
			return err
		}
	}
	srv, err := server.New(server.Deps{
		Prices: prices, Metrics: mtr,
		DB: db, Audit: alog, Keyring: kr, Authz: az, Log: log,
		Version: version, TokenTTL: cfg.TokenTTL, TempDir: cfg.tempDir(), Catalog: cat, Jobs: mgr, Exports: exp,
		Shredder: shredder, ClientCA: clientCA, UploadQuota: cfg.UploadQuota,
		Console: console.New(db.SQL(), console.Options{Audit: alog, Log: log.With("part", "console")}),
	})
	if err != nil {
		return err
	}
	if err := finishReleases(ctx, log, srv); err != nil {
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.ServeUnix(cfg.socketPath()) }()
	if cfg.Listen != "" {
		tcfg, err := tlsConfig(cfg, clientCA)
		if err != nil {
			return err
		}
		go func() { errc <- srv.ServeTLS(cfg.Listen, tcfg) }()
		log.Info("serving https", "addr", cfg.Listen)
	}
	if err := alog.Damaged(); err != nil {
		log.Error("the audit log is damaged: every change and every read is refused until it is repaired; run audit verify for the first bad entry", "err", err)
	}
	startEv := audit.Event{Time: time.Now().UTC(), Actor: "system", Action: "daemon.start", Outcome: "ok", Retention: audit.Retention3y,
		Details: map[string]string{"version": version, "policy_revision": engine.Revision(), "policy_files": strings.Join(engine.Files(), ","), "policy_evaluator": engine.Evaluator(),
			"keyring": kr.Name(), "sandbox": fmt.Sprint(cfg.Sandbox)}}
	if _, err := alog.Append(ctx, startEv); err != nil {
		log.Error("audit the start", "err", err)
	}
	log.Info("enclaved started", "version", version, "policy_revision", engine.Revision(), "policy_evaluator", engine.Evaluator(), "data_dir", cfg.DataDir, "socket", cfg.socketPath(), "keyring", kr.Name(), "audit_entries", alog.Size())
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-errc:
		if err != nil {
			log.Error("listener failed", "err", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("shutdown", "err", err)
	}
	os.Remove(cfg.socketPath())
	log.Info("stopped")
	return nil
}

// tlsConfig is the TLS listener's configuration: its certificate, and
// client certificates of the client CA accepted when given (an
// application system's credential, issue 19; the server checks each
// against its credential, so a revoked one is refused at once).
func tlsConfig(cfg Config, clientCA *services.CA) (*tls.Config, error) {
	certFile, keyFile := cfg.TLSCert, cfg.TLSKey
	if certFile == "" {
		var err error
		certFile, keyFile, err = ensureCertificate(cfg.tlsDir(), cfg.Listen)
		if err != nil {
			return nil, err
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if clientCA != nil {
		pool := x509.NewCertPool()
		pool.AddCert(clientCA.Cert)
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tc, nil
}
