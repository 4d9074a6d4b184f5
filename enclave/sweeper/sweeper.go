// Package sweeper closes the life cycle at the end of a term: when
// a grant ends (its period is over, it was revoked or expired, or its
// organisation's licence ended), the jobs still queued or running under it
// are stopped at once; a grant whose period or licence is over is marked
// expired; after a grace period (none when its organisation was revoked or
// blacklisted) what its jobs derived is destroyed: through the Shredder
// when one is set (the sealed work areas, outputs and export staging), and
// whatever is left of its jobs' work areas (DATA/jobs/ID) and of the
// frozen files of its unreleased export requests (DATA/exports/ID). It is
// also the backstop of holds (issue 18): a job still running under a
// suspended grant, on a dataset an open incident holds, or for a person
// whose confidentiality agreement ended, is stopped.
//
// Every stop, end and destruction is recorded in the audit log, with actor
// "system", the object, the technique and the time, before it takes
// effect, and its index is recorded in the state's audit watermark in the
// same transaction as the change (store.RecordAuditIndex), so that `audit
// verify` detects a log whose tail was cut off after a sweep too.
//
// The sweeper reads the clock only through Config.Now, so tests drive it
// with a fake clock; Sweep is one pass, Run repeats it.
package sweeper

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/incidents"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

func init() {
	store.Register(store.Schema{Part: "sweeper", Migrations: []store.Migration{
		{Version: 1, Name: "ended terms", SQL: `
CREATE TABLE term_ends (
	grant_id     TEXT PRIMARY KEY,
	org          TEXT NOT NULL,
	ended_at     TEXT NOT NULL,
	cause        TEXT NOT NULL,
	destroyed_at TEXT NOT NULL DEFAULT ''
);`},
		// Issue 18: what every job of an organisation revoked or
		// blacklisted derived is destroyed once, at once.
		{Version: 2, Name: "organisations whose derived data was destroyed", SQL: `
CREATE TABLE org_shreds (
	org         TEXT PRIMARY KEY,
	status      TEXT NOT NULL,
	shredded_at TEXT NOT NULL,
	objects     INTEGER NOT NULL
);`},
	}})
}

// Technique is how the sweeper destroys a file: it overwrites the file's
// bytes with zeros, syncs, and unlinks it.
const Technique = "zero-overwrite+unlink"

// Canceler stops a job (jobs.Manager). Cancel returns an
// errdefs.ErrFailedPrecondition error for a job that already ended.
type Canceler interface {
	Cancel(ctx context.Context, id, why string) error
}

// Auditor appends to the audit log.
type Auditor interface {
	Append(ctx context.Context, ev audit.Event) (uint64, error)
}

// Shredder destroys what was derived under an ended basis (issue 18 item
// 2): the data keys of every job's work area, outputs and unreleased
// export staging under a grant, or of every job of an organisation, with
// destruction records. cmd/enclaved adapts exports.Shredder to it. It
// returns how many objects it destroyed; an error leaves the term for the
// next pass, and destroying again what is destroyed is not an error.
type Shredder interface {
	ShredGrant(ctx context.Context, grant, reason string) (int, error)
	ShredOrg(ctx context.Context, org, reason string) (int, error)
}

// Config configures a Sweeper.
type Config struct {
	// JobsDir is DATA/jobs and ExportsDir is DATA/exports.
	JobsDir, ExportsDir string
	// Grace is how long after a term ends its derived files are kept.
	Grace time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Log receives what the sweeper did, with ids only; nil discards.
	Log *slog.Logger
	// Shredder, when set, destroys what ended terms derived before the
	// sweeper removes what is left of their files.
	Shredder Shredder
	// Uploads, when set, destroys the uploads of organisations whose
	// licence ended, was revoked or blacklisted (issue 20 item 1).
	Uploads Uploads
	// Changed, when set, is called after each change the sweeper commits
	// (store.DB.Changed), so that caches of rows it may have changed (a
	// service's grant ended, a credential expired) read them again at
	// once instead of when their own freshness runs out.
	Changed func()
}

// Sweeper finds ended terms and acts on them. It is safe for concurrent
// use, but passes should not overlap (Run never overlaps them).
type Sweeper struct {
	db   *sql.DB
	jobs Canceler
	log  Auditor
	cfg  Config
}

// New returns a sweeper over the state database; jobs may be nil when no
// jobs run (then nothing is stopped).
func New(db *sql.DB, jobs Canceler, log Auditor, cfg Config) *Sweeper {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{db: db, jobs: jobs, log: log, cfg: cfg}
}

// Destruction is one destroyed object.
type Destruction struct {
	Object    string    `json:"object"` // "job:ID" or "export:ID"
	Grant     string    `json:"grant"`
	Technique string    `json:"technique"`
	Files     int       `json:"files"`
	Bytes     int64     `json:"bytes"`
	Time      time.Time `json:"time"`
}

// Result is what one pass did.
type Result struct {
	Ended     []string      // grants whose term ended in this pass
	Stopped   []string      // jobs stopped
	Destroyed []Destruction // work areas and export files destroyed
	Held      []string      // jobs stopped because a hold or an ended agreement stopped their use
	Shredded  int           // objects the Shredder destroyed
	Uploads   []string      // uploads (NAME@V) destroyed with their organisation's licence
	Finished  []string      // dataset versions (NAME@V) whose unfinished destruction this pass finished
}

// Sweep makes one pass at the current time: it records newly ended terms,
// stops the jobs under every ended term, and destroys what is past the
// grace period. An error stops the pass; what was done stays done and is
// on the record, and the next pass continues.
func (s *Sweeper) Sweep(ctx context.Context) (Result, error) {
	now := s.cfg.Now().UTC()
	res, err := s.sweep(ctx, now)
	// Destructions left unfinished by an earlier failure are retried in
	// every pass, whatever else failed in it.
	if ferr := s.finishDestructions(ctx, now, &res); err == nil {
		err = ferr
	}
	return res, err
}

func (s *Sweeper) sweep(ctx context.Context, now time.Time) (Result, error) {
	var res Result
	if err := s.stopHeld(ctx, now, &res); err != nil {
		return res, err
	}
	if err := s.shredOrgs(ctx, now, &res); err != nil {
		return res, err
	}
	if err := s.shredUploads(ctx, now, &res); err != nil {
		return res, err
	}
	ended, err := s.endTerms(ctx, now, &res)
	if err != nil {
		return res, err
	}
	if len(ended) == 0 {
		return res, nil
	}
	if err := s.stopJobs(ctx, ended, &res); err != nil {
		return res, err
	}
	err = s.destroy(ctx, now, &res)
	return res, err
}

// Run sweeps every interval until ctx is done, logging errors.
func (s *Sweeper) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if r, err := s.Sweep(ctx); err != nil {
			s.cfg.Log.Error("term sweep failed", "err", err)
		} else if len(r.Ended)+len(r.Stopped)+len(r.Destroyed)+len(r.Held)+r.Shredded+len(r.Uploads)+len(r.Finished) > 0 {
			s.cfg.Log.Info("term sweep", "ended", len(r.Ended), "stopped", len(r.Stopped), "destroyed", len(r.Destroyed),
				"held", len(r.Held), "shredded", r.Shredded, "uploads", len(r.Uploads), "finished", len(r.Finished))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// term is a grant whose term ended.
type term struct {
	grant, org string
	ended      time.Time
	destroyed  bool
}

// endTerms records the grants whose term ended by now and returns every
// ended term. A grant's term ends at the end of its last day, when it is
// no longer approved (at the first pass that sees it so), or at the end of
// the last day of its organisation's licence, whichever comes first.
func (s *Sweeper) endTerms(ctx context.Context, now time.Time, res *Result) (map[string]term, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT g.id, g.org, g.period_until, g.status, COALESCE(o.licence_until, '')
		FROM grants g LEFT JOIN orgs o ON o.name = g.org
		WHERE g.id NOT IN (SELECT grant_id FROM term_ends)`)
	if err != nil {
		return nil, fmt.Errorf("query grants: %w", err)
	}
	type cand struct {
		term
		cause   string
		expires bool
	}
	var fresh []cand
	for rows.Next() {
		var id, org, until, status, licence string
		if err := rows.Scan(&id, &org, &until, &status, &licence); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read grants: %w", err)
		}
		end, cause := time.Time{}, ""
		consider := func(t time.Time, why string) {
			if !t.After(now) && (end.IsZero() || t.Before(end)) {
				end, cause = t, why
			}
		}
		if t, err := time.Parse(time.DateOnly, until); err == nil {
			consider(t.AddDate(0, 0, 1), "period over")
		}
		if t, err := time.Parse(time.DateOnly, licence); err == nil {
			consider(t.AddDate(0, 0, 1), "licence ended")
		}
		if grants.Ended(status) {
			consider(now, "grant "+status)
		}
		if !end.IsZero() {
			fresh = append(fresh, cand{term{grant: id, org: org, ended: end}, cause, !grants.Ended(status)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	for _, c := range fresh {
		ev := audit.Event{Time: now, Actor: "system", Action: "term.end", Objects: []string{"grant:" + c.grant, "org:" + c.org},
			Outcome: "ok", Reason: c.cause, Retention: "3y", Details: map[string]string{"ended_at": c.ended.Format(time.RFC3339)}}
		err := s.change(ctx, ev, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO term_ends(grant_id, org, ended_at, cause) VALUES (?, ?, ?, ?)`,
				c.grant, c.org, storetime.Format(c.ended), c.cause); err != nil {
				return fmt.Errorf("record end of grant %q: %w", c.grant, err)
			}
			if c.expires {
				// Its period or its licence is over: the grant expired.
				if _, err := grants.EndGrant(ctx, tx, c.grant, grants.Expired, "system", c.cause, c.ended); err != nil {
					return fmt.Errorf("expire grant %q: %w", c.grant, err)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		res.Ended = append(res.Ended, c.grant)
	}
	all := map[string]term{}
	rows, err = s.db.QueryContext(ctx, `SELECT grant_id, org, ended_at, destroyed_at != '' FROM term_ends`)
	if err != nil {
		return nil, fmt.Errorf("query ended terms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t term
		var ended string
		if err := rows.Scan(&t.grant, &t.org, &ended, &t.destroyed); err != nil {
			return nil, fmt.Errorf("read ended terms: %w", err)
		}
		if t.ended, err = storetime.Column("ended term of grant", t.grant, "ended_at", ended); err != nil {
			return nil, err
		}
		all[t.grant] = t
	}
	return all, rows.Err()
}

// jobRef is a job and the grants it ran under.
type jobRef struct {
	id, state string
	grants    []string
}

func (s *Sweeper) jobsUnder(ctx context.Context, where string) ([]jobRef, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, state, grants FROM jobs WHERE `+where+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("query jobs: %w", err)
	}
	defer rows.Close()
	var out []jobRef
	for rows.Next() {
		var j jobRef
		var gs string
		if err := rows.Scan(&j.id, &j.state, &gs); err != nil {
			return nil, fmt.Errorf("read jobs: %w", err)
		}
		var m map[string]string
		json.Unmarshal([]byte(gs), &m)
		for _, g := range m {
			if !slices.Contains(j.grants, g) {
				j.grants = append(j.grants, g)
			}
		}
		slices.Sort(j.grants)
		out = append(out, j)
	}
	return out, rows.Err()
}

func (s *Sweeper) stopJobs(ctx context.Context, ended map[string]term, res *Result) error {
	if s.jobs == nil {
		return nil
	}
	js, err := s.jobsUnder(ctx, `state IN ('queued', 'initializing', 'running')`)
	if err != nil {
		return err
	}
	for _, j := range js {
		for _, g := range j.grants {
			if _, ok := ended[g]; !ok {
				continue
			}
			stopped, err := s.stop(ctx, j.id, "the term of grant "+g+" ended", "grant:"+g)
			if err != nil {
				return err
			}
			if stopped {
				res.Stopped = append(res.Stopped, j.id)
			}
			break
		}
	}
	return nil
}

// destroy removes what belongs to terms ended more than the grace period
// ago: each job's work area and the files of each unreleased export of
// the job. A job still running is left for the next pass.
func (s *Sweeper) destroy(ctx context.Context, now time.Time, res *Result) error {
	// An organisation revoked or blacklisted gets no grace (issue 18).
	rows, err := s.db.QueryContext(ctx, `SELECT grant_id FROM term_ends WHERE destroyed_at = '' AND (ended_at <= ?
		OR org IN (SELECT name FROM orgs WHERE status IN ('revoked', 'blacklisted'))) ORDER BY grant_id`,
		storetime.Format(now.Add(-s.cfg.Grace)))
	if err != nil {
		return fmt.Errorf("query ended terms: %w", err)
	}
	var due []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			rows.Close()
			return fmt.Errorf("read ended terms: %w", err)
		}
		due = append(due, g)
	}
	rows.Close()
	if len(due) == 0 {
		return rows.Err()
	}
	js, err := s.jobsUnder(ctx, `1`)
	if err != nil {
		return err
	}
	for _, g := range due {
		done := true
		running := false
		for _, j := range js {
			if slices.Contains(j.grants, g) && (j.state == "queued" || j.state == "initializing" || j.state == "running") {
				running = true
			}
		}
		if s.cfg.Shredder != nil && !running {
			n, err := s.cfg.Shredder.ShredGrant(ctx, g, "the term of grant "+g+" ended")
			res.Shredded += n
			if err != nil {
				return fmt.Errorf("shred what grant %q derived: %w", g, err)
			}
		}
		for _, j := range js {
			if !slices.Contains(j.grants, g) {
				continue
			}
			if j.state == "queued" || j.state == "initializing" || j.state == "running" {
				done = false // still stopping; the next pass destroys it
				continue
			}
			if err := s.destroyPath(ctx, now, g, "job:"+j.id, filepath.Join(s.cfg.JobsDir, j.id), res); err != nil {
				return err
			}
			xs, err := s.unreleasedExports(ctx, j.id)
			if err != nil {
				return err
			}
			for _, x := range xs {
				if err := s.destroyPath(ctx, now, g, "export:"+x, filepath.Join(s.cfg.ExportsDir, x), res); err != nil {
					return err
				}
			}
		}
		if done {
			ev := audit.Event{Time: now, Actor: "system", Action: "term.destroyed", Objects: []string{"grant:" + g}, Outcome: "ok",
				Reason: "everything the term derived is destroyed", Retention: "3y"}
			if err := s.change(ctx, ev, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `UPDATE term_ends SET destroyed_at = ? WHERE grant_id = ?`, storetime.Format(now), g)
				return err
			}); err != nil {
				return fmt.Errorf("record destruction for grant %q: %w", g, err)
			}
		}
	}
	return nil
}

func (s *Sweeper) unreleasedExports(ctx context.Context, job string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM exports WHERE job = ? AND state != 'released' ORDER BY id`, job)
	if err != nil {
		return nil, fmt.Errorf("query exports: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read exports: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// destroyPath destroys every file under dir and dir itself, recording the
// destruction first. A directory that is already gone is skipped.
func (s *Sweeper) destroyPath(ctx context.Context, now time.Time, grant, object, dir string, res *Result) error {
	files, size, err := inventory(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inventory %s: %w", object, err)
	}
	d := Destruction{Object: object, Grant: grant, Technique: Technique, Files: len(files), Bytes: size, Time: now}
	ev := audit.Event{Time: now, Actor: "system", Action: "term.destroy", Objects: []string{object, "grant:" + grant}, Outcome: "ok",
		Reason: "term ended; grace period over", Retention: "3y", Details: map[string]string{"technique": Technique,
			"files": fmt.Sprint(len(files)), "bytes": fmt.Sprint(size), "destroyed_at": now.Format(time.RFC3339)}}
	if err := s.change(ctx, ev, nil); err != nil {
		return err
	}
	for _, f := range files {
		if err := overwrite(f); err != nil {
			s.fail(ctx, now, ev)
			return fmt.Errorf("destroy %s: %w", object, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		s.fail(ctx, now, ev)
		return fmt.Errorf("destroy %s: %w", object, err)
	}
	// No count of files (a job's choice) in the daemon's log, which is
	// read outside the review; the audit entry keeps it.
	s.cfg.Log.Info("destroyed", "object", object, "grant", grant)
	res.Destroyed = append(res.Destroyed, d)
	return nil
}

// fail records that a destruction announced by ev did not complete.
func (s *Sweeper) fail(ctx context.Context, now time.Time, ev audit.Event) {
	ev.Outcome = "failed"
	ev.Reason = "destruction did not complete; retried at the next pass"
	if err := s.change(context.WithoutCancel(ctx), ev, nil); err != nil {
		s.cfg.Log.Error("audit append of a failed destruction failed", "err", err)
	}
}

// change appends ev to the audit log and, in one transaction with what fn
// changes (fn may be nil), records its index in the state's audit
// watermark (issue 18 item 5): the entry is durable before the change
// commits, and a log cut after it is detected by `audit verify`.
func (s *Sweeper) change(ctx context.Context, ev audit.Event, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback()
	if fn != nil {
		if err := fn(tx); err != nil {
			return err
		}
	}
	idx, err := s.log.Append(ctx, ev)
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	if err := store.RecordAuditIndex(ctx, tx, idx); err != nil {
		return fmt.Errorf("record the audit watermark: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if s.cfg.Changed != nil {
		s.cfg.Changed()
	}
	return nil
}

// stop records that a job is stopped (job.stop, by the system, naming the
// cause) and stops it. It reports false for a job that had ended.
func (s *Sweeper) stop(ctx context.Context, job, why, cause string) (bool, error) {
	var state string
	if err := s.db.QueryRowContext(ctx, `SELECT state FROM jobs WHERE id = ?`, job).Scan(&state); err != nil {
		return false, fmt.Errorf("read job %q: %w", job, err)
	}
	if state != "queued" && state != "initializing" && state != "running" {
		return false, nil
	}
	ev := audit.Event{Time: s.cfg.Now().UTC(), Actor: "system", Action: "job.stop", Objects: []string{"job:" + job, cause}, Outcome: "ok",
		Reason: why, Retention: "3y"}
	if err := s.change(ctx, ev, nil); err != nil {
		return false, err
	}
	err := s.jobs.Cancel(ctx, job, why)
	if err != nil && !errdefs.IsFailedPrecondition(err) {
		return false, fmt.Errorf("stop job %q: %w", job, err)
	}
	return err == nil, nil
}

// shredOrgs destroys, through the Shredder, what every job of an
// organisation revoked or blacklisted derived, once per organisation and
// without a grace period (issue 18): its jobs ran under a licence that no
// longer exists, grants or none. The Shredder stops a job still running
// first and records each destruction; the pass records the organisation
// as done, on the audit log with the watermark.
func (s *Sweeper) shredOrgs(ctx context.Context, now time.Time, res *Result) error {
	if s.cfg.Shredder == nil {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name, status FROM orgs WHERE status IN ('revoked', 'blacklisted')
		AND name NOT IN (SELECT org FROM org_shreds) ORDER BY name`)
	if err != nil {
		return fmt.Errorf("query revoked organisations: %w", err)
	}
	type org struct{ name, status string }
	var orgs []org
	for rows.Next() {
		var o org
		if err := rows.Scan(&o.name, &o.status); err != nil {
			rows.Close()
			return fmt.Errorf("read revoked organisations: %w", err)
		}
		orgs = append(orgs, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read revoked organisations: %w", err)
	}
	for _, o := range orgs {
		n, err := s.cfg.Shredder.ShredOrg(ctx, o.name, "organisation "+o.status)
		res.Shredded += n
		if err != nil {
			return fmt.Errorf("shred what organisation %q derived: %w", o.name, err)
		}
		ev := audit.Event{Time: now, Actor: "system", Action: "org.shred", Objects: []string{"org:" + o.name}, Outcome: "ok",
			Reason: "organisation " + o.status + ": everything its jobs derived is destroyed", Retention: "3y",
			Details: map[string]string{"objects": fmt.Sprint(n)}}
		if err := s.change(ctx, ev, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO org_shreds(org, status, shredded_at, objects) VALUES (?, ?, ?, ?)`,
				o.name, o.status, storetime.Format(now), n)
			return err
		}); err != nil {
			return fmt.Errorf("record the destruction for organisation %q: %w", o.name, err)
		}
	}
	return nil
}

// stopHeld stops the jobs still running whose use is held (issue 18):
// under a grant that is suspended, reading a dataset an open incident
// holds, or of a person whose confidentiality agreement ended. The
// handlers that hold stop these at once; this is the backstop for a job
// admitted in the meantime and for agreements that end by the calendar.
func (s *Sweeper) stopHeld(ctx context.Context, now time.Time, res *Result) error {
	if s.jobs == nil {
		return nil
	}
	today := now.Format(people.DateLayout)
	rows, err := s.db.QueryContext(ctx, `SELECT j.id, CASE
		WHEN EXISTS (SELECT 1 FROM json_each(j.grants) g JOIN grants ON grants.id = g.value WHERE grants.status = 'suspended')
			THEN 'grant:' || (SELECT g.value FROM json_each(j.grants) g JOIN grants ON grants.id = g.value WHERE grants.status = 'suspended' LIMIT 1)
		WHEN EXISTS (SELECT 1 FROM json_each(j.inputs) i JOIN incidents n ON n.kind = '`+incidents.Dataset+`' AND n.state = '`+incidents.Open+`'
			AND n.target = json_extract(i.value, '$.dataset') AND (n.org = '' OR n.org = j.org))
			THEN 'incident:' || (SELECT n.id FROM json_each(j.inputs) i JOIN incidents n ON n.kind = '`+incidents.Dataset+`' AND n.state = '`+incidents.Open+`'
				AND n.target = json_extract(i.value, '$.dataset') AND (n.org = '' OR n.org = j.org) LIMIT 1)
		WHEN EXISTS (SELECT 1 FROM incidents n WHERE n.kind = '`+incidents.Org+`' AND n.state = '`+incidents.Open+`' AND n.target = j.org)
			THEN 'incident:' || (SELECT n.id FROM incidents n WHERE n.kind = '`+incidents.Org+`' AND n.state = '`+incidents.Open+`' AND n.target = j.org LIMIT 1)
		ELSE 'person:' || j.owner END
		FROM jobs j LEFT JOIN people p ON p.id = j.owner
		WHERE j.state IN ('queued', 'initializing', 'running') AND (
			EXISTS (SELECT 1 FROM json_each(j.grants) g JOIN grants ON grants.id = g.value WHERE grants.status = 'suspended')
			OR EXISTS (SELECT 1 FROM json_each(j.inputs) i JOIN incidents n ON n.kind = '`+incidents.Dataset+`' AND n.state = '`+incidents.Open+`'
				AND n.target = json_extract(i.value, '$.dataset') AND (n.org = '' OR n.org = j.org))
			OR EXISTS (SELECT 1 FROM incidents n WHERE n.kind = '`+incidents.Org+`' AND n.state = '`+incidents.Open+`' AND n.target = j.org)
			OR (p.id IS NOT NULL AND p.agreement_until != '' AND p.agreement_until < ?))
		ORDER BY j.id`, today)
	if err != nil {
		return fmt.Errorf("query held jobs: %w", err)
	}
	type held struct{ job, cause string }
	var hs []held
	for rows.Next() {
		var h held
		if err := rows.Scan(&h.job, &h.cause); err != nil {
			rows.Close()
			return fmt.Errorf("read held jobs: %w", err)
		}
		hs = append(hs, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read held jobs: %w", err)
	}
	for _, h := range hs {
		why := "its use is held: " + h.cause
		switch {
		case strings.HasPrefix(h.cause, "grant:"):
			why = "grant " + strings.TrimPrefix(h.cause, "grant:") + " is suspended"
		case strings.HasPrefix(h.cause, "incident:"):
			why = "open incident " + strings.TrimPrefix(h.cause, "incident:") + " holds its organisation or a dataset it reads"
		case strings.HasPrefix(h.cause, "person:"):
			why = "the confidentiality agreement of its owner ended"
		}
		stopped, err := s.stop(ctx, h.job, why, h.cause)
		if err != nil {
			return err
		}
		if stopped {
			res.Held = append(res.Held, h.job)
		}
	}
	return nil
}

// inventory lists the regular files under dir and their total size.
func inventory(dir string) ([]string, int64, error) {
	if _, err := os.Lstat(dir); err != nil {
		return nil, 0, err
	}
	var files []string
	var size int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, p)
			size += fi.Size()
		}
		return nil
	})
	return files, size, err
}

// overwrite writes zeros over a file's bytes and syncs it.
func overwrite(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, zeros{}, fi.Size()); err != nil {
		return err
	}
	return f.Sync()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
