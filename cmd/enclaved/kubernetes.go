package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"k8s.io/client-go/tools/clientcmd"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	k8s "github.com/enclave-dev/enclave/sandbox-runtime/kubernetes"
)

// Sandbox kinds of --sandbox.
const (
	sandboxContainerd = "containerd"
	sandboxKubernetes = "kubernetes"
)

// sandboxFlag is --sandbox: containerd (the default, a private containerd
// unless --containerd-address), kubernetes (pods of the cluster of
// --kubeconfig), or false (no jobs). It takes a value, so that
// "--sandbox kubernetes" reads as one flag.
type sandboxFlag struct{ cfg *Config }

func (f sandboxFlag) String() string {
	if f.cfg == nil {
		return sandboxContainerd
	}
	if !f.cfg.Sandbox {
		return "false"
	}
	return f.cfg.SandboxKind
}

func (f sandboxFlag) Set(v string) error {
	switch v {
	case "false", "none":
		f.cfg.Sandbox = false
	case "true", sandboxContainerd:
		f.cfg.Sandbox, f.cfg.SandboxKind = true, sandboxContainerd
	case sandboxKubernetes:
		f.cfg.Sandbox, f.cfg.SandboxKind = true, sandboxKubernetes
	default:
		return fmt.Errorf("%q is not containerd, kubernetes or false", v)
	}
	return nil
}

// kubernetesRuntime connects to the cluster of --kubeconfig and runs jobs
// as pods in --namespace on its one node (sandbox-runtime/kubernetes),
// reaching the node's containerd and cgroups as its kubelet's
// configuration file (--kubelet-config) says.
func kubernetesRuntime(ctx context.Context, cfg Config, log *slog.Logger) (sandbox.Runtime, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %q: %w", cfg.Kubeconfig, err)
	}
	kcPath := cfg.KubeletConfig
	if kcPath == "" {
		kcPath = k8s.DefaultKubeletConfig
	}
	kc, err := os.ReadFile(kcPath)
	if err != nil {
		return nil, fmt.Errorf("--kubelet-config: %w", err)
	}
	node, err := k8s.DiscoverNode(ctx, rc, "", kc)
	if err != nil {
		return nil, err
	}
	rt, err := k8s.New(ctx, rc, cfg.KubernetesNamespace, node, k8s.WithLogger(log.With("part", "sandbox")),
		k8s.WithRunAsUser(jobUID), k8s.WithRuntimeClass(cfg.KubernetesRuntimeClass))
	if err != nil {
		return nil, err
	}
	log.Info("sandbox on kubernetes", "node", node.Name, "namespace", cfg.KubernetesNamespace)
	return rt, nil
}
