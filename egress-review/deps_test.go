package review

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps egress-review a leaf of the architecture:
// it never imports enclave/, sandbox-runtime/, policies/ or cmd/.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	const mod = "github.com/enclave-dev/enclave/"
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, mod) {
			continue
		}
		if rest := strings.TrimPrefix(p, mod); !strings.HasPrefix(rest, "egress-review") {
			t.Errorf("egress-review depends on %s, want no package outside egress-review", p)
		}
	}
}
