package kubernetes

import (
	"path/filepath"
	"testing"

	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// kubernetesGaps are what the hostile suite's probes get through on this
// backend and not on the containerd one, with the reason (README.md's
// table of protections says the same). None: the enclave's OCI runtime
// (runcwrap) gives every job container the containerd backend's hardening.
var kubernetesGaps = map[string]string{}

func TestHostileJobs(t *testing.T) {
	rt := setup(t)
	sandboxtest.RunHostile(t, sandboxtest.Hostile{
		Runtime: rt, NewSpec: newSpec, Base: env.base,
		HostFiles: []string{filepath.Join(env.cluster.Dir, "pki", "ca.crt"), filepath.Join(env.cluster.Dir, "admin.conf")},
		Gaps:      kubernetesGaps,
	})
}
