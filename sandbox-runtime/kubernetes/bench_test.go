package kubernetes

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/kubernetes/k8stest"
)

// plainNamespace holds the reference pods: no enclave protections.
const plainNamespace = "bench-plain"

// plainPod is the reference: a bare client-go Pod of the same image
// running true, created and watched until Succeeded, then deleted
// (untimed).
func plainPod(ctx context.Context, rt *Runtime, name, image string) (time.Duration, error) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			// No service account token: the job's pod has none either.
			AutomountServiceAccountToken: new(bool),
			NodeName:                     k8stest.NodeName, RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: ImageRef(image), ImagePullPolicy: corev1.PullNever, Command: []string{"true"}}},
		},
	}
	return timePod(ctx, rt, plainNamespace, pod, "")
}

// timePod creates pod in ns and times it until it Succeeded or, when
// container is named, until that container terminated; then deletes it
// (untimed).
func timePod(ctx context.Context, rt *Runtime, ns string, pod *corev1.Pod, container string) (time.Duration, error) {
	pods := rt.client.CoreV1().Pods(ns)
	name := pod.Name
	start := time.Now()
	p, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return 0, err
	}
	defer func() {
		zero := int64(0)
		pods.Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}()
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: p.ResourceVersion})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if ev.Type != watch.Modified {
			continue
		}
		p := ev.Object.(*corev1.Pod)
		for _, cs := range p.Status.ContainerStatuses {
			if container != "" && cs.Name == container && cs.State.Terminated != nil {
				if cs.State.Terminated.ExitCode != 0 {
					return 0, fmt.Errorf("pod's %s exited %d", container, cs.State.Terminated.ExitCode)
				}
				return time.Since(start), nil
			}
		}
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			return time.Since(start), nil
		case corev1.PodFailed:
			return 0, fmt.Errorf("plain pod failed: %s", p.Status.Reason)
		}
	}
	return 0, fmt.Errorf("plain pod: watch ended")
}

func ensurePlainNamespace(ctx context.Context, rt *Runtime) error {
	_, err := rt.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: plainNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	_, err = rt.client.CoreV1().ServiceAccounts(plainNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*q)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkJobOverhead measures submit-to-exit of a no-op job through Run
// against a bare client-go pod of the same image created until Succeeded,
// interleaved in the same run, and reports medians, p90s and their ratios.
func BenchmarkJobOverhead(b *testing.B) {
	rt := setup(b)
	ctx := context.Background()
	if err := ensurePlainNamespace(ctx, rt); err != nil {
		b.Fatal(err)
	}
	var ours, plain []time.Duration
	for i := 0; i < b.N; i++ {
		spec := newSpec(b, "toolbox", "true")
		start := time.Now()
		ex, err := rt.Run(ctx, spec, nil)
		if err != nil || ex.Reason != sandbox.ReasonExited || ex.Code != 0 {
			b.Fatalf("Run: got %+v, %v; want exited/0", ex, err)
		}
		ours = append(ours, time.Since(start))
		rt.pending.Wait() // the pod's removal, untimed
		d, err := plainPod(ctx, rt, fmt.Sprintf("plain-%d-%d", time.Now().UnixNano()%1e9, i), env.digests["toolbox"])
		if err != nil {
			b.Fatalf("plain pod: %v", err)
		}
		plain = append(plain, d)
	}
	b.ReportMetric(ms(quantile(ours, 0.5)), "run-median-ms")
	b.ReportMetric(ms(quantile(ours, 0.9)), "run-p90-ms")
	b.ReportMetric(ms(quantile(plain, 0.5)), "plain-median-ms")
	b.ReportMetric(ms(quantile(plain, 0.9)), "plain-p90-ms")
	b.ReportMetric(ms(quantile(ours, 0.5))/ms(quantile(plain, 0.5)), "median-ratio")
	b.ReportMetric(ms(quantile(ours, 0.9))/ms(quantile(plain, 0.9)), "p90-ratio")
}

// BenchmarkConcurrent32 runs 32 no-op jobs at once on the one node per
// iteration, all of which must succeed, and reports jobs per second; and,
// in the same run, 32 bare pods of the same image at once (the reference:
// pods per second, and the ratio).
func BenchmarkConcurrent32(b *testing.B) {
	rt := setup(b)
	ctx := context.Background()
	if err := ensurePlainNamespace(ctx, rt); err != nil {
		b.Fatal(err)
	}
	const n = 32
	var total, plainTotal time.Duration
	for i := 0; i < b.N; i++ {
		var pwg sync.WaitGroup
		perrs := make(chan error, n)
		var mu sync.Mutex
		var last time.Duration // the round ends when the last pod Succeeded (deletions untimed)
		for j := 0; j < n; j++ {
			pwg.Add(1)
			go func() {
				defer pwg.Done()
				d, err := plainPod(ctx, rt, fmt.Sprintf("c32-%d-%d-%d", time.Now().UnixNano()%1e9, i, j), env.digests["toolbox"])
				mu.Lock()
				last = max(last, d)
				mu.Unlock()
				perrs <- err
			}()
		}
		pwg.Wait()
		plainTotal += last
		close(perrs)
		for err := range perrs {
			if err != nil {
				b.Fatalf("concurrent bare pod: %v", err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := time.Now()
		for j := 0; j < n; j++ {
			spec := newSpec(b, "toolbox", "true")
			spec.Limits.MemoryBytes = 32 << 20
			wg.Add(1)
			go func() {
				defer wg.Done()
				ex, err := rt.Run(ctx, spec, nil)
				if err == nil && (ex.Reason != sandbox.ReasonExited || ex.Code != 0) {
					err = fmt.Errorf("job ended %s/%d", ex.Reason, ex.Code)
				}
				errs <- err
			}()
		}
		wg.Wait()
		total += time.Since(start)
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatalf("concurrent job: %v", err)
			}
		}
		rt.pending.Wait()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "jobs/s")
	b.ReportMetric(float64(n*b.N)/plainTotal.Seconds(), "bare-pods/s")
	b.ReportMetric(plainTotal.Seconds()/total.Seconds(), "jobs-per-bare-pod")
}

// BenchmarkOverheadBreakdown shows where a job's time beyond the bare pod
// goes, in the same run, interleaved: the bare pod (Succeeded); with the
// job's two memory emptyDirs (the kubelet waits for volumes to mount);
// with the holder container too; both containers under RuntimeDefault
// seccomp; the job's pod exactly as BuildPod makes it (the enclave's
// runtime class, enclave-runc, the user namespace, the security context),
// created directly; and Run (the runtime's own steps). Each is timed until
// its job container terminated. (It found that a holder limited to 10m of
// CPU took containerd's CRI 1.4-1.7 s to start under seccomp, runc's init
// loading the filter inside that quota, and the kubelet's pod sync waited
// for it: two 1-second status ticks. The holder may now use 0.1 core.)
func BenchmarkOverheadBreakdown(b *testing.B) {
	rt := setup(b)
	ctx := context.Background()
	if err := ensurePlainNamespace(ctx, rt); err != nil {
		b.Fatal(err)
	}
	img := env.digests["toolbox"]
	names := []string{"bare", "volumes", "volumes+holder", "holder+seccomp", "job-pod", "run"}
	times := make([][]time.Duration, len(names))
	for i := 0; i < b.N; i++ {
		spec := newSpec(b, "toolbox", "true")
		job := BuildPod(spec, rt.params(nil))
		pods := []*corev1.Pod{}
		bare := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bd-%d-0", i)},
			Spec: corev1.PodSpec{AutomountServiceAccountToken: new(bool), NodeName: k8stest.NodeName,
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: jobContainer, Image: ImageRef(img), ImagePullPolicy: corev1.PullNever, Command: []string{"true"}}}},
		}
		pods = append(pods, bare)
		vols := bare.DeepCopy()
		vols.Name = fmt.Sprintf("bd-%d-1", i)
		vols.Spec.Volumes = job.Spec.Volumes
		vols.Spec.Containers[0].VolumeMounts = job.Spec.Containers[0].VolumeMounts
		pods = append(pods, vols)
		hold := vols.DeepCopy()
		hold.Name = fmt.Sprintf("bd-%d-2", i)
		h := job.Spec.Containers[1]
		h.SecurityContext = nil
		hold.Spec.Containers = append(hold.Spec.Containers, h)
		pods = append(pods, hold)
		sc := hold.DeepCopy()
		sc.Name = fmt.Sprintf("bd-%d-3", i)
		for c := range sc.Spec.Containers {
			sc.Spec.Containers[c].SecurityContext = &corev1.SecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		}
		pods = append(pods, sc)
		for v, pod := range pods {
			d, err := timePod(ctx, rt, plainNamespace, pod, jobContainer)
			if err != nil {
				b.Fatalf("%s: %v", names[v], err)
			}
			times[v] = append(times[v], d)
		}
		d, err := timePod(ctx, rt, rt.ns, job, jobContainer)
		if err != nil {
			b.Fatalf("job pod: %v", err)
		}
		times[4] = append(times[4], d)
		spec = newSpec(b, "toolbox", "true")
		start := time.Now()
		ex, err := rt.Run(ctx, spec, nil)
		if err != nil || ex.Reason != sandbox.ReasonExited || ex.Code != 0 {
			b.Fatalf("Run: got %+v, %v; want exited/0", ex, err)
		}
		times[5] = append(times[5], time.Since(start))
		rt.pending.Wait()
	}
	base := ms(quantile(times[0], 0.5))
	for v, n := range names {
		b.ReportMetric(ms(quantile(times[v], 0.5)), n+"-median-ms")
		if v > 0 {
			b.ReportMetric(ms(quantile(times[v], 0.5))/base, n+"-ratio")
		}
	}
}
