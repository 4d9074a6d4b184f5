package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/hardening"
	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/runcwrap"
)

// Labels and annotations by which the runtime finds its own objects.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedBy       = "enclave"
	LabelJob        = "enclave.dev/job"       // a hash of the job id (label values are short)
	AnnotationJob   = "enclave.dev/job-id"    // the job id itself
	AnnotationImage = "enclave.dev/image"     // the image digest
	AnnotationLogs  = "enclave.dev/logs-read" // the time of the last log line read before a detach
	LabelJobsNS     = "enclave.dev/jobs"      // on the namespace: the admission policy applies
	jobContainer    = runcwrap.JobContainer
	holdContainer   = runcwrap.HoldContainer
	volTmp          = "tmp"
	volOut          = "out"
	// holdCPU and holdMemory are the holder container's share: it asks
	// for holdCPURequest of a core and may use holdCPU (runc's init loads
	// the seccomp filter inside the container's quota: at 10m its start
	// took containerd 1.4-1.7 s).
	holdCPU        = "100m"
	holdCPURequest = "10m"
	holdMemory     = 16 << 20
	// deadlineGrace is how long past the job's timeout the cluster kills
	// the pod by itself (activeDeadlineSeconds), should the daemon that
	// stops the job at its timeout be gone.
	deadlineGrace = 60
	// ImageRepository names imported images in the node's containerd.
	ImageRepository = "enclave.invalid/job"
)

// PodName is the name of a job's pod.
func PodName(id string) string { return id + "-job" }

// jobHash is the label value naming a job (ids may end in "-", which
// label values may not).
func jobHash(id string) string {
	s := sha256.Sum256([]byte(id))
	return "j" + hex.EncodeToString(s[:12])
}

// ImageRef is the reference of an imported image by its digest.
func ImageRef(digest string) string { return ImageRepository + "@" + digest }

// PodParams is what a job's pod is built from besides its spec.
type PodParams struct {
	Namespace      string
	Node           string // spec.nodeName; empty lets the scheduler place it
	RuntimeClass   string // the enclave's (cmd/enclave-runc), DefaultRuntimeClass
	SeccompProfile string // a Localhost profile name; empty: RuntimeDefault
	RunAsUser      int64  // the job's unprivileged uid and gid
	HoldImage      string // the image of the holder container
	// CPURequest is the job's CPU request in millicores; 0 asks for its
	// whole limit (a Guaranteed pod). Its memory request is its limit.
	CPURequest int64
	Claims     []Claim
}

// Claim is an input served by a persistent volume claim.
type Claim struct {
	Input string // the input name: mounted at /in/NAME
	Claim string // the claim's name
}

func quantity(b int64) resource.Quantity { return *resource.NewQuantity(b, resource.BinarySI) }

// milliCPU is the job's CPU limit in millicores (at least 1).
func milliCPU(cpus float64) int64 { return max(1, int64(math.Ceil(cpus*1000))) }

// BuildPod returns the pod of one job: see the package comment for every
// protection it carries. It is deterministic; ValidatePod checks it.
func BuildPod(spec sandbox.Spec, p PodParams) *corev1.Pod {
	no, yes := false, true
	uid := p.RunAsUser
	seccomp := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	if p.SeccompProfile != "" {
		name := p.SeccompProfile
		seccomp = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &name}
	}
	sc := func() *corev1.SecurityContext {
		return &corev1.SecurityContext{
			RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid,
			AllowPrivilegeEscalation: &no, Privileged: &no, ReadOnlyRootFilesystem: &yes,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		}
	}
	mem := quantity(spec.Limits.MemoryBytes)
	cpu := *resource.NewMilliQuantity(milliCPU(spec.Limits.CPUs), resource.DecimalSI)
	cpuReq := cpu
	if p.CPURequest > 0 && p.CPURequest < cpu.MilliValue() {
		cpuReq = *resource.NewMilliQuantity(p.CPURequest, resource.DecimalSI)
	}
	tmp, out := quantity(spec.Limits.TmpBytes), quantity(spec.Limits.OutBytes)
	mounts := []corev1.VolumeMount{{Name: volTmp, MountPath: "/tmp"}, {Name: volOut, MountPath: "/out"}}
	vols := []corev1.Volume{
		{Name: volTmp, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &tmp}}},
		{Name: volOut, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &out}}},
	}
	for i, c := range p.Claims {
		name := "in-" + strconv.Itoa(i)
		vols = append(vols, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Claim, ReadOnly: true}}})
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: hardening.InputTarget(c.Input), ReadOnly: true})
	}
	deadline := int64(math.Ceil(spec.Limits.Timeout.Seconds())) + deadlineGrace
	holdMem := quantity(holdMemory)
	holdCPUq, holdCPUr := resource.MustParse(holdCPU), resource.MustParse(holdCPURequest)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: PodName(spec.ID), Namespace: p.Namespace,
			Labels: map[string]string{LabelManagedBy: ManagedBy, LabelJob: jobHash(spec.ID)},
			Annotations: map[string]string{AnnotationJob: spec.ID, AnnotationImage: spec.Image,
				runcwrap.AnnotationLimits: runcwrap.EncodeLimits(spec.Limits)},
		},
		Spec: corev1.PodSpec{
			NodeName:                      p.Node,
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         &deadline,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			TerminationGracePeriodSeconds: new(int64),
			Hostname:                      "job",
			DNSPolicy:                     corev1.DNSNone,
			DNSConfig:                     &corev1.PodDNSConfig{Nameservers: []string{"127.0.0.1"}},
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid,
				SeccompProfile: seccomp,
			},
			Containers: []corev1.Container{
				{
					Name: jobContainer, Image: ImageRef(spec.Image), ImagePullPolicy: corev1.PullNever,
					Command: spec.Args, WorkingDir: "/",
					Resources: corev1.ResourceRequirements{
						Limits:   corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem},
						Requests: corev1.ResourceList{corev1.ResourceCPU: cpuReq, corev1.ResourceMemory: mem},
					},
					SecurityContext:          sc(),
					VolumeMounts:             mounts,
					TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				},
				{
					// The holder keeps the pod, and with it /out, until the
					// runtime collected the outputs and deletes the pod.
					Name: holdContainer, Image: p.HoldImage, ImagePullPolicy: corev1.PullNever,
					Resources: corev1.ResourceRequirements{
						Limits:   corev1.ResourceList{corev1.ResourceCPU: holdCPUq, corev1.ResourceMemory: holdMem},
						Requests: corev1.ResourceList{corev1.ResourceCPU: holdCPUr, corev1.ResourceMemory: holdMem},
					},
					SecurityContext:          sc(),
					TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				},
			},
			Volumes: vols,
		},
	}
	if p.RuntimeClass != "" {
		rc := p.RuntimeClass
		pod.Spec.RuntimeClassName = &rc
	}
	return pod
}

// describe is a short description of a pod for errors: never its command.
func describe(pod *corev1.Pod) string { return fmt.Sprintf("pod %q", pod.Name) }
