package hardening

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

func testParams() Params {
	return Params{
		Limits:  sandbox.DefaultLimits(),
		HostUID: 100000000, HostGID: 100000000, IDSize: 65536,
		Inputs: []Bind{{HostDir: "/data/jobs/j1/in/credit", Target: "/in/credit"}},
		OutDir: "/data/jobs/j1/out",
		Args:   []string{"groupcount", "-in", "/in/credit/data.arrow"},
	}
}

// build applies opts on top of containerd's default spec, as the runtime does.
func build(t *testing.T, p Params, opts ...oci.SpecOpts) *specs.Spec {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), "test")
	c := &containers.Container{ID: "j1"}
	s, err := oci.GenerateSpec(ctx, nil, c, opts...)
	if err != nil {
		t.Fatalf("GenerateSpec: %v", err)
	}
	return s
}

// bare applies opts to an empty spec, so that nothing comes from defaults.
func bare(t *testing.T, opts ...oci.SpecOpts) *specs.Spec {
	t.Helper()
	s := &specs.Spec{Root: &specs.Root{Path: "rootfs"}, Process: &specs.Process{}, Linux: &specs.Linux{}}
	for _, o := range opts {
		if err := o(context.Background(), nil, &containers.Container{ID: "j1"}, s); err != nil {
			t.Fatalf("option: %v", err)
		}
	}
	return s
}

func TestOptionsPassValidate(t *testing.T) {
	p := testParams()
	for _, tc := range []struct {
		name string
		s    *specs.Spec
	}{
		{"on containerd's default spec", build(t, p, Options(p)...)},
		{"on an empty spec", bare(t, Options(p)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Validate(tc.s, p); err != nil {
				t.Fatalf("Validate: got %v, want nil", err)
			}
		})
	}
}

// TestEveryOptionIsRequired leaves out each option in turn: the validator
// must refuse every resulting spec, so no code path that forgets an option
// can start a container.
func TestEveryOptionIsRequired(t *testing.T) {
	p := testParams()
	opts := Options(p)
	for i := range opts {
		t.Run("without option "+string(rune('a'+i)), func(t *testing.T) {
			rest := slices.Concat(opts[:i:i], opts[i+1:])
			err := Validate(bare(t, rest...), p)
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("Validate: got %v, want an invalid-argument error", err)
			}
		})
	}
}

func TestValidateRefusesWeakenedSpecs(t *testing.T) {
	p := testParams()
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		check  string
	}{
		{"host network namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
		}, "network"},
		{"joined network namespace", func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = "/var/run/netns/cni-1"
				}
			}
		}, "network"},
		{"CNI-style hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/opt/cni/bin/bridge"}}}
		}, "network"},
		{"net sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"} }, "network"},
		{"host pid namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.PIDNamespace })
		}, "namespaces"},
		{"root mapped to host root", func(s *specs.Spec) { s.Linux.UIDMappings[0].HostID = 0 }, "user-namespace"},
		{"no user namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
		}, "user-namespace"},
		{"a capability", func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_SYS_ADMIN"} }, "capabilities"},
		{"nil capabilities", func(s *specs.Spec) { s.Process.Capabilities = nil }, "capabilities"},
		{"new privileges", func(s *specs.Spec) { s.Process.NoNewPrivileges = false }, "no-new-privileges"},
		{"no seccomp", func(s *specs.Spec) { s.Linux.Seccomp = nil }, "seccomp"},
		{"seccomp allows by default", func(s *specs.Spec) { s.Linux.Seccomp.DefaultAction = specs.ActAllow }, "seccomp"},
		{"ptrace allowed", func(s *specs.Spec) {
			s.Linux.Seccomp.Syscalls = append(s.Linux.Seccomp.Syscalls, specs.LinuxSyscall{Names: []string{"ptrace"}, Action: specs.ActAllow})
		}, "seccomp"},
		{"packet sockets allowed", func(s *specs.Spec) {
			s.Linux.Seccomp.Syscalls = append(s.Linux.Seccomp.Syscalls, specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActAllow})
		}, "seccomp"},
		{"writable root", func(s *specs.Spec) { s.Root.Readonly = false }, "readonly-root"},
		{"kcore unmasked", func(s *specs.Spec) {
			s.Linux.MaskedPaths = slices.DeleteFunc(s.Linux.MaskedPaths, func(p string) bool { return p == "/proc/kcore" })
		}, "proc-paths"},
		{"host bind mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/host", Type: "bind", Source: "/", Options: []string{"rbind", "ro"}})
		}, "mounts"},
		{"containerd socket", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/run/containerd", Source: "/run/containerd", Options: []string{"bind"}})
		}, "mounts"},
		{"writable sysfs", func(s *specs.Spec) {
			for i := range s.Mounts {
				if s.Mounts[i].Destination == "/sys" {
					s.Mounts[i].Options = []string{"nosuid"}
				}
			}
		}, "mounts"},
		{"exec tmp", func(s *specs.Spec) {
			for i := range s.Mounts {
				if s.Mounts[i].Destination == "/tmp" {
					s.Mounts[i].Options = slices.DeleteFunc(s.Mounts[i].Options, func(o string) bool { return o == "noexec" })
				}
			}
		}, "tmp"},
		{"writable input", func(s *specs.Spec) {
			for i := range s.Mounts {
				if s.Mounts[i].Destination == "/in/credit" {
					s.Mounts[i].Options = []string{"rbind", "rw"}
				}
			}
		}, "inputs"},
		{"ungranted input", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/in/other", Type: "bind", Source: "/data/other",
				Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
		}, "inputs"},
		{"output elsewhere", func(s *specs.Spec) {
			for i := range s.Mounts {
				if s.Mounts[i].Destination == "/out" {
					s.Mounts[i].Source = "/"
				}
			}
		}, "output"},
		{"swap beyond memory", func(s *specs.Spec) { v := int64(1 << 40); s.Linux.Resources.Memory.Swap = &v }, "resources"},
		{"no pids limit", func(s *specs.Spec) { s.Linux.Resources.Pids = nil }, "resources"},
		{"a device allowed", func(s *specs.Spec) {
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"})
		}, "devices"},
		{"core dumps", func(s *specs.Spec) {
			for i := range s.Process.Rlimits {
				if s.Process.Rlimits[i].Type == "RLIMIT_CORE" {
					s.Process.Rlimits[i].Hard = 1 << 30
				}
			}
		}, "rlimits"},
		{"host's hostname", func(s *specs.Spec) { s.Hostname = "enclave-host" }, "hostname"},
		{"daemon environment", func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "VAULT_TOKEN=x") }, "process"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := build(t, p, Options(p)...)
			tc.mutate(s)
			err := Validate(s, p)
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("Validate: got %v, want an invalid-argument error", err)
			}
			if want := `check "` + tc.check + `"`; !strings.Contains(err.Error(), want) {
				t.Errorf("Validate: got %v, want it to name %s", err, want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	p := testParams()
	tests := []struct {
		name string
		opt  oci.SpecOpts
		ok   func(s *specs.Spec) bool
	}{
		{"loopback-only network", WithLoopbackOnlyNetwork(), func(s *specs.Spec) bool {
			ns, n := namespace(s, specs.NetworkNamespace)
			return n == 1 && ns.Path == ""
		}},
		{"user namespace", WithUserNamespace(100000000, 100000001, 65536), func(s *specs.Spec) bool {
			return s.Linux.UIDMappings[0] == specs.LinuxIDMapping{HostID: 100000000, Size: 65536} &&
				s.Linux.GIDMappings[0] == specs.LinuxIDMapping{HostID: 100000001, Size: 65536}
		}},
		{"no capabilities", WithNoCapabilities(), func(s *specs.Spec) bool {
			c := s.Process.Capabilities
			return c != nil && len(c.Bounding)+len(c.Effective)+len(c.Permitted)+len(c.Inheritable)+len(c.Ambient) == 0
		}},
		{"seccomp", WithSeccomp(), func(s *specs.Spec) bool {
			return s.Linux.Seccomp != nil && checkSeccomp(s, p) == nil && len(s.Linux.Seccomp.Syscalls) > 10
		}},
		{"proc paths", WithProcPaths(), func(s *specs.Spec) bool { return checkProcPaths(s, p) == nil }},
		{"tmp", WithTmp(p.Limits.TmpBytes), func(s *specs.Spec) bool { return checkTmp(s, p) == nil }},
		{"inputs", WithInputs(p.Inputs), func(s *specs.Spec) bool { return checkInputs(s, p) == nil }},
		{"output", WithOutput(p.OutDir), func(s *specs.Spec) bool { return checkOutput(s, p) == nil }},
		{"resources", WithResources(p.Limits), func(s *specs.Spec) bool {
			r := s.Linux.Resources
			return *r.Memory.Limit == p.Limits.MemoryBytes && *r.Memory.Swap == p.Limits.MemoryBytes &&
				r.Pids.Limit == p.Limits.Pids && *r.CPU.Quota == int64(p.Limits.CPUs*CPUPeriod)
		}},
		{"devices", WithDevicesDenyAll(), func(s *specs.Spec) bool { return checkDevices(s, p) == nil }},
		{"rlimits", WithRlimits(p.Limits), func(s *specs.Spec) bool { return checkRlimits(s, p) == nil }},
		{"clean process", WithCleanProcess(p.Args), func(s *specs.Spec) bool { return checkProcess(s, p) == nil }},
		{"system mounts", WithSystemMounts(), func(s *specs.Spec) bool {
			for _, m := range s.Mounts {
				if isBind(m) || m.Destination == "/run" {
					return false
				}
			}
			return len(s.Mounts) == 6
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := bare(t, tc.opt)
			if !tc.ok(s) {
				t.Errorf("got spec without the protection, want it applied: %+v", s.Linux)
			}
		})
	}
}

func TestSeccompDeniesListedSyscalls(t *testing.T) {
	s := bare(t, WithNoCapabilities(), WithSeccomp())
	allowed := map[string]bool{}
	for _, r := range s.Linux.Seccomp.Syscalls {
		if r.Action == specs.ActAllow && len(r.Args) == 0 {
			for _, n := range r.Names {
				allowed[n] = true
			}
		}
	}
	for _, n := range append(slices.Clone(DeniedSyscalls), "socket") {
		if allowed[n] {
			t.Errorf("syscall %q: got allowed unconditionally, want denied", n)
		}
	}
	if !allowed["read"] || !allowed["execve"] {
		t.Errorf("read/execve: got denied, want the default profile's allowances kept")
	}
}
