package kubernetes

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/hardening"
	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/runcwrap"
)

// PodCheck is one named rule a job's pod must satisfy: the Kubernetes twin
// of sandbox-runtime/hardening's spec checks.
type PodCheck struct {
	Name string
	Fn   func(pod *corev1.Pod, spec sandbox.Spec, p PodParams) error
}

// PodChecks are every rule ValidatePod applies. Each refuses a pod that
// lacks one of the protections BuildPod gives.
var PodChecks = []PodCheck{
	{"namespace", checkNamespace},
	{"host-namespaces", checkHostNamespaces},
	{"service-account-token", checkServiceAccountToken},
	{"service-links", checkServiceLinks},
	{"containers", checkContainers},
	{"non-root", checkNonRoot},
	{"privilege-escalation", checkPrivilegeEscalation},
	{"capabilities", checkPodCapabilities},
	{"seccomp", checkPodSeccomp},
	{"readonly-root", checkPodReadonlyRoot},
	{"resources", checkPodResources},
	{"volumes", checkVolumes},
	{"mounts", checkPodMounts},
	{"network", checkPodNetwork},
	{"deadline", checkDeadline},
	{"image", checkImage},
	{"environment", checkEnvironment},
	{"runtime-class", checkRuntimeClass},
	{"labels", checkLabels},
}

// ValidatePod applies every check and returns an errdefs.ErrInvalidArgument
// error naming each failed check, or nil.
func ValidatePod(pod *corev1.Pod, spec sandbox.Spec, p PodParams) error {
	if pod == nil {
		return fmt.Errorf("pod missing: %w", errdefs.ErrInvalidArgument)
	}
	var errs []error
	for _, c := range PodChecks {
		if err := c.Fn(pod, spec, p); err != nil {
			errs = append(errs, fmt.Errorf("check %q: %w", c.Name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("hardened pod refused: %w: %w", errors.Join(errs...), errdefs.ErrInvalidArgument)
	}
	return nil
}

func isFalse(b *bool) bool { return b != nil && !*b }
func isTrue(b *bool) bool  { return b != nil && *b }

func checkNamespace(pod *corev1.Pod, _ sandbox.Spec, p PodParams) error {
	if pod.Namespace != p.Namespace || p.Namespace == "" {
		return errors.New("not in the runtime's namespace")
	}
	return nil
}

func checkHostNamespaces(pod *corev1.Pod, _ sandbox.Spec, _ PodParams) error {
	s := pod.Spec
	switch {
	case s.HostNetwork:
		return errors.New("host network")
	case s.HostPID:
		return errors.New("host pid namespace")
	case s.HostIPC:
		return errors.New("host ipc namespace")
	case s.ShareProcessNamespace != nil && *s.ShareProcessNamespace:
		return errors.New("shared process namespace")
	case s.SecurityContext != nil && len(s.SecurityContext.Sysctls) > 0:
		return errors.New("sysctls set")
	}
	return nil
}

func checkServiceAccountToken(pod *corev1.Pod, _ sandbox.Spec, _ PodParams) error {
	if !isFalse(pod.Spec.AutomountServiceAccountToken) {
		return errors.New("service account token mounted")
	}
	return nil
}

func checkServiceLinks(pod *corev1.Pod, _ sandbox.Spec, _ PodParams) error {
	if !isFalse(pod.Spec.EnableServiceLinks) {
		return errors.New("service links enabled")
	}
	return nil
}

func checkContainers(pod *corev1.Pod, _ sandbox.Spec, _ PodParams) error {
	s := pod.Spec
	if len(s.InitContainers) > 0 || len(s.EphemeralContainers) > 0 {
		return errors.New("init or ephemeral containers present")
	}
	if len(s.Containers) != 2 || s.Containers[0].Name != jobContainer || s.Containers[1].Name != holdContainer {
		return errors.New("containers are not the job and its holder")
	}
	if s.RestartPolicy != corev1.RestartPolicyNever {
		return errors.New("restart policy not Never")
	}
	if s.Containers[1].Command != nil || s.Containers[1].Args != nil {
		return errors.New("holder runs a command of its own")
	}
	return nil
}

// containerContexts returns each container's security context (nil ones
// included, as nil).
func containerContexts(pod *corev1.Pod) []*corev1.SecurityContext {
	var scs []*corev1.SecurityContext
	for _, c := range pod.Spec.Containers {
		scs = append(scs, c.SecurityContext)
	}
	return scs
}

func checkNonRoot(pod *corev1.Pod, _ sandbox.Spec, p PodParams) error {
	psc := pod.Spec.SecurityContext
	if psc == nil || !isTrue(psc.RunAsNonRoot) || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.RunAsGroup == nil || *psc.RunAsGroup == 0 {
		return errors.New("pod may run as root")
	}
	if *psc.RunAsUser != p.RunAsUser {
		return errors.New("pod user differs from the job's")
	}
	if len(psc.SupplementalGroups) > 0 || psc.FSGroup != nil {
		return errors.New("supplemental or fs groups set")
	}
	for _, sc := range containerContexts(pod) {
		if sc == nil || !isTrue(sc.RunAsNonRoot) || sc.RunAsUser == nil || *sc.RunAsUser != p.RunAsUser ||
			sc.RunAsGroup == nil || *sc.RunAsGroup != p.RunAsUser {
			return errors.New("a container may run as another user")
		}
	}
	return nil
}

func checkPrivilegeEscalation(pod *corev1.Pod, _ sandbox.Spec, _ PodParams) error {
	for _, sc := range containerContexts(pod) {
		if sc == nil || !isFalse(sc.AllowPrivilegeEscalation) {
			return errors.New("privilege escalation allowed")
		}
		if sc.Privileged != nil && *sc.Privileged {
			return errors.New("privileged container")
		}
		if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
			return errors.New("unmasked /proc")
		}
		if sc.SELinuxOptions != nil || sc.WindowsOptions != nil || sc.AppArmorProfile != nil {
			return errors.New("security options set")
		}
	}
	return nil
}

func checkPodCapabilities(pod *corev1.Pod, _ sandbox.Spec, _ PodParams) error {
	for _, sc := range containerContexts(pod) {
		if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			return errors.New("capabilities not all dropped")
		}
		if len(sc.Capabilities.Add) > 0 {
			return errors.New("capabilities added")
		}
	}
	return nil
}

func checkPodSeccomp(pod *corev1.Pod, _ sandbox.Spec, p PodParams) error {
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.SeccompProfile == nil {
		return errors.New("no seccomp profile")
	}
	want := corev1.SeccompProfileTypeRuntimeDefault
	if p.SeccompProfile != "" {
		want = corev1.SeccompProfileTypeLocalhost
	}
	sp := psc.SeccompProfile
	if sp.Type != want || want == corev1.SeccompProfileTypeLocalhost && (sp.LocalhostProfile == nil || *sp.LocalhostProfile != p.SeccompProfile) {
		return errors.New("seccomp profile not the enclave's")
	}
	for _, sc := range containerContexts(pod) {
		if sc != nil && sc.SeccompProfile != nil {
			return errors.New("a container overrides the seccomp profile")
		}
	}
	return nil
}

func checkPodReadonlyRoot(pod *corev1.Pod, _ sandbox.Spec, _ PodParams) error {
	for _, sc := range containerContexts(pod) {
		if sc == nil || !isTrue(sc.ReadOnlyRootFilesystem) {
			return errors.New("root file system writable")
		}
	}
	return nil
}

func checkPodResources(pod *corev1.Pod, spec sandbox.Spec, _ PodParams) error {
	for i, c := range pod.Spec.Containers {
		l, r := c.Resources.Limits, c.Resources.Requests
		cpu, mem := l.Cpu(), l.Memory()
		if cpu.IsZero() || mem.IsZero() {
			return fmt.Errorf("container %d has no cpu or memory limit", i)
		}
		if !r.Memory().Equal(*mem) || r.Cpu().IsZero() || r.Cpu().Cmp(*cpu) > 0 {
			return fmt.Errorf("container %d requests differ from its limits", i)
		}
		if len(c.Resources.Claims) > 0 || len(l) != 2 {
			return fmt.Errorf("container %d asks for other resources", i)
		}
		if i == 0 && (cpu.MilliValue() != milliCPU(spec.Limits.CPUs) || mem.Value() != spec.Limits.MemoryBytes) {
			return errors.New("job limits differ from its spec")
		}
		if i == 1 && (cpu.MilliValue() > 100 || mem.Value() > holdMemory) {
			return errors.New("holder limits too large")
		}
	}
	if pod.Spec.Resources != nil || pod.Spec.Overhead != nil {
		return errors.New("pod-level resources set")
	}
	return nil
}

func checkVolumes(pod *corev1.Pod, spec sandbox.Spec, p PodParams) error {
	claims := map[string]bool{}
	for _, c := range p.Claims {
		claims[c.Claim] = true
	}
	seen := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.EmptyDir != nil && (v.Name == volTmp || v.Name == volOut):
			want := spec.Limits.TmpBytes
			if v.Name == volOut {
				want = spec.Limits.OutBytes
			}
			if v.EmptyDir.Medium != corev1.StorageMediumMemory || v.EmptyDir.SizeLimit == nil ||
				v.EmptyDir.SizeLimit.Value() <= 0 || v.EmptyDir.SizeLimit.Value() > want {
				return fmt.Errorf("volume %q not a size-limited memory volume", v.Name)
			}
		case v.PersistentVolumeClaim != nil && strings.HasPrefix(v.Name, "in-"):
			if !v.PersistentVolumeClaim.ReadOnly || !claims[v.PersistentVolumeClaim.ClaimName] {
				return fmt.Errorf("volume %q not a read-only claim of the job's inputs", v.Name)
			}
		default:
			return fmt.Errorf("volume %q of a kind jobs never get", v.Name)
		}
		seen[v.Name] = true
	}
	if !seen[volTmp] || !seen[volOut] || len(seen) != 2+len(p.Claims) {
		return errors.New("volumes are not /tmp, /out and the inputs")
	}
	return nil
}

func checkPodMounts(pod *corev1.Pod, spec sandbox.Spec, p PodParams) error {
	if len(pod.Spec.Containers) == 0 {
		return errors.New("no containers")
	}
	for _, c := range pod.Spec.Containers[1:] {
		if len(c.VolumeMounts) > 0 || len(c.VolumeDevices) > 0 {
			return errors.New("holder mounts volumes")
		}
	}
	job := pod.Spec.Containers[0]
	if len(job.VolumeDevices) > 0 {
		return errors.New("block devices mounted")
	}
	want := map[string]string{"/tmp": volTmp, "/out": volOut}
	for i, c := range p.Claims {
		want[hardening.InputTarget(c.Input)] = fmt.Sprintf("in-%d", i)
	}
	if len(job.VolumeMounts) != len(want) {
		return errors.New("mounts are not /tmp, /out and the inputs")
	}
	for _, m := range job.VolumeMounts {
		if want[m.MountPath] != m.Name || m.SubPath != "" || m.SubPathExpr != "" ||
			m.MountPropagation != nil && *m.MountPropagation != corev1.MountPropagationNone {
			return fmt.Errorf("mount %q not as built", m.MountPath)
		}
		if strings.HasPrefix(m.MountPath, "/in/") && !m.ReadOnly {
			return fmt.Errorf("input %q writable", m.MountPath)
		}
	}
	return nil
}

func checkPodNetwork(pod *corev1.Pod, _ sandbox.Spec, _ PodParams) error {
	for _, c := range pod.Spec.Containers {
		if len(c.Ports) > 0 {
			return errors.New("ports declared")
		}
		if c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil || c.Lifecycle != nil {
			return errors.New("probes or hooks declared")
		}
	}
	if len(pod.Spec.HostAliases) > 0 || pod.Spec.DNSPolicy != corev1.DNSNone {
		return errors.New("name resolution set up")
	}
	return nil
}

func checkDeadline(pod *corev1.Pod, spec sandbox.Spec, _ PodParams) error {
	d := pod.Spec.ActiveDeadlineSeconds
	if d == nil || *d <= 0 || float64(*d) > spec.Limits.Timeout.Seconds()+deadlineGrace+1 {
		return errors.New("no active deadline within the job's timeout")
	}
	return nil
}

func checkImage(pod *corev1.Pod, spec sandbox.Spec, p PodParams) error {
	c := pod.Spec.Containers
	if len(c) < 2 || c[0].Image != ImageRef(spec.Image) || c[1].Image != p.HoldImage {
		return errors.New("images not the job's and the holder's")
	}
	for _, x := range c {
		if x.ImagePullPolicy != corev1.PullNever {
			return errors.New("image may be pulled")
		}
	}
	return nil
}

func checkEnvironment(pod *corev1.Pod, _ sandbox.Spec, _ PodParams) error {
	for _, c := range pod.Spec.Containers {
		if len(c.Env) > 0 || len(c.EnvFrom) > 0 || c.Stdin || c.TTY {
			return errors.New("environment or terminal given")
		}
	}
	return nil
}

func checkRuntimeClass(pod *corev1.Pod, spec sandbox.Spec, p PodParams) error {
	got := ""
	if pod.Spec.RuntimeClassName != nil {
		got = *pod.Spec.RuntimeClassName
	}
	if got == "" || got != p.RuntimeClass {
		return errors.New("runtime class not the enclave's (its OCI runtime hardens every container)")
	}
	if pod.Annotations[runcwrap.AnnotationLimits] != runcwrap.EncodeLimits(spec.Limits) {
		return errors.New("the job's limits annotation (read by the enclave's OCI runtime) missing or not the job's")
	}
	if pod.Spec.NodeName != p.Node {
		return errors.New("node not the runtime's")
	}
	return nil
}

func checkLabels(pod *corev1.Pod, spec sandbox.Spec, _ PodParams) error {
	if pod.Labels[LabelManagedBy] != ManagedBy || pod.Labels[LabelJob] != jobHash(spec.ID) ||
		pod.Annotations[AnnotationJob] != spec.ID {
		return errors.New("labels missing: the network policy would not select the pod")
	}
	return nil
}
