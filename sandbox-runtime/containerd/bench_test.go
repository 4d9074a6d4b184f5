package containerd

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/oci"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// plainRun is the reference: what `ctr run --rm IMAGE id true` does through
// the Go client with containerd's defaults (no hardening, no user
// namespace, a fresh snapshot from the unpacked image).
func plainRun(ctx context.Context, rt *Runtime, id, digest string) error {
	ctx = rt.ctx(ctx)
	img, err := rt.image(ctx, digest)
	if err != nil {
		return err
	}
	c, err := rt.client.NewContainer(ctx, id,
		containerd.WithSnapshotter(rt.snapshotter),
		containerd.WithNewSnapshot(id+"-snap", img),
		containerd.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("true")))
	if err != nil {
		return err
	}
	defer c.Delete(ctx, containerd.WithSnapshotCleanup)
	task, err := c.NewTask(ctx, cio.NullIO)
	if err != nil {
		return err
	}
	defer task.Delete(ctx)
	ch, err := task.Wait(ctx)
	if err != nil {
		return err
	}
	if err := task.Start(ctx); err != nil {
		return err
	}
	st := <-ch
	if st.ExitCode() != 0 {
		return fmt.Errorf("plain run exit %d", st.ExitCode())
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
// against the plain-containerd reference, interleaved in the same run, and
// reports medians, p99s and their ratios.
func BenchmarkJobOverhead(b *testing.B) {
	rt := setup(b)
	ctx := context.Background()
	var ours, plain []time.Duration
	for i := 0; i < b.N; i++ {
		spec := newSpec(b, "toolbox", "true")
		start := time.Now()
		ex, err := rt.Run(ctx, spec, nil)
		if err != nil || ex.Reason != sandbox.ReasonExited || ex.Code != 0 {
			b.Fatalf("Run: got %+v, %v; want exited/0", ex, err)
		}
		ours = append(ours, time.Since(start))
		// Let the background removal finish, untimed, so that it does not
		// slow the reference down.
		rt.pending.Wait()
		start = time.Now()
		if err := plainRun(ctx, rt, fmt.Sprintf("plain-%d-%d", time.Now().UnixNano(), i), env.digests["toolbox"]); err != nil {
			b.Fatalf("plain run: %v", err)
		}
		plain = append(plain, time.Since(start))
	}
	b.ReportMetric(ms(quantile(ours, 0.5)), "run-median-ms")
	b.ReportMetric(ms(quantile(ours, 0.99)), "run-p99-ms")
	b.ReportMetric(ms(quantile(plain, 0.5)), "plain-median-ms")
	b.ReportMetric(ms(quantile(plain, 0.99)), "plain-p99-ms")
	b.ReportMetric(ms(quantile(ours, 0.5))/ms(quantile(plain, 0.5)), "median-ratio")
	b.ReportMetric(ms(quantile(ours, 0.99))/ms(quantile(plain, 0.99)), "p99-ratio")
}

// BenchmarkConcurrent32 runs 32 no-op jobs at once per iteration and
// reports jobs per second and the process's peak RSS.
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
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "jobs/s")
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MiB")
}
