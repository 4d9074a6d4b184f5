package sandbox

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps sandbox-runtime below the domain: it never
// imports enclave/, policies/ or egress-review/.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "./...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		for _, bad := range []string{"/enclave/enclave", "/enclave/policies", "/enclave/egress-review"} {
			if strings.HasPrefix(p, "github.com/enclave-dev"+bad) {
				t.Errorf("sandbox-runtime depends on %q, want no such edge", p)
			}
		}
	}
}
