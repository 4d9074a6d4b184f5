package kubernetes

import (
	"context"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/k8stest"
)

const criConfigOK = `{"containerd":{"snapshotter":"overlayfs","runtimes":{
 "runc":{"runtimeType":"io.containerd.runc.v2","options":{"SystemdCgroup":false},"PodAnnotations":null},
 "enclave":{"runtimeType":"io.containerd.runc.v2","options":{"BinaryName":"/usr/local/bin/enclave-runc","Root":"/run/r"},"PodAnnotations":["enclave.dev/limits"]},
 "glob":{"runtimeType":"io.containerd.runc.v2","options":{"BinaryName":"/opt/enclave-runc"},"PodAnnotations":["enclave.dev/*"]}}},
 "containerdRootDir":"/var/lib/containerd"}`

func TestHandlerBinary(t *testing.T) {
	for handler, want := range map[string]string{"enclave": "/usr/local/bin/enclave-runc", "glob": "/opt/enclave-runc"} {
		if got, err := HandlerBinary([]byte(criConfigOK), handler); err != nil || got != want {
			t.Errorf("HandlerBinary(%s): got %q, %v; want %q", handler, got, err, want)
		}
	}
	bad := []struct{ name, config, handler, want string }{
		{"not json", `{`, "enclave", "not containerd's"},
		{"no handler", criConfigOK, "gvisor", `no runtime handler "gvisor"`},
		{"plain runc", criConfigOK, "runc", "BinaryName is not"},
		{"another shim", `{"containerd":{"runtimes":{"e":{"runtimeType":"io.containerd.runsc.v1","options":{"BinaryName":"/x/enclave-runc"},"PodAnnotations":["enclave.dev/limits"]}}}}`, "e", "not the runc shim"},
		{"relative binary", `{"containerd":{"runtimes":{"e":{"runtimeType":"io.containerd.runc.v2","options":{"BinaryName":"enclave-runc"},"PodAnnotations":["enclave.dev/limits"]}}}}`, "e", "BinaryName"},
		{"binary not a string", `{"containerd":{"runtimes":{"e":{"runtimeType":"io.containerd.runc.v2","options":{"BinaryName":7},"PodAnnotations":["enclave.dev/limits"]}}}}`, "e", "BinaryName"},
		{"annotation not passed", `{"containerd":{"runtimes":{"e":{"runtimeType":"io.containerd.runc.v2","options":{"BinaryName":"/x/enclave-runc"},"PodAnnotations":["other/*"]}}}}`, "e", "pod_annotations"},
	}
	for _, tc := range bad {
		if _, err := HandlerBinary([]byte(tc.config), tc.handler); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func FuzzHandlerBinary(f *testing.F) {
	f.Add([]byte(criConfigOK), "enclave")
	f.Add([]byte(`{"containerd":{"runtimes":{"":{}}}}`), "")
	f.Fuzz(func(t *testing.T, b []byte, handler string) {
		bin, err := HandlerBinary(b, handler)
		if err == nil && (!strings.HasPrefix(bin, "/") || !strings.HasSuffix(bin, "/"+WrapperName)) {
			t.Fatalf("accepted handler binary %q", bin)
		}
	})
}

// TestNewRefusesPlainHandler: a RuntimeClass whose handler is the node's
// plain runc (no enclave-runc) is refused when the runtime starts.
func TestNewRefusesPlainHandler(t *testing.T) {
	rt := setup(t)
	ctx := context.Background()
	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "plain-runc"}, Handler: "runc"}
	if _, err := rt.client.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer rt.client.NodeV1().RuntimeClasses().Delete(ctx, rc.Name, metav1.DeleteOptions{})
	for _, class := range []string{"plain-runc", "missing"} {
		_, err := New(ctx, env.cluster.Config, testNamespace, testNode(env.cluster), WithRuntimeClass(class))
		if err == nil {
			t.Fatalf("New with runtime class %q: got a runtime, want refused", class)
		}
		if class == "plain-runc" && (!errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "BinaryName")) {
			t.Errorf("New with plain runc: got %v, want a failed precondition naming BinaryName", err)
		}
	}
	if _, err := New(ctx, env.cluster.Config, testNamespace, testNode(env.cluster), WithRuntimeClass(k8stest.RuntimeClass)); err != nil {
		t.Errorf("New with the enclave's class: %v", err)
	}
}
