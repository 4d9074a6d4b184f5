package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// inputDir makes a host directory holding a small data.arrow-named file, as
// the daemon would for a granted dataset version.
func inputDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(env.base, "inputs", strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.arrow"), []byte("not really arrow"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHostileJobs runs the hostile-job suite that every backend runs
// (sandboxtest.RunHostile): on containerd every probe is contained.
func TestHostileJobs(t *testing.T) {
	rt := setup(t)
	sandboxtest.RunHostile(t, sandboxtest.Hostile{
		Runtime: rt, NewSpec: newSpec, Base: env.base,
		HostFiles: []string{filepath.Join(env.base, "ctrd", "config.toml")},
	})
}
