package jobs

import (
	"context"
	"database/sql"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/sandbox-runtime/ociarchive"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// TestImageReviewImportRefuses: an archive the checks refuse never
// reaches the sandbox.
func TestImageReviewImportRefuses(t *testing.T) {
	var imported atomic.Int32
	rt := &sandboxtest.Fake{ImportFunc: func(context.Context, io.Reader) (string, error) {
		imported.Add(1)
		return sandboxtest.FakeDigest, nil
	}}
	m, _ := newManager(t, rt)
	r := &ImageReview{Jobs: m, MaxBytes: 1 << 20, Limits: ociarchive.DefaultLimits()}
	for _, archive := range []string{"", "not a tar archive", strings.Repeat("\x00", 1024)} {
		im, err := r.Import(context.Background(), strings.NewReader(archive), int64(len(archive)), "", "acme", "p_op")
		if !errdefs.IsInvalidArgument(err) || im != nil {
			t.Errorf("archive %q: got %v, %v, want an invalid-argument error", archive, im, err)
		}
	}
	if n := imported.Load(); n != 0 {
		t.Errorf("the sandbox imported %d refused archives", n)
	}
}

// TestImageReviewApproval: an approval unpacks the image only within the
// snapshot quota (twice what the approved images and this one unpack
// to), holds off other approvals until its decision is recorded, and a
// decided image cannot be decided again.
func TestImageReviewApproval(t *testing.T) {
	var prepared atomic.Int32
	rt := &sandboxtest.Fake{PrepareFunc: func(context.Context, string) error { prepared.Add(1); return nil }}
	m, _ := newManager(t, rt)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	add := func(digest string, status string, unpacked int64) {
		t.Helper()
		if err := CreateImage(ctx, m.DB(), &Image{Digest: digest, Name: digest[7:12], Size: 1, Status: status, Org: "acme", ImportedBy: "p_op",
			ImportedAt: now, Unpacked: unpacked}); err != nil {
			t.Fatal(err)
		}
	}
	big, small := "sha256:"+strings.Repeat("b", 64), "sha256:"+strings.Repeat("c", 64)
	add("sha256:"+strings.Repeat("a", 64), ImageApproved, 100)
	add(big, ImagePending, 401)
	add(small, ImagePending, 100)
	r := &ImageReview{Jobs: m, SnapshotQuota: 1000, Now: func() time.Time { return now }}

	// 2 × (100 + 401) > 1000: refused before anything is unpacked.
	if done, err := r.PrepareApproval(ctx, big); !errdefs.IsResourceExhausted(err) || done != nil || !strings.Contains(err.Error(), "quota of 1000 bytes") {
		t.Fatalf("over the quota: got %v, want resource exhausted naming the quota", err)
	}
	if prepared.Load() != 0 {
		t.Fatal("an image over the quota was unpacked")
	}
	if _, err := r.PrepareApproval(ctx, "sha256:"+strings.Repeat("d", 64)); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown image: got %v, want not found", err)
	}
	// 2 × (100 + 100) fits: unpacked, and a second approval waits.
	done, err := r.PrepareApproval(ctx, small)
	if err != nil || prepared.Load() != 1 {
		t.Fatalf("within the quota: got %v and %d unpacked, want one", err, prepared.Load())
	}
	second := make(chan error, 1)
	go func() {
		d, err := r.PrepareApproval(ctx, big)
		if d != nil {
			d()
		}
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("a second approval went ahead while the first was recorded: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	var im *Image
	if err := m.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		im, err = r.Decide(ctx, tx, small, ImageApproved, "p_off", "reviewed")
		return err
	}, nil); err != nil {
		t.Fatal(err)
	}
	done()
	// Now 2 × (200 + 401) > 1000: the waiting approval is refused.
	if err := <-second; !errdefs.IsResourceExhausted(err) {
		t.Fatalf("the waiting approval: got %v, want resource exhausted", err)
	}
	if im.Status != ImageApproved || im.DecidedBy != "p_off" || im.Comment != "reviewed" || im.DecidedAt == "" {
		t.Fatalf("got %+v, want approved by p_off with the comment and a time", im)
	}
	err = m.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := r.Decide(ctx, tx, small, ImageRejected, "p_off2", "")
		return err
	}, nil)
	if !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("deciding again: got %v, want failed precondition", err)
	}
}
