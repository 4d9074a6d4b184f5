package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// kubeletConfigz is the part of a kubelet's configuration the runtime
// reads, in the form of the kubelet's /configz.
type kubeletConfigz struct {
	KubeletConfig struct {
		CgroupDriver             string `json:"cgroupDriver"`
		CgroupRoot               string `json:"cgroupRoot"`
		CgroupsPerQOS            *bool  `json:"cgroupsPerQOS"`
		PodPidsLimit             int64  `json:"podPidsLimit"`
		ContainerRuntimeEndpoint string `json:"containerRuntimeEndpoint"`
	} `json:"kubeletconfig"`
}

// DefaultKubeletConfig is where kubeadm writes a kubelet's configuration
// file.
const DefaultKubeletConfig = "/var/lib/kubelet/config.yaml"

// DiscoverNode finds the node that runs the jobs: name names it, or, when
// empty, the cluster must have exactly one node. Its Node object must
// report a containerd runtime; how to reach that containerd and the
// node's cgroups comes from kubeletConfig, the kubelet's configuration
// file (KubeletConfiguration, YAML or JSON) as the daemon, which shares
// the node, reads it. The apiserver cannot give that configuration: its
// node proxy (nodes/NAME/proxy/configz) refuses a node whose address is
// loopback ("address not allowed"), which is how a one-node enclave runs
// its kubelet. It refuses a node whose kubelet does not use the cgroupfs
// driver with QoS cgroups (the runtime meters and stops jobs through
// them), has no pids limit, or whose runtime is not a local containerd
// socket.
func DiscoverNode(ctx context.Context, cfg *rest.Config, name string, kubeletConfig []byte) (LocalNode, error) {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return LocalNode{}, fmt.Errorf("kubernetes client: %w", err)
	}
	var node *corev1.Node
	if name == "" {
		nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return LocalNode{}, fmt.Errorf("list nodes: %w", err)
		}
		if len(nodes.Items) != 1 {
			return LocalNode{}, fmt.Errorf("the cluster has %d nodes; jobs run on one node the daemon shares (name it): %w", len(nodes.Items), errdefs.ErrFailedPrecondition)
		}
		node = &nodes.Items[0]
	} else if node, err = c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
		return LocalNode{}, fmt.Errorf("node %q: %w", name, err)
	}
	if rt := node.Status.NodeInfo.ContainerRuntimeVersion; !strings.HasPrefix(rt, "containerd://") {
		return LocalNode{}, fmt.Errorf("node %q runs %q, not containerd: %w", node.Name, rt, errdefs.ErrFailedPrecondition)
	}
	return parseKubeletConfig(node.Name, kubeletConfig)
}

// parseKubeletConfig reads a kubelet's configuration file (outside input).
func parseKubeletConfig(name string, raw []byte) (LocalNode, error) {
	j, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return LocalNode{}, fmt.Errorf("node %q kubelet configuration unreadable: %w", name, errdefs.ErrInvalidArgument)
	}
	var kind struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(j, &kind); err != nil || kind.Kind != "KubeletConfiguration" {
		return LocalNode{}, fmt.Errorf("node %q kubelet configuration is no KubeletConfiguration: %w", name, errdefs.ErrInvalidArgument)
	}
	return parseConfigz(name, append(append([]byte(`{"kubeletconfig":`), j...), '}'))
}

// parseConfigz reads a kubelet's configuration in the form of its
// /configz answer (outside input).
func parseConfigz(name string, raw []byte) (LocalNode, error) {
	var z kubeletConfigz
	if err := json.Unmarshal(raw, &z); err != nil {
		return LocalNode{}, fmt.Errorf("node %q kubelet configuration unreadable: %w", name, errdefs.ErrInvalidArgument)
	}
	k := z.KubeletConfig
	fail := func(why string) (LocalNode, error) {
		return LocalNode{}, fmt.Errorf("node %q: %s: %w", name, why, errdefs.ErrFailedPrecondition)
	}
	switch {
	case k.CgroupDriver != "cgroupfs":
		return fail("the kubelet's cgroup driver is not cgroupfs")
	case k.CgroupsPerQOS != nil && !*k.CgroupsPerQOS:
		return fail("the kubelet makes no QoS cgroups")
	case k.PodPidsLimit <= 0:
		return fail("the kubelet sets no pods pids limit")
	}
	sock, ok := strings.CutPrefix(k.ContainerRuntimeEndpoint, "unix://")
	if !ok || !strings.HasPrefix(sock, "/") || strings.Contains(sock, "..") {
		return fail("the container runtime is not a local socket")
	}
	root := k.CgroupRoot
	if root == "" {
		root = "/"
	}
	if !strings.HasPrefix(root, "/") || strings.Contains(root, "..") {
		return fail("the kubelet's cgroup root is not an absolute path")
	}
	return LocalNode{Name: name, Containerd: sock, CgroupRoot: root, PodPidsLimit: k.PodPidsLimit}, nil
}
