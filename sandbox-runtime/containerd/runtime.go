// Package containerd implements sandbox.Runtime on the containerd Go client
// (v1.7, talking to containerd 1.6 or later) and runc: every job is one
// container in the runtime's own containerd namespace, built from the
// options of sandbox-runtime/hardening and refused unless the finished spec
// passes hardening.Validate. StartDaemon runs a private containerd as a
// child process for the embedded default.
//
// Images are imported as pending (content only), and PrepareImage, called
// once after an officer approved an image, unpacks it and commits a copy of
// its root file system chowned to the unprivileged user range (the "remap"
// snapshot). Each job starts from a cheap child snapshot of it.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/mount"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"

	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

var _ sandbox.Runtime = (*Runtime)(nil)

// Labels and name prefixes by which the runtime finds its own objects.
const (
	LabelJob     = "enclave.job"
	LabelImage   = "enclave.image"
	LabelStarted = "enclave.started" // when the job's task started, RFC 3339
	imagePrefix  = "enclave/image@"
	remapPrefix  = "enclave-remap/"
	jobSnapshot  = "enclave-job/"
	gcRootLabel  = "containerd.io/gc.root"
	runcV2       = "io.containerd.runc.v2"
	defaultIDMin = 100000000
)

// Runtime runs jobs on containerd. It is safe for concurrent use.
type Runtime struct {
	client      *containerd.Client
	ns          string
	snapshotter string
	uid, gid    uint32
	idSize      uint32
	workDir     string
	log         *slog.Logger

	mu       sync.Mutex
	prepared map[string]string // image digest -> remap snapshot key
	pending  sync.WaitGroup    // background removals of finished jobs
}

// Option configures a Runtime.
type Option func(*Runtime) error

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(r *Runtime) error { r.log = l; return nil }
}

// WithWorkDir sets the host directory for per-job work areas (the /out
// tmpfs and the log fifos). Default: os.TempDir()/enclave-sandbox. Its path
// must be traversable by others (mode o+x), since runc resolves the /out
// bind inside the job's user namespace.
func WithWorkDir(dir string) Option {
	return func(r *Runtime) error { r.workDir = dir; return nil }
}

// WithIDRange sets the host uid and gid that a job's root maps to and the
// size of the mapped range (default 100000000, 100000000, 65536). Changing
// it requires PrepareImage again for every image.
func WithIDRange(uid, gid, size uint32) Option {
	return func(r *Runtime) error {
		if uid < 65536 || gid < 65536 || size == 0 || size > 1<<24 {
			return fmt.Errorf("id range: %w", errdefs.ErrInvalidArgument)
		}
		r.uid, r.gid, r.idSize = uid, gid, size
		return nil
	}
}

// WithSnapshotter sets the snapshotter (default "overlayfs").
func WithSnapshotter(name string) Option {
	return func(r *Runtime) error { r.snapshotter = name; return nil }
}

// New connects to the containerd at address and uses namespace for every
// object it creates.
func New(ctx context.Context, address, namespace string, opts ...Option) (*Runtime, error) {
	if namespace == "" {
		return nil, fmt.Errorf("namespace empty: %w", errdefs.ErrInvalidArgument)
	}
	r := &Runtime{
		ns: namespace, snapshotter: "overlayfs",
		uid: defaultIDMin, gid: defaultIDMin, idSize: 65536,
		workDir:  filepath.Join(os.TempDir(), "enclave-sandbox"),
		log:      slog.New(slog.DiscardHandler),
		prepared: map[string]string{},
	}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(r.workDir, 0o711); err != nil {
		return nil, fmt.Errorf("create work directory: %w", err)
	}
	if err := os.Chmod(r.workDir, 0o711); err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	c, err := containerd.New(address, containerd.WithDefaultNamespace(namespace),
		containerd.WithDefaultRuntime(runcV2), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd: %w", errors.Join(errdefs.ErrUnavailable, err))
	}
	r.client = c
	return r, nil
}

func (r *Runtime) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.ns)
}

// Close waits for the background removal of finished jobs and closes the
// connection to containerd. It must not be called concurrently with Run.
func (r *Runtime) Close() error {
	r.pending.Wait()
	return r.client.Close()
}

// Client returns the underlying containerd client (for benchmarks and
// tests that compare against plain containerd).
func (r *Runtime) Client() *containerd.Client { return r.client }

// Namespace returns the containerd namespace of the runtime.
func (r *Runtime) Namespace() string { return r.ns }

// ImportImage loads an OCI image-layout archive holding exactly one
// manifest into the content store and records it under
// "enclave/image@DIGEST"; names inside the archive are ignored, so an
// archive cannot replace another image. Nothing is unpacked.
func (r *Runtime) ImportImage(ctx context.Context, rd io.Reader) (string, error) {
	ctx = r.ctx(ctx)
	imgs, err := r.client.Import(ctx, rd,
		containerd.WithImageRefTranslator(func(string) string { return "" }),
		containerd.WithDigestRef(func(d digest.Digest) string { return imagePrefix + d.String() }),
		containerd.WithAllPlatforms(false))
	if err != nil {
		if errdefs.IsUnavailable(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return "", fmt.Errorf("import image: %w", err)
		}
		return "", fmt.Errorf("import image archive: %w", errors.Join(errdefs.ErrInvalidArgument, err))
	}
	// Names carried inside the archive are not ours: drop them.
	var mine []images.Image
	for _, im := range imgs {
		if strings.HasPrefix(im.Name, imagePrefix) {
			mine = append(mine, im)
			continue
		}
		_ = r.client.ImageService().Delete(ctx, im.Name)
	}
	imgs = mine
	if len(imgs) != 1 {
		for _, im := range imgs {
			_ = r.client.ImageService().Delete(ctx, im.Name)
		}
		return "", fmt.Errorf("image archive holds %d manifests, want 1: %w", len(imgs), errdefs.ErrInvalidArgument)
	}
	d := imgs[0].Target.Digest.String()
	if imgs[0].Target.MediaType != images.MediaTypeDockerSchema2Manifest && imgs[0].Target.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		_ = r.client.ImageService().Delete(ctx, imgs[0].Name)
		return "", fmt.Errorf("image archive entry is not a manifest: %w", errdefs.ErrInvalidArgument)
	}
	r.log.Info("image imported", "image", d)
	return d, nil
}

// remapKey names the committed, chowned copy of an image's root file system.
func (r *Runtime) remapKey(chainID string) string {
	return fmt.Sprintf("%s%s/%d-%d", remapPrefix, chainID, r.uid, r.gid)
}

func (r *Runtime) image(ctx context.Context, d string) (containerd.Image, error) {
	if !sandbox.ValidDigest(d) {
		return nil, fmt.Errorf("image digest invalid: %w", errdefs.ErrInvalidArgument)
	}
	img, err := r.client.ImageService().Get(ctx, imagePrefix+d)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", d, err)
	}
	return containerd.NewImage(r.client, img), nil
}

// PrepareImage unpacks an imported image and commits its remapped root
// file system once. It is idempotent and safe to call concurrently.
func (r *Runtime) PrepareImage(ctx context.Context, d string) error {
	ctx = r.ctx(ctx)
	img, err := r.image(ctx, d)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, done, err := r.client.WithLease(ctx)
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	defer done(context.WithoutCancel(ctx))
	if ok, err := img.IsUnpacked(ctx, r.snapshotter); err != nil || !ok {
		if err := img.Unpack(ctx, r.snapshotter); err != nil {
			return fmt.Errorf("unpack image %q: %w", d, err)
		}
	}
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		return fmt.Errorf("image %q root file system: %w", d, err)
	}
	parent := identity.ChainID(diffIDs).String()
	key := r.remapKey(parent)
	sn := r.client.SnapshotService(r.snapshotter)
	if _, err := sn.Stat(ctx, key); err == nil {
		r.prepared[d] = key
		return nil
	}
	tmp := fmt.Sprintf("%s-prepare-%d", key, time.Now().UnixNano())
	mounts, err := sn.Prepare(ctx, tmp, parent)
	if err != nil {
		return fmt.Errorf("prepare remap snapshot: %w", err)
	}
	if err := mount.WithTempMount(ctx, mounts, func(root string) error {
		return filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid >= r.idSize || st.Gid >= r.idSize {
				return fmt.Errorf("image file owner outside the mapped range: %w", errdefs.ErrInvalidArgument)
			}
			// Lchown never follows a link to a host file.
			return os.Lchown(p, int(st.Uid+r.uid), int(st.Gid+r.gid))
		})
	}); err != nil {
		_ = sn.Remove(ctx, tmp)
		return fmt.Errorf("remap image %q: %w", d, err)
	}
	labels := map[string]string{gcRootLabel: time.Now().UTC().Format(time.RFC3339), LabelImage: d}
	if err := sn.Commit(ctx, key, tmp, snapshots.WithLabels(labels)); err != nil {
		_ = sn.Remove(ctx, tmp)
		return fmt.Errorf("commit remap snapshot: %w", err)
	}
	r.prepared[d] = key
	r.log.Info("image prepared", "image", d)
	return nil
}

// parentSnapshot returns the remap snapshot of a prepared image.
func (r *Runtime) parentSnapshot(ctx context.Context, d string) (string, error) {
	r.mu.Lock()
	key, ok := r.prepared[d]
	r.mu.Unlock()
	if ok {
		return key, nil
	}
	img, err := r.image(ctx, d)
	if err != nil {
		return "", err
	}
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		return "", fmt.Errorf("image %q not prepared: %w", d, errdefs.ErrFailedPrecondition)
	}
	key = r.remapKey(identity.ChainID(diffIDs).String())
	if _, err := r.client.SnapshotService(r.snapshotter).Stat(ctx, key); err != nil {
		return "", fmt.Errorf("image %q not prepared: %w", d, errdefs.ErrFailedPrecondition)
	}
	r.mu.Lock()
	r.prepared[d] = key
	r.mu.Unlock()
	return key, nil
}

// Recover lists the containers of the runtime's namespace that carry the
// job label: those keep accepts are left for Reattach, every other one is
// killed and removed with its snapshot and work area. Job snapshots and
// work areas of no kept job, and remap snapshots left half made, are
// removed too. It returns the IDs kept.
func (r *Runtime) Recover(ctx context.Context, keep func(id string) bool) ([]string, error) {
	ctx = r.ctx(ctx)
	cs, err := r.client.Containers(ctx, fmt.Sprintf("labels.%q", LabelJob))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	kept := map[string]bool{}
	var ids []string
	removed := 0
	for _, c := range cs {
		if keep != nil && keep(c.ID()) {
			kept[c.ID()] = true
			ids = append(ids, c.ID())
			continue
		}
		if err := r.cleanup(ctx, c.ID()); err != nil {
			return ids, err
		}
		removed++
	}
	sn := r.client.SnapshotService(r.snapshotter)
	var stale []string
	if err := sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if id, ok := strings.CutPrefix(info.Name, jobSnapshot); ok && !kept[id] ||
			strings.HasPrefix(info.Name, remapPrefix) && info.Kind == snapshots.KindActive {
			stale = append(stale, info.Name)
		}
		return nil
	}); err != nil {
		return ids, fmt.Errorf("list snapshots: %w", err)
	}
	for _, s := range stale {
		if err := sn.Remove(ctx, s); err != nil && !errdefs.IsNotFound(err) {
			return ids, fmt.Errorf("remove snapshot: %w", err)
		}
	}
	entries, _ := os.ReadDir(r.workDir)
	for _, e := range entries {
		if kept[e.Name()] {
			continue
		}
		if err := removeWorkArea(filepath.Join(r.workDir, e.Name())); err != nil {
			return ids, err
		}
	}
	if removed > 0 || len(ids) > 0 {
		r.log.Warn("found jobs of a previous daemon", "kept", len(ids), "removed", removed)
	}
	return ids, nil
}

// cleanup removes what a job left, whatever of it exists: its task
// (killed), its container, its fifos' holder, its work area (unmounted)
// and its snapshot. It goes on past a failure and returns them all.
func (r *Runtime) cleanup(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	var errs []error
	if c, err := r.client.LoadContainer(ctx, id); err == nil {
		errs = append(errs, r.remove(ctx, c))
	} else if !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("load container %q: %w", id, err))
	}
	releaseFIFOs(filepath.Join(r.workDir, id))
	errs = append(errs, removeWorkArea(filepath.Join(r.workDir, id)))
	if err := r.client.SnapshotService(r.snapshotter).Remove(ctx, jobSnapshot+id); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("remove snapshot of %q: %w", id, err))
	}
	return errors.Join(errs...)
}

// cleanupLogged is cleanup for callers that cannot return its error.
func (r *Runtime) cleanupLogged(ctx context.Context, id string) {
	if err := r.cleanup(ctx, id); err != nil {
		r.log.Error("remove what the job left", "job", id, "err", err)
	}
}

// remove kills a container's task and deletes the container (and the
// snapshot it names, as containers made before the job's root was mounted
// by the runtime do).
func (r *Runtime) remove(ctx context.Context, c containerd.Container) error {
	if t, err := c.Task(ctx, nil); err == nil {
		_ = t.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll)
		if _, err := t.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task %q: %w", c.ID(), err)
		}
	}
	if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container %q: %w", c.ID(), err)
	}
	return nil
}
