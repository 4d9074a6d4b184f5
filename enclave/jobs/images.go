package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// Image statuses: imported images wait for an officer.
const (
	ImagePending  = "pending"
	ImageApproved = "approved"
	ImageRejected = "rejected"
)

// Image is a job image in the content store.
type Image struct {
	Digest     string    `json:"digest"`
	ID         string    `json:"id"` // the digest
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	Status     string    `json:"status"`
	Org        string    `json:"org"`
	ImportedBy string    `json:"imported_by"`
	ImportedAt time.Time `json:"imported_at"`
	DecidedBy  string    `json:"decided_by,omitempty"`
	// DecidedAt is when an officer decided, RFC 3339 to the second ("" while
	// pending).
	DecidedAt string `json:"decided_at,omitempty"`
	Comment   string `json:"comment,omitempty"`
	// Unpacked is what the image's layers unpack to, in bytes, and Layers
	// how many there are, as the import's check counted them (0 for images
	// imported before the check).
	Unpacked int64 `json:"unpacked_bytes"`
	Layers   int   `json:"layers"`
}

// CreateImage records an imported image as pending. Importing the same
// digest again is ErrAlreadyExists.
func CreateImage(ctx context.Context, q Querier, im *Image) error {
	_, err := q.ExecContext(ctx, `INSERT INTO images(digest, name, size, status, org, imported_by, imported_at, unpacked, layers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		im.Digest, im.Name, im.Size, im.Status, im.Org, im.ImportedBy, storetime.Format(im.ImportedAt), im.Unpacked, im.Layers)
	if err != nil && isUnique(err) {
		return fmt.Errorf("image %q was imported before: %w", im.Digest, errdefs.ErrAlreadyExists)
	}
	return err
}

func isUnique(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "UNIQUE") || strings.Contains(err.Error(), "PRIMARY KEY"))
}

const imageCols = `digest, name, size, status, org, imported_by, imported_at, decided_by, decided_at, comment, unpacked, layers`

func scanImage(sc interface{ Scan(...any) error }) (*Image, error) {
	var im Image
	var at, decided string
	if err := sc.Scan(&im.Digest, &im.Name, &im.Size, &im.Status, &im.Org, &im.ImportedBy, &at, &im.DecidedBy, &decided, &im.Comment,
		&im.Unpacked, &im.Layers); err != nil {
		return nil, err
	}
	im.ID = im.Digest
	var err error
	if im.ImportedAt, err = storetime.Column("image", im.Digest, "imported_at", at); err != nil {
		return nil, err
	}
	d, err := storetime.OptionalColumn("image", im.Digest, "decided_at", decided)
	if err != nil {
		return nil, err
	}
	if d != nil {
		im.DecidedAt = d.Format(time.RFC3339)
	}
	return &im, nil
}

// GetImage returns an image by digest.
func GetImage(ctx context.Context, q Querier, digest string) (*Image, error) {
	im, err := scanImage(q.QueryRowContext(ctx, `SELECT `+imageCols+` FROM images WHERE digest = ?`, digest))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("image %q: %w", digest, errdefs.ErrNotFound)
	}
	return im, err
}

// ListImages returns every image, newest first.
func ListImages(ctx context.Context, q Querier) ([]*Image, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+imageCols+` FROM images ORDER BY imported_at DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Image{}
	for rows.Next() {
		im, err := scanImage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, rows.Err()
}

// DecideImage approves or rejects a pending image.
func DecideImage(ctx context.Context, q Querier, digest, status, by, comment string, now time.Time) (*Image, error) {
	im, err := GetImage(ctx, q, digest)
	if err != nil {
		return nil, err
	}
	if im.Status != ImagePending {
		return nil, fmt.Errorf("image %q is already %s: %w", digest, im.Status, errdefs.ErrFailedPrecondition)
	}
	if _, err := q.ExecContext(ctx, `UPDATE images SET status = ?, decided_by = ?, decided_at = ?, comment = ? WHERE digest = ?`,
		status, by, storetime.Format(now), comment, digest); err != nil {
		return nil, err
	}
	im.Status, im.DecidedBy, im.DecidedAt, im.Comment = status, by, now.UTC().Format(time.RFC3339), comment
	return im, nil
}

// StoredImageBytes is the size of the archives of organisation org's
// images that are kept for use: pending and approved (the per-organisation
// quota of image uploads counts them).
func StoredImageBytes(ctx context.Context, q Querier, org string) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM images WHERE org = ? AND status != ?`, org, ImageRejected).Scan(&n)
	return n, err
}

// ApprovedUnpackedBytes is what the approved images unpack to, together
// (the quota of unpacked snapshots counts it).
func ApprovedUnpackedBytes(ctx context.Context, q Querier) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(unpacked), 0) FROM images WHERE status = ?`, ImageApproved).Scan(&n)
	return n, err
}
