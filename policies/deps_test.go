package policy

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: policies and its implementations never import the
// domain or the other two boundary packages (DESIGN.md section 3).
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "./...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	const mod = "github.com/enclave-dev/enclave/"
	if !strings.Contains(string(out), mod+"policies/opa\n") {
		t.Fatalf("got go list output without %q", mod+"policies/opa")
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"enclave", "sandbox-runtime", "egress-review", "cmd"} {
			if dep == mod+bad || strings.HasPrefix(dep, mod+bad+"/") {
				t.Errorf("got dependency %q, want none on %q", dep, mod+bad)
			}
		}
	}
}
