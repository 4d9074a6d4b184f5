package datasets

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// AsUpload makes a staged import an operator's upload (issue 20, R-16): it
// publishes pending review, whatever its market class, and no job reads it
// until an officer of another organisation approves it.
func (s *Staged) AsUpload() {
	s.Version.Upload = true
	s.Version.State, s.Version.StateReason = PendingReview, "an operator's upload waits for an officer of another organisation"
}

// VisibleTo reports whether organisation org may see v in the catalogue:
// every version that is not an upload, and an upload only by its own
// organisation (others cannot tell it from a name never imported).
// reviewer widens that to uploads pending review, for officers.
func (v *Version) VisibleTo(org string, reviewer bool) bool {
	if !v.Upload || v.Org == org {
		return true
	}
	return reviewer && v.State == PendingReview
}

// UploadBytes is what organisation org keeps of uploads, pending and
// approved (rejected and destroyed ones do not count), for its quota.
func (c *Catalog) UploadBytes(ctx context.Context, q Querier, org string) (int64, error) {
	if q == nil {
		q = c.db.SQL()
	}
	var n int64
	err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(bytes), 0) FROM dataset_versions WHERE upload = 1 AND org = ? AND state NOT IN (?, ?)`,
		org, Rejected, Destroyed).Scan(&n)
	return n, err
}

// Review records in tx the decision on the pending upload name@version
// (0: the newest): approved makes it active, otherwise rejected with the
// reason. Anything but a pending upload is ErrFailedPrecondition.
func (c *Catalog) Review(ctx context.Context, tx *sql.Tx, name string, version int, approve bool, by, reason string) (*Version, error) {
	v, err := c.Get(ctx, tx, name, version)
	if err != nil {
		return nil, err
	}
	if !v.Upload {
		return nil, fmt.Errorf("dataset %q version %d is not an upload; only uploads are reviewed: %w", v.Name, v.Version, errdefs.ErrFailedPrecondition)
	}
	if v.State != PendingReview {
		return nil, fmt.Errorf("upload %q version %d is %s, not pending review: %w", v.Name, v.Version, v.State, errdefs.ErrFailedPrecondition)
	}
	state := Active
	if !approve {
		state = Rejected
	}
	if v.Market == "withheld" && approve {
		state = Sealed // withheld data stays sealed
		reason = "market class withheld"
	}
	now := c.now().UTC()
	if _, err := tx.ExecContext(ctx, `UPDATE dataset_versions SET state = ?, state_reason = ?, reviewed_by = ?, reviewed_at = ? WHERE name = ? AND version = ? AND state = ?`,
		state, reason, by, storetime.Format(now), v.Name, v.Version, PendingReview); err != nil {
		return nil, err
	}
	v.State, v.StateReason, v.ReviewedBy, v.ReviewedAt = state, reason, by, now.Format("2006-01-02T15:04:05Z07:00")
	return v, nil
}

// OrgUploads lists the versions of organisation org's uploads that are not
// destroyed, for destroying them with its licence.
func (c *Catalog) OrgUploads(ctx context.Context, q Querier, org string) ([]*Version, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+cols+from+` WHERE d.upload = 1 AND d.org = ? AND d.state != ? ORDER BY d.name, d.version`, org, Destroyed)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Version
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
