// Package hardening builds the OCI runtime spec of a job container from
// small spec options (containerd's oci.SpecOpts), one per protection, and
// checks a finished spec with a validator made of small check functions, in
// the manner of runc's libcontainer/configs/validate. The containerd
// runtime applies Options and then refuses to create any container whose
// spec fails Validate, so no code path can start a weaker container.
package hardening

import (
	"context"
	"path"
	"slices"
	"strconv"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/contrib/seccomp"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// Hostname is the fixed host name of every job.
const Hostname = "job"

// Path is the only environment variable a job gets.
const Path = "PATH=/usr/local/bin:/usr/bin:/bin"

// MinHostID is the lowest host uid/gid a job's user namespace may map to.
const MinHostID = 65536

// Bind is one input directory on the host and where it appears in the job.
type Bind struct {
	HostDir string // absolute host path
	Target  string // absolute path in the container, below /in
}

// Params are the per-job values the hardening options need.
type Params struct {
	Limits  sandbox.Limits
	HostUID uint32 // first host uid of the job's user namespace (job root)
	HostGID uint32 // first host gid
	IDSize  uint32 // size of the mapped range
	Inputs  []Bind
	OutDir  string // host directory (a capped tmpfs) that becomes /out
	Args    []string
}

// Options returns every hardening option for one job. Their order does not
// matter; each one sets its own part of the spec completely.
func Options(p Params) []oci.SpecOpts {
	return []oci.SpecOpts{
		WithNamespaces(),
		WithLoopbackOnlyNetwork(),
		WithUserNamespace(p.HostUID, p.HostGID, p.IDSize),
		WithNoCapabilities(),
		oci.WithNoNewPrivileges,
		WithSeccomp(),
		oci.WithRootFSReadonly(),
		WithProcPaths(),
		WithSystemMounts(),
		WithTmp(p.Limits.TmpBytes),
		WithInputs(p.Inputs),
		WithOutput(p.OutDir),
		WithResources(p.Limits),
		WithDevicesDenyAll(),
		WithRlimits(p.Limits),
		oci.WithHostname(Hostname),
		WithCleanProcess(p.Args),
	}
}

func linux(s *specs.Spec) *specs.Linux {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	return s.Linux
}

func process(s *specs.Spec) *specs.Process {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	return s.Process
}

func setNamespace(s *specs.Spec, t specs.LinuxNamespaceType) {
	l := linux(s)
	l.Namespaces = slices.DeleteFunc(l.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == t })
	l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: t})
}

// WithNamespaces gives the job new pid, ipc, uts and mount namespaces.
func WithNamespaces() oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		for _, t := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace} {
			setNamespace(s, t)
		}
		return nil
	}
}

// WithLoopbackOnlyNetwork gives the job a new, empty network namespace
// (runc creates it; its only interface is lo) and removes anything that
// could attach a network to it: hooks and net sysctls.
func WithLoopbackOnlyNetwork() oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		setNamespace(s, specs.NetworkNamespace)
		s.Hooks = nil
		for k := range linux(s).Sysctl {
			delete(s.Linux.Sysctl, k)
		}
		return nil
	}
}

// WithUserNamespace maps the job's uids and gids 0..size-1 to the host
// range starting at uid and gid, in a new user namespace.
func WithUserNamespace(uid, gid, size uint32) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		setNamespace(s, specs.UserNamespace)
		l := linux(s)
		l.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: size}}
		l.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: size}}
		return nil
	}
}

// WithNoCapabilities empties every capability set.
func WithNoCapabilities() oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		process(s).Capabilities = &specs.LinuxCapabilities{
			Bounding: []string{}, Effective: []string{}, Inheritable: []string{},
			Permitted: []string{}, Ambient: []string{},
		}
		return nil
	}
}

// DeniedSyscalls are never allowed to a job, whatever the default profile
// says.
var DeniedSyscalls = []string{
	"ptrace", "process_vm_readv", "process_vm_writev",
	"keyctl", "add_key", "request_key",
	"bpf", "userfaultfd", "perf_event_open",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"mount", "umount", "umount2", "unshare", "setns", "pivot_root",
	"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
	"open_by_handle_at", "name_to_handle_at", "mknod", "mknodat",
}

// AllowedSocketFamilies are the only address families socket(2) accepts:
// no packet, raw-link, vsock, alg or key sockets.
var AllowedSocketFamilies = []uint64{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK}

// WithSeccomp installs containerd's default seccomp profile for a process
// without capabilities, minus DeniedSyscalls, with socket(2) limited to
// AllowedSocketFamilies.
func WithSeccomp() oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		// The profile is always computed for a process without capabilities,
		// so that no capability-gated syscall is ever allowed.
		prof := seccomp.DefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}})
		var out []specs.LinuxSyscall
		for _, r := range prof.Syscalls {
			if r.Action == specs.ActAllow {
				r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool {
					return n == "socket" || slices.Contains(DeniedSyscalls, n)
				})
				if len(r.Names) == 0 {
					continue
				}
			}
			out = append(out, r)
		}
		for _, fam := range AllowedSocketFamilies {
			out = append(out, specs.LinuxSyscall{
				Names:  []string{"socket"},
				Action: specs.ActAllow,
				Args:   []specs.LinuxSeccompArg{{Index: 0, Value: fam, Op: specs.OpEqualTo}},
			})
		}
		prof.Syscalls = out
		linux(s).Seccomp = prof
		return nil
	}
}

// DefaultMaskedPaths and DefaultReadonlyPaths are containerd's defaults.
var (
	DefaultMaskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
		"/sys/devices/virtual/powercap", "/proc/scsi",
	}
	DefaultReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// WithProcPaths sets containerd's masked and read-only /proc and /sys paths.
func WithProcPaths() oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		l := linux(s)
		for _, p := range DefaultMaskedPaths {
			if !slices.Contains(l.MaskedPaths, p) {
				l.MaskedPaths = append(l.MaskedPaths, p)
			}
		}
		for _, p := range DefaultReadonlyPaths {
			if !slices.Contains(l.ReadonlyPaths, p) {
				l.ReadonlyPaths = append(l.ReadonlyPaths, p)
			}
		}
		return nil
	}
}

// WithSystemMounts replaces the spec's mounts with the minimal system set:
// proc, a small /dev (nosuid, noexec), devpts, a small /dev/shm, mqueue and
// a read-only sysfs. There is no /run and no host path.
func WithSystemMounts() oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		s.Mounts = []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "noexec", "strictatime", "mode=755", "size=1024k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=1024k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		}
		return nil
	}
}

// WithTmp mounts /tmp as a tmpfs of the given size, noexec, nosuid, nodev.
func WithTmp(size int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: "/tmp", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(size, 10)},
		})
		return nil
	}
}

// WithInputs bind-mounts each input read-only with nosuid, nodev, noexec.
func WithInputs(in []Bind) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		for _, b := range in {
			s.Mounts = append(s.Mounts, specs.Mount{
				Destination: b.Target, Type: "bind", Source: b.HostDir,
				Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"},
			})
		}
		return nil
	}
}

// WithOutput bind-mounts the host directory dir (a tmpfs whose size is the
// hard cap) at /out, writable, nosuid, nodev, noexec.
func WithOutput(dir string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: "/out", Type: "bind", Source: dir,
			Options: []string{"rbind", "rw", "nosuid", "nodev", "noexec"},
		})
		return nil
	}
}

// CPUPeriod is the CFS period used for the CPU quota, in microseconds.
const CPUPeriod = 100000

func resources(s *specs.Spec) *specs.LinuxResources {
	l := linux(s)
	if l.Resources == nil {
		l.Resources = &specs.LinuxResources{}
	}
	return l.Resources
}

// WithResources sets the memory limit with swap equal to it, the pids
// limit and the CPU quota.
func WithResources(l sandbox.Limits) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		r := resources(s)
		mem, pids := l.MemoryBytes, l.Pids
		quota := int64(l.CPUs * CPUPeriod)
		period := uint64(CPUPeriod)
		r.Memory = &specs.LinuxMemory{Limit: &mem, Swap: &mem}
		r.Pids = &specs.LinuxPids{Limit: pids}
		r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
		return nil
	}
}

// WithDevicesDenyAll denies every device in the devices cgroup and adds no
// device nodes beyond runc's defaults (null, zero, full, random, urandom,
// tty).
func WithDevicesDenyAll() oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		resources(s).Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
		linux(s).Devices = nil
		return nil
	}
}

// WithRlimits sets RLIMIT_NOFILE, RLIMIT_FSIZE and RLIMIT_CORE=0.
func WithRlimits(l sandbox.Limits) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		fsize := uint64(l.FileSizeBytes)
		process(s).Rlimits = []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Hard: l.NoFile, Soft: l.NoFile},
			{Type: "RLIMIT_FSIZE", Hard: fsize, Soft: fsize},
			{Type: "RLIMIT_CORE", Hard: 0, Soft: 0},
		}
		return nil
	}
}

// WithCleanProcess sets the arguments, an environment of PATH only, the
// working directory /, and root of the user namespace as the user.
func WithCleanProcess(args []string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		p := process(s)
		p.Args = slices.Clone(args)
		p.Env = []string{Path}
		p.Cwd = "/"
		p.Terminal = false
		p.User = specs.User{UID: 0, GID: 0}
		p.ApparmorProfile = ""
		return nil
	}
}

// InputTarget returns where an input named name appears in a job.
func InputTarget(name string) string { return path.Join("/in", name) }
