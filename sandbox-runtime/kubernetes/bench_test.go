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
	pods := rt.client.CoreV1().Pods(plainNamespace)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			// No service account token: the job's pod has none either.
			AutomountServiceAccountToken: new(bool),
			NodeName:                     k8stest.NodeName, RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: ImageRef(image), ImagePullPolicy: corev1.PullNever, Command: []string{"true"}}},
		},
	}
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
// iteration, all of which must succeed, and reports jobs per second.
func BenchmarkConcurrent32(b *testing.B) {
	rt := setup(b)
	ctx := context.Background()
	const n = 32
	var total time.Duration
	for i := 0; i < b.N; i++ {
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
}
