package kubernetes

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/runcwrap"
)

func testSpec() sandbox.Spec {
	l := sandbox.DefaultLimits()
	l.Timeout = 10 * time.Minute
	return sandbox.Spec{ID: "j1", Image: "sha256:" + strings.Repeat("a", 64), Args: []string{"true"},
		Inputs: []sandbox.Mount{{Name: "credit", HostDir: "/data/in/credit"}}, OutDir: "/data/out", Limits: l}
}

func testParams() PodParams {
	return PodParams{Namespace: "enclave-jobs", Node: "localhost", SeccompProfile: "enclave.json", RuntimeClass: DefaultRuntimeClass,
		RunAsUser: DefaultRunAsUser, HoldImage: DefaultHoldImage, Claims: []Claim{{Input: "credit", Claim: claimName("j1", 0)}}}
}

// Where the real apiserver refuses a weakened pod.
const (
	byPodSecurity = "PodSecurity"                  // the restricted profile of the namespace
	byPolicy      = "enclave job pod refused"      // the enclave's admission policy
	byValidation  = "disallowed by cluster policy" // --allow-privileged=false
	notJudged     = ""                             // bookkeeping of the runtime: the apiserver has no view
)

func boolp(b bool) *bool { return &b }

// weakenings remove one protection each from a built pod: the validator
// check that must refuse it, and what in the apiserver refuses it too.
var weakenings = []struct {
	name, check, apiserver string
	weaken                 func(p *corev1.Pod)
}{
	{"runs as root", "non-root", byPodSecurity, func(p *corev1.Pod) {
		zero := int64(0)
		p.Spec.SecurityContext.RunAsNonRoot, p.Spec.SecurityContext.RunAsUser = boolp(false), &zero
		for i := range p.Spec.Containers {
			p.Spec.Containers[i].SecurityContext.RunAsNonRoot, p.Spec.Containers[i].SecurityContext.RunAsUser = nil, nil
		}
	}},
	{"privilege escalation", "privilege-escalation", byPodSecurity, func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = boolp(true)
	}},
	{"privileged", "privilege-escalation", byValidation + "|" + byPodSecurity, func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext.Privileged = boolp(true)
		p.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = boolp(true)
	}},
	{"capability added", "capabilities", byPodSecurity, func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_RAW"}
	}},
	{"capabilities kept", "capabilities", byPodSecurity, func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext.Capabilities.Drop = nil
	}},
	{"no seccomp", "seccomp", byPodSecurity, func(p *corev1.Pod) { p.Spec.SecurityContext.SeccompProfile = nil }},
	{"seccomp unconfined", "seccomp", byPodSecurity, func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	}},
	{"host network", "host-namespaces", byPodSecurity, func(p *corev1.Pod) { p.Spec.HostNetwork = true }},
	{"host pid", "host-namespaces", byPodSecurity, func(p *corev1.Pod) { p.Spec.HostPID = true }},
	{"host ipc", "host-namespaces", byPodSecurity, func(p *corev1.Pod) { p.Spec.HostIPC = true }},
	{"unsafe sysctl", "host-namespaces", byPodSecurity, func(p *corev1.Pod) {
		p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "kernel.msgmax", Value: "65536"}}
	}},
	{"host path", "volumes", byPodSecurity, func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}})
	}},
	{"host port", "network", byPodSecurity, func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8080}}
	}},
	{"unmasked proc", "privilege-escalation", byPodSecurity + "|hostUsers|procMount", func(p *corev1.Pod) {
		pm := corev1.UnmaskedProcMount
		p.Spec.Containers[0].SecurityContext.ProcMount = &pm
	}},
	{"writable root", "readonly-root", byPolicy, func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = boolp(false)
	}},
	{"no limits", "resources", byPolicy, func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
	}},
	{"service account token", "service-account-token", byPolicy, func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = nil }},
	{"service links", "service-links", byPolicy, func(p *corev1.Pod) { p.Spec.EnableServiceLinks = nil }},
	{"no deadline", "deadline", byPolicy, func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil }},
	{"unbounded tmp", "volumes", byPolicy, func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir.SizeLimit = nil }},
	{"out on disk", "volumes", byPolicy, func(p *corev1.Pod) { p.Spec.Volumes[1].EmptyDir.Medium = corev1.StorageMediumDefault }},
	{"writable input", "volumes", byPolicy, func(p *corev1.Pod) {
		p.Spec.Volumes[2].PersistentVolumeClaim.ReadOnly = false
		p.Spec.Containers[0].VolumeMounts[2].ReadOnly = false
	}},
	{"init container", "containers", byPolicy, func(p *corev1.Pod) {
		c := p.Spec.Containers[1]
		c.Name = "init"
		p.Spec.InitContainers = []corev1.Container{c}
	}},
	{"shared process namespace", "host-namespaces", byPolicy, func(p *corev1.Pod) { p.Spec.ShareProcessNamespace = boolp(true) }},
	{"image pulled", "image", byPolicy, func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = corev1.PullAlways }},
	{"environment", "environment", byPolicy, func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", Value: "1"}}
	}},
	{"restart", "containers", byPolicy, func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }},
	{"hold runs a command", "containers", notJudged, func(p *corev1.Pod) { p.Spec.Containers[1].Command = []string{"sh"} }},
	{"another runtime class", "runtime-class", byPolicy, func(p *corev1.Pod) { p.Spec.RuntimeClassName = nil }},
	{"no limits for the OCI runtime", "runtime-class", byPolicy, func(p *corev1.Pod) { delete(p.Annotations, runcwrap.AnnotationLimits) }},
	{"other limits for the OCI runtime", "runtime-class", notJudged, func(p *corev1.Pod) {
		l := testSpec().Limits
		l.Pids *= 2
		p.Annotations[runcwrap.AnnotationLimits] = runcwrap.EncodeLimits(l)
	}},
	{"input at another path", "mounts", notJudged, func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[2].MountPath = "/etc/x" }},
	{"no labels", "labels", notJudged, func(p *corev1.Pod) { p.Labels = nil }},
}

// TestValidateRefusesWeakenedPods removes each protection in turn and
// sees the pod refused by the validator, naming the check.
func TestValidateRefusesWeakenedPods(t *testing.T) {
	spec, p := testSpec(), testParams()
	p.RuntimeClass = "gvisor"
	if err := ValidatePod(BuildPod(spec, p), spec, p); err != nil {
		t.Fatalf("built pod: got %v, want it valid", err)
	}
	for _, w := range weakenings {
		t.Run(w.name, func(t *testing.T) {
			pod := BuildPod(spec, p)
			w.weaken(pod)
			err := ValidatePod(pod, spec, p)
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `"`+w.check+`"`) {
				t.Errorf("ValidatePod: got %v, want invalid argument naming check %q", err, w.check)
			}
		})
	}
}

// TestEveryCheckRefusesSomething: each check of PodChecks is exercised by
// at least one weakening, so none is dead.
func TestEveryCheckRefusesSomething(t *testing.T) {
	used := map[string]bool{}
	for _, w := range weakenings {
		used[w.check] = true
	}
	for _, c := range PodChecks {
		if !used[c.Name] && c.Name != "namespace" {
			t.Errorf("check %q: no weakening exercises it", c.Name)
		}
	}
	spec, p := testSpec(), testParams()
	pod := BuildPod(spec, p)
	pod.Namespace = "default"
	if err := ValidatePod(pod, spec, p); err == nil || !strings.Contains(err.Error(), `"namespace"`) {
		t.Errorf("pod in another namespace: got %v, want refused by check namespace", err)
	}
}

// TestApiserverRefusesWeakenedPods sends each weakened pod to the real
// apiserver (dry run, into the jobs' namespace) and sees it refused by
// PodSecurity's restricted profile or by the enclave's admission policy;
// the pod as built is admitted.
func TestApiserverRefusesWeakenedPods(t *testing.T) {
	rt := setup(t)
	ctx := context.Background()
	spec, p := testSpec(), rt.params([]Claim{{Input: "credit", Claim: claimName("j1", 0)}})
	create := func(pod *corev1.Pod) error {
		_, err := rt.client.CoreV1().Pods(rt.ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	if err := create(BuildPod(spec, p)); err != nil {
		t.Fatalf("built pod: got %v, want it admitted", err)
	}
	for _, w := range weakenings {
		if w.apiserver == notJudged {
			continue
		}
		t.Run(w.name, func(t *testing.T) {
			pod := BuildPod(spec, p)
			w.weaken(pod)
			err := create(pod)
			refused := false
			for _, by := range strings.Split(w.apiserver, "|") {
				refused = refused || err != nil && strings.Contains(err.Error(), by)
			}
			if !refused {
				t.Errorf("apiserver: got %v, want refused by %q", err, w.apiserver)
			}
		})
	}
}
