// Package sandboxtest helps tests that need the real runtime: root,
// containerd and runc. Require skips visibly when they are missing locally
// and fails instead when CI=true, so CI always exercises the real runtime.
// Images builds the built-in image archives from images/.
package sandboxtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Missing returns why the real runtime cannot run here, or "".
func Missing() string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	for _, b := range []string{"containerd", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(b); err != nil {
			return b + " not installed"
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		return "no cgroup file system"
	}
	return ""
}

// InCI reports whether CI=true is set.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require skips t when the real runtime is missing, or fails it under CI.
func Require(t testing.TB) {
	t.Helper()
	if why := Missing(); why != "" {
		if InCI() {
			t.Fatalf("real runtime required in CI: %s", why)
		}
		t.Skipf("real runtime unavailable: %s (set CI=true to make this a failure)", why)
	}
}

// ModuleRoot returns the directory holding the enclave's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the enclave module")
	}
	return filepath.Dir(mod), nil
}

// Images builds toolbox.tar, groupcount.tar and probes.tar into dir with
// `go run ./images/build` and returns their paths by name.
func Images(dir string) (map[string]string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "run", "./images/build", "-out", dir)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build images: %v: %s", err, out)
	}
	m := map[string]string{}
	for _, n := range []string{"toolbox", "groupcount", "probes"} {
		m[n] = filepath.Join(dir, n+".tar")
	}
	return m, nil
}
