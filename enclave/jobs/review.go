package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/sandbox-runtime/ociarchive"
)

// ImageReview is the domain service behind job images: an
// imported archive is checked (ociarchive.CheckImage: every layer read as
// a stream before anything is unpacked) and handed to the sandbox, then
// recorded pending; an officer's approval first unpacks the image, within
// the quota of unpacked images, and only then is recorded. It is safe for
// concurrent use.
type ImageReview struct {
	Jobs *Manager
	// MaxBytes bounds an archive; Limits bound its layers.
	MaxBytes int64
	Limits   ociarchive.Limits
	// SnapshotQuota bounds the disk the approved images take unpacked:
	// twice what each unpacks to (its layers, and their copy remapped to
	// the jobs' ids), all approved images together.
	SnapshotQuota int64
	// Now returns the current time; nil is time.Now.
	Now func() time.Time

	// approving serialises approvals, which check the snapshot quota
	// before they unpack.
	approving sync.Mutex
}

// Import checks the archive in f (size bytes) and imports it into the
// sandbox. It returns the image, pending, for the caller to record with
// CreateImage in the transaction that audits it; name, when empty, is a
// prefix of the digest. An archive the checks refuse is
// errdefs.ErrInvalidArgument naming the rule and the layer.
func (r *ImageReview) Import(ctx context.Context, f io.ReadSeeker, size int64, name, org, person string) (*Image, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	// The archive is outside input: checked, its layers too, before
	// containerd reads it and long before anything is unpacked.
	sum, err := ociarchive.CheckImage(f, r.MaxBytes, r.Limits)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	digest, err := r.Jobs.Runtime().ImportImage(ctx, f)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = digest[7:19]
	}
	return &Image{Digest: digest, ID: digest, Name: name, Size: size, Status: ImagePending, Org: org, ImportedBy: person,
		ImportedAt: r.now().UTC(), Unpacked: sum.Unpacked, Layers: sum.Layers}, nil
}

// PrepareApproval readies a pending image for its approval: within the
// snapshot quota (errdefs.ErrResourceExhausted past it), the sandbox
// unpacks it once, before the approval takes effect. It holds the
// approval lock until the caller, having recorded the decision (Decide),
// calls done.
func (r *ImageReview) PrepareApproval(ctx context.Context, digest string) (done func(), err error) {
	r.approving.Lock()
	defer func() {
		if err != nil {
			r.approving.Unlock()
		}
	}()
	im, err := GetImage(ctx, r.Jobs.DB(), digest)
	if err != nil {
		return nil, err
	}
	if im.Status == ImagePending {
		kept, err := ApprovedUnpackedBytes(ctx, r.Jobs.DB())
		if err != nil {
			return nil, err
		}
		if need := 2 * (kept + im.Unpacked); need > r.SnapshotQuota {
			return nil, fmt.Errorf("approving image %q would keep %d bytes of unpacked images (each twice: its layers and their remapped copy), over the quota of %d bytes: %w",
				im.Digest, need, r.SnapshotQuota, errdefs.ErrResourceExhausted)
		}
	}
	if err := r.Jobs.Runtime().PrepareImage(ctx, digest); err != nil {
		return nil, err
	}
	return r.approving.Unlock, nil
}

// Decide records an officer's decision (ImageApproved or ImageRejected)
// on a pending image in tx; an image decided before is
// errdefs.ErrFailedPrecondition.
func (r *ImageReview) Decide(ctx context.Context, tx *sql.Tx, digest, status, by, comment string) (*Image, error) {
	return DecideImage(ctx, tx, digest, status, by, comment, r.now())
}

func (r *ImageReview) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}
