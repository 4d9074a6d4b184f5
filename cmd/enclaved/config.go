package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/enclave-dev/enclave/policies/opa"
)

// Config is everything enclaved is configured with. Only this package
// reads flags and the environment.
type Config struct {
	DataDir           string
	Listen            string // TCP address for HTTPS; empty: unix socket only
	TLSCert, TLSKey   string // PEM files; empty: generated under the data directory
	ContainerdAddress string // empty: start a private containerd
	VaultAddr         string
	VaultToken        string // from VAULT_TOKEN, never a flag
	PolicyDir         string
	LogLevel          slog.Level
	TokenTTL          time.Duration
	// SandboxDir holds the private containerd and the job work areas; it
	// must be traversable by the jobs' unprivileged host uid, so it lives
	// beside the 0700 data directory, not in it, or under sandboxesDir
	// when the data directory's parents are private (defaultSandboxDir).
	SandboxDir string
	Sandbox    bool
	// SandboxKind is what runs jobs: containerd (the default) or
	// kubernetes, pods in KubernetesNamespace of the cluster of
	// Kubeconfig, on its one node, under KubernetesRuntimeClass if set.
	SandboxKind            string
	Kubeconfig             string
	KubeletConfig          string // the node's kubelet configuration file; empty is k8s.DefaultKubeletConfig
	KubernetesNamespace    string
	KubernetesRuntimeClass string
	MaxJobs                int
	// AuthorizedOrgTypes may use authorization-required data.
	AuthorizedOrgTypes []string
	// PriceList is a YAML or JSON price list for usage charges; empty is
	// usage.DefaultPriceList.
	PriceList string
	// PolicyEvaluator evaluates the policies: vm, topdown or wasm
	// (policies/opa's Evaluators).
	PolicyEvaluator string
	// TermGrace is how long after a grant or licence ends its job areas
	// and unreleased outputs are kept; SweepEvery is how often the term
	// sweeper looks.
	TermGrace, SweepEvery time.Duration
	// UploadQuota bounds the bytes of operators' uploads (issue 20) one
	// organisation keeps, pending and approved; 0 is
	// server.DefaultUploadQuota.
	UploadQuota int64
}

// DefaultDataDir is /var/lib/enclave for root, ~/.local/share/enclave
// otherwise.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/enclave"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "enclave")
	}
	return "enclave-data"
}

// Default returns the configuration with no flags given.
func Default() Config {
	return Config{
		DataDir:             DefaultDataDir(),
		PolicyEvaluator:     opa.DefaultEvaluator,
		VaultToken:          os.Getenv("VAULT_TOKEN"),
		LogLevel:            slog.LevelInfo,
		TokenTTL:            90 * 24 * time.Hour,
		Sandbox:             true,
		SandboxKind:         sandboxContainerd,
		KubernetesNamespace: "enclave-jobs",
		MaxJobs:             4,
		AuthorizedOrgTypes:  []string{"company", "agency", "university", "research-institute"},
		TermGrace:           7 * 24 * time.Hour,
		SweepEvery:          time.Minute,
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return usageError{fmt.Errorf("--data-dir must not be empty")}
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir = abs
	if c.SandboxDir == "" {
		c.SandboxDir = defaultSandboxDir(abs)
	} else if c.SandboxDir, err = filepath.Abs(c.SandboxDir); err != nil {
		return err
	}
	if c.MaxJobs < 1 || c.MaxJobs > 256 {
		return usageError{fmt.Errorf("--max-jobs must be 1-256")}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return usageError{fmt.Errorf("--tls-cert and --tls-key go together")}
	}
	for _, t := range c.AuthorizedOrgTypes {
		if !slices.Contains([]string{"company", "agency", "university", "research-institute"}, t) {
			return usageError{fmt.Errorf("--authorized-org-types: %q is not an organisation type", t)}
		}
	}
	if !slices.Contains(opa.Evaluators, c.PolicyEvaluator) {
		return usageError{fmt.Errorf("--policy-evaluator: %q is not one of %s", c.PolicyEvaluator, strings.Join(opa.Evaluators, ", "))}
	}
	if c.Sandbox && c.SandboxKind == sandboxKubernetes && c.Kubeconfig == "" {
		return usageError{fmt.Errorf("--sandbox kubernetes needs --kubeconfig")}
	}
	if c.Kubeconfig != "" && (!c.Sandbox || c.SandboxKind != sandboxKubernetes) {
		return usageError{fmt.Errorf("--kubeconfig goes with --sandbox kubernetes")}
	}
	if c.KubeletConfig != "" && (!c.Sandbox || c.SandboxKind != sandboxKubernetes) {
		return usageError{fmt.Errorf("--kubelet-config goes with --sandbox kubernetes")}
	}
	if !dnsLabel.MatchString(c.KubernetesNamespace) || c.KubernetesRuntimeClass != "" && !dnsLabel.MatchString(c.KubernetesRuntimeClass) {
		return usageError{fmt.Errorf("--namespace and --k8s-runtime-class must be DNS labels (lowercase letters, digits and -)")}
	}
	if c.TokenTTL < time.Hour {
		return usageError{fmt.Errorf("--token-ttl must be at least an hour")}
	}
	if c.TermGrace < 0 || c.SweepEvery < time.Second {
		return usageError{fmt.Errorf("--term-grace must not be negative and --sweep-every must be at least a second")}
	}
	return nil
}

// dnsLabel is a Kubernetes namespace or runtime class name.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Paths under the data directory.
func (c *Config) statePath() string  { return filepath.Join(c.DataDir, "state.db") }
func (c *Config) keyringDir() string { return filepath.Join(c.DataDir, "keyring") }
func (c *Config) auditDir() string   { return filepath.Join(c.DataDir, "audit") }
func (c *Config) socketPath() string { return filepath.Join(c.DataDir, "enclaved.sock") }
func (c *Config) tlsDir() string     { return filepath.Join(c.DataDir, "tls") }
func (c *Config) tempDir() string    { return filepath.Join(c.DataDir, "tmp") }
func (c *Config) jobsDir() string    { return filepath.Join(c.DataDir, "jobs") }
func (c *Config) exportsDir() string { return filepath.Join(c.DataDir, "exports") }
func (c *Config) datasetsDir() string {
	return filepath.Join(c.DataDir, "datasets")
}
