package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/enclave-dev/enclave/enclave/api"
	k8s "github.com/enclave-dev/enclave/sandbox-runtime/kubernetes"
	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/k8stest"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// TestKubernetesEndToEnd runs the main path through enclaved with
// --sandbox kubernetes on the real test cluster (etcd, kube-apiserver,
// a private containerd and a kubelet on loopback): a custodian imports a
// dataset, an authority grants it, an officer approves the image, the
// operator's job runs as a pod of the cluster's one node, its output is
// exported, approved by two officers, released and downloaded. The
// cluster's events show the job's pod started; the job namespace enforces
// the restricted profile.
func TestKubernetesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a Kubernetes cluster")
	}
	k8stest.Require(t)
	base, err := os.MkdirTemp("", "enclave-k8s-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o711)
	// Start waits while another package's test cluster runs (go test runs
	// packages at once; clusters take turns on the host).
	startCtx, cancelStart := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancelStart()
	cluster, err := k8stest.Start(startCtx, base)
	if err != nil {
		t.Fatalf("Kubernetes test cluster: %v", err)
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			t.Errorf("stop the test cluster: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	imgs, err := sandboxtest.Images(filepath.Join(base, "images"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.DataDir = filepath.Join(base, "data")
	cfg.SandboxKind, cfg.Kubeconfig, cfg.KubeletConfig = sandboxKubernetes, cluster.Kubeconfig, cluster.KubeletConfig
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	res, err := initDataDir(ctx, cfg, testAdmin("platform"))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg.DataDir, "ENCLAVED_TEST_SANDBOX=1",
		"ENCLAVED_TEST_KUBECONFIG="+cluster.Kubeconfig, "ENCLAVED_TEST_KUBELET_CONFIG="+cluster.KubeletConfig)
	defer func() {
		d.Process.Signal(syscall.SIGTERM)
		d.Wait()
	}()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(cfg.DataDir, "enclaved.sock")
	w := newJobWorld(t, ctx, sock, res.AdminToken, imgs["toolbox"], filepath.Join(base, "penalties.csv"))
	j, err := w.operator.RunJob(ctx, api.JobRequest{Image: w.image, Inputs: []string{"credit_penalties"}, Outputs: []string{"note.txt"},
		Args: []string{"sh", "-c", "test -r /in/credit_penalties/data.arrow && echo 'districts 5' > /out/note.txt"}, Timeout: "2m"})
	must(err)
	j, err = w.operator.WaitJob(ctx, j.ID)
	must(err)
	if j.State != "complete" || len(j.Outputs) != 1 || j.Usage.CPUSeconds <= 0 {
		t.Fatalf("job: got state %s, outputs %d, cpu %v; want complete, one output, metered", j.State, len(j.Outputs), j.Usage.CPUSeconds)
	}
	evs, err := cluster.Client.CoreV1().Events(cfg.KubernetesNamespace).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Pod,involvedObject.name=" + k8s.PodName(j.ID)})
	must(err)
	started := false
	for _, e := range evs.Items {
		started = started || e.Reason == "Started"
	}
	if !started {
		t.Fatalf("the cluster has no Started event of the job's pod %s (%d events)", k8s.PodName(j.ID), len(evs.Items))
	}
	ns, err := cluster.Client.CoreV1().Namespaces().Get(ctx, cfg.KubernetesNamespace, metav1.GetOptions{})
	must(err)
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Fatalf("job namespace labels: %v, want the restricted profile enforced", ns.Labels)
	}

	x, err := w.operator.RequestExport(ctx, api.ExportRequest{Job: j.ID, Files: []string{"note.txt"}, Purpose: "dashboard"})
	must(err)
	review := api.ReviewRequest{Comment: "a count", Justification: "one count of districts, reviewed by hand"}
	_, err = w.officer.DecideExport(ctx, x.ID, "approve", review)
	must(err)
	_, err = w.officer2.DecideExport(ctx, x.ID, "approve", review)
	must(err)
	x, err = w.operator.ShowExport(ctx, x.ID)
	must(err)
	if x.State != "released" || x.BundleSHA256 == "" {
		t.Fatalf("export: got %s, want released", x.State)
	}
	rc, err := w.operator.DownloadRelease(ctx, x.ID)
	must(err)
	bundle, err := io.ReadAll(rc)
	rc.Close()
	must(err)
	if !bytes.Contains(bundle, []byte("districts 5\n")) {
		t.Fatalf("the released bundle (%d bytes) does not hold the job's output", len(bundle))
	}
}
