package sweeper

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/datasets"
)

// Uploads destroys operators' own uploads (datasets.Catalog): the sweeper
// lists an organisation's uploads not yet destroyed, marks each destroyed
// in a transaction that also records it on the audit log, then shreds its
// key and removes its files, with the destruction record.
type Uploads interface {
	OrgUploads(ctx context.Context, q datasets.Querier, org string) ([]*datasets.Version, error)
	MarkDestroyed(ctx context.Context, tx *sql.Tx, name string, version int, reason string) ([]*datasets.Version, error)
	Shred(ctx context.Context, v *datasets.Version) (datasets.Destruction, error)
	// Unfinished lists destroyed versions whose shredding did not finish
	// (datasets.Catalog.Unfinished).
	Unfinished(ctx context.Context, q datasets.Querier, cutoff time.Time) ([]*datasets.Version, error)
}

// finishAfter is how long after a version was marked destroyed the sweeper
// takes its unfinished shredding as failed rather than in progress.
const finishAfter = 10 * time.Minute

// finishDestructions shreds again every dataset version (an upload or a
// custodian's) that was marked destroyed and recorded as such but whose
// shredding failed or never ran (R-13: a destruction is irreversible, and a
// failed step is retried, not forgotten). Each attempt is on the record as
// a dataset.destruction entry saying it finishes an earlier one; a version
// that fails again is left for the next pass, and the first error is
// returned after every version was tried.
func (s *Sweeper) finishDestructions(ctx context.Context, now time.Time, res *Result) error {
	if s.cfg.Uploads == nil {
		return nil
	}
	vs, err := s.cfg.Uploads.Unfinished(ctx, s.db, now.Add(-finishAfter))
	if err != nil {
		return fmt.Errorf("list unfinished destructions: %w", err)
	}
	var first error
	for _, v := range vs {
		d, err := s.cfg.Uploads.Shred(context.WithoutCancel(ctx), v)
		rec := audit.Event{Time: now, Actor: "system", Action: "dataset.destruction", Objects: []string{"dataset:" + v.ID()},
			Outcome: "ok", Reason: "an earlier destruction of this version did not finish: " + v.StateReason, Retention: audit.Retention5y,
			Details: map[string]string{"technique": d.Technique, "key_id": d.KeyID, "files_removed": fmt.Sprint(d.Files), "key_object": v.KeyObject(),
				"process": "the term sweeper finished a destruction whose shredding had failed or not run"}}
		if v.Org != "" {
			rec.Objects = append(rec.Objects, "org:"+v.Org)
		}
		if err != nil {
			rec.Outcome, rec.Details["error"] = "failed", "shred failed"
		}
		if aerr := s.change(context.WithoutCancel(ctx), rec, nil); aerr != nil {
			return fmt.Errorf("record the destruction of dataset %q: %w", v.ID(), aerr)
		}
		if err != nil {
			if first == nil {
				first = fmt.Errorf("finish the destruction of dataset %q: %w", v.ID(), err)
			}
			continue
		}
		res.Finished = append(res.Finished, v.ID())
	}
	return first
}

var _ Uploads = (*datasets.Catalog)(nil)

// uploadsEnded says why an organisation's uploads must go (issue 20 item
// 1, R-13): it was revoked or blacklisted (at once), its licence ended
// (after the grace period, as its grants' derived data), or it is not on
// the record at all; "" keeps them.
func (s *Sweeper) uploadsEnded(now time.Time, status, licence string, known bool) string {
	switch {
	case !known:
		return "its organisation is not on the record"
	case status == "revoked" || status == "blacklisted":
		return "its organisation was " + status
	}
	end, err := time.Parse(time.DateOnly, licence)
	if err != nil {
		return "its organisation's licence has no readable end" // fail closed
	}
	if !now.Before(end.AddDate(0, 0, 1).Add(s.cfg.Grace)) {
		return "its organisation's licence ended on " + licence
	}
	return ""
}

// shredUploads destroys the uploads of every organisation whose licence
// ended, was revoked or blacklisted (issue 20 item 1): an upload belongs
// to its organisation and dies with its licence, mere expiry included,
// with a destruction record for each version (object, process,
// technique). Revocation by the authority destroys them at once in the
// server; this pass is the one for expiry and the backstop for the rest.
func (s *Sweeper) shredUploads(ctx context.Context, now time.Time, res *Result) error {
	if s.cfg.Uploads == nil {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT d.org, o.name IS NOT NULL, COALESCE(o.status, ''), COALESCE(o.licence_until, '')
		FROM dataset_versions d LEFT JOIN orgs o ON o.name = d.org WHERE d.upload = 1 AND d.state != ? ORDER BY d.org`, datasets.Destroyed)
	if err != nil {
		return fmt.Errorf("query organisations with uploads: %w", err)
	}
	type org struct {
		name, why string
	}
	var orgs []org
	for rows.Next() {
		var name, status, licence string
		var known bool
		if err := rows.Scan(&name, &known, &status, &licence); err != nil {
			rows.Close()
			return fmt.Errorf("read organisations with uploads: %w", err)
		}
		if why := s.uploadsEnded(now, status, licence, known); why != "" {
			orgs = append(orgs, org{name, why})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read organisations with uploads: %w", err)
	}
	for _, o := range orgs {
		vs, err := s.cfg.Uploads.OrgUploads(ctx, s.db, o.name)
		if err != nil {
			return fmt.Errorf("list the uploads of organisation %q: %w", o.name, err)
		}
		why := "an upload dies with its organisation's licence: " + o.why
		for _, v := range vs {
			var marked []*datasets.Version
			ev := audit.Event{Time: now, Actor: "system", Action: "dataset.destroy", Objects: []string{"dataset:" + v.ID(), "org:" + o.name},
				Outcome: "ok", Reason: why, Retention: audit.Retention5y,
				Details: map[string]string{"process": "an upload destroyed with its organisation's licence by the term sweeper: marked destroyed, then key shredded and files removed"}}
			if err := s.change(ctx, ev, func(tx *sql.Tx) error {
				var err error
				marked, err = s.cfg.Uploads.MarkDestroyed(ctx, tx, v.Name, v.Version, why)
				return err
			}); err != nil {
				return fmt.Errorf("destroy upload %q: %w", v.ID(), err)
			}
			for _, m := range marked {
				d, err := s.cfg.Uploads.Shred(context.WithoutCancel(ctx), m)
				rec := audit.Event{Time: now, Actor: "system", Action: "dataset.destruction", Objects: []string{"dataset:" + m.ID(), "org:" + o.name},
					Outcome: "ok", Reason: why, Retention: audit.Retention5y,
					Details: map[string]string{"technique": d.Technique, "key_id": d.KeyID, "files_removed": fmt.Sprint(d.Files), "key_object": m.KeyObject()}}
				if err != nil {
					rec.Outcome, rec.Details["error"] = "failed", "shred failed"
				}
				if aerr := s.change(context.WithoutCancel(ctx), rec, nil); aerr != nil {
					return fmt.Errorf("record the destruction of upload %q: %w", m.ID(), aerr)
				}
				if err != nil {
					return fmt.Errorf("shred upload %q: %w", m.ID(), err)
				}
				res.Uploads = append(res.Uploads, m.ID())
			}
		}
	}
	return nil
}
