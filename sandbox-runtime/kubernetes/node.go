package kubernetes

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// What the runtime does on its node, beside the kubelet: read a pod's
// cgroup (cgroupfs driver, cgroup v1; pods of the Guaranteed class, as
// every job pod is, sit at kubepods/pod<UID>) and stop a job container
// through its cgroup.

const cgroupFS = "/sys/fs/cgroup"

// podCgroup is the path of a pod's cgroup below a controller's mount,
// by its QoS class (the pod as created has none yet: it is computed from
// its resources as the kubelet does).
func (r *Runtime) podCgroup(pod *corev1.Pod) string {
	base := path.Join(r.node.CgroupRoot, "kubepods")
	switch qos(pod) {
	case corev1.PodQOSBurstable:
		base = path.Join(base, "burstable")
	case corev1.PodQOSBestEffort:
		base = path.Join(base, "besteffort")
	}
	return path.Join(base, "pod"+string(pod.UID))
}

// qos is the QoS class of a pod: Guaranteed when every container's
// requests equal its limits for CPU and memory, Burstable when any is set.
func qos(pod *corev1.Pod) corev1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	guaranteed, any := true, false
	for _, c := range pod.Spec.Containers {
		for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			l, lok := c.Resources.Limits[n]
			q, qok := c.Resources.Requests[n]
			if !qok {
				q, qok = l, lok // requests default to limits
			}
			any = any || lok || qok
			if !lok || !qok || l.Cmp(q) != 0 {
				guaranteed = false
			}
		}
	}
	switch {
	case guaranteed:
		return corev1.PodQOSGuaranteed
	case any:
		return corev1.PodQOSBurstable
	}
	return corev1.PodQOSBestEffort
}

func readUint(p string) (uint64, bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// meter reads the pod's use from its cgroup, whose figures count every
// container it ran (the job's, ended or not, and the holder's few pages).
func (r *Runtime) meter(cg string) sandbox.Usage {
	var u sandbox.Usage
	u.CPUNanos, _ = readUint(filepath.Join(cgroupFS, "cpuacct", cg, "cpuacct.usage"))
	u.PeakMemoryBytes, _ = readUint(filepath.Join(cgroupFS, "memory", cg, "memory.max_usage_in_bytes"))
	for _, name := range []string{"blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes"} {
		f, err := os.Open(filepath.Join(cgroupFS, "blkio", cg, name))
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			fs := strings.Fields(s.Text())
			if len(fs) != 3 {
				continue
			}
			v, err := strconv.ParseUint(fs[2], 10, 64)
			if err != nil {
				continue
			}
			switch fs[1] {
			case "Read":
				u.IOReadBytes += v
			case "Write":
				u.IOWriteBytes += v
			}
		}
		f.Close()
		break
	}
	return u
}

// oomKilled reports whether a job container that ended with code was
// killed by its memory limit of limit bytes, judged from the cgroups as
// the containerd backend judges it: a death by SIGKILL with the kernel's
// oom_kill count set in the container's cgroup (while it is still there)
// or the pod's, or with the pod's peak at the limit. The kubelet's
// OOMKilled comes from containerd's OOM events, which can miss the kill
// (a job killed by its limit was seen ending "Error", 137).
func (r *Runtime) oomKilled(podCG, containerID string, limit int64, code int) bool {
	if code != 128+int(syscall.SIGKILL) {
		return false
	}
	if i := strings.Index(containerID, "://"); i >= 0 {
		containerID = containerID[i+3:]
	}
	cgs := []string{podCG}
	if containerID != "" && !strings.ContainsAny(containerID, "/.") {
		cgs = append(cgs, path.Join(podCG, containerID))
	}
	for _, cg := range cgs {
		if oomKills(filepath.Join(cgroupFS, "memory", cg, "memory.oom_control")) > 0 {
			return true
		}
	}
	peak, ok := readUint(filepath.Join(cgroupFS, "memory", podCG, "memory.max_usage_in_bytes"))
	return ok && limit > 0 && peak+(1<<20) >= uint64(limit)
}

// oomKills is the oom_kill count of a cgroup v1 memory.oom_control file,
// 0 when it cannot be read.
func oomKills(file string) uint64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// kill stops the job container through its cgroup: frozen, every process
// killed, thawed, until it has none. The holder, and with it /out, stays.
func (r *Runtime) kill(ctx interface{ Done() <-chan struct{} }, podCG string, st *jobState) {
	id := st.containerID
	if i := strings.Index(id, "://"); i >= 0 {
		id = id[i+3:]
	}
	if id == "" || strings.ContainsAny(id, "/.") {
		return
	}
	cg := path.Join(podCG, id)
	freezer := filepath.Join(cgroupFS, "freezer", cg, "freezer.state")
	procs := filepath.Join(cgroupFS, "pids", cg, "cgroup.procs")
	for i := 0; i < 50; i++ {
		_ = os.WriteFile(freezer, []byte("FROZEN"), 0o644)
		b, err := os.ReadFile(procs)
		pids := strings.Fields(string(b))
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = os.WriteFile(freezer, []byte("THAWED"), 0o644)
		if err != nil || len(pids) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	r.log.Warn("job container still has processes after kill", "cgroup", cg)
}
