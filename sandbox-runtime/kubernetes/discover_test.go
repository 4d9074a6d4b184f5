package kubernetes

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestParseConfigz(t *testing.T) {
	good := `{"kubeletconfig":{"cgroupDriver":"cgroupfs","cgroupRoot":"/enclave","podPidsLimit":64,"containerRuntimeEndpoint":"unix:///run/k/containerd.sock"}}`
	n, err := parseConfigz("n1", []byte(good))
	if err != nil || n != (LocalNode{Name: "n1", Containerd: "/run/k/containerd.sock", CgroupRoot: "/enclave", PodPidsLimit: 64}) {
		t.Fatalf("parse: got %+v, %v", n, err)
	}
	for _, tc := range []struct{ name, body string }{
		{"not json", `{`},
		{"systemd driver", `{"kubeletconfig":{"cgroupDriver":"systemd","podPidsLimit":64,"containerRuntimeEndpoint":"unix:///x.sock"}}`},
		{"no pids limit", `{"kubeletconfig":{"cgroupDriver":"cgroupfs","podPidsLimit":-1,"containerRuntimeEndpoint":"unix:///x.sock"}}`},
		{"remote runtime", `{"kubeletconfig":{"cgroupDriver":"cgroupfs","podPidsLimit":64,"containerRuntimeEndpoint":"tcp://10.0.0.1:1"}}`},
		{"relative cgroup root", `{"kubeletconfig":{"cgroupDriver":"cgroupfs","cgroupRoot":"../x","podPidsLimit":64,"containerRuntimeEndpoint":"unix:///x.sock"}}`},
		{"no qos cgroups", `{"kubeletconfig":{"cgroupDriver":"cgroupfs","cgroupsPerQOS":false,"podPidsLimit":64,"containerRuntimeEndpoint":"unix:///x.sock"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfigz("n1", []byte(tc.body))
			if !errdefs.IsFailedPrecondition(err) && !errdefs.IsInvalidArgument(err) {
				t.Errorf("parse: got %v, want refused", err)
			}
		})
	}
}

// TestParseKubeletConfig: the kubelet's configuration file, YAML as
// kubeadm writes it, gives the same node as its /configz would, and is
// checked the same way.
func TestParseKubeletConfig(t *testing.T) {
	good := "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\ncgroupRoot: /enclave\npodPidsLimit: 64\ncontainerRuntimeEndpoint: unix:///run/k/containerd.sock\n"
	n, err := parseKubeletConfig("n1", []byte(good))
	if err != nil || n != (LocalNode{Name: "n1", Containerd: "/run/k/containerd.sock", CgroupRoot: "/enclave", PodPidsLimit: 64}) {
		t.Fatalf("parse: got %+v, %v", n, err)
	}
	for _, tc := range []struct{ name, body string }{
		{"not yaml", "{"},
		{"another kind", strings.Replace(good, "KubeletConfiguration", "Pod", 1)},
		{"no kind", strings.Replace(good, "kind: KubeletConfiguration\n", "", 1)},
		{"systemd driver", strings.Replace(good, "cgroupfs", "systemd", 1)},
		{"no pids limit", strings.Replace(good, "podPidsLimit: 64\n", "", 1)},
		{"remote runtime", strings.Replace(good, "unix:///run/k/containerd.sock", "tcp://10.0.0.1:1", 1)},
		{"no runtime endpoint", strings.Replace(good, "containerRuntimeEndpoint: unix:///run/k/containerd.sock\n", "", 1)},
		{"no qos cgroups", good + "cgroupsPerQOS: false\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseKubeletConfig("n1", []byte(tc.body))
			if !errdefs.IsFailedPrecondition(err) && !errdefs.IsInvalidArgument(err) {
				t.Errorf("parse: got %v, want refused", err)
			}
		})
	}
}

// FuzzParseConfigz: a kubelet's answer is outside input; parsing never
// panics, and what it accepts is a usable node.
func FuzzParseConfigz(f *testing.F) {
	f.Add([]byte(`{"kubeletconfig":{"cgroupDriver":"cgroupfs","cgroupRoot":"/","podPidsLimit":64,"containerRuntimeEndpoint":"unix:///x.sock"}}`))
	f.Add([]byte(`{"kubeletconfig":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseConfigz("n", b)
		if err != nil {
			if !errors.Is(err, errdefs.ErrFailedPrecondition) && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("error class: %v", err)
			}
			return
		}
		if n.PodPidsLimit <= 0 || n.Containerd == "" || n.CgroupRoot == "" || n.CgroupRoot[0] != '/' {
			t.Fatalf("accepted an unusable node: %+v", n)
		}
	})
}
