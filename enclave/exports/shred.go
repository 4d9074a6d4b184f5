package exports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/store"
)

// Destroyed is the state of an export request whose frozen files were
// destroyed with a basis of its job before it was released: it takes no
// more decisions.
const Destroyed = "destroyed"

// Canceler stops a job (jobs.Manager). An errdefs.ErrFailedPrecondition
// error means the job had already ended.
type Canceler interface {
	Cancel(ctx context.Context, id, why string) error
}

// Auditor appends to the audit log.
type Auditor interface {
	Append(ctx context.Context, ev audit.Event) (uint64, error)
}

// Shredder destroys what was derived from a basis that ended (R-13,
// DESIGN.md section 5 promise 9): when a dataset version is destroyed, a
// grant's term ends (after its grace) or an organisation is revoked, every
// job that read under that basis loses its work area and outputs, and each
// of its exports not yet released loses its frozen files: the data key of
// each (jobs.DataKeys) is shredded in the keyring, then the sealed files
// are removed. A job still running is stopped first; what it leaves at its
// end is removed unsealed (its key is doomed). Released bundles have left
// the enclave and stay in the product register.
//
// Each destroyed object gets a destruction record (jobs.Destruction:
// object, cause, process, technique, key, files, actor, reason, time) in
// the state and on the audit log, appended before the destruction takes
// effect. Every method is idempotent: an object already destroyed is
// skipped, one whose destruction stopped half-way is finished. A Shredder
// is safe for concurrent use.
type Shredder struct {
	DB   *store.DB
	Keys *jobs.DataKeys
	// JobsDir is DATA/jobs and ExportsDir DATA/exports.
	JobsDir, ExportsDir string
	Audit               Auditor
	// Jobs stops running jobs; nil when no jobs run here.
	Jobs Canceler
	Now  func() time.Time
	Log  *slog.Logger
}

// DatasetDestroyed destroys what every job that read dataset name at
// version (every version when 0) derived from it.
func (s *Shredder) DatasetDestroyed(ctx context.Context, name string, version int, actor, reason string) ([]jobs.Destruction, error) {
	ls, err := jobs.LineageOfVersion(ctx, s.DB.SQL(), name, version)
	if err != nil {
		return nil, err
	}
	cause := "dataset:" + name
	if version != 0 {
		cause = fmt.Sprintf("dataset:%s@%d", name, version)
	}
	return s.shredJobs(ctx, lineageJobs(ls), cause, actor, reason)
}

// GrantEnded destroys what every job that read under grant derived. The
// caller calls it once the grant's grace period is over.
func (s *Shredder) GrantEnded(ctx context.Context, grant, actor, reason string) ([]jobs.Destruction, error) {
	ls, err := jobs.LineageOfGrant(ctx, s.DB.SQL(), grant)
	if err != nil {
		return nil, err
	}
	return s.shredJobs(ctx, lineageJobs(ls), "grant:"+grant, actor, reason)
}

// OrgRevoked destroys what every job of organisation org derived.
func (s *Shredder) OrgRevoked(ctx context.Context, org, actor, reason string) ([]jobs.Destruction, error) {
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT id FROM jobs WHERE org = ? ORDER BY created_at, id`, org)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return s.shredJobs(ctx, ids, "org:"+org, actor, reason)
}

// Job destroys what job id derived (its work area and outputs, its
// unreleased exports) for cause ("grant:ID", ...).
func (s *Shredder) Job(ctx context.Context, id, cause, actor, reason string) ([]jobs.Destruction, error) {
	return s.shredJobs(ctx, []string{id}, cause, actor, reason)
}

func lineageJobs(ls []jobs.Lineage) []string {
	var ids []string
	seen := map[string]bool{}
	for _, l := range ls {
		if !seen[l.Job] {
			seen[l.Job] = true
			ids = append(ids, l.Job)
		}
	}
	return ids
}

// Technique is how a derived object is destroyed.
func (s *Shredder) technique() string {
	return "crypto-shredding: the object's AES-256-GCM data key is wrapped under a key-encryption key of its own in the " +
		s.Keys.Keyring().Name() + " keyring, which was destroyed (local: overwritten, synced, unlinked and tombstoned; vault: the transit key deleted); " +
		"the sealed files were then unlinked"
}

const process = "stopped if running; data key marked shredded in the state; key-encryption key destroyed in the keyring; sealed files removed"

func (s *Shredder) shredJobs(ctx context.Context, ids []string, cause, actor, reason string) ([]jobs.Destruction, error) {
	if actor == "" {
		actor = "system"
	}
	out := []jobs.Destruction{}
	var errs []error
	for _, id := range ids {
		j, err := jobs.Get(ctx, s.DB.SQL(), id)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return out, err
		}
		if !j.State.Terminal() && s.Jobs != nil {
			err := s.Jobs.Cancel(ctx, id, "its basis ended ("+cause+"): "+reason)
			if err != nil && !errdefs.IsFailedPrecondition(err) && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("stop job %q: %w", id, err))
			}
		}
		d, err := s.shred(ctx, "job:"+id, jobs.JobKeyObject(id), jobs.KindJob, id, id, filepath.Join(s.JobsDir, id), cause, actor, reason, j.Org,
			func() (int, int64, error) { return jobs.DestroyFiles(s.JobsDir, id) })
		if err != nil {
			errs = append(errs, err)
		} else if d != nil {
			out = append(out, *d)
		}
		xs, err := s.unreleased(ctx, id)
		if err != nil {
			return out, err
		}
		for _, x := range xs {
			dir := filepath.Join(s.ExportsDir, x)
			d, err := s.shred(ctx, "export:"+x, jobs.ExportKeyObject(x), jobs.KindExport, x, id, dir, cause, actor, reason, j.Org,
				func() (int, int64, error) { return jobs.RemoveTree(dir) })
			if err != nil {
				errs = append(errs, err)
			} else if d != nil {
				out = append(out, *d)
			}
		}
	}
	return out, errors.Join(errs...)
}

// unreleased returns the exports of job that were not released.
func (s *Shredder) unreleased(ctx context.Context, job string) ([]string, error) {
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT id FROM exports WHERE job = ? AND state != ? ORDER BY id`, job, Released)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// shred destroys one object: audited first, then its key shredded, its
// files removed and the record stored. An object already destroyed (its
// key shredded by the keyring and its files gone) is skipped: nil, nil.
func (s *Shredder) shred(ctx context.Context, object, keyObject, kind, owner, job, dir, cause, actor, reason, org string,
	remove func() (int, int64, error)) (*jobs.Destruction, error) {
	done, err := s.destroyed(ctx, object, dir)
	if err != nil || done {
		return nil, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	d := &jobs.Destruction{Object: object, Cause: cause, Process: process, Technique: s.technique(), Keyring: s.Keys.Keyring().Name(),
		KeyObject: keyObject, Actor: actor, Reason: reason, Time: now().UTC()}
	ev := audit.Event{Time: d.Time, Actor: actor, Action: "derived.destroy", Objects: []string{object, cause}, Outcome: audit.OutcomeOK,
		Reason: reason, Retention: audit.Retention5y, Details: map[string]string{"process": d.Process, "technique": d.Technique,
			"key_object": keyObject, "cause": cause, "org": org}}
	if _, err := s.Audit.Append(ctx, ev); err != nil {
		return nil, fmt.Errorf("audit the destruction of %s: %w", object, err)
	}
	fail := func(err error) (*jobs.Destruction, error) {
		ev.Outcome, ev.Reason = audit.OutcomeFailed, "the destruction did not complete; it is finished by the next one of the same basis"
		ev.Details["error"] = errClass(err)
		if _, aerr := s.Audit.Append(context.WithoutCancel(ctx), ev); aerr != nil && s.Log != nil {
			s.Log.Error("audit a failed destruction", "object", object, "err", aerr)
		}
		return nil, fmt.Errorf("destroy %s: %w", object, err)
	}
	if d.KeyID, err = s.Keys.Shred(ctx, keyObject, kind, owner, job); err != nil {
		return fail(err)
	}
	if d.Files, d.Bytes, err = remove(); err != nil {
		return fail(err)
	}
	ev.Action, ev.Details["key_id"] = "derived.destruction", d.KeyID
	ev.Details["files"], ev.Details["bytes"] = fmt.Sprint(d.Files), fmt.Sprint(d.Bytes)
	idx, err := s.Audit.Append(ctx, ev)
	if err != nil {
		return fail(err)
	}
	err = s.DB.Tx(ctx, func(tx *sql.Tx) error {
		if err := jobs.RecordDestruction(ctx, tx, *d); err != nil {
			return err
		}
		if kind == jobs.KindExport {
			if _, err := tx.ExecContext(ctx, `UPDATE exports SET state = ? WHERE id = ? AND state != ?`, Destroyed, owner, Released); err != nil {
				return err
			}
		}
		return store.RecordAuditIndex(ctx, tx, idx)
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("record the destruction of %s: %w", object, err)
	}
	if s.Log != nil {
		// No count of files: how many a job left is its choice, and the
		// daemon's log is read outside the review (the record and the
		// bureau's exact audit view keep it).
		s.Log.Info("destroyed", "object", object, "cause", cause)
	}
	return d, nil
}

// destroyed reports whether an object's destruction is complete: on
// record, and no file of it left.
func (s *Shredder) destroyed(ctx context.Context, object, dir string) (bool, error) {
	var n int
	if err := s.DB.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM destructions WHERE object = ?`, object).Scan(&n); err != nil || n == 0 {
		return false, err
	}
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files++
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	return err == nil && files == 0, err
}

func errClass(err error) string {
	switch {
	case errdefs.IsNotFound(err):
		return "not found"
	case errdefs.IsUnavailable(err):
		return "unavailable"
	case errdefs.IsPermissionDenied(err):
		return "permission denied"
	}
	return "internal"
}

// Export destroys export id alone, when it is not released, for cause.
func (s *Shredder) Export(ctx context.Context, id, cause, actor, reason string) (*jobs.Destruction, error) {
	var job, state, org string
	err := s.DB.SQL().QueryRowContext(ctx, `SELECT job, state, org FROM exports WHERE id = ?`, id).Scan(&job, &state, &org)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("export %q: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if state == Released {
		return nil, fmt.Errorf("export %q was released; its bundle stays in the product register: %w", id, errdefs.ErrFailedPrecondition)
	}
	if actor == "" {
		actor = "system"
	}
	dir := filepath.Join(s.ExportsDir, id)
	return s.shred(ctx, "export:"+id, jobs.ExportKeyObject(id), jobs.KindExport, id, job, dir, cause, actor, reason, org,
		func() (int, int64, error) { return jobs.RemoveTree(dir) })
}

// RestoreReason is the reason of what ApplyTombstones destroys.
const RestoreReason = "destroyed after the backup this data directory was restored from: its key has a tombstone"

// ApplyTombstones destroys what a restored data directory holds of
// objects whose keys were shredded after the backup was taken: dead
// reports whether a keyring object's key is gone (a tombstone names it,
// or the keyring no longer has it); its error stops the pass. Each dataset version
// whose key is dead is marked destroyed, its files removed and its
// derived outputs destroyed (DatasetDestroyed); each job or export whose
// key is dead is destroyed. Everything is audited with cause "restore"
// and actor "system". It returns the dataset versions and the derived
// objects it destroyed. The daemon runs it at every start: after a
// restore it finds what came back; otherwise it finds nothing.
func (s *Shredder) ApplyTombstones(ctx context.Context, cat *datasets.Catalog, dead func(object string) (bool, error)) (versions []string, derived []jobs.Destruction, err error) {
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT name, version FROM dataset_versions WHERE state != ? ORDER BY name, version`, datasets.Destroyed)
	if err != nil {
		return nil, nil, err
	}
	type ref struct {
		name    string
		version int
	}
	var live []ref
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.name, &r.version); err != nil {
			rows.Close()
			return nil, nil, err
		}
		live = append(live, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for _, r := range live {
		v, err := cat.Get(ctx, nil, r.name, r.version)
		if err != nil {
			return versions, derived, err
		}
		if gone, err := dead(v.KeyObject()); err != nil || !gone {
			if err != nil {
				return versions, derived, fmt.Errorf("is the key of dataset %q version %d alive: %w", v.Name, v.Version, err)
			}
			continue
		}
		ev := audit.Event{Actor: "system", Action: "dataset.destroy", Objects: []string{"dataset:" + v.ID(), "restore"}, Outcome: audit.OutcomeOK,
			Reason: RestoreReason, Retention: audit.Retention5y, Details: map[string]string{"process": "marked destroyed, then files removed (the key was shredded before the restore)",
				"key_object": v.KeyObject()}}
		idx, err := s.Audit.Append(ctx, ev)
		if err != nil {
			return versions, derived, err
		}
		if err := s.DB.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := cat.MarkDestroyed(ctx, tx, v.Name, v.Version, RestoreReason); err != nil {
				return err
			}
			return store.RecordAuditIndex(ctx, tx, idx)
		}, nil); err != nil {
			return versions, derived, err
		}
		d, err := cat.Shred(ctx, v)
		rec := audit.Event{Actor: "system", Action: "dataset.destruction", Objects: []string{"dataset:" + v.ID(), "restore"}, Outcome: audit.OutcomeOK,
			Reason: RestoreReason, Retention: audit.Retention5y, Details: map[string]string{"technique": d.Technique, "files_removed": fmt.Sprint(d.Files),
				"key_object": v.KeyObject()}}
		if err != nil {
			rec.Outcome, rec.Details["error"] = audit.OutcomeFailed, errClass(err)
		}
		if _, aerr := s.Audit.Append(ctx, rec); aerr != nil {
			return versions, derived, aerr
		}
		if err != nil {
			return versions, derived, err
		}
		versions = append(versions, v.ID())
		ds, err := s.DatasetDestroyed(ctx, v.Name, v.Version, "system", RestoreReason)
		derived = append(derived, ds...)
		if err != nil {
			return versions, derived, err
		}
	}
	rows, err = s.DB.SQL().QueryContext(ctx, `SELECT object, kind, owner FROM derived_keys WHERE shredded_at = '' ORDER BY object`)
	if err != nil {
		return versions, derived, err
	}
	type key struct{ object, kind, owner string }
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.object, &k.kind, &k.owner); err != nil {
			rows.Close()
			return versions, derived, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	var gone []key
	for _, k := range keys {
		d, err := dead(k.object)
		if err != nil {
			return versions, derived, fmt.Errorf("is the key of %s alive: %w", k.object, err)
		}
		if d {
			gone = append(gone, k)
		}
	}
	keys = gone
	for _, k := range keys {
		if k.kind == jobs.KindJob {
			ds, err := s.Job(ctx, k.owner, "restore", "system", RestoreReason)
			derived = append(derived, ds...)
			if err != nil {
				return versions, derived, err
			}
			continue
		}
		d, err := s.Export(ctx, k.owner, "restore", "system", RestoreReason)
		if errdefs.IsFailedPrecondition(err) || errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return versions, derived, err
		}
		if d != nil {
			derived = append(derived, *d)
		}
	}
	return versions, derived, rows.Err()
}

// Orphans destroys the unreleased exports of jobs whose outputs were
// already destroyed: a request recorded while its job's destruction ran.
// The daemon runs it at start with ApplyTombstones.
func (s *Shredder) Orphans(ctx context.Context) ([]jobs.Destruction, error) {
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT e.id, e.job FROM exports e JOIN derived_keys k ON k.object = 'job/' || e.job
		WHERE k.shredded_at != '' AND e.state NOT IN (?, ?) ORDER BY e.id`, Released, Destroyed)
	if err != nil {
		return nil, err
	}
	type orphan struct{ id, job string }
	var found []orphan
	for rows.Next() {
		var o orphan
		if err := rows.Scan(&o.id, &o.job); err != nil {
			rows.Close()
			return nil, err
		}
		found = append(found, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []jobs.Destruction{}
	for _, o := range found {
		d, err := s.Export(ctx, o.id, "job:"+o.job, "system", "the outputs it was frozen from were destroyed with their basis")
		if err != nil {
			return out, err
		}
		if d != nil {
			out = append(out, *d)
		}
	}
	return out, nil
}
