package hardening

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Check is one named rule a finished spec must satisfy.
type Check struct {
	Name string
	Fn   func(s *specs.Spec, p Params) error
}

// Checks are every rule Validate applies. Each one refuses a spec that
// lacks one of the protections Options adds.
var Checks = []Check{
	{"network", checkNetwork},
	{"namespaces", checkNamespaces},
	{"user-namespace", checkUserNamespace},
	{"capabilities", checkCapabilities},
	{"no-new-privileges", checkNoNewPrivileges},
	{"seccomp", checkSeccomp},
	{"readonly-root", checkReadonlyRoot},
	{"proc-paths", checkProcPaths},
	{"mounts", checkMounts},
	{"tmp", checkTmp},
	{"inputs", checkInputs},
	{"output", checkOutput},
	{"resources", checkResources},
	{"devices", checkDevices},
	{"rlimits", checkRlimits},
	{"hostname", checkHostname},
	{"process", checkProcess},
}

// Validate applies every check to s and returns an
// errdefs.ErrInvalidArgument error naming each failed check, or nil.
func Validate(s *specs.Spec, p Params) error {
	if s == nil || s.Linux == nil || s.Process == nil || s.Root == nil {
		return fmt.Errorf("spec incomplete: %w", errdefs.ErrInvalidArgument)
	}
	var errs []error
	for _, c := range Checks {
		if err := c.Fn(s, p); err != nil {
			errs = append(errs, fmt.Errorf("check %q: %w", c.Name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("hardened spec refused: %w: %w", errors.Join(errs...), errdefs.ErrInvalidArgument)
	}
	return nil
}

func namespace(s *specs.Spec, t specs.LinuxNamespaceType) (specs.LinuxNamespace, int) {
	var found specs.LinuxNamespace
	n := 0
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			found = ns
			n++
		}
	}
	return found, n
}

func checkNetwork(s *specs.Spec, _ Params) error {
	ns, n := namespace(s, specs.NetworkNamespace)
	switch {
	case n != 1:
		return errors.New("no new network namespace")
	case ns.Path != "":
		return errors.New("joins an existing network namespace")
	case s.Hooks != nil && (len(s.Hooks.Prestart)+len(s.Hooks.CreateRuntime)+len(s.Hooks.CreateContainer)+
		len(s.Hooks.StartContainer)+len(s.Hooks.Poststart)+len(s.Hooks.Poststop)) > 0:
		return errors.New("hooks present")
	}
	for k := range s.Linux.Sysctl {
		if strings.HasPrefix(k, "net.") {
			return errors.New("net sysctl present")
		}
	}
	return nil
}

func checkNamespaces(s *specs.Spec, _ Params) error {
	for _, t := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace} {
		ns, n := namespace(s, t)
		if n != 1 || ns.Path != "" {
			return fmt.Errorf("no new %s namespace", t)
		}
	}
	return nil
}

func checkUserNamespace(s *specs.Spec, p Params) error {
	ns, n := namespace(s, specs.UserNamespace)
	if n != 1 || ns.Path != "" {
		return errors.New("no new user namespace")
	}
	for _, m := range [][]specs.LinuxIDMapping{s.Linux.UIDMappings, s.Linux.GIDMappings} {
		if len(m) != 1 || m[0].ContainerID != 0 || m[0].HostID < MinHostID || m[0].Size == 0 || m[0].Size > 1<<24 {
			return errors.New("id mapping not a single unprivileged range")
		}
	}
	if s.Linux.UIDMappings[0].HostID != p.HostUID || s.Linux.GIDMappings[0].HostID != p.HostGID {
		return errors.New("id mapping differs from the job's range")
	}
	return nil
}

func checkCapabilities(s *specs.Spec, _ Params) error {
	c := s.Process.Capabilities
	if c == nil {
		return errors.New("capabilities unset (would inherit)")
	}
	if len(c.Bounding)+len(c.Effective)+len(c.Inheritable)+len(c.Permitted)+len(c.Ambient) > 0 {
		return errors.New("capability sets not empty")
	}
	return nil
}

func checkNoNewPrivileges(s *specs.Spec, _ Params) error {
	if !s.Process.NoNewPrivileges {
		return errors.New("no_new_privileges unset")
	}
	return nil
}

func checkSeccomp(s *specs.Spec, _ Params) error {
	sc := s.Linux.Seccomp
	if sc == nil {
		return errors.New("no seccomp profile")
	}
	switch sc.DefaultAction {
	case specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap:
	default:
		return fmt.Errorf("default action %q allows", sc.DefaultAction)
	}
	if len(sc.Architectures) == 0 {
		return errors.New("no architectures")
	}
	for _, r := range sc.Syscalls {
		if r.Action != specs.ActAllow && r.Action != specs.ActLog && r.Action != specs.ActTrace && r.Action != specs.ActNotify {
			continue
		}
		for _, n := range r.Names {
			if slices.Contains(DeniedSyscalls, n) {
				return fmt.Errorf("denied syscall %q allowed", n)
			}
			if n == "socket" {
				if len(r.Args) != 1 || r.Args[0].Index != 0 || r.Args[0].Op != specs.OpEqualTo ||
					!slices.Contains(AllowedSocketFamilies, r.Args[0].Value) {
					return errors.New("socket allowed beyond the allowed families")
				}
			}
		}
	}
	return nil
}

func checkReadonlyRoot(s *specs.Spec, _ Params) error {
	if !s.Root.Readonly {
		return errors.New("root file system writable")
	}
	return nil
}

func checkProcPaths(s *specs.Spec, _ Params) error {
	for _, p := range DefaultMaskedPaths {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			return fmt.Errorf("path %q not masked", p)
		}
	}
	for _, p := range DefaultReadonlyPaths {
		if !slices.Contains(s.Linux.ReadonlyPaths, p) {
			return fmt.Errorf("path %q not read-only", p)
		}
	}
	return nil
}

func hasOpts(m specs.Mount, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(m.Options, w) {
			return false
		}
	}
	return true
}

func isBind(m specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

func sizeOpt(m specs.Mount) int64 {
	for _, o := range m.Options {
		if v, ok := strings.CutPrefix(o, "size="); ok {
			v = strings.TrimSuffix(v, "k")
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil && strings.HasSuffix(o, "k") {
				n *= 1024
			}
			if err == nil {
				return n
			}
		}
	}
	return -1
}

var systemTypes = map[string]string{
	"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
	"/dev/mqueue": "mqueue", "/sys": "sysfs", "/tmp": "tmpfs",
}

// checkMounts refuses any mount that is not a known system mount, /tmp, an
// input or the output, and any writable tmpfs without a size and nosuid.
func checkMounts(s *specs.Spec, p Params) error {
	seen := map[string]bool{}
	for _, m := range s.Mounts {
		if seen[m.Destination] {
			return fmt.Errorf("mount %q given twice", m.Destination)
		}
		seen[m.Destination] = true
		if isBind(m) {
			if m.Destination != "/out" && !strings.HasPrefix(m.Destination, "/in/") {
				return fmt.Errorf("host bind mount at %q", m.Destination)
			}
			continue
		}
		t, ok := systemTypes[m.Destination]
		if !ok || t != m.Type {
			return fmt.Errorf("unexpected mount at %q", m.Destination)
		}
		if !hasOpts(m, "nosuid") {
			return fmt.Errorf("mount %q lacks nosuid", m.Destination)
		}
		if m.Type == "tmpfs" && (sizeOpt(m) <= 0 || !hasOpts(m, "noexec")) {
			return fmt.Errorf("tmpfs %q lacks a size or noexec", m.Destination)
		}
		if m.Type == "sysfs" && !hasOpts(m, "ro") {
			return errors.New("sysfs writable")
		}
	}
	for d := range systemTypes {
		if !seen[d] {
			return fmt.Errorf("system mount %q missing", d)
		}
	}
	return nil
}

func checkTmp(s *specs.Spec, p Params) error {
	for _, m := range s.Mounts {
		if m.Destination == "/tmp" {
			if m.Type != "tmpfs" || !hasOpts(m, "noexec", "nosuid", "nodev") || sizeOpt(m) != p.Limits.TmpBytes {
				return errors.New("/tmp not a capped tmpfs with noexec, nosuid, nodev")
			}
			return nil
		}
	}
	return errors.New("/tmp not mounted")
}

func checkInputs(s *specs.Spec, p Params) error {
	n := 0
	for _, m := range s.Mounts {
		if !strings.HasPrefix(m.Destination, "/in/") {
			continue
		}
		n++
		if !isBind(m) || !hasOpts(m, "ro", "nosuid", "nodev", "noexec") || slices.Contains(m.Options, "rw") {
			return fmt.Errorf("input %q not read-only with nosuid, nodev, noexec", m.Destination)
		}
		if !slices.Contains(p.Inputs, Bind{HostDir: m.Source, Target: m.Destination}) {
			return fmt.Errorf("input %q not granted", m.Destination)
		}
	}
	if n != len(p.Inputs) {
		return errors.New("inputs missing")
	}
	return nil
}

func checkOutput(s *specs.Spec, p Params) error {
	for _, m := range s.Mounts {
		if m.Destination == "/out" {
			if !isBind(m) || m.Source != p.OutDir || !hasOpts(m, "nosuid", "nodev", "noexec") {
				return errors.New("/out not the job's capped directory with nosuid, nodev, noexec")
			}
			return nil
		}
	}
	return errors.New("/out not mounted")
}

func checkResources(s *specs.Spec, p Params) error {
	r := s.Linux.Resources
	if r == nil || r.Memory == nil || r.Memory.Limit == nil || r.Memory.Swap == nil || r.Pids == nil || r.CPU == nil ||
		r.CPU.Quota == nil || r.CPU.Period == nil {
		return errors.New("resource limits missing")
	}
	switch {
	case *r.Memory.Limit <= 0 || *r.Memory.Limit != p.Limits.MemoryBytes:
		return errors.New("memory limit differs")
	case *r.Memory.Swap != *r.Memory.Limit:
		return errors.New("swap differs from memory")
	case r.Pids.Limit <= 0 || r.Pids.Limit != p.Limits.Pids:
		return errors.New("pids limit differs")
	case *r.CPU.Quota <= 0 || *r.CPU.Period == 0 || *r.CPU.Quota != int64(p.Limits.CPUs*float64(*r.CPU.Period)):
		return errors.New("cpu quota differs")
	}
	return nil
}

func checkDevices(s *specs.Spec, _ Params) error {
	r := s.Linux.Resources
	if r == nil || len(r.Devices) != 1 || r.Devices[0].Allow || r.Devices[0].Access != "rwm" ||
		r.Devices[0].Type != "" && r.Devices[0].Type != "a" {
		return errors.New("devices not deny-all")
	}
	if len(s.Linux.Devices) > 0 {
		return errors.New("device nodes added")
	}
	return nil
}

func checkRlimits(s *specs.Spec, p Params) error {
	want := map[string]uint64{
		"RLIMIT_NOFILE": p.Limits.NoFile,
		"RLIMIT_FSIZE":  uint64(p.Limits.FileSizeBytes),
		"RLIMIT_CORE":   0,
	}
	got := map[string]bool{}
	for _, r := range s.Process.Rlimits {
		w, ok := want[r.Type]
		if ok && (r.Hard != w || r.Soft > r.Hard) {
			return fmt.Errorf("rlimit %q differs", r.Type)
		}
		got[r.Type] = true
	}
	for k := range want {
		if !got[k] {
			return fmt.Errorf("rlimit %q missing", k)
		}
	}
	return nil
}

func checkHostname(s *specs.Spec, _ Params) error {
	if s.Hostname != Hostname {
		return errors.New("hostname not fixed")
	}
	return nil
}

func checkProcess(s *specs.Spec, p Params) error {
	pr := s.Process
	switch {
	case len(pr.Env) != 1 || pr.Env[0] != Path:
		return errors.New("environment not PATH only")
	case pr.Terminal:
		return errors.New("terminal requested")
	case !slices.Equal(pr.Args, p.Args) || len(pr.Args) == 0:
		return errors.New("arguments differ")
	case pr.User.UID != 0 || pr.User.GID != 0 || len(pr.User.AdditionalGids) > 0:
		return errors.New("user not the namespace root")
	}
	return nil
}
