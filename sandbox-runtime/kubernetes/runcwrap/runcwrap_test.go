package runcwrap

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/hardening"
)

func jobLimits() sandbox.Limits {
	l := sandbox.DefaultLimits()
	l.MemoryBytes = 128 << 20
	l.Pids = 64
	l.NoFile = 256
	l.Timeout = time.Minute
	return l
}

// criSpec is what containerd 1.6's CRI makes of a job's pod on the
// kubelet's cgroupfs node: the pod's sandbox namespaces joined by path,
// the kubelet's host binds, the image's and the kubelet's environment.
func criSpec(name string) *specs.Spec {
	uid := uint32(100000000)
	mem, swap := int64(128<<20), int64(128<<20)
	shares := uint64(10)
	quota, period := int64(50000), uint64(100000)
	s := &specs.Spec{
		Version: "1.0.2-dev",
		Process: &specs.Process{
			User: specs.User{UID: uid, GID: uid, AdditionalGids: []uint32{uid}},
			Args: []string{"probes", "status"},
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=job",
				"KUBERNETES_SERVICE_HOST=10.0.0.1", "KUBERNETES_SERVICE_PORT=443"},
			Cwd:             "/",
			Capabilities:    &specs.LinuxCapabilities{},
			NoNewPrivileges: true,
			OOMScoreAdj:     new(int),
		},
		Root: &specs.Root{Path: "rootfs", Readonly: true},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
			{Destination: "/etc/hosts", Type: "bind", Source: "/var/lib/kubelet/pods/u/etc-hosts", Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/dev/termination-log", Type: "bind", Source: "/var/lib/kubelet/pods/u/containers/job/x", Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/etc/resolv.conf", Type: "bind", Source: "/run/containerd/sandboxes/s/resolv.conf", Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/tmp", Type: "bind", Source: "/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/tmp", Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/out", Type: "bind", Source: "/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/out", Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/in/credit", Type: "bind", Source: "/var/lib/enclave/sandbox/plain/j1/credit", Options: []string{"rbind", "rprivate", "ro"}},
		},
		Hooks: &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/true"}}},
		Annotations: map[string]string{
			criContainerType: typeContainer, criContainerName: name,
			AnnotationLimits: EncodeLimits(jobLimits()),
		},
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				Memory:  &specs.LinuxMemory{Limit: &mem, Swap: &swap},
				CPU:     &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period},
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Access: "rwm"}},
			},
			CgroupsPath: "/enclave-k8s/kubepods/podu/c1",
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace, Path: "/proc/42/ns/ipc"},
				{Type: specs.UTSNamespace, Path: "/proc/42/ns/uts"}, {Type: specs.MountNamespace},
				{Type: specs.NetworkNamespace, Path: "/proc/42/ns/net"},
			},
			Sysctl:  map[string]string{"net.ipv4.ip_forward": "1"},
			Devices: []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11}},
			Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow},
		},
	}
	if name == HoldContainer {
		s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool {
			return m.Destination == "/out" || m.Destination == "/tmp" || strings.HasPrefix(m.Destination, "/in/")
		})
		s.Process.Args = []string{"/pause"}
	}
	return s
}

func TestHardenJob(t *testing.T) {
	s := criSpec(JobContainer)
	if err := Harden(s); err != nil {
		t.Fatalf("Harden: %v", err)
	}
	p := hardening.Params{Limits: jobLimits(), HostUID: 100000000, HostGID: 100000000, IDSize: IDSize,
		Args: []string{"probes", "status"}, OutDir: "/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/out",
		Inputs: []hardening.Bind{{HostDir: "/var/lib/enclave/sandbox/plain/j1/credit", Target: "/in/credit"}}}
	if err := hardening.Validate(s, p); err != nil {
		t.Fatalf("hardened spec: %v", err)
	}
	// What the kubelet and the CRI added is gone; what they set for the
	// node's bookkeeping stays.
	for _, m := range s.Mounts {
		if m.Destination == "/etc/hosts" || m.Destination == "/etc/resolv.conf" || m.Destination == "/dev/termination-log" ||
			m.Destination == "/sys/fs/cgroup" {
			t.Errorf("mount %q kept", m.Destination)
		}
		if m.Destination == "/tmp" && m.Type != "tmpfs" {
			t.Errorf("/tmp: got %s of %s, want the job's own tmpfs", m.Type, m.Source)
		}
	}
	if got := s.Process.Env; !slices.Equal(got, []string{hardening.Path}) {
		t.Errorf("env: got %q", got)
	}
	if s.Linux.CgroupsPath != "/enclave-k8s/kubepods/podu/c1" || *s.Linux.Resources.CPU.Shares != 10 {
		t.Errorf("cgroup path or shares lost: %q", s.Linux.CgroupsPath)
	}
	if s.Linux.Resources.Pids.Limit != 64 || s.Linux.UIDMappings[0].HostID != 100000000 || s.Process.User.UID != 0 {
		t.Errorf("pids %d, uid map %+v, user %+v", s.Linux.Resources.Pids.Limit, s.Linux.UIDMappings, s.Process.User)
	}
}

func TestHardenHoldAndSandbox(t *testing.T) {
	s := criSpec(HoldContainer)
	if err := Harden(s); err != nil {
		t.Fatalf("Harden hold: %v", err)
	}
	for _, m := range s.Mounts {
		if isBind(m) {
			t.Errorf("hold: host bind %q kept", m.Destination)
		}
	}
	if s.Linux.Resources.Pids.Limit != HoldLimits().Pids || len(s.Linux.UIDMappings) != 1 {
		t.Errorf("hold: pids %d, uid maps %v", s.Linux.Resources.Pids.Limit, s.Linux.UIDMappings)
	}
	sb := criSpec("")
	sb.Annotations = map[string]string{criContainerType: typeSandbox}
	before, _ := json.Marshal(sb)
	if err := Harden(sb); err != nil {
		t.Fatalf("Harden sandbox: %v", err)
	}
	if after, _ := json.Marshal(sb); string(after) != string(before) {
		t.Error("the pod's sandbox container was changed")
	}
}

// TestHardenRefuses: every spec the wrapper cannot make a job's is refused,
// naming what was wrong, and the spec given is not passed on to runc.
func TestHardenRefuses(t *testing.T) {
	cases := []struct {
		name, want string
		mod        func(s *specs.Spec)
	}{
		{"no container type", "not a CRI", func(s *specs.Spec) { delete(s.Annotations, criContainerType) }},
		{"another container", "not a container of a job's pod", func(s *specs.Spec) { s.Annotations[criContainerName] = "sidecar" }},
		{"no limits", "annotation enclave.dev/limits missing", func(s *specs.Spec) { delete(s.Annotations, AnnotationLimits) }},
		{"limits not json", "not the job's limits", func(s *specs.Spec) { s.Annotations[AnnotationLimits] = "{" }},
		{"limits unknown field", "not the job's limits", func(s *specs.Spec) { s.Annotations[AnnotationLimits] = `{"CPUs":1,"Extra":1}` }},
		{"limits out of range", "out of range", func(s *specs.Spec) {
			l := jobLimits()
			l.Pids = 0
			s.Annotations[AnnotationLimits] = EncodeLimits(l)
		}},
		{"root user", "not an unprivileged range", func(s *specs.Spec) { s.Process.User.UID = 0 }},
		{"low gid", "not an unprivileged range", func(s *specs.Spec) { s.Process.User.GID = 1000 }},
		{"uid range past 2^32", "not an unprivileged range", func(s *specs.Spec) { s.Process.User.UID = 1<<32 - 10 }},
		{"no /out", "/out not mounted", func(s *specs.Spec) {
			s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/out" })
		}},
		{"/out twice", "/out not one host directory", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: "/etc", Options: []string{"rbind"}})
		}},
		{"input not a bind", "not a host directory", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/in/x", Type: "tmpfs", Source: "tmpfs"})
		}},
		{"relative input", "not a host directory", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/in/x", Type: "bind", Source: "etc", Options: []string{"rbind"}})
		}},
		{"no args", "arguments differ", func(s *specs.Spec) { s.Process.Args = nil }},
		{"no linux", "incomplete", func(s *specs.Spec) { s.Linux = nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := criSpec(JobContainer)
			tc.mod(s)
			err := Harden(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Harden: got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "100000000") {
				t.Errorf("error %q quotes spec values", err)
			}
		})
	}
}

func TestHardenBundle(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(criSpec(JobContainer))
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := HardenBundle(dir); err != nil {
		t.Fatalf("HardenBundle: %v", err)
	}
	var s specs.Spec
	out, _ := os.ReadFile(path)
	if err := json.Unmarshal(out, &s); err != nil || len(s.Linux.UIDMappings) != 1 {
		t.Fatalf("rewritten config: %v, uid maps %v", err, s.Linux.UIDMappings)
	}
	for _, d := range []string{"proc", "dev", "dev/pts", "sys", "tmp", "out", "in/credit"} {
		if fi, err := os.Stat(filepath.Join(dir, "rootfs", d)); err != nil || !fi.IsDir() {
			t.Errorf("mount point %s: %v", d, err)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o710 {
		t.Errorf("bundle mode %v, want 0710 (search for the namespace's root group only)", fi.Mode().Perm())
	}
	// A refused bundle keeps its config as it was: runc is never run.
	bad := criSpec(JobContainer)
	delete(bad.Annotations, AnnotationLimits)
	b, _ = json.Marshal(bad)
	os.WriteFile(path, b, 0o600)
	if err := HardenBundle(dir); err == nil {
		t.Fatal("HardenBundle of a job without limits: got nil, want refused")
	}
	if after, _ := os.ReadFile(path); string(after) != string(b) {
		t.Error("a refused bundle's config was changed")
	}
	if err := HardenBundle(filepath.Join(dir, "none")); err == nil {
		t.Error("HardenBundle of a missing bundle: got nil")
	}
}

func TestBundle(t *testing.T) {
	cases := []struct {
		args    string
		bundle  string
		creates bool
		err     bool
	}{
		{"--root /r --log /l --log-format json create --bundle /b --pid-file /p c1", "/b", true, false},
		{"--root=/r create -b /b c1", "/b", true, false},
		{"--root /r create --bundle=/b c1", "/b", true, false},
		{"--systemd-cgroup run c1", ".", true, false},
		{"--root /r start c1", "", false, false},
		{"--root /r exec --process /p c1", "", false, false},
		{"--root /r delete --force c1", "", false, false},
		{"--root create", "", false, false}, // "create" is --root's value: no command
		{"create --bundle", "", true, true},
		{"create --bundle= c1", "", true, true},
		{"create --bundle /a -b /b c1", "", true, true},
		{"", "", false, false},
	}
	for _, tc := range cases {
		b, c, err := Bundle(strings.Fields(tc.args))
		if b != tc.bundle || c != tc.creates || (err != nil) != tc.err {
			t.Errorf("Bundle(%q): got %q %v %v, want %q %v err=%v", tc.args, b, c, err, tc.bundle, tc.creates, tc.err)
		}
	}
}

func FuzzHardenJSON(f *testing.F) {
	for _, n := range []string{JobContainer, HoldContainer} {
		b, _ := json.Marshal(criSpec(n))
		f.Add(b)
	}
	f.Add([]byte(`{"process":{},"root":{},"linux":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := HardenJSON(b)
		if err != nil {
			return
		}
		var s specs.Spec
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("output not JSON: %v", err)
		}
		if s.Annotations[criContainerType] == typeSandbox {
			return
		}
		// Whatever came in, what goes to runc passed the validator.
		if len(s.Linux.UIDMappings) != 1 || s.Process.User.UID != 0 || s.Linux.Seccomp == nil || !s.Root.Readonly {
			t.Fatalf("accepted a spec that is not hardened: %s", out)
		}
		for _, m := range s.Mounts {
			if isBind(m) && m.Destination != "/out" && !strings.HasPrefix(m.Destination, "/in/") {
				t.Fatalf("accepted a host bind at %q", m.Destination)
			}
		}
	})
}

func FuzzBundle(f *testing.F) {
	f.Add("--root /r create --bundle /b c1")
	f.Add("create -b=x")
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, " ")
		b, creates, err := Bundle(args)
		if err == nil && creates && b == "" {
			t.Fatalf("Bundle(%q): creates with an empty bundle", s)
		}
		if !creates && (b != "" || err != nil) {
			t.Fatalf("Bundle(%q): not a create but %q %v", s, b, err)
		}
	})
}

func TestMkdirInRoot(t *testing.T) {
	root := t.TempDir()
	if err := mkdirInRoot(root, "/in/credit"); err != nil {
		t.Fatalf("mkdirInRoot: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(root, "in", "credit")); err != nil || !fi.IsDir() {
		t.Fatalf("mount point: %v", err)
	}
	if err := mkdirInRoot(root, "/in/credit"); err != nil {
		t.Errorf("an existing mount point: %v", err)
	}
	// A link planted in the image never leads the wrapper out of the root.
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	if err := mkdirInRoot(root, "/out/x"); err == nil {
		t.Error("through a symbolic link: got nil, want refused")
	}
	if err := os.Symlink("/", filepath.Join(root, "in", "up")); err != nil {
		t.Fatal(err)
	}
	if err := mkdirInRoot(root, "/in/up/etc"); err == nil {
		t.Error("through a link to /: got nil, want refused")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("made %v outside the root", ents)
	}
	for _, bad := range []string{"in/x", "/in/../x", "/in//x", "/"} {
		if err := mkdirInRoot(root, bad); err == nil && bad != "/" {
			t.Errorf("mkdirInRoot(%q): got nil, want refused", bad)
		}
	}
}
