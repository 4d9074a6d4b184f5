package kubernetes

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/k8stest"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// env is the test cluster of this test binary, shared by its tests.
var env struct {
	once    sync.Once
	err     error
	base    string
	cluster *k8stest.Cluster
	rt      *Runtime
	digests map[string]string // image name -> digest
	// log is what the runtimes logged, at every level, as JSON lines.
	log sandboxtest.SyncBuffer
}

const testNamespace = "enclave-jobs"

func TestMain(m *testing.M) {
	code := m.Run()
	if env.rt != nil {
		env.rt.Recover(context.Background(), nil)
		env.rt.Close()
	}
	if env.cluster != nil {
		if err := env.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop the test cluster:", err)
			code = 1
		}
	}
	if env.base != "" {
		os.RemoveAll(env.base)
	}
	os.Exit(code)
}

// testNode is the node of the test cluster as the runtime sees it.
func testNode(c *k8stest.Cluster) LocalNode {
	return LocalNode{Name: k8stest.NodeName, Containerd: c.Containerd, CgroupRoot: c.CgroupRoot, PodPidsLimit: k8stest.PodPidsLimit}
}

// newRuntime connects a runtime to the test cluster.
func newRuntime(ctx context.Context, c *k8stest.Cluster, ns string) (*Runtime, error) {
	return New(ctx, c.Config, ns, testNode(c), WithSeccompProfile(k8stest.SeccompProfile),
		WithHoldImage(k8stest.PauseImage), WithCPURequest(10), WithLogger(slog.New(slog.NewJSONHandler(&env.log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
}

// setup boots the cluster, builds, imports and prepares the built-in
// images, once per test binary.
func setup(t testing.TB) *Runtime {
	t.Helper()
	if testing.Short() {
		// Booting etcd, the apiserver, a containerd and a kubelet, and
		// running real pods, is minutes of CPU; make test (without -short)
		// runs them, and fails there when CI=true and they cannot run.
		t.Skip("real cluster: not under -short")
	}
	k8stest.Require(t)
	env.once.Do(func() {
		ctx := context.Background()
		env.base, env.err = os.MkdirTemp("", "k8sbx-")
		if env.err != nil {
			return
		}
		os.Chmod(env.base, 0o711)
		env.cluster, env.err = k8stest.Start(ctx, "")
		if env.err != nil {
			return
		}
		env.rt, env.err = newRuntime(ctx, env.cluster, testNamespace)
		if env.err != nil {
			return
		}
		var archives map[string]string
		archives, env.err = sandboxtest.Images(filepath.Join(env.base, "images"))
		if env.err != nil {
			return
		}
		env.digests = map[string]string{}
		for name, path := range archives {
			f, err := os.Open(path)
			if err != nil {
				env.err = err
				return
			}
			d, err := env.rt.ImportImage(ctx, f)
			f.Close()
			if err != nil {
				env.err = fmt.Errorf("import %s: %w", name, err)
				return
			}
			if err := env.rt.PrepareImage(ctx, d); err != nil {
				env.err = fmt.Errorf("prepare %s: %w", name, err)
				return
			}
			env.digests[name] = d
		}
	})
	if env.err != nil {
		t.Fatalf("Kubernetes test cluster: %v", env.err)
	}
	return env.rt
}

var jobSeq struct {
	sync.Mutex
	n int
}

// newSpec returns a spec for image with small limits and fresh directories.
func newSpec(t testing.TB, image string, args ...string) sandbox.Spec {
	t.Helper()
	jobSeq.Lock()
	jobSeq.n++
	id := fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e9, jobSeq.n)
	jobSeq.Unlock()
	l := sandbox.DefaultLimits()
	l.MemoryBytes = 128 << 20
	l.OutBytes = 16 << 20
	l.TmpBytes = 16 << 20
	l.FileSizeBytes = 64 << 20
	l.Pids = k8stest.PodPidsLimit
	l.NoFile = 256
	l.Timeout = 60 * time.Second
	l.MaxOutputFiles = 100
	l.LogBytes = 64 << 10
	dir := filepath.Join(env.base, "jobs", id)
	return sandbox.Spec{ID: id, Image: env.digests[image], Args: args, OutDir: filepath.Join(dir, "out"), Limits: l}
}

// run runs spec and returns its exit and logs.
func run(t testing.TB, ctx context.Context, spec sandbox.Spec) (sandbox.Exit, string) {
	t.Helper()
	var logs sandboxtest.SyncBuffer
	ex, err := env.rt.Run(ctx, spec, &logs)
	if err != nil {
		t.Fatalf("Run %v: got error %v, want an exit", spec.Args, err)
	}
	return ex, logs.String()
}
