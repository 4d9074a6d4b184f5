package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// moduleRoot returns the repository root, where the Makefile is.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// unit is a systemd unit file: each section's directives in order, a
// directive given twice keeping both values.
type unit map[string][][2]string

// parseUnit reads a unit file as systemd does for the subset this project
// writes: [Section] headers, Key=Value lines, # and ; comments; no line
// continuations.
func parseUnit(r io.Reader) (unit, error) {
	u := unit{}
	section := ""
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = u[section][:0:0]
		case strings.HasSuffix(line, "\\"):
			return nil, &unitError{n, "line continuations are not used here"}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.TrimSpace(k) == "" {
				return nil, &unitError{n, "want Key=Value inside a section"}
			}
			u[section] = append(u[section], [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return u, sc.Err()
}

type unitError struct {
	line int
	msg  string
}

func (e *unitError) Error() string { return "unit line " + strconv.Itoa(e.line) + ": " + e.msg }

// get returns the values of key in section.
func (u unit) get(section, key string) []string {
	var vs []string
	for _, kv := range u[section] {
		if kv[0] == key {
			vs = append(vs, kv[1])
		}
	}
	return vs
}

// TestMakeInstall installs into a temporary DESTDIR with another PREFIX and
// checks what lands where: the two binaries, runnable; enclaved.service
// naming the binary by its run-time path; the unit's hardening as this
// project's parser reads it, and, where systemd-analyze is on the machine
// (CI installs it), as systemd reads it: verify passes, and the security
// report sees no new privileges, a strict read-only system, no home and a
// private /tmp.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries with make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	root := moduleRoot(t)
	dest, bin := t.TempDir(), t.TempDir()
	cmd := exec.Command("make", "-s", "install", "DESTDIR="+dest, "PREFIX=/opt/enclave", "BIN="+bin)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	// enclave-runc and enclave-cni are what a Kubernetes node of the
	// enclave runs (the RuntimeClass's handler, the jobs' CNI plugin).
	for _, b := range []string{"enclaved", "enclave", "enclave-runc", "enclave-cni"} {
		p := filepath.Join(dest, "opt/enclave/bin", b)
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("%s: got %v (%v), want mode 0755", p, fi, err)
		}
	}
	if out, err := exec.Command(filepath.Join(dest, "opt/enclave/bin/enclaved"), "version").Output(); err != nil || len(strings.TrimSpace(string(out))) == 0 {
		t.Fatalf("installed enclaved version: got %q, %v", out, err)
	}
	unitPath := filepath.Join(dest, "opt/enclave/lib/systemd/system/enclaved.service")
	fi, err := os.Stat(unitPath)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("%s: got %v (%v), want mode 0644", unitPath, fi, err)
	}
	text, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(text), dest) || strings.Contains(string(text), "@BINDIR@") {
		t.Fatalf("the installed unit names DESTDIR or keeps @BINDIR@:\n%s", text)
	}
	u, err := parseUnit(strings.NewReader(string(text)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		section, key, want string
	}{
		{"Service", "ExecStart", "/opt/enclave/bin/enclaved run --data-dir /var/lib/enclave --sandbox-dir /var/lib/enclave-sandbox"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "StateDirectory", "enclave"},
		{"Service", "StateDirectoryMode", "0700"},
		{"Service", "ReadWritePaths", "/var/lib/enclave-sandbox"},
		{"Service", "RuntimeDirectory", "containerd"},
		{"Service", "KillMode", "process"},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		if got := u.get(tc.section, tc.key); len(got) != 1 || got[0] != tc.want {
			t.Errorf("[%s] %s: got %q, want %q", tc.section, tc.key, got, tc.want)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if sandboxtest.InCI() {
			t.Fatal("systemd-analyze is required in CI (.ci/run installs systemd)")
		}
		t.Skip("systemd-analyze not installed: checked with this package's parser only (set CI=true to make this a failure)")
	}
	// systemd-analyze verify checks that the commands exist: point the copy
	// it reads at the binaries where DESTDIR put them, and change nothing
	// else.
	vdir := t.TempDir()
	vunit := filepath.Join(vdir, "enclaved.service")
	if err := os.WriteFile(vunit, []byte(strings.ReplaceAll(string(text), "/opt/enclave/bin/", filepath.Join(dest, "opt/enclave/bin")+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", "--man=no", vunit).CombinedOutput(); err != nil || len(out) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(analyze, "security", "--offline=yes", "--json=short", vunit).Output()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v", err)
	}
	var report []struct {
		Field       string `json:"json_field"`
		Set         *bool  `json:"set"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("systemd-analyze security --json: %v", err)
	}
	want := map[string]string{"NoNewPrivileges": "", "ProtectSystem": "strict", "ProtectHome": "", "PrivateTmp": ""}
	for _, e := range report {
		sub, ok := want[e.Field]
		if !ok {
			continue
		}
		delete(want, e.Field)
		if e.Set == nil || !*e.Set || !strings.Contains(e.Description, sub) {
			t.Errorf("systemd-analyze security %s: got set %v, %q; want set (%q)", e.Field, e.Set, e.Description, sub)
		}
	}
	if len(want) != 0 {
		t.Errorf("systemd-analyze security did not report %v", want)
	}
}

// TestMakeOrder: on a fresh machine `make demo` and `make test` install
// containerd, runc and busybox-static (make deps) before the images are
// built from /bin/busybox, and .ci/run calls the make targets README names.
func TestMakeOrder(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	root := moduleRoot(t)
	for _, args := range [][]string{{"demo"}, {"test"}, {"images"}, {"-j4", "demo"}} {
		cmd := exec.Command("make", append([]string{"-n"}, args...)...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("make -n %v: %v", args, err)
		}
		deps, images := strings.Index(string(out), "tools/install-deps.sh"), strings.Index(string(out), "./images/build")
		if deps < 0 || images < 0 || deps > images {
			t.Errorf("make -n %v: install-deps.sh at %d, images/build at %d; want deps first:\n%s", args, deps, images, out)
		}
	}

	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci/run"))
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, m := range regexp.MustCompile(`(?m)^\s*make ([a-z-]+)\s*$`).FindAllStringSubmatch(string(ci), -1) {
		targets = append(targets, m[1])
		if !strings.Contains(string(readme), "`make "+m[1]+"`") {
			t.Errorf(".ci/run calls make %s, which README does not name", m[1])
		}
	}
	if len(targets) == 0 || targets[len(targets)-1] != "test" || !strings.Contains(strings.Join(targets, " "), "deps") {
		t.Errorf(".ci/run calls make %v; want make deps first and make test last", targets)
	}
	if strings.Contains(string(ci), "install-deps.sh") {
		t.Error(".ci/run runs tools/install-deps.sh itself; want make deps, as README says")
	}
}

// TestServiceHardeningRunsJobs runs the daemon as enclaved.service would,
// without systemd: the unit's sandboxing is rebuilt from the unit file in a
// mount namespace (ProtectSystem=strict: every mount read-only but /proc,
// /sys and /dev; the StateDirectory, ReadWritePaths and RuntimeDirectory
// writable again; ProtectHome and PrivateTmp: empty /home and /root, fresh
// /tmp and /var/tmp) and NoNewPrivileges with setpriv; then a job runs to
// completion against the real containerd. Dropping a writable path the
// sandbox needs from the unit, or a setting that breaks containerd, fails
// it.
func TestServiceHardeningRunsJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a job in containerd")
	}
	sandboxtest.Require(t)
	for _, tool := range []string{"unshare", "setpriv", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			if sandboxtest.InCI() {
				t.Fatalf("%s (util-linux) is required in CI", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	f, err := os.Open(filepath.Join(moduleRoot(t), "tools/systemd/enclaved.service"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	one := func(key string) string {
		t.Helper()
		vs := u.get("Service", key)
		if len(vs) != 1 {
			t.Fatalf("[Service] %s: got %q, want one value", key, vs)
		}
		return vs[0]
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Not under /tmp, which PrivateTmp replaces: beside where the unit keeps
	// its data, under a directory the jobs' user may search.
	jd := newJobDataDir(t, ctx, jobDaemonOpts{prefix: "enclave-unit-test-", parent: "/var/lib"})
	base, imgs, cfg := jd.base, jd.imgs, jd.cfg
	// The unit's paths, mapped onto this test's.
	paths := map[string]string{"/var/lib/enclave": cfg.DataDir, "/var/lib/enclave-sandbox": cfg.SandboxDir}
	if want := "/var/lib/enclave-sandbox"; cfg.SandboxDir != cfg.DataDir+"-sandbox" || !strings.Contains(one("ExecStart"), "--sandbox-dir "+want) {
		t.Fatalf("the test's sandbox %q and the unit's ExecStart %q do not correspond", cfg.SandboxDir, one("ExecStart"))
	}
	mapPath := func(p string) string {
		t.Helper()
		if m, ok := paths[p]; ok {
			return m
		}
		t.Fatalf("the unit names %q, which this test does not map", p)
		return ""
	}
	var writable []string
	for _, d := range strings.Fields(one("StateDirectory")) {
		writable = append(writable, mapPath("/var/lib/"+d))
	}
	for _, p := range strings.Fields(one("ReadWritePaths")) {
		writable = append(writable, mapPath(strings.TrimPrefix(p, "-")))
	}
	for _, d := range strings.Fields(one("RuntimeDirectory")) {
		writable = append(writable, "/run/"+d)
	}
	if err := os.MkdirAll(cfg.SandboxDir, 0o711); err != nil { // ExecStartPre
		t.Fatal(err)
	}
	for _, p := range writable {
		if err := os.MkdirAll(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	var script strings.Builder
	script.WriteString("set -eu\n")
	if one("ProtectSystem") != "strict" {
		t.Fatalf("ProtectSystem: got %q; this test rebuilds strict", one("ProtectSystem"))
	}
	// Every mount read-only but the API file systems, deepest last so
	// that nothing is left writable underneath.
	script.WriteString(`awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r m; do
	m=$(printf '%b' "$m")
	case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
	mount -o remount,bind,ro "$m" 2>/dev/null || [ "$m" != / ] || { echo "cannot make / read-only" >&2; exit 1; }
done
`)
	for _, p := range writable {
		script.WriteString("mount --bind '" + p + "' '" + p + "'; mount -o remount,bind,rw '" + p + "'\n")
	}
	if one("ProtectHome") == "yes" {
		script.WriteString("for d in /home /root /run/user; do [ ! -d $d ] || mount -t tmpfs -o ro,mode=000 tmpfs $d; done\n")
	}
	if one("PrivateTmp") == "yes" {
		script.WriteString("mount -t tmpfs -o mode=1777 tmpfs /tmp; mount -t tmpfs -o mode=1777 tmpfs /var/tmp\n")
	}
	// The test binary lives under /tmp, which is gone now: run a copy.
	exe := filepath.Join(base, "enclaved.test")
	if err := copyFile(os.Args[0], exe); err != nil {
		t.Fatal(err)
	}
	if one("NoNewPrivileges") == "yes" {
		script.WriteString("exec setpriv --no-new-privs -- \"$@\"\n")
	} else {
		script.WriteString("exec \"$@\"\n")
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "slave", "sh", "-c", script.String(), "sh", exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "ENCLAVED_TEST_DAEMON="+cfg.DataDir, "ENCLAVED_TEST_SANDBOX=1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	waitHealthy(t, cfg.DataDir, cmd)

	// The daemon really is confined: no new privileges, and the system
	// read-only to it.
	status, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	if err != nil || !strings.Contains(string(status), "NoNewPrivs:\t1") {
		t.Fatalf("the daemon's status: want NoNewPrivs 1 (%v)", err)
	}
	mounts, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/mountinfo")
	if err != nil || !regexp.MustCompile(`(?m)^\S+ \S+ \S+ \S+ / ro[, ]`).Match(mounts) {
		t.Fatalf("the daemon's mounts: want / read-only (%v)", err)
	}
	runOneJob(t, ctx, cfg.DataDir, jd.adminToken, imgs["toolbox"], filepath.Join(base, "penalties.csv"))
}

// waitHealthy waits until the daemon of dataDir answers, or fails t.
func waitHealthy(t *testing.T, dataDir string, cmd *exec.Cmd) {
	t.Helper()
	c, _ := client.New(filepath.Join(dataDir, "enclaved.sock"), "")
	deadline := time.Now().Add(daemonStartWait)
	for {
		if _, err := c.Health(context.Background()); err == nil {
			return
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("daemon did not answer within " + daemonStartWait.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
