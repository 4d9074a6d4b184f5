package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// kubeletConfigz is the part of a kubelet's /configz the runtime reads.
type kubeletConfigz struct {
	KubeletConfig struct {
		CgroupDriver             string `json:"cgroupDriver"`
		CgroupRoot               string `json:"cgroupRoot"`
		CgroupsPerQOS            *bool  `json:"cgroupsPerQOS"`
		PodPidsLimit             int64  `json:"podPidsLimit"`
		ContainerRuntimeEndpoint string `json:"containerRuntimeEndpoint"`
	} `json:"kubeletconfig"`
}

// DiscoverNode finds the node that runs the jobs and how to reach its
// parts, from its kubelet's configuration (read through the apiserver):
// name names it, or, when empty, the cluster must have exactly one node.
// It refuses a node whose kubelet does not use the cgroupfs driver with
// QoS cgroups (the runtime meters and stops jobs through them), has no
// pids limit, or whose runtime is not a local containerd socket.
func DiscoverNode(ctx context.Context, cfg *rest.Config, name string) (LocalNode, error) {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return LocalNode{}, fmt.Errorf("kubernetes client: %w", err)
	}
	if name == "" {
		nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return LocalNode{}, fmt.Errorf("list nodes: %w", err)
		}
		if len(nodes.Items) != 1 {
			return LocalNode{}, fmt.Errorf("the cluster has %d nodes; jobs run on one node the daemon shares (name it): %w", len(nodes.Items), errdefs.ErrFailedPrecondition)
		}
		name = nodes.Items[0].Name
	}
	raw, err := c.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", name, "proxy", "configz").DoRaw(ctx)
	if err != nil {
		return LocalNode{}, fmt.Errorf("node %q kubelet configuration: %w", name, err)
	}
	return parseConfigz(name, raw)
}

// parseConfigz reads a kubelet's /configz answer (outside input).
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
