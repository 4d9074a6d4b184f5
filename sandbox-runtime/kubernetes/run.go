package kubernetes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/outputs"
)

// cleanupTimeout bounds the removal of a job's pod and claims.
const cleanupTimeout = 60 * time.Second

// startFailures are reasons of a terminated container that never ran.
var startFailures = map[string]bool{"StartError": true, "ContainerCannotRun": true}

// waitingFailures are container waiting reasons after which a job cannot
// start by itself.
var waitingFailures = map[string]bool{
	"ErrImageNeverPull": true, "InvalidImageName": true, "CreateContainerConfigError": true,
	"CreateContainerError": true, "RunContainerError": true, "ImageInspectError": true,
}

func (r *Runtime) params(claims []Claim) PodParams {
	return PodParams{Namespace: r.ns, Node: r.node.Name, RuntimeClass: r.runtimeClass,
		SeccompProfile: r.seccomp, RunAsUser: r.uid, HoldImage: r.holdImage, CPURequest: r.cpuRequest, Claims: claims}
}

// Run runs one job as a pod; see sandbox.Runtime. The pod is built by
// BuildPod and refused unless it passes ValidatePod, before anything of
// the job is created. Input directories (data.arrow readable by others,
// every directory above searchable) are served read-only by a hostPath
// persistent volume each. spec.Args is the whole argv.
func (r *Runtime) Run(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	if err := spec.Validate(); err != nil {
		return sandbox.Exit{}, err
	}
	// The enclave's OCI runtime gives the job's container its own pids
	// limit; the node's limit of every pod bounds the pod as a whole.
	if r.node.PodPidsLimit <= 0 {
		return sandbox.Exit{}, fmt.Errorf("job %q: the node sets no pod pids limit: %w", spec.ID, errdefs.ErrFailedPrecondition)
	}
	bg := context.WithoutCancel(ctx)
	if err := r.prepared(bg, spec.Image); err != nil {
		return sandbox.Exit{}, err
	}
	claims := make([]Claim, len(spec.Inputs))
	for i, in := range spec.Inputs {
		claims[i] = Claim{Input: in.Name, Claim: claimName(spec.ID, i)}
	}
	pod := BuildPod(spec, r.params(claims))
	if err := ValidatePod(pod, spec, r.params(claims)); err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q: %w", spec.ID, err)
	}
	if _, err := r.client.CoreV1().Pods(r.ns).Get(bg, pod.Name, metav1.GetOptions{}); err == nil {
		return sandbox.Exit{}, fmt.Errorf("job %q: %w", spec.ID, errdefs.ErrAlreadyExists)
	}
	if err := os.MkdirAll(spec.OutDir, 0o750); err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q output directory: %w", spec.ID, err)
	}
	created := false
	defer func() {
		if !created {
			r.cleanupLogged(bg, spec.ID, len(spec.Inputs))
		}
	}()
	for i, in := range spec.Inputs {
		if err := r.createClaim(bg, spec.ID, i, in.HostDir); err != nil {
			if apierrors.IsAlreadyExists(err) {
				created = true // another job's of the same id: not ours to remove
				return sandbox.Exit{}, fmt.Errorf("job %q: %w", spec.ID, errdefs.ErrAlreadyExists)
			}
			return sandbox.Exit{}, fmt.Errorf("job %q input %q: %w", spec.ID, in.Name, err)
		}
	}
	p, err := r.client.CoreV1().Pods(r.ns).Create(bg, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created = true // not ours to remove
		return sandbox.Exit{}, fmt.Errorf("job %q: %w", spec.ID, errdefs.ErrAlreadyExists)
	} else if err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			return sandbox.Exit{}, fmt.Errorf("job %q: the apiserver refused its pod: %w", spec.ID, errors.Join(errdefs.ErrInvalidArgument, err))
		}
		return sandbox.Exit{}, fmt.Errorf("job %q create pod: %w", spec.ID, err)
	}
	created = true
	r.log.Info("job pod created", "job", spec.ID, "image", spec.Image)
	return r.follow(ctx, spec, p, logs, time.Time{})
}

// claimName and volumeName name a job's input claim and its volume (the
// volume is cluster-wide, so it carries the namespace).
func claimName(id string, i int) string { return fmt.Sprintf("%s-in-%d", jobHash(id), i) }
func (r *Runtime) volumeName(id string, i int) string {
	return fmt.Sprintf("enclave-%s-%s-in-%d", r.ns, jobHash(id), i)
}

// createClaim serves an input directory to the job: a read-only hostPath
// volume on the runtime's node, bound in advance to the job's claim.
func (r *Runtime) createClaim(ctx context.Context, id string, i int, dir string) error {
	labels := map[string]string{LabelManagedBy: ManagedBy, LabelJob: jobHash(id)}
	size := resource.MustParse("1Gi")
	empty := ""
	dirType := corev1.HostPathDirectory
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: r.volumeName(id, i), Labels: labels, Annotations: map[string]string{AnnotationJob: id}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "",
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirType}},
			ClaimRef:                      &corev1.ObjectReference{Namespace: r.ns, Name: claimName(id, i)},
		},
	}
	if _, err := r.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create volume: %w", err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claimName(id, i), Namespace: r.ns, Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany},
			StorageClassName: &empty,
			VolumeName:       pv.Name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if _, err := r.client.CoreV1().PersistentVolumeClaims(r.ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create claim: %w", err)
	}
	return nil
}

// jobState is what the runtime learnt of a job's container.
type jobState struct {
	started     time.Time // when it was first seen running (or its start, when reattached)
	containerID string
	terminated  *corev1.ContainerStateTerminated
	failure     string // why the job cannot start or ended without its container
	timeout     bool   // the cluster killed the pod at its deadline
}

// observe updates st from a pod.
func observe(st *jobState, pod *corev1.Pod) {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != jobContainer {
			continue
		}
		if cs.ContainerID != "" {
			st.containerID = cs.ContainerID
		}
		switch {
		case cs.State.Running != nil:
			if st.started.IsZero() {
				st.started = time.Now()
				// The job counts from the kubelet's record of its start
				// when that is earlier than this look (always, but for
				// clock skew): the record is truncated to the second, so
				// it is never after the real start, while this look comes
				// after it by the watch's delay, which under load made a
				// 4 s job meter 3.86 s. A job found running long since (a
				// reattach without its recorded start) counts from it too.
				if at := cs.State.Running.StartedAt.Time; !at.IsZero() && at.Before(st.started) {
					st.started = at
				}
			}
		case cs.State.Terminated != nil && startFailures[cs.State.Terminated.Reason]:
			// The runtime refused to start it (the enclave's OCI runtime
			// refuses a container it cannot harden): it never ran.
			st.failure = "container cannot start: " + cs.State.Terminated.Reason
		case cs.State.Terminated != nil:
			if st.started.IsZero() {
				// It started and ended between two looks: the kubelet's
				// record of its start (to the second) is all there is.
				st.started = cs.State.Terminated.StartedAt.Time
				if st.started.Unix() <= 0 || st.started.After(time.Now()) {
					st.started = time.Now()
				}
			}
			st.terminated = cs.State.Terminated
		case cs.State.Waiting != nil && waitingFailures[cs.State.Waiting.Reason]:
			st.failure = "container cannot start: " + cs.State.Waiting.Reason
		}
	}
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		if pod.Status.Reason == "DeadlineExceeded" {
			st.timeout = true
		}
		if st.terminated == nil {
			st.failure = "pod ended without its job: " + string(pod.Status.Phase) + " " + pod.Status.Reason
		}
	}
}

// follow watches a job's pod until its job container ends (stopping it at
// the timeout, counted from its start, or when ctx is cancelled), then
// meters it, collects its outputs and deletes its pod in the background.
// When ctx is cancelled with the cause sandbox.ErrDetached it returns at
// once and leaves the pod running. logsAfter skips log lines up to that
// time (a reattach).
func (r *Runtime) follow(ctx context.Context, spec sandbox.Spec, pod *corev1.Pod, logs io.Writer, logsAfter time.Time) (sandbox.Exit, error) {
	bg := context.WithoutCancel(ctx)
	detached := false
	defer func() {
		if detached {
			return
		}
		r.pending.Add(1)
		go func() {
			defer r.pending.Done()
			r.cleanupLogged(bg, spec.ID, len(spec.Inputs))
		}()
	}()
	st := &jobState{}
	if t, ok := pod.Annotations[AnnotationStarted]; ok {
		if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
			st.started = ts
		}
	}
	observe(st, pod)
	lw := &capWriter{w: logs, left: spec.Limits.LogBytes, after: logsAfter}
	var logsDone chan struct{}
	logCtx, stopLogs := context.WithCancel(bg)
	defer stopLogs()
	startLogs := func() {
		if logsDone != nil {
			return
		}
		logsDone = make(chan struct{})
		go func() {
			defer close(logsDone)
			r.streamLogs(logCtx, pod.Name, lw)
		}()
	}
	var reason sandbox.Reason
	var timer <-chan time.Time
	armed := false
	arm := func() {
		if armed || st.started.IsZero() {
			return
		}
		armed = true
		timer = time.After(time.Until(st.started.Add(spec.Limits.Timeout)))
		r.recordStart(bg, pod.Name, st.started)
	}
	// The pod's own deadline (timeout plus grace) stops a pod that never
	// starts; this one is the runtime's backstop should the watch fail.
	backstop := time.After(spec.Limits.Timeout + 2*deadlineGrace*time.Second)
	rv := pod.ResourceVersion
	w, werr := r.watch(bg, pod.Name, rv)
	defer func() {
		if w != nil {
			w.Stop()
		}
	}()
	var events <-chan watch.Event
	if werr == nil {
		events = w.ResultChan()
	}
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	uid := pod.UID
	cg := r.podCgroup(pod)
loop:
	for st.terminated == nil && st.failure == "" {
		if !st.started.IsZero() {
			arm()
			startLogs()
		}
		select {
		case ev, ok := <-events:
			if !ok {
				w, werr = r.watch(bg, pod.Name, rv)
				events = nil
				if werr == nil {
					events = w.ResultChan()
				}
				continue
			}
			switch ev.Type {
			case watch.Deleted:
				st.failure = "pod deleted"
			case watch.Modified, watch.Added:
				if p, ok := ev.Object.(*corev1.Pod); ok {
					rv = p.ResourceVersion
					observe(st, p)
				}
			}
		case <-poll.C:
			p, err := r.client.CoreV1().Pods(r.ns).Get(bg, pod.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				st.failure = "pod deleted"
			} else if err == nil {
				observe(st, p)
			}
		case <-timer:
			reason = sandbox.ReasonTimeout
			r.kill(bg, cg, st)
		case <-backstop:
			if reason == "" {
				reason = sandbox.ReasonTimeout
			}
			st.failure = "job did not end by its deadline"
			break loop
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), sandbox.ErrDetached) {
				detached = true
				if !st.started.IsZero() {
					// recordStart patches in the background; a daemon that
					// leaves makes sure the next one counts from the start.
					if err := r.annotate(bg, pod.Name, AnnotationStarted, st.started.UTC().Format(time.RFC3339Nano)); err != nil {
						r.log.Warn("record the job's start", "pod", pod.Name, "err", err)
					}
				}
				if logsDone != nil {
					r.recordLogs(bg, pod.Name, lw.last())
				}
				lw.detach()
				r.log.Info("detached from the job; it keeps running", "job", spec.ID)
				return sandbox.Exit{}, fmt.Errorf("job %q: %w", spec.ID, sandbox.ErrDetached)
			}
			if reason == "" {
				reason = sandbox.ReasonCanceled
			}
			ctx = context.Background()
			if st.containerID == "" {
				// Not started: the pod goes, and the job never runs.
				if err := r.deletePod(bg, pod.Name); err != nil {
					r.log.Warn("delete the pod of a cancelled job", "job", spec.ID, "err", err)
				}
				st.failure = "cancelled before it started"
				break loop
			}
			r.kill(bg, cg, st)
		}
	}
	ended := time.Now()
	if st.started.IsZero() {
		st.started = ended
	}
	if st.terminated != nil {
		startLogs() // a job that ended before it was seen running
	}
	if st.terminated != nil && !st.terminated.FinishedAt.IsZero() && st.terminated.FinishedAt.Time.Before(ended.Add(-2*time.Second)) &&
		st.terminated.FinishedAt.Time.After(st.started) {
		// It ended while nobody watched: the kubelet's record is to the
		// second, truncated; the end of that second bounds it from above.
		ended = st.terminated.FinishedAt.Time.Add(time.Second)
	}
	if logsDone != nil {
		select {
		case <-logsDone:
		case <-time.After(5 * time.Second):
		}
	}
	dropped := lw.detach()
	ex := sandbox.Exit{Reason: reason, Code: -1, Started: st.started, Ended: ended}
	ex.Usage = r.meter(cg)
	ex.Usage.Wall = ended.Sub(st.started)
	if st.terminated == nil {
		if ex.Reason == "" {
			ex.Reason = sandbox.ReasonSystemError
			if st.timeout {
				ex.Reason = sandbox.ReasonTimeout
			}
		}
		r.log.Warn("job ended without its container", "job", spec.ID, "why", st.failure)
		return ex, nil
	}
	ex.Code = int(st.terminated.ExitCode)
	if reason == "" && (st.terminated.Reason == "OOMKilled" || r.oomKilled(cg, st.containerID, spec.Limits.MemoryBytes, ex.Code)) {
		ex.Reason = sandbox.ReasonOOM
	}
	if reason == "" && ended.After(st.started.Add(spec.Limits.Timeout)) {
		ex.Reason = sandbox.ReasonTimeout // it ran past its time while nobody watched
	}
	if len(spec.Outputs) > 0 || ex.Reason == "" {
		out := podVolume(uid, volOut)
		if out == "" {
			return ex, fmt.Errorf("job %q: its /out is not mounted on this node: %w", spec.ID, errdefs.ErrUnavailable)
		}
		// Collected and the reason completed as on containerd; a job
		// that ended otherwise (OOM, timeout) with nothing declared has
		// nothing to collect.
		if err := outputs.Finish(out, spec, &ex); err != nil {
			return ex, err
		}
	}
	// The daemon's log is read outside the review (by the platform's
	// staff, by log collectors): it names the job and how the sandbox saw
	// it end, never a figure the job sets (its exit status, the bytes of
	// log it dropped), and only at debug level, since the moment of a
	// line is the moment the job ended (as the containerd backend does).
	if dropped > 0 {
		r.log.Debug("job logs capped", "job", spec.ID)
	}
	r.log.Debug("job ended", "job", spec.ID, "reason", ex.Reason)
	return ex, nil
}

// AnnotationStarted records when the runtime first saw a job run, for a
// reattach to count the timeout from.
const AnnotationStarted = "enclave.dev/started"

func (r *Runtime) watch(ctx context.Context, name, rv string) (watch.Interface, error) {
	return r.client.CoreV1().Pods(r.ns).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: rv,
	})
}

func (r *Runtime) annotate(ctx context.Context, pod, key, value string) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value)
	_, err := r.client.CoreV1().Pods(r.ns).Patch(ctx, pod, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

func (r *Runtime) recordStart(ctx context.Context, pod string, t time.Time) {
	go func() {
		if err := r.annotate(ctx, pod, AnnotationStarted, t.UTC().Format(time.RFC3339Nano)); err != nil && !apierrors.IsNotFound(err) {
			r.log.Warn("record the job's start", "pod", pod, "err", err)
		}
	}()
}

func (r *Runtime) recordLogs(ctx context.Context, pod string, t time.Time) {
	if t.IsZero() {
		return
	}
	if err := r.annotate(ctx, pod, AnnotationLogs, t.UTC().Format(time.RFC3339Nano)); err != nil {
		r.log.Warn("record how far the job's log was read", "pod", pod, "err", err)
	}
}

// streamLogs copies the job container's log, line by line without the
// timestamps the kubelet adds, to lw until the container ends or lw is
// detached.
func (r *Runtime) streamLogs(ctx context.Context, pod string, lw *capWriter) {
	opts := &corev1.PodLogOptions{Container: jobContainer, Follow: true, Timestamps: true}
	if after := lw.startAfter(); !after.IsZero() {
		t := metav1.NewTime(after.Truncate(time.Second))
		opts.SinceTime = &t
	}
	rc, err := r.client.CoreV1().Pods(r.ns).GetLogs(pod, opts).Stream(ctx)
	if err != nil {
		r.log.Warn("read the job's log", "pod", pod, "err", err)
		return
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if !lw.line(line) {
				return
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return
		}
	}
}

// podVolume returns where the kubelet mounted a memory emptyDir of the pod
// with uid on this host, or "".
func podVolume(uid types.UID, name string) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	suffix := "/pods/" + string(uid) + "/volumes/kubernetes.io~empty-dir/" + name
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasSuffix(f[4], suffix) && !strings.Contains(f[4], `\`) {
			return f[4]
		}
	}
	return ""
}

// Recover finds the pods of the runtime's namespace that carry the job
// label: those keep accepts are left for Reattach, every other one is
// deleted with its input claims and volumes. Claims and volumes of no
// kept job are deleted too. It returns the IDs kept.
func (r *Runtime) Recover(ctx context.Context, keep func(id string) bool) ([]string, error) {
	sel := LabelManagedBy + "=" + ManagedBy + "," + LabelJob
	pods, err := r.client.CoreV1().Pods(r.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list job pods: %w", err)
	}
	kept := map[string]bool{}
	var ids []string
	var errs []error
	for _, p := range pods.Items {
		id := p.Annotations[AnnotationJob]
		if id != "" && p.DeletionTimestamp == nil && keep != nil && keep(id) {
			kept[jobHash(id)] = true
			ids = append(ids, id)
			continue
		}
		errs = append(errs, r.deletePod(ctx, p.Name))
	}
	pvcs, err := r.client.CoreV1().PersistentVolumeClaims(r.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return ids, fmt.Errorf("list job claims: %w", err)
	}
	for _, c := range pvcs.Items {
		if !kept[c.Labels[LabelJob]] {
			errs = append(errs, ignoreNotFound(r.client.CoreV1().PersistentVolumeClaims(r.ns).Delete(ctx, c.Name, metav1.DeleteOptions{})))
		}
	}
	pvs, err := r.client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return ids, fmt.Errorf("list job volumes: %w", err)
	}
	for _, v := range pvs.Items {
		if v.Spec.ClaimRef != nil && v.Spec.ClaimRef.Namespace == r.ns && !kept[v.Labels[LabelJob]] {
			errs = append(errs, ignoreNotFound(r.client.CoreV1().PersistentVolumes().Delete(ctx, v.Name, metav1.DeleteOptions{})))
		}
	}
	if len(pods.Items) > 0 {
		r.log.Warn("found jobs of a previous daemon", "kept", len(ids), "removed", len(pods.Items)-len(ids))
	}
	return ids, errors.Join(errs...)
}

// Reattach follows a job that Recover kept; see sandbox.Runtime. Its log
// goes on after the last line the previous daemon read.
func (r *Runtime) Reattach(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	if err := spec.Validate(); err != nil {
		return sandbox.Exit{}, err
	}
	bg := context.WithoutCancel(ctx)
	pod, err := r.client.CoreV1().Pods(r.ns).Get(bg, PodName(spec.ID), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r.cleanupLogged(bg, spec.ID, len(spec.Inputs))
		return sandbox.Exit{}, fmt.Errorf("job %q has no pod: %w", spec.ID, errdefs.ErrNotFound)
	} else if err != nil {
		return sandbox.Exit{}, fmt.Errorf("job %q pod: %w", spec.ID, err)
	}
	if pod.Annotations[AnnotationJob] != spec.ID || pod.Annotations[AnnotationImage] != spec.Image {
		return sandbox.Exit{}, fmt.Errorf("job %q: the pod is not of this job and image: %w", spec.ID, errdefs.ErrInvalidArgument)
	}
	var after time.Time
	if t, err := time.Parse(time.RFC3339Nano, pod.Annotations[AnnotationLogs]); err == nil {
		after = t
	}
	r.log.Info("job reattached", "job", spec.ID, "phase", pod.Status.Phase)
	return r.follow(ctx, spec, pod, logs, after)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// deletePod deletes a pod and waits until it is gone: the kubelet removes
// a pod it was told to delete gracefully only once its containers ended
// and its volumes (/out, /tmp) are unmounted. (A deletion with no grace
// would remove the object at once and leave that to later.)
func (r *Runtime) deletePod(ctx context.Context, name string) error {
	grace := int64(1)
	err := r.client.CoreV1().Pods(r.ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("delete pod %q: %w", name, err)
	}
	for {
		_, err := r.client.CoreV1().Pods(r.ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pod %q not gone: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cleanup removes what a job left: its pod (waiting until it is gone),
// its input claims and volumes. It returns every failure.
func (r *Runtime) cleanup(ctx context.Context, id string, inputs int) error {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	errs := []error{r.deletePod(ctx, PodName(id))}
	for i := 0; i < inputs; i++ {
		errs = append(errs, ignoreNotFound(r.client.CoreV1().PersistentVolumeClaims(r.ns).Delete(ctx, claimName(id, i), metav1.DeleteOptions{})))
		errs = append(errs, ignoreNotFound(r.client.CoreV1().PersistentVolumes().Delete(ctx, r.volumeName(id, i), metav1.DeleteOptions{})))
	}
	return errors.Join(errs...)
}

func (r *Runtime) cleanupLogged(ctx context.Context, id string, inputs int) {
	if err := r.cleanup(ctx, id, inputs); err != nil {
		r.log.Error("remove what the job left", "job", id, "err", err)
	}
}

// capWriter passes through at most left bytes of log lines and drops the
// rest; it never fails. Lines carry the kubelet's timestamp, which it
// strips, skipping lines up to after.
type capWriter struct {
	mu       sync.Mutex
	w        io.Writer
	left     int64
	dropped  int64
	after    time.Time
	lastTS   time.Time
	detached bool
}

func (c *capWriter) startAfter() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.after
}

func (c *capWriter) last() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastTS
}

// line writes one log line; it reports false once detached.
func (c *capWriter) line(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.detached {
		return false
	}
	if sp := indexByte(b, ' '); sp > 0 {
		if ts, err := time.Parse(time.RFC3339Nano, string(b[:sp])); err == nil {
			if !c.after.IsZero() && !ts.After(c.after) {
				return true
			}
			c.lastTS = ts
			b = b[sp+1:]
		}
	}
	n := int64(len(b))
	if n > c.left {
		c.dropped += n - c.left
		n = c.left
	}
	if n > 0 && c.w != nil {
		if _, err := c.w.Write(b[:n]); err != nil {
			c.w = nil
		}
	}
	c.left -= n
	return true
}

func indexByte(b []byte, x byte) int {
	for i, v := range b {
		if v == x {
			return i
		}
	}
	return -1
}

// detach stops passing output on and returns how much was dropped.
func (c *capWriter) detach() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w = nil
	c.detached = true
	return c.dropped
}
