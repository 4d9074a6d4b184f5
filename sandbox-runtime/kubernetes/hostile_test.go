package kubernetes

import (
	"path/filepath"
	"testing"

	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// kubernetesGaps are what the hostile suite's probes get through on this
// backend and not on the containerd one, with the reason (README.md's
// table of protections says the same).
var kubernetesGaps = map[string]string{
	"uid_map-unprivileged":      "no user namespace: hostUsers: false needs containerd 2; the job runs as uid 100000000 of the host",
	"gid_map-unprivileged":      "no user namespace: the job's gid is 100000000 of the host",
	"env-path-only":             "the kubelet adds HOSTNAME and the apiserver's KUBERNETES_SERVICE_* address (unreachable: no route)",
	"rlimit-core-zero":          "no per-job rlimits on Kubernetes: the container runtime's defaults apply",
	"cgroupfs-hidden":           "the CRI mounts the container's cgroup file system read-only at /sys/fs/cgroup",
	"exec-from-/tmp":            "emptyDir volumes are mounted without noexec",
	"exec-from-/out":            "emptyDir volumes are mounted without noexec",
	"mountinfo-own-mounts-only": "the kubelet binds /etc/hosts, /etc/hostname, /etc/resolv.conf and /dev/termination-log from its pod directory",
}

func TestHostileJobs(t *testing.T) {
	rt := setup(t)
	sandboxtest.RunHostile(t, sandboxtest.Hostile{
		Runtime: rt, NewSpec: newSpec, Base: env.base,
		HostFiles: []string{filepath.Join(env.cluster.Dir, "pki", "ca.crt"), filepath.Join(env.cluster.Dir, "admin.conf")},
		Gaps:      kubernetesGaps,
	})
}
