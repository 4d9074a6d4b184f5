package main

import (
	"testing"
)

func TestSandboxFlag(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args     []string
		wantKind string
		wantRun  bool
		wantErr  bool
	}{
		{nil, sandboxContainerd, true, false},
		{[]string{"--sandbox=false"}, sandboxContainerd, false, false},
		{[]string{"--sandbox", "kubernetes", "--kubeconfig", "/k.conf"}, sandboxKubernetes, true, false},
		{[]string{"--sandbox", "kubernetes"}, "", false, true},
		{[]string{"--kubeconfig", "/k.conf"}, "", false, true},
		{[]string{"--sandbox", "nomad"}, "", false, true},
		{[]string{"--sandbox", "kubernetes", "--kubeconfig", "/k.conf", "--kubelet-config", "/k.yaml"}, sandboxKubernetes, true, false},
		{[]string{"--kubelet-config", "/k.yaml"}, "", false, true},
		{[]string{"--sandbox", "kubernetes", "--kubeconfig", "/k.conf", "--namespace", "Bad_NS"}, "", false, true},
	} {
		cfg, err := runConfig(append([]string{"--data-dir", dir}, tc.args...))
		if tc.wantErr {
			if err == nil {
				t.Errorf("%v: got no error, want a usage error", tc.args)
			}
			continue
		}
		if err != nil || cfg.Sandbox != tc.wantRun || cfg.Sandbox && cfg.SandboxKind != tc.wantKind {
			t.Errorf("%v: got sandbox %v kind %q (%v), want %v %q", tc.args, cfg.Sandbox, cfg.SandboxKind, err, tc.wantRun, tc.wantKind)
		}
	}
}
