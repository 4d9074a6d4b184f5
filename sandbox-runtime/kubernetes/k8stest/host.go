package k8stest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// kubeletSysctls are the kernel settings the kubelet sets at start
// (KUBERNETES.md, point 4).
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// hostPaths are the host directories the kubelet, containerd's CRI and CNI
// write to whatever they are told: each that the cluster created is removed.
var hostPaths = []string{
	"/var/lib/kubelet", "/var/log/pods", "/var/log/containers", "/var/lib/cni", "/run/netns",
	"/var/run/netns", "/etc/cni", "/opt/cni", "/usr/libexec/kubernetes", "/etc/kubernetes",
	"/var/run/kubernetes", "/run/kubernetes", "/var/lib/dockershim",
}

// hostState is what the host looked like before the cluster started. It
// is also written to StateFile, so that the next Start restores what a
// harness killed before its Stop left behind.
type hostState struct {
	Dir      string            // the cluster's directory
	Sysctls  map[string]string // before the kubelet set them
	Absent   []string          // host paths that did not exist
	Iptables map[string][]byte // table -> iptables-save output
	Cgroups  []string          // cgroup directories of the cluster
}

// StateFile records the host's state while a test cluster runs.
const StateFile = "/run/enclave-k8stest-host.json"

// recoverHost restores the host from the state file a killed harness
// left: its cluster's processes, mounts, directory, cgroups, sysctls.
func recoverHost() error {
	b, err := os.ReadFile(StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var h hostState
	if err := json.Unmarshal(b, &h); err != nil || h.Dir == "" || !strings.HasPrefix(h.Dir, "/") {
		return fmt.Errorf("state file %s unreadable: remove it after restoring the host by hand", StateFile)
	}
	killShims(filepath.Join(h.Dir, "containerd"))
	h.killCgroups()
	errs := []error{unmountUnder(h.Dir), h.restore()}
	if err := os.RemoveAll(h.Dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restore the host after a killed test cluster: %w", err)
	}
	return os.Remove(StateFile)
}

// save writes the state file.
func (h *hostState) save() error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return os.WriteFile(StateFile, b, 0o600)
}

func snapshotHost(dir string) (*hostState, error) {
	h := &hostState{Dir: dir, Sysctls: map[string]string{}, Iptables: map[string][]byte{}}
	for _, k := range kubeletSysctls {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			continue // not on this kernel
		}
		h.Sysctls[k] = strings.TrimSpace(string(b))
	}
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			h.Absent = append(h.Absent, p)
		}
	}
	if bin, err := exec.LookPath("iptables-save"); err == nil {
		for _, t := range []string{"filter", "nat", "mangle"} {
			out, err := exec.Command(bin, "-t", t).Output()
			if err == nil {
				h.Iptables[t] = stripComments(out)
			}
		}
	}
	return h, nil
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(l, []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// makeCgroups creates the cgroup parent name in every cgroup v1 hierarchy
// (the kubelet's cgroupRoot must exist) and remembers them for restore.
func (h *hostState) makeCgroups(name string) error {
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return fmt.Errorf("cgroup file system: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join("/sys/fs/cgroup", e.Name(), name)
		if e.Name() == "unified" {
			// The CRI makes it there; removed with the others.
			h.Cgroups = append(h.Cgroups, d)
			continue
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			if errors.Is(err, os.ErrExist) {
				continue
			}
			return fmt.Errorf("create cgroup %s: %w", d, err)
		}
		h.Cgroups = append(h.Cgroups, d)
		if e.Name() == "cpuset" {
			// A cpuset cgroup runs nothing until it has cpus and mems.
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpuset", f)); err == nil {
					_ = os.WriteFile(filepath.Join(d, f), b, 0o644)
				}
			}
		}
	}
	return nil
}

// killCgroups kills every process left in the harness's cgroups.
func (h *hostState) killCgroups() {
	for _, root := range h.Cgroups {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
}

// restore puts back what the cluster changed: sysctls, iptables, the
// host directories it created (unmounting what is mounted below them) and
// the cgroups. It returns every failure.
func (h *hostState) restore() error {
	var errs []error
	for k, v := range h.Sysctls {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err == nil && strings.TrimSpace(string(b)) == v {
			continue
		}
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore sysctl %s: %w", k, err))
		}
	}
	if bin, err := exec.LookPath("iptables-save"); err == nil {
		for t, before := range h.Iptables {
			now, err := exec.Command(bin, "-t", t).Output()
			if err != nil || bytes.Equal(stripComments(now), before) {
				continue
			}
			cmd := exec.Command("iptables-restore", "-T", t)
			cmd.Stdin = bytes.NewReader(before)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("restore iptables table %s: %v: %s", t, err, out))
			}
		}
	}
	for _, p := range h.Absent {
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		errs = append(errs, unmountUnder(p))
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	h.killCgroups()
	for _, root := range h.Cgroups {
		errs = append(errs, removeCgroup(root))
	}
	return errors.Join(errs...)
}

// removeCgroup removes a cgroup directory and its children, deepest first,
// retrying while killed processes leave them.
func removeCgroup(root string) error {
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var dirs []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var last error
	for _, d := range dirs {
		for i := 0; i < 50; i++ {
			if last = unix.Rmdir(d); last == nil || errors.Is(last, unix.ENOENT) {
				last = nil
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if last != nil {
			return fmt.Errorf("remove cgroup %s: %w", d, last)
		}
	}
	return nil
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescape(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			mps = append(mps, mp)
		}
	}
	sort.SliceStable(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	return mps
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder detaches every mount at or below dir.
func unmountUnder(dir string) error {
	var errs []error
	for i := 0; i < 5; i++ {
		mps := mountsUnder(dir)
		if len(mps) == 0 {
			return nil
		}
		errs = errs[:0]
		for _, mp := range mps {
			if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
			}
		}
	}
	if mps := mountsUnder(dir); len(mps) > 0 {
		errs = append(errs, fmt.Errorf("mounts left below %s: %d", dir, len(mps)))
	}
	return errors.Join(errs...)
}
