package kubernetes

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// TestDiscoverNodeReal: the daemon finds the test cluster's one node, as
// the tests name it, from the cluster's Node object and the kubelet's
// configuration file; a node it does not know is an error.
func TestDiscoverNodeReal(t *testing.T) {
	setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kc, err := os.ReadFile(env.cluster.KubeletConfig)
	if err != nil {
		t.Fatal(err)
	}
	n, err := DiscoverNode(ctx, env.cluster.Config, "", kc)
	if err != nil {
		t.Fatalf("discover: %v", err)
	}
	if want := testNode(env.cluster); n != want {
		t.Fatalf("discover: got %+v, want %+v", n, want)
	}
	if _, err := DiscoverNode(ctx, env.cluster.Config, "no-such-node", kc); err == nil {
		t.Fatal("discover of a node that does not exist: got no error")
	}
	if _, err := DiscoverNode(ctx, env.cluster.Config, "", []byte("kind: Pod\n")); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("discover with a file that is no kubelet configuration: got %v", err)
	}
}
