// Package kubernetes implements sandbox.Runtime on Kubernetes through
// client-go: every job is one Pod, in a namespace that enforces the
// PodSecurity "restricted" profile and holds a deny-all NetworkPolicy and
// the enclave's ValidatingAdmissionPolicy. A job's pod runs as an
// unprivileged user with no capabilities, no privilege escalation, the
// enclave's seccomp profile (or RuntimeDefault), a read-only root, memory
// (tmpfs) emptyDirs of the job's sizes for /tmp and /out, CPU and memory
// limits equal to its requests, no service account token, no service links,
// no host namespaces, an activeDeadlineSeconds past its timeout and the
// enclave's RuntimeClass. BuildPod makes that pod and ValidatePod, the
// twin of sandbox-runtime/hardening's validator, refuses any pod without
// one of them before it is created.
//
// The RuntimeClass's handler on the node is the enclave's OCI runtime,
// cmd/enclave-runc (sandbox-runtime/kubernetes/runcwrap): it rewrites the
// spec the CRI made of each job's container with the options of
// sandbox-runtime/hardening, as the containerd backend builds its jobs (a
// user namespace, new network, ipc and uts namespaces, the enclave's
// seccomp profile, no host path but the inputs and /out, a capped noexec
// /tmp, the job's pids limit and rlimits, PATH only), and runc never
// starts a container whose spec fails hardening.Validate.
//
// This version runs jobs on one node that the daemon shares (LocalNode):
// images are imported into the node's containerd (the CRI's namespace),
// decrypted inputs are the daemon's own directories served read-only by a
// hostPath persistent volume per input, and the runtime reads what a job
// left in /out, meters its pod's cgroup and stops a job at its timeout on
// the node, before it deletes the pod (which unmounts /out and /tmp, so no
// plaintext stays). A second container in every pod (the holder, the
// node's pause image) keeps /out mounted until then. README.md describes
// how the same contract reaches many nodes.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/runcwrap"
)

var _ sandbox.Runtime = (*Runtime)(nil)

// Defaults.
const (
	// DefaultRunAsUser is the uid and gid of every job: no user of the host.
	DefaultRunAsUser = 100000000
	// DefaultHoldImage is containerd 1.6's default sandbox image, present on
	// every node that runs pods.
	DefaultHoldImage = "registry.k8s.io/pause:3.6"
	criNamespace     = "k8s.io"
	labelPrepared    = "enclave.dev/prepared"
	snapshotter      = "overlayfs"
	// DefaultRuntimeClass is the RuntimeClass (and the containerd runtime
	// handler of the same name) whose OCI runtime is cmd/enclave-runc.
	DefaultRuntimeClass = "enclave"
	// PolicyName names the ValidatingAdmissionPolicy and its binding.
	PolicyName = "enclave-job-pods"
)

// LocalNode is the one node the daemon shares with its jobs, and how to
// reach its parts.
type LocalNode struct {
	Name       string // the node's name (pods are bound to it)
	Containerd string // the address of the CRI's containerd
	// CgroupRoot is the kubelet's cgroupRoot ("/" by default): pod cgroups
	// are /sys/fs/cgroup/CONTROLLER/CgroupRoot/kubepods/pod<UID>.
	CgroupRoot string
	// PodPidsLimit is the kubelet's pids limit of every pod (required): it
	// bounds a job's pod; the job's container has the job's own limit.
	PodPidsLimit int64
}

// Runtime runs jobs as pods. It is safe for concurrent use.
type Runtime struct {
	client       kubernetes.Interface
	ns           string
	node         LocalNode
	runtimeClass string
	handler      string // the runtime class's CRI handler
	seccomp      string
	uid          int64
	holdImage    string
	cpuRequest   int64
	log          *slog.Logger
	ctrd         *containerd.Client

	pending sync.WaitGroup // background removals of finished jobs
}

// Option configures a Runtime.
type Option func(*Runtime) error

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(r *Runtime) error { r.log = l; return nil } }

// WithRuntimeClass runs every job under the named RuntimeClass (default
// DefaultRuntimeClass; empty keeps the default). Its handler must be the
// enclave's OCI runtime, cmd/enclave-runc, on every node that runs jobs:
// it gives each job's container the hardening of the containerd backend.
func WithRuntimeClass(name string) Option {
	return func(r *Runtime) error {
		if name != "" {
			r.runtimeClass = name
		}
		return nil
	}
}

// WithSeccompProfile names the enclave's seccomp profile, installed on
// the nodes as a Localhost profile (default: RuntimeDefault).
func WithSeccompProfile(name string) Option {
	return func(r *Runtime) error {
		if strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
			return fmt.Errorf("seccomp profile %q: %w", name, errdefs.ErrInvalidArgument)
		}
		r.seccomp = name
		return nil
	}
}

// WithHoldImage names the image of the container that holds a pod open
// after its job ended (default DefaultHoldImage); it must be on the node.
func WithHoldImage(ref string) Option {
	return func(r *Runtime) error { r.holdImage = ref; return nil }
}

// WithCPURequest sets every job's CPU request, in millicores, below its
// limit (default: the whole limit). The limit, a CFS quota, still bounds
// the job; a smaller request lets more jobs share a node's cores.
func WithCPURequest(milli int64) Option {
	return func(r *Runtime) error {
		if milli < 1 {
			return fmt.Errorf("cpu request: %w", errdefs.ErrInvalidArgument)
		}
		r.cpuRequest = milli
		return nil
	}
}

// WithRunAsUser sets the jobs' uid and gid (at least 65536).
func WithRunAsUser(uid int64) Option {
	return func(r *Runtime) error {
		if uid < 65536 || uid > 1<<31-1 {
			return fmt.Errorf("run-as user: %w", errdefs.ErrInvalidArgument)
		}
		r.uid = uid
		return nil
	}
}

// New connects to the cluster of cfg, makes sure that namespace enforces
// the restricted profile and holds the deny-all network policy, the
// enclave's admission policy and a default service account, and connects
// to the node's containerd. A namespace that cannot be made so is an
// error: the runtime never runs a job in a weaker one.
func New(ctx context.Context, cfg *rest.Config, namespace string, node LocalNode, opts ...Option) (*Runtime, error) {
	if namespace == "" || node.Name == "" || node.Containerd == "" {
		return nil, fmt.Errorf("namespace, node and its containerd are required: %w", errdefs.ErrInvalidArgument)
	}
	if node.CgroupRoot == "" {
		node.CgroupRoot = "/"
	}
	r := &Runtime{ns: namespace, node: node, uid: DefaultRunAsUser, holdImage: DefaultHoldImage,
		runtimeClass: DefaultRuntimeClass, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", errors.Join(errdefs.ErrInvalidArgument, err))
	}
	r.client = c
	rc, err := c.NodeV1().RuntimeClasses().Get(ctx, r.runtimeClass, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("runtime class %q (its handler must be the enclave's OCI runtime, enclave-runc): %w", r.runtimeClass, err)
	}
	r.handler = rc.Handler
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	if err := checkHandler(ctx, node.Containerd, r.handler); err != nil {
		return nil, fmt.Errorf("runtime class %q: %w", r.runtimeClass, err)
	}
	r.ctrd, err = containerd.New(node.Containerd, containerd.WithDefaultNamespace(criNamespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to the node's containerd: %w", errors.Join(errdefs.ErrUnavailable, err))
	}
	return r, nil
}

// NamespaceLabels are the labels the jobs' namespace carries.
func NamespaceLabels() map[string]string {
	return map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
		"pod-security.kubernetes.io/warn":            "restricted",
		"pod-security.kubernetes.io/audit":           "restricted",
		LabelJobsNS:                                  "true",
	}
}

func (r *Runtime) setup(ctx context.Context) error {
	nsc := r.client.CoreV1().Namespaces()
	ns, err := nsc.Get(ctx, r.ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		ns, err = nsc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.ns, Labels: NamespaceLabels()}}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create namespace %q: %w", r.ns, err)
		}
	case err != nil:
		return fmt.Errorf("namespace %q: %w", r.ns, err)
	}
	missing := false
	for k, v := range NamespaceLabels() {
		missing = missing || ns.Labels[k] != v
	}
	if missing {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		for k, v := range NamespaceLabels() {
			ns.Labels[k] = v
		}
		if _, err := nsc.Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("namespace %q does not enforce the restricted profile and cannot be made to: %w", r.ns, err)
		}
	}
	if _, err := r.client.CoreV1().ServiceAccounts(r.ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta:                   metav1.ObjectMeta{Name: "default"},
		AutomountServiceAccountToken: new(bool),
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("service account: %w", err)
	}
	np := DenyAllPolicy(r.ns)
	if _, err := r.client.NetworkingV1().NetworkPolicies(r.ns).Create(ctx, np, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("network policy: %w", err)
	}
	return r.admissionPolicy(ctx)
}

// DenyAllPolicy is the network policy of the jobs' namespace: every pod
// selected, no ingress and no egress rule.
func DenyAllPolicy(ns string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "enclave-deny-all", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
}

// admissionRules are the protections PodSecurity's restricted profile does
// not cover, enforced by the apiserver for every pod of a namespace
// labelled LabelJobsNS.
var admissionRules = []struct{ name, expr string }{
	{"service-account-token", `has(object.spec.automountServiceAccountToken) && object.spec.automountServiceAccountToken == false`},
	{"service-links", `has(object.spec.enableServiceLinks) && object.spec.enableServiceLinks == false`},
	{"deadline", `has(object.spec.activeDeadlineSeconds) && object.spec.activeDeadlineSeconds > 0`},
	{"restart-never", `object.spec.restartPolicy == 'Never'`},
	{"readonly-root", `object.spec.containers.all(c, has(c.securityContext) && has(c.securityContext.readOnlyRootFilesystem) && c.securityContext.readOnlyRootFilesystem == true)`},
	{"resources", `object.spec.containers.all(c, has(c.resources) && has(c.resources.limits) && 'cpu' in c.resources.limits && 'memory' in c.resources.limits)`},
	{"volumes", `!has(object.spec.volumes) || object.spec.volumes.all(v, (has(v.emptyDir) && has(v.emptyDir.sizeLimit) && has(v.emptyDir.medium) && v.emptyDir.medium == 'Memory') || (has(v.persistentVolumeClaim) && has(v.persistentVolumeClaim.readOnly) && v.persistentVolumeClaim.readOnly == true))`},
	{"containers", `!has(object.spec.initContainers) && !has(object.spec.ephemeralContainers)`},
	{"host-namespaces", `!has(object.spec.shareProcessNamespace) || object.spec.shareProcessNamespace == false`},
	{"image", `object.spec.containers.all(c, c.imagePullPolicy == 'Never')`},
	{"environment", `object.spec.containers.all(c, !has(c.env) && !has(c.envFrom))`},
	{"runtime-class", `has(object.spec.runtimeClassName) && object.spec.runtimeClassName != ''`},
	{"limits-annotation", `has(object.metadata.annotations) && '` + runcwrap.AnnotationLimits + `' in object.metadata.annotations`},
}

// AdmissionPolicy is the ValidatingAdmissionPolicy that makes the
// apiserver refuse a job pod without one of the protections that
// PodSecurity does not check.
func AdmissionPolicy() *admissionv1.ValidatingAdmissionPolicy {
	fail := admissionv1.Fail
	var vs []admissionv1.Validation
	for _, r := range admissionRules {
		vs = append(vs, admissionv1.Validation{Expression: r.expr, Message: "enclave job pod refused: " + r.name})
	}
	return &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: PolicyName},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				}}}},
			Validations: vs,
		},
	}
}

func (r *Runtime) admissionPolicy(ctx context.Context) error {
	ar := r.client.AdmissionregistrationV1()
	want := AdmissionPolicy()
	if cur, err := ar.ValidatingAdmissionPolicies().Get(ctx, PolicyName, metav1.GetOptions{}); err == nil {
		cur.Spec = want.Spec
		if _, err := ar.ValidatingAdmissionPolicies().Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("admission policy: %w", err)
		}
	} else if _, err := ar.ValidatingAdmissionPolicies().Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("admission policy: %w", err)
	}
	b := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: PolicyName},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        PolicyName,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{LabelJobsNS: "true"}}},
		},
	}
	if _, err := ar.ValidatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("admission policy binding: %w", err)
	}
	// The apiserver applies a new policy once it has compiled it: wait
	// until a pod without a protection is refused by it.
	// The probe passes PodSecurity (which runs first) and lacks only its
	// deadline.
	probe := BuildPod(sandbox.Spec{ID: "enclave-policy-probe", Image: "sha256:" + strings.Repeat("0", 64),
		Args: []string{"true"}, Limits: sandbox.DefaultLimits()}, r.params(nil))
	probe.Spec.ActiveDeadlineSeconds = nil
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := r.client.CoreV1().Pods(r.ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "enclave job pod refused") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the admission policy does not refuse a weak pod in %q: %w", r.ns, errdefs.ErrFailedPrecondition)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Close waits for the background removal of finished jobs and closes the
// connection to the node's containerd. Running jobs are not touched.
func (r *Runtime) Close() error {
	r.pending.Wait()
	return r.ctrd.Close()
}

// Client returns the Kubernetes client (for benchmarks and tests).
func (r *Runtime) Client() kubernetes.Interface { return r.client }

// Namespace returns the jobs' namespace.
func (r *Runtime) Namespace() string { return r.ns }

func (r *Runtime) cctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, criNamespace)
}

// ImportImage loads an OCI image-layout archive holding exactly one
// manifest into the node's containerd as ImageRef(DIGEST); names inside
// the archive are ignored. Nothing is unpacked and no pod may use it
// until PrepareImage.
func (r *Runtime) ImportImage(ctx context.Context, rd io.Reader) (string, error) {
	ctx = r.cctx(ctx)
	imgs, err := r.ctrd.Import(ctx, rd,
		containerd.WithImageRefTranslator(func(string) string { return "" }),
		containerd.WithDigestRef(func(d digest.Digest) string { return ImageRef(d.String()) + "-pending" }),
		containerd.WithAllPlatforms(false))
	if err != nil {
		if errdefs.IsUnavailable(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return "", fmt.Errorf("import image: %w", err)
		}
		return "", fmt.Errorf("import image archive: %w", errors.Join(errdefs.ErrInvalidArgument, err))
	}
	var mine []images.Image
	for _, im := range imgs {
		if strings.HasPrefix(im.Name, ImageRepository+"@") && strings.HasSuffix(im.Name, "-pending") {
			mine = append(mine, im)
			continue
		}
		_ = r.ctrd.ImageService().Delete(ctx, im.Name)
	}
	if len(mine) != 1 {
		for _, im := range mine {
			_ = r.ctrd.ImageService().Delete(ctx, im.Name)
		}
		return "", fmt.Errorf("image archive holds %d manifests, want 1: %w", len(mine), errdefs.ErrInvalidArgument)
	}
	im := mine[0]
	if im.Target.MediaType != images.MediaTypeDockerSchema2Manifest && im.Target.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		_ = r.ctrd.ImageService().Delete(ctx, im.Name)
		return "", fmt.Errorf("image archive entry is not a manifest: %w", errdefs.ErrInvalidArgument)
	}
	d := im.Target.Digest.String()
	r.log.Info("image imported", "image", d)
	return d, nil
}

// PrepareImage unpacks an imported image for the CRI and names it
// ImageRef(DIGEST), the name jobs' pods use: until then no pod can start
// from it. It is idempotent.
func (r *Runtime) PrepareImage(ctx context.Context, d string) error {
	if !sandbox.ValidDigest(d) {
		return fmt.Errorf("image digest invalid: %w", errdefs.ErrInvalidArgument)
	}
	ctx = r.cctx(ctx)
	is := r.ctrd.ImageService()
	im, err := is.Get(ctx, ImageRef(d))
	if err == nil && im.Labels[labelPrepared] == "true" {
		return nil
	}
	pending, err := is.Get(ctx, ImageRef(d)+"-pending")
	if err != nil {
		return fmt.Errorf("image %q: %w", d, err)
	}
	img := containerd.NewImage(r.ctrd, pending)
	if err := img.Unpack(ctx, snapshotter); err != nil {
		return fmt.Errorf("unpack image %q: %w", d, err)
	}
	ready := images.Image{Name: ImageRef(d), Target: pending.Target, Labels: map[string]string{labelPrepared: "true"}}
	if _, err := is.Create(ctx, ready); err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("name image %q: %w", d, err)
	} else if err != nil {
		if _, err := is.Update(ctx, ready); err != nil {
			return fmt.Errorf("name image %q: %w", d, err)
		}
	}
	r.log.Info("image prepared", "image", d)
	return nil
}

// prepared reports whether an image was prepared.
func (r *Runtime) prepared(ctx context.Context, d string) error {
	im, err := r.ctrd.ImageService().Get(r.cctx(ctx), ImageRef(d))
	if errdefs.IsNotFound(err) {
		if _, perr := r.ctrd.ImageService().Get(r.cctx(ctx), ImageRef(d)+"-pending"); perr == nil {
			return fmt.Errorf("image %q not prepared: %w", d, errdefs.ErrFailedPrecondition)
		}
		return fmt.Errorf("image %q: %w", d, errdefs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("image %q: %w", d, err)
	}
	if im.Labels[labelPrepared] != "true" {
		return fmt.Errorf("image %q not prepared: %w", d, errdefs.ErrFailedPrecondition)
	}
	return nil
}
