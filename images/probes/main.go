// Command probes is the hostile-job suite's attacker: each subcommand tries
// to break out of a job sandbox in one way and reports, one line per
// attempt, "CONTAINED name" when the attempt was stopped or "ESCAPED name
// detail" when it worked. It exits 0 when everything was contained and 3
// when anything escaped. Some subcommands (spin, balloon, forkbomb, fill)
// exhaust a resource on purpose; the runtime's Exit tells how they ended.
//
// It aims network traffic at loopback only and never at another address.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

var escaped bool

func contained(name string, ok bool, detail string) {
	if ok {
		fmt.Println("CONTAINED", name)
		return
	}
	escaped = true
	fmt.Println("ESCAPED", name, detail)
}

// fails reports an attempt that must return an error.
func fails(name string, err error) {
	contained(name, err != nil, "call succeeded")
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probes net|host|syscalls|status|writes|forkbomb|balloon|fill DIR|fds|spin|outputs|sleep|noop [args]")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "noop":
	case "sleep":
		time.Sleep(time.Hour)
	case "net":
		probeNet(args)
	case "host":
		probeHost(args)
	case "syscalls":
		probeSyscalls()
	case "status":
		probeStatus()
	case "writes":
		probeWrites()
	case "forkbomb":
		forkbomb()
	case "balloon":
		balloon()
	case "fill":
		fill(args)
	case "fds":
		fds()
	case "spin":
		for {
		}
	case "outputs":
		outputs(args)
	default:
		fmt.Fprintln(os.Stderr, "unknown probe", os.Args[1])
		os.Exit(2)
	}
	if escaped {
		os.Exit(3)
	}
}

// probeNet: only lo, no route, the host's loopback listener unreachable,
// raw and packet sockets refused. args: host loopback address to try.
func probeNet(args []string) {
	ifs, err := net.Interfaces()
	names := []string{}
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	contained("interfaces-lo-only", err == nil && len(ifs) == 1 && ifs[0].Name == "lo", strings.Join(names, ","))
	routes := 0
	if f, err := os.Open("/proc/net/route"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			routes++
		}
		f.Close()
		routes-- // header
	}
	contained("no-routes", routes <= 0, strconv.Itoa(routes)+" routes")
	if len(args) > 0 {
		c, err := net.DialTimeout("tcp", args[0], 2*time.Second)
		if err == nil {
			c.Close()
		}
		fails("host-loopback-listener", err)
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second)
	if err == nil {
		c.Close()
	}
	fails("own-loopback-connect", err)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
	if err == nil {
		unix.Close(fd)
	}
	fails("packet-socket", err)
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	if err == nil {
		unix.Close(fd)
	}
	fails("raw-socket", err)
	fd, err = unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.Close(fd)
	}
	fails("vsock-socket", err)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// probeHost: host paths unreachable; args: host file paths that must not
// be readable (by path, through /proc/1/root and /proc/self/root).
func probeHost(args []string) {
	for _, p := range args {
		for _, via := range []string{"", "/proc/1/root", "/proc/self/root", "/proc/1/cwd/.."} {
			_, err := os.ReadFile(via + p)
			fails("host-file "+via+p, err)
		}
	}
	for _, sock := range []string{"/run/containerd/containerd.sock", "/var/run/docker.sock",
		"/run/docker.sock", "/var/run/containerd/containerd.sock"} {
		_, err := os.Stat(sock)
		fails("socket "+sock, err)
	}
	found := ""
	filepath.WalkDir("/", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (p == "/proc" || p == "/sys") {
			return filepath.SkipDir
		}
		if d.Type()&os.ModeSocket != 0 || strings.HasSuffix(p, ".sock") {
			found = p
		}
		return nil
	})
	contained("no-sockets-visible", found == "", found)
	_, err := os.Stat("/sys/fs/cgroup/memory")
	fails("cgroupfs-hidden", err)
	// mountinfo must list only the container's own mounts: no host
	// directory is mounted except the inputs and /out.
	b, _ := os.ReadFile("/proc/self/mountinfo")
	bad := ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := f[4]
		ok := mp == "/" || mp == "/out" || mp == "/tmp" || strings.HasPrefix(mp, "/in/") ||
			strings.HasPrefix(mp, "/proc") || strings.HasPrefix(mp, "/dev") || strings.HasPrefix(mp, "/sys")
		if !ok {
			bad = mp
		}
	}
	contained("mountinfo-own-mounts-only", bad == "", bad)
	_, err = os.ReadFile("/proc/kcore")
	kc, _ := os.Stat("/proc/kcore")
	contained("proc-kcore-masked", err != nil || kc == nil || kc.Size() == 0, "readable")
}

func probeSyscalls() {
	os.MkdirAll("/tmp/m", 0o755)
	fails("mount", unix.Mount("tmpfs", "/tmp/m", "tmpfs", 0, ""))
	fails("mount-bind-root", unix.Mount("/", "/tmp/m", "", unix.MS_BIND, ""))
	fails("unshare-user", unix.Unshare(unix.CLONE_NEWUSER))
	fails("unshare-net", unix.Unshare(unix.CLONE_NEWNET))
	fd, err := unix.Open("/proc/1/ns/net", unix.O_RDONLY, 0)
	if err == nil {
		fails("setns", unix.Setns(fd, 0))
		unix.Close(fd)
	} else {
		fails("setns", unix.Setns(-1, 0))
	}
	child := exec.Command("/proc/self/exe", "sleep")
	if err := child.Start(); err == nil {
		fails("ptrace-attach", unix.PtraceAttach(child.Process.Pid))
		child.Process.Kill()
		child.Wait()
	}
	_, err = unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 1, 0, 0)
	fails("keyctl", err)
	_, err = unix.AddKey("user", "probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
	fails("add_key", err)
	attr := make([]byte, 128)
	_, _, e := unix.Syscall(unix.SYS_BPF, 0, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	fails("bpf", errnoErr(e))
	pa := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK}
	pa.Size = uint32(unsafe.Sizeof(pa))
	pfd, err := unix.PerfEventOpen(&pa, 0, -1, -1, 0)
	if err == nil {
		unix.Close(pfd)
	}
	fails("perf_event_open", err)
	params := make([]byte, 120)
	r, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&params[0])), 0)
	if e == 0 {
		unix.Close(int(r))
	}
	fails("io_uring_setup", errnoErr(e))
	_, _, e = unix.Syscall(unix.SYS_USERFAULTFD, 0, 0, 0)
	fails("userfaultfd", errnoErr(e))
	fails("init_module", unix.InitModule([]byte{0}, ""))
	_, _, e = unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0, 0, 0)
	fails("kexec_load", errnoErr(e))
	fails("mknod-char-device", unix.Mknod("/tmp/null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	fails("chroot", unix.Chroot("/tmp"))
	fails("sethostname", unix.Sethostname([]byte("owned")))
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func probeStatus() {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		contained("status-readable", false, err.Error())
		return
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	for k, want := range map[string]string{
		"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "CapPrm": "0000000000000000",
		"CapInh": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
	} {
		contained("status-"+k, fields[k] == want, fields[k])
	}
	for _, f := range []string{"/proc/self/uid_map", "/proc/self/gid_map"} {
		b, err := os.ReadFile(f)
		mf := strings.Fields(string(b))
		ok := err == nil && len(mf) == 3 && mf[0] == "0"
		if ok {
			host, _ := strconv.ParseUint(mf[1], 10, 64)
			ok = host >= 65536
		}
		contained(filepath.Base(f)+"-unprivileged", ok, strings.TrimSpace(string(b)))
	}
	h, _ := os.Hostname()
	contained("hostname-fixed", h == "job", h)
	// runc adds HOME (from /etc/passwd of the image) when it is unset;
	// nothing else may come in, above all nothing of the daemon.
	envOK := true
	for _, e := range os.Environ() {
		envOK = envOK && (strings.HasPrefix(e, "PATH=") || e == "HOME=/")
	}
	contained("env-path-only", envOK, strings.Join(envNames(), ","))
	var rl unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_CORE, &rl)
	contained("rlimit-core-zero", rl.Max == 0, strconv.FormatUint(rl.Max, 10))
}

func envNames() []string {
	var n []string
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		n = append(n, k)
	}
	return n
}

func probeWrites() {
	fails("write-root", os.WriteFile("/owned", []byte("x"), 0o644))
	fails("write-bin", os.WriteFile("/bin/owned", []byte("x"), 0o644))
	fails("write-proc-sys", os.WriteFile("/proc/sys/kernel/hostname", []byte("owned"), 0o644))
	fails("write-sysrq-trigger", os.WriteFile("/proc/sysrq-trigger", []byte("h"), 0o200))
	fails("write-sys", os.WriteFile("/sys/kernel/uevent_helper", []byte("/x"), 0o644))
	fails("write-input", os.WriteFile(firstInput()+"/owned", []byte("x"), 0o644))
	exe, err := os.ReadFile("/proc/self/exe")
	if err == nil {
		for _, dir := range []string{"/tmp", "/out", "/dev/shm", "/dev"} {
			p := dir + "/probe-exec"
			if err := os.WriteFile(p, exe, 0o755); err != nil {
				contained("exec-from-"+dir, true, "")
				continue
			}
			fails("exec-from-"+dir, exec.Command(p, "noop").Run())
			os.Remove(p)
		}
	}
}

func firstInput() string {
	m, _ := filepath.Glob("/in/*")
	if len(m) == 0 {
		return "/in/none"
	}
	return m[0]
}

// forkbomb starts sleeping children until the pids limit refuses one.
func forkbomb() {
	n := 0
	var last error
	for n < 100000 {
		c := exec.Command("/proc/self/exe", "sleep")
		if err := c.Start(); err != nil {
			last = err
			break
		}
		n++
	}
	contained("pids-limit", last != nil, "started "+strconv.Itoa(n))
	fmt.Println("children", n)
}

// balloon allocates and touches memory until the cgroup kills it.
func balloon() {
	var keep [][]byte
	for {
		b := make([]byte, 16<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
}

// fill writes into DIR until the file system refuses; exits 0 with
// CONTAINED when it got ENOSPC or EFBIG.
func fill(args []string) {
	signal.Ignore(syscall.SIGXFSZ)
	dir := "/tmp"
	if len(args) > 0 {
		dir = args[0]
	}
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		contained("fill-"+dir, false, err.Error())
		return
	}
	buf := make([]byte, 1<<20)
	var werr error
	for i := 0; i < 1<<20 && werr == nil; i++ {
		_, werr = f.Write(buf)
	}
	f.Close()
	contained("fill-"+dir, errors.Is(werr, unix.ENOSPC) || errors.Is(werr, unix.EFBIG), fmt.Sprint(werr))
}

// fds opens files until the NOFILE limit refuses.
func fds() {
	var err error
	n := 0
	for n < 1<<22 {
		if _, err = unix.Open("/dev/null", unix.O_RDONLY, 0); err != nil {
			break
		}
		n++
	}
	contained("nofile-limit", errors.Is(err, unix.EMFILE), "opened "+strconv.Itoa(n))
}

// outputs plants hostile entries in /out next to one good file. args:
// number of tiny files, sparse file size in bytes.
func outputs(args []string) {
	signal.Ignore(syscall.SIGXFSZ)
	tiny, sparse := 100000, int64(1<<30)
	if len(args) > 0 {
		tiny, _ = strconv.Atoi(args[0])
	}
	if len(args) > 1 {
		sparse, _ = strconv.ParseInt(args[1], 10, 64)
	}
	must := func(name string, err error) {
		if err != nil {
			fmt.Println("SETUP-FAILED", name, err)
		}
	}
	must("good", os.WriteFile("/out/good.txt", []byte("ok\n"), 0o644))
	must("symlink", os.Symlink("/etc/shadow", "/out/shadow"))
	must("dirlink", os.Symlink("/", "/out/root"))
	must("orig", os.WriteFile("/out/orig", []byte("x"), 0o644))
	must("hardlink", os.Link("/out/orig", "/out/hardlink"))
	must("fifo", unix.Mkfifo("/out/fifo", 0o644))
	must("dotdot", os.WriteFile("/out/..evil", []byte("x"), 0o644))
	if f, err := os.Create("/out/sparse"); err == nil {
		must("sparse", f.Truncate(sparse))
		f.Close()
	}
	must("many", os.Mkdir("/out/many", 0o755))
	made := 0
	for i := 0; i < tiny; i++ {
		if err := os.WriteFile("/out/many/f"+strconv.Itoa(i), []byte("t"), 0o644); err != nil {
			break
		}
		made++
	}
	fmt.Println("tiny files", made)
	io.WriteString(os.Stdout, "CONTAINED outputs-planted\n")
}
