// Package k8stest boots the smallest real Kubernetes a test can run jobs
// on, on loopback, from binaries built by `make k8s` (etcd, kube-apiserver,
// kube-controller-manager, kubelet; ENCLAVE_K8S_BIN names their directory)
// and Debian's containerd and runc: a private containerd with CRI, whose
// pods get only a loopback interface (cmd/enclave-cni), and one node named
// "localhost". Stop kills everything it started and restores every host
// change the kubelet and the CRI made (sysctls, iptables, host directories,
// mounts, cgroups). See ../shared/KUBERNETES.md for why each setting is
// what it is.
//
// Require skips a test visibly when the cluster cannot run here and fails
// it instead under CI=true. Only one cluster runs at a time on a host: the
// kubelet changes host-wide settings.
package k8stest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/cni"
	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/runcwrap"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// Node facts of the test cluster.
const (
	NodeName       = "localhost"                 // resolves to 127.0.0.1; the kubelet serves there only
	PauseImage     = "registry.k8s.io/pause:3.6" // containerd 1.6's default name; built by the harness, never pulled
	PodPidsLimit   = 64                          // the kubelet's pids limit of every pod
	RuntimeClass   = "enclave"                   // the RuntimeClass and containerd runtime of cmd/enclave-runc
	SeccompProfile = "enclave.json"              // the enclave's own profile, as Localhost
	CRINamespace   = "k8s.io"                    // containerd namespace of the CRI
)

// binaries the harness needs from `make k8s`.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubelet"}

// BinDir is where the cluster's binaries are: $ENCLAVE_K8S_BIN, or
// build/bin of the module.
func BinDir() string {
	if d := os.Getenv("ENCLAVE_K8S_BIN"); d != "" {
		return d
	}
	if root, err := sandboxtest.ModuleRoot(); err == nil {
		return filepath.Join(root, "build", "bin")
	}
	return "build/bin"
}

// Missing returns why the cluster cannot start here, or "".
func Missing() string {
	if why := sandboxtest.Missing(); why != "" {
		return why
	}
	for _, b := range binaries {
		if _, err := os.Stat(filepath.Join(BinDir(), b)); err != nil {
			return b + " not built in " + BinDir() + " (run make k8s)"
		}
	}
	if _, err := exec.LookPath("mount"); err != nil {
		return "mount not installed"
	}
	addrs, err := net.LookupHost(NodeName)
	if err != nil || len(addrs) == 0 {
		return NodeName + " does not resolve"
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			return NodeName + " resolves to a non-loopback address"
		}
	}
	return ""
}

// Require skips t when the cluster cannot run here, or fails it under CI.
func Require(t testing.TB) {
	t.Helper()
	if why := Missing(); why != "" {
		if sandboxtest.InCI() {
			t.Fatalf("a real Kubernetes is required in CI: %s", why)
		}
		t.Skipf("Kubernetes test cluster unavailable: %s (set CI=true to make this a failure)", why)
	}
}

// Cluster is a running test cluster.
type Cluster struct {
	Dir        string // everything of the cluster is below it
	Kubeconfig string // an admin (system:masters) kubeconfig
	Server     string // https://127.0.0.1:PORT
	KubeletDir string // the kubelet's root directory
	// KubeletConfig is the kubelet's configuration file
	// (KubeletConfiguration), as a daemon on the node reads it.
	KubeletConfig string
	// CgroupRoot is the kubelet's cgroupRoot: pod cgroups are below
	// /sys/fs/cgroup/CONTROLLER/CgroupRoot/kubepods.
	CgroupRoot string
	Containerd string // address of the CRI's containerd
	Client     kubernetes.Interface
	Config     *rest.Config

	host  *hostState
	lock  *os.File // LockFile, held from Start to Stop
	procs []*proc
	logs  string
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// Start boots the cluster under a new directory below base (os.TempDir()
// when empty) and waits until its node is Ready. On failure everything
// started is stopped and restored; the error names the component and
// ends with its last log lines.
func Start(ctx context.Context, base string) (c *Cluster, err error) {
	if why := Missing(); why != "" {
		return nil, errors.New(why)
	}
	lock, err := lockHost(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if c == nil {
			lock.Close()
		}
	}()
	if err := recoverHost(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(base, "k8s-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	host, err := snapshotHost(dir)
	if err != nil {
		return nil, err
	}
	if err := host.save(); err != nil {
		return nil, fmt.Errorf("record the host's state: %w", err)
	}
	c = &Cluster{Dir: dir, host: host, lock: lock, logs: filepath.Join(dir, "logs"),
		KubeletDir: filepath.Join(dir, "kubelet"), Containerd: filepath.Join(dir, "containerd", "containerd.sock")}
	defer func() {
		if err != nil {
			if serr := c.Stop(); serr != nil {
				err = fmt.Errorf("%w (and stopping: %v)", err, serr)
			}
			c = nil
		}
	}()
	suffix := make([]byte, 4)
	rand.Read(suffix)
	c.CgroupRoot = "/enclave-k8s-" + hex.EncodeToString(suffix)
	for _, d := range []string{c.logs, c.KubeletDir, filepath.Join(dir, "cni", "bin"), filepath.Join(dir, "cni", "net.d")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return c, err
		}
	}
	p, err := c.certificates()
	if err != nil {
		return c, fmt.Errorf("certificates: %w", err)
	}
	ports, err := freePorts(4)
	if err != nil {
		return c, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	if err := c.start("etcd", filepath.Join(BinDir(), "etcd"),
		"--name=default", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", ports[1]),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", ports[1]),
		fmt.Sprintf("--initial-cluster=default=http://127.0.0.1:%d", ports[1]),
		"--unsafe-no-fsync", "--log-level=warn", "--listen-metrics-urls="); err != nil {
		return c, err
	}
	if err := c.await(ctx, "etcd", 30*time.Second, func() error {
		r, err := http.Get(etcdURL + "/health")
		if err != nil {
			return err
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			return fmt.Errorf("status %d", r.StatusCode)
		}
		return nil
	}); err != nil {
		return c, err
	}
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	if err := c.start("kube-apiserver", filepath.Join(BinDir(), "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", ports[2]),
		"--tls-cert-file="+p.path("apiserver.crt"), "--tls-private-key-file="+p.path("apiserver.key"),
		"--client-ca-file="+p.path("ca.crt"),
		"--service-account-key-file="+p.path("sa.pub"), "--service-account-signing-key-file="+p.path("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--authorization-mode=Node,RBAC", "--endpoint-reconciler-type=none",
		"--kubelet-preferred-address-types=Hostname",
		"--kubelet-client-certificate="+p.path("apiserver-kubelet.crt"), "--kubelet-client-key="+p.path("apiserver-kubelet.key"),
		"--kubelet-certificate-authority="+p.path("ca.crt"),
		"--service-cluster-ip-range=10.96.0.0/24", "--allow-privileged=false", "--profiling=false",
		"--enable-admission-plugins=NodeRestriction", "--anonymous-auth=false", "--v=0"); err != nil {
		return c, err
	}
	c.Kubeconfig = filepath.Join(dir, "admin.conf")
	if err := p.kubeconfig(c.Kubeconfig, c.Server, "admin"); err != nil {
		return c, err
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return c, err
	}
	c.Config.QPS, c.Config.Burst = 200, 400
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return c, err
	}
	c.Client = cs
	if err := c.await(ctx, "kube-apiserver", 90*time.Second, func() error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		return c, err
	}
	if err := c.start("kube-controller-manager", filepath.Join(BinDir(), "kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig, "--bind-address=127.0.0.1", "--secure-port=0",
		"--leader-elect=false", "--use-service-account-credentials=false",
		"--root-ca-file="+p.path("ca.crt"), "--service-account-private-key-file="+p.path("sa.key"),
		"--controllers=*,-csrsigning,-csrapproving,-csrcleaner,-bootstrapsigner,-tokencleaner,-ttl-after-finished,-cronjob,-job,-horizontalpodautoscaling,-disruption,-statefulset,-daemonset,-deployment,-replicaset,-replicationcontroller,-endpoint,-endpointslice,-endpointslicemirroring,-resourcequota,-ephemeral-volume,-cloud-node-lifecycle,-service,-route,-nodeipam,-attachdetach,-persistentvolume-expander,-clusterrole-aggregation,-root-ca-cert-publisher",
		"--v=0"); err != nil {
		return c, err
	}
	if err := c.startContainerd(ctx); err != nil {
		return c, err
	}
	if err := c.host.makeCgroups(c.CgroupRoot); err != nil {
		return c, err
	}
	if err := c.host.save(); err != nil {
		return c, err
	}
	if err := c.startKubelet(ctx, p, ports[3]); err != nil {
		return c, err
	}
	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: RuntimeClass}, Handler: RuntimeClass}
	if _, err := c.Client.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		return c, fmt.Errorf("runtime class: %w", err)
	}
	return c, nil
}

// certificates makes the cluster's certificate authority and every
// certificate its parts present.
func (c *Cluster) certificates() (*pki, error) {
	p, err := newPKI(filepath.Join(c.Dir, "pki"))
	if err != nil {
		return nil, err
	}
	for _, x := range []struct {
		name, cn string
		orgs     []string
		hosts    []string
	}{
		{"apiserver", "kube-apiserver", nil, []string{"127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "10.96.0.1"}},
		{"admin", "admin", []string{"system:masters"}, nil},
		{"kubelet-client", "system:node:" + NodeName, []string{"system:nodes"}, nil},
		{"kubelet-serving", NodeName, nil, []string{NodeName, "127.0.0.1"}},
		{"apiserver-kubelet", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil},
	} {
		if err := p.issue(x.name, x.cn, x.orgs, x.hosts); err != nil {
			return nil, err
		}
	}
	return p, p.serviceAccountKey()
}

// start starts one component with its output in logs/NAME.log.
func (c *Cluster) start(name, bin string, args ...string) error {
	logPath := filepath.Join(c.logs, name+".log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.Dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if name == "containerd" {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	pr := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); close(pr.done) }()
	c.procs = append(c.procs, pr)
	return nil
}

// await polls ready until it succeeds, the component exits or the time is
// up; a failure names the component and ends with its log's last lines.
func (c *Cluster) await(ctx context.Context, name string, limit time.Duration, ready func() error) error {
	var pr *proc
	for _, p := range c.procs {
		if p.name == name {
			pr = p
		}
	}
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if last = ready(); last == nil {
			return nil
		}
		if pr != nil {
			select {
			case <-pr.done:
				return fmt.Errorf("%s exited: %s", name, tail(pr.log))
			default:
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	log := ""
	if pr != nil {
		log = tail(pr.log)
	}
	return fmt.Errorf("%s not ready after %v: %v: %s", name, limit, last, log)
}

// tail returns the last lines of a log file.
func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > 15 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// containerdConfig is the CRI's containerd: its own root, state, socket
// and runc root, the pause image built here, CNI from the cluster's own
// directories (only the loopback-only plugin), network namespaces under
// its state, and the OOM score restricted (this host lacks
// CAP_SYS_RESOURCE).
const containerdConfig = `version = 2
root = %q
state = %q
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %q
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.enclave]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = [%q]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.enclave.options]
        SystemdCgroup = false
        BinaryName = %q
        Root = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
    max_conf_num = 1
`

// startContainerd builds the CNI plugin, the enclave's OCI runtime
// (cmd/enclave-runc, the handler RuntimeClass of the runtime class
// RuntimeClass) and the pause image, writes the
// CRI configuration and starts containerd with it.
func (c *Cluster) startContainerd(ctx context.Context) error {
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		return err
	}
	cniBin := filepath.Join(c.Dir, "cni", "bin")
	plugin := filepath.Join(cniBin, cni.Type)
	if err := goBuild(root, "./cmd/enclave-cni", plugin); err != nil {
		return err
	}
	if err := os.Link(plugin, filepath.Join(cniBin, "loopback")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "cni", "net.d", "10-enclave.conflist"), []byte(cni.Conflist), 0o644); err != nil {
		return err
	}
	wrapper := filepath.Join(c.Dir, "bin", "enclave-runc")
	if err := os.MkdirAll(filepath.Dir(wrapper), 0o755); err != nil {
		return err
	}
	if err := goBuild(root, "./cmd/enclave-runc", wrapper); err != nil {
		return err
	}
	pauseBin := filepath.Join(c.Dir, "pause")
	if err := goBuild(root, "./sandbox-runtime/kubernetes/k8stest/pause", pauseBin); err != nil {
		return err
	}
	archive := filepath.Join(c.Dir, "pause.tar")
	if err := writeImage(archive, pauseBin, "pause"); err != nil {
		return err
	}
	cd := filepath.Join(c.Dir, "containerd")
	for _, d := range []string{cd, filepath.Join(cd, "root"), filepath.Join(cd, "state"), filepath.Join(cd, "runc")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return err
		}
	}
	cfg := filepath.Join(cd, "config.toml")
	body := fmt.Sprintf(containerdConfig, filepath.Join(cd, "root"), filepath.Join(cd, "state"), c.Containerd,
		c.Containerd+".ttrpc", PauseImage, filepath.Join(cd, "runc"),
		runcwrap.AnnotationLimits, wrapper, filepath.Join(cd, "runc"), cniBin, filepath.Join(c.Dir, "cni", "net.d"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		return err
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return err
	}
	if err := c.start("containerd", bin, "--config", cfg); err != nil {
		return err
	}
	var client *containerd.Client
	if err := c.await(ctx, "containerd", 30*time.Second, func() error {
		cl, err := containerd.New(c.Containerd, containerd.WithTimeout(2*time.Second))
		if err != nil {
			return err
		}
		if ok, err := cl.IsServing(ctx); err != nil || !ok {
			cl.Close()
			return fmt.Errorf("not serving: %v", err)
		}
		client = cl
		return nil
	}); err != nil {
		return err
	}
	defer client.Close()
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	nctx := namespaces.WithNamespace(ctx, CRINamespace)
	imgs, err := client.Import(nctx, f, containerd.WithDigestRef(func(digest.Digest) string { return PauseImage }))
	if err != nil {
		return fmt.Errorf("import pause image: %w", err)
	}
	for _, im := range imgs {
		if err := containerd.NewImage(client, im).Unpack(nctx, "overlayfs"); err != nil {
			return fmt.Errorf("unpack pause image: %w", err)
		}
	}
	return nil
}

func goBuild(root, pkg, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v: %s", pkg, err, b)
	}
	return nil
}

// kubeletConfig is the node's configuration: loopback only, cgroupfs
// under the harness's own cgroup root, no iptables chains, logs and
// volume plugins below the cluster's directory, a pids limit for every
// pod, no eviction or image garbage collection getting in a test's way,
// webhook authentication and authorization (the apiserver decides who may
// read logs or exec).
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: %d
readOnlyPort: 0
healthzPort: 0
tlsCertFile: %q
tlsPrivateKeyFile: %q
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %q}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: %q
failSwapOn: false
failCgroupV1: false
makeIPTablesUtilChains: false
podLogsDir: %q
volumePluginDir: %q
containerRuntimeEndpoint: unix://%s
podPidsLimit: %d
resolvConf: ""
evictionHard: {"memory.available": "1Mi", "nodefs.available": "1%%", "nodefs.inodesFree": "1%%", "imagefs.available": "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
registerNode: true
serializeImagePulls: false
maxPods: 110
`

func (c *Cluster) startKubelet(ctx context.Context, p *pki, port int) error {
	seccompDir := filepath.Join(c.KubeletDir, "seccomp")
	if err := os.MkdirAll(seccompDir, 0o755); err != nil {
		return err
	}
	prof, err := json.Marshal(seccompProfile())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(seccompDir, SeccompProfile), prof, 0o644); err != nil {
		return err
	}
	cfg := filepath.Join(c.Dir, "kubelet.yaml")
	body := fmt.Sprintf(kubeletConfig, port, p.path("kubelet-serving.crt"), p.path("kubelet-serving.key"), p.path("ca.crt"),
		c.CgroupRoot, filepath.Join(c.Dir, "pod-logs"), filepath.Join(c.Dir, "volume-plugins"), c.Containerd, PodPidsLimit)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		return err
	}
	c.KubeletConfig = cfg
	kc := filepath.Join(c.Dir, "kubelet.conf")
	if err := p.kubeconfig(kc, c.Server, "kubelet-client"); err != nil {
		return err
	}
	if err := c.start("kubelet", filepath.Join(BinDir(), "kubelet"), "--config="+cfg, "--kubeconfig="+kc,
		"--root-dir="+c.KubeletDir, "--hostname-override="+NodeName, "--cert-dir="+filepath.Join(c.Dir, "kubelet-pki"), "--v=0"); err != nil {
		return err
	}
	return c.await(ctx, "kubelet", 90*time.Second, func() error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("node not ready: %s", cond.Message)
			}
		}
		return errors.New("node has no Ready condition")
	})
}

// LockFile makes test clusters take turns on the host, across processes:
// go test runs packages at once, and a second cluster's Start would take
// the first one's state file for one a killed harness left and tear the
// running cluster down. The kernel releases the lock of a killed process.
const LockFile = "/run/enclave-k8stest.lock"

// lockHost waits, until ctx ends, for the host to have no other test
// cluster, and returns the held lock (closing it releases it).
func lockHost(ctx context.Context) (*os.File, error) {
	f, err := os.OpenFile(LockFile, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", LockFile, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for another test cluster on this host to stop: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Stop deletes every pod, stops the cluster's processes (the CRI's
// containers and shims too), unmounts everything below its directory,
// restores the host and removes the directory. It returns every failure.
func (c *Cluster) Stop() error {
	defer c.lock.Close() // after the host is restored
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []error
	if c.Client != nil && c.running("kubelet") {
		c.deletePods(ctx)
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		pr := c.procs[i]
		if pr.name == "containerd" {
			errs = append(errs, c.removeContainers(ctx))
		}
		stop(pr)
	}
	killShims(filepath.Join(c.Dir, "containerd"))
	errs = append(errs, unmountUnder(c.Dir))
	if c.host != nil {
		errs = append(errs, c.host.restore())
	}
	errs = append(errs, unmountUnder(c.Dir))
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, fmt.Errorf("remove cluster directory: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return err // the state file stays for the next Start to finish
	}
	return os.Remove(StateFile)
}

func (c *Cluster) running(name string) bool {
	for _, p := range c.procs {
		if p.name == name {
			select {
			case <-p.done:
				return false
			default:
				return true
			}
		}
	}
	return false
}

// deletePods deletes every pod at once and waits a while for the kubelet
// to tear them down (volumes unmounted, sandboxes removed).
func (c *Cluster) deletePods(ctx context.Context) {
	zero := int64(0)
	nss, err := c.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, ns := range nss.Items {
		_ = c.Client.CoreV1().Pods(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// removeContainers kills and removes every task and container of the
// CRI's namespace.
func (c *Cluster) removeContainers(ctx context.Context) error {
	cl, err := containerd.New(c.Containerd, containerd.WithTimeout(2*time.Second))
	if err != nil {
		return nil // not running: the shims are killed below
	}
	defer cl.Close()
	nctx := namespaces.WithNamespace(ctx, CRINamespace)
	cs, err := cl.Containers(nctx)
	if err != nil {
		return fmt.Errorf("list CRI containers: %w", err)
	}
	var errs []error
	for _, ctr := range cs {
		if t, err := ctr.Task(nctx, nil); err == nil {
			_ = t.Kill(nctx, syscall.SIGKILL, containerd.WithKillAll)
			// The CRI removes a killed task itself: one it removed
			// first is gone, as wanted. Its removal may also close the
			// shim's connection under our delete ("ttrpc: closed"):
			// then the task is gone too, which a second look shows.
			if _, err := t.Delete(nctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) && !taskGone(nctx, ctr) {
				errs = append(errs, fmt.Errorf("delete task %s: %w", ctr.ID(), err))
			}
		}
		if err := ctr.Delete(nctx); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete container %s: %w", ctr.ID(), err))
		}
	}
	return errors.Join(errs...)
}

// taskGone reports whether ctr's task is gone within two seconds of a
// failed delete (the CRI removing it at the same time).
func taskGone(ctx context.Context, ctr containerd.Container) bool {
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := ctr.Task(ctx, nil); errdefs.IsNotFound(err) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// stop ends a component with SIGTERM, then SIGKILL after 10 s.
func stop(pr *proc) {
	select {
	case <-pr.done:
		return
	default:
	}
	_ = pr.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-pr.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
		<-pr.done
	}
}

// killShims kills the containerd shims whose command line names the
// cluster's containerd (by its directory).
func killShims(dir string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") && strings.Contains(string(b), dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Log returns the last lines of a component's log ("kubelet", ...).
func (c *Cluster) Log(name string) string { return tail(filepath.Join(c.logs, name+".log")) }

// readAll is io.ReadAll with a cap, for small files.
func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(io.LimitReader(r, 1<<20)) }
