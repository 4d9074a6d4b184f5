// Package incidents is the register of incidents and their workflow
// (issue 18 item 4; R-17: processing that reveals a risk is stopped at once
// and reported; R-20: emergency response). An operator (on its own
// organisation's work), an officer or the bureau reports an incident on a
// job, a dataset or a grant; the bureau may open one on a whole
// organisation or dataset to halt every job of it. Each incident records
// who reported it, what it is on, when, why, the data it affects (dataset
// versions, grants, jobs, organisations) and, once the authority closes
// it, the decision.
//
// While an incident is open: the jobs that use what it names are stopped
// and no new ones are admitted (a grant it names is held suspended, a
// dataset it names is shown to the policies as "held", an organisation it
// names has every grant held); the exports of the jobs it affects are
// neither approved nor released. Closing it lifts its holds.
//
// The functions take a store.Querier so that the server runs them in the
// transaction that records the change on the audit log.
package incidents

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

func init() {
	store.Register(store.Schema{Part: "incidents", Migrations: []store.Migration{
		{Version: 1, Name: "incident register", SQL: `
CREATE TABLE incidents (
	id           TEXT PRIMARY KEY,
	kind         TEXT NOT NULL,
	target       TEXT NOT NULL,
	org          TEXT NOT NULL,
	reason       TEXT NOT NULL,
	reported_by  TEXT NOT NULL,
	reporter_org TEXT NOT NULL,
	reported_at  TEXT NOT NULL,
	affected     TEXT NOT NULL,
	stopped      TEXT NOT NULL DEFAULT '[]',
	state        TEXT NOT NULL,
	decision     TEXT NOT NULL DEFAULT '',
	closed_by    TEXT NOT NULL DEFAULT '',
	closed_at    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX incidents_state ON incidents(state, kind, target);
CREATE INDEX incidents_reported ON incidents(reported_at);`},
	}})
}

// Kinds of what an incident is on.
const (
	Job     = "job"
	Dataset = "dataset"
	Grant   = "grant"
	Org     = "org"
)

// States of an incident.
const (
	Open   = "open"
	Closed = "closed"
)

// MaxText bounds a reason or a decision, in bytes.
const MaxText = 2000

// Target is what an incident is on: a kind and the id (job id, dataset
// name, grant id, organisation name).
type Target struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

func (t Target) String() string { return t.Kind + ":" + t.ID }

// Affected is the data an incident affects, computed when it is reported.
type Affected struct {
	// Datasets are dataset versions as NAME@VERSION, or NAME for every
	// version of a dataset.
	Datasets []string `json:"datasets"`
	Grants   []string `json:"grants"`
	Jobs     []string `json:"jobs"`
	Orgs     []string `json:"orgs"`
}

// Incident is one entry of the register.
type Incident struct {
	ID          string     `json:"id"`
	Target      Target     `json:"target"`
	Org         string     `json:"org"` // the organisation whose work it is on; "" for a dataset reported for every organisation
	Reason      string     `json:"reason"`
	ReportedBy  string     `json:"reported_by"`
	ReporterOrg string     `json:"reporter_org"`
	ReportedAt  time.Time  `json:"reported_at"`
	Affected    Affected   `json:"affected"`
	Stopped     []string   `json:"stopped"`
	State       string     `json:"state"`
	Decision    string     `json:"decision,omitempty"`
	ClosedBy    string     `json:"closed_by,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
}

// Objects names what the incident is about for audit entries.
func (in *Incident) Objects() []string {
	out := []string{"incident:" + in.ID, in.Target.String()}
	for _, d := range in.Affected.Datasets {
		out = append(out, "dataset:"+d)
	}
	for _, g := range in.Affected.Grants {
		out = append(out, "grant:"+g)
	}
	for _, j := range in.Affected.Jobs {
		out = append(out, "job:"+j)
	}
	for _, o := range in.Affected.Orgs {
		out = append(out, "org:"+o)
	}
	out = slices.Compact(out)
	return out
}

// CheckText checks a reason or a decision: not empty, at most MaxText
// bytes of UTF-8 without control characters but newlines and tabs.
func CheckText(field, s string) (string, error) {
	return people.CheckNote(field, s, MaxText)
}

// ParseTarget reads what a report names: exactly one of job, dataset,
// grant and (for the bureau's halt) org, each an identifier without
// spaces or control characters of at most 256 bytes.
func ParseTarget(job, dataset, grant, org string) (Target, error) {
	var t Target
	n := 0
	for _, c := range []Target{{Job, job}, {Dataset, dataset}, {Grant, grant}, {Org, org}} {
		if c.ID == "" {
			continue
		}
		n++
		t = c
	}
	if n != 1 {
		return Target{}, fmt.Errorf("an incident names exactly one of a job, a dataset, a grant or an organisation: %w", errdefs.ErrInvalidArgument)
	}
	if len(t.ID) > 256 || !utf8.ValidString(t.ID) || strings.ContainsFunc(t.ID, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return Target{}, fmt.Errorf("the %s an incident names is not an identifier: %w", t.Kind, errdefs.ErrInvalidArgument)
	}
	if t.Kind == Dataset && strings.Contains(t.ID, "@") {
		return Target{}, fmt.Errorf("an incident names a dataset by its name, for every version of it: %w", errdefs.ErrInvalidArgument)
	}
	return t, nil
}

// notYours is the error for a target that does not exist, or that the
// reporter may not name: it never says which, nor whose it is.
func notYours(t Target) error {
	return fmt.Errorf("%s %q: not found or not yours: %w", t.Kind, t.ID, errdefs.ErrNotFound)
}

// Resolve finds what a report names and the data it affects. scope, when
// not empty, is the reporter's organisation for an operator: the target
// must be its work (its job, its grant, a dataset it holds a grant for or
// ran a job on, itself), else the error is ErrNotFound reading "not found
// or not yours", the same as for a target that does not exist. It returns
// the incident's organisation ("" for a dataset) and the affected data.
func Resolve(ctx context.Context, q store.Querier, t Target, scope string) (string, Affected, error) {
	a := Affected{Datasets: []string{}, Grants: []string{}, Jobs: []string{}, Orgs: []string{}}
	switch t.Kind {
	case Job:
		var org, inputs, gs string
		err := q.QueryRowContext(ctx, `SELECT org, inputs, grants FROM jobs WHERE id = ?`, t.ID).Scan(&org, &inputs, &gs)
		if errors.Is(err, sql.ErrNoRows) || err == nil && scope != "" && org != scope {
			return "", a, notYours(t)
		}
		if err != nil {
			return "", a, err
		}
		var ins []struct {
			Dataset string `json:"dataset"`
			Version int    `json:"version"`
		}
		var gm map[string]string
		if err := json.Unmarshal([]byte(inputs), &ins); err != nil {
			return "", a, fmt.Errorf("job %q inputs: %w", t.ID, errdefs.ErrDataLoss)
		}
		if err := json.Unmarshal([]byte(gs), &gm); err != nil {
			return "", a, fmt.Errorf("job %q grants: %w", t.ID, errdefs.ErrDataLoss)
		}
		for _, in := range ins {
			a.Datasets = append(a.Datasets, fmt.Sprintf("%s@%d", in.Dataset, in.Version))
		}
		for _, g := range gm {
			a.Grants = append(a.Grants, g)
		}
		a.Jobs, a.Orgs = []string{t.ID}, []string{org}
		return org, a.sorted(), nil
	case Grant:
		g, err := grants.GetGrant(ctx, q, t.ID)
		if errdefs.IsNotFound(err) || err == nil && scope != "" && g.Org != scope {
			return "", a, notYours(t)
		}
		if err != nil {
			return "", a, err
		}
		for _, d := range g.Datasets {
			if d.Version > 0 {
				a.Datasets = append(a.Datasets, fmt.Sprintf("%s@%d", d.Name, d.Version))
			} else {
				a.Datasets = append(a.Datasets, d.Name)
			}
		}
		a.Grants, a.Orgs = []string{g.ID}, []string{g.Org}
		if a.Jobs, err = jobsWhere(ctx, q, `EXISTS (SELECT 1 FROM json_each(jobs.grants) WHERE value = ?)`, g.ID); err != nil {
			return "", a, err
		}
		return g.Org, a.sorted(), nil
	case Dataset:
		var n int
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM dataset_versions WHERE name = ?`, t.ID).Scan(&n); err != nil {
			return "", a, err
		}
		if n == 0 {
			return "", a, notYours(t)
		}
		if scope != "" {
			ok, err := usesDataset(ctx, q, scope, t.ID)
			if err != nil {
				return "", a, err
			}
			if !ok {
				return "", a, notYours(t)
			}
		}
		// An operator's report holds the dataset for its own
		// organisation's use only, so that one organisation cannot stop
		// another's work; an officer's or the bureau's holds it for all.
		a.Datasets = []string{t.ID}
		var err error
		if a.Jobs, err = jobsWhere(ctx, q, readsDataset+` AND (? = '' OR org = ?)`, t.ID, scope, scope); err != nil {
			return "", a, err
		}
		rows, err := q.QueryContext(ctx, `SELECT DISTINCT g.id, g.org FROM grants g, json_each(g.datasets) d
			WHERE json_extract(d.value, '$.name') = ? AND g.status IN ('approved', 'suspended') AND (? = '' OR g.org = ?) ORDER BY g.id`,
			t.ID, scope, scope)
		if err != nil {
			return "", a, err
		}
		defer rows.Close()
		for rows.Next() {
			var id, org string
			if err := rows.Scan(&id, &org); err != nil {
				return "", a, err
			}
			a.Grants = append(a.Grants, id)
			a.Orgs = append(a.Orgs, org)
		}
		if err := rows.Err(); err != nil {
			return "", a, err
		}
		return scope, a.sorted(), nil
	case Org:
		if scope != "" && t.ID != scope {
			return "", a, notYours(t)
		}
		if _, err := people.GetOrg(ctx, q, t.ID); err != nil {
			if errdefs.IsNotFound(err) {
				return "", a, notYours(t)
			}
			return "", a, err
		}
		var err error
		if a.Grants, err = grants.LiveForOrg(ctx, q, t.ID); err != nil {
			return "", a, err
		}
		if a.Jobs, err = jobsWhere(ctx, q, `org = ?`, t.ID); err != nil {
			return "", a, err
		}
		a.Orgs = []string{t.ID}
		return t.ID, a.sorted(), nil
	}
	return "", a, fmt.Errorf("an incident is on a job, a dataset, a grant or an organisation, not %q: %w", t.Kind, errdefs.ErrInvalidArgument)
}

// readsDataset is the condition of a job that read a dataset (any version).
const readsDataset = `EXISTS (SELECT 1 FROM json_each(jobs.inputs) WHERE json_extract(value, '$.dataset') = ?)`

// running is the condition of a job that has not ended.
const running = `state IN ('queued', 'initializing', 'running')`

func (a Affected) sorted() Affected {
	for _, s := range []*[]string{&a.Datasets, &a.Grants, &a.Jobs, &a.Orgs} {
		if *s == nil {
			*s = []string{}
		}
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	return a
}

// usesDataset reports whether an organisation holds a grant naming a
// dataset or ran a job reading it.
func usesDataset(ctx context.Context, q store.Querier, org, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM grants g, json_each(g.datasets) d WHERE g.org = ? AND json_extract(d.value, '$.name') = ?) +
		(SELECT COUNT(*) FROM jobs WHERE org = ? AND `+readsDataset+`)`, org, name, org, name).Scan(&n)
	return n > 0, err
}

func jobsWhere(ctx context.Context, q store.Querier, where string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM jobs WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("query jobs: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Report opens an incident in q (the transaction that records it): it
// resolves the target (scope as Resolve), records the incident and holds
// what it names: a grant, or every grant of an organisation, is suspended
// until the incident is closed (a dataset is held by the incident itself,
// see HeldDatasets). It returns the incident; Stop lists the jobs to stop.
func Report(ctx context.Context, q store.Querier, id string, t Target, scope, reporter, reporterOrg, reason string, now time.Time) (*Incident, error) {
	reason, err := CheckText("reason", reason)
	if err != nil {
		return nil, err
	}
	org, a, err := Resolve(ctx, q, t, scope)
	if err != nil {
		return nil, err
	}
	in := &Incident{ID: id, Target: t, Org: org, Reason: reason, ReportedBy: reporter, ReporterOrg: reporterOrg,
		ReportedAt: now.UTC(), Affected: a, Stopped: []string{}, State: Open}
	aj, _ := json.Marshal(in.Affected)
	if _, err := q.ExecContext(ctx, `INSERT INTO incidents(id, kind, target, org, reason, reported_by, reporter_org, reported_at, affected, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, in.ID, t.Kind, t.ID, org, reason, reporter, reporterOrg, storetime.Format(in.ReportedAt),
		string(aj), Open); err != nil {
		if store.IsUnique(err) {
			return nil, fmt.Errorf("incident %q: %w", id, errdefs.ErrAlreadyExists)
		}
		return nil, err
	}
	if t.Kind == Grant || t.Kind == Org {
		for _, g := range a.Grants {
			if _, err := grants.HoldGrant(ctx, q, g, grants.HoldIncident(id), reporter, "incident "+id, now); err != nil {
				return nil, err
			}
		}
	}
	return in, nil
}

// Stop returns the jobs not ended yet that an open incident stops: the job
// it is on, the jobs under the grant it names, reading the dataset it
// names or of the organisation it names.
func Stop(ctx context.Context, q store.Querier, in *Incident) ([]string, error) {
	switch in.Target.Kind {
	case Job:
		return jobsWhere(ctx, q, `id = ? AND `+running, in.Target.ID)
	case Grant:
		return jobsWhere(ctx, q, running+` AND EXISTS (SELECT 1 FROM json_each(jobs.grants) WHERE value = ?)`, in.Target.ID)
	case Dataset:
		// An incident of an organisation (an operator's report) stops only
		// that organisation's jobs.
		return jobsWhere(ctx, q, running+` AND `+readsDataset+` AND (? = '' OR org = ?)`, in.Target.ID, in.Org, in.Org)
	case Org:
		return jobsWhere(ctx, q, running+` AND org = ?`, in.Target.ID)
	}
	return nil, nil
}

// RecordStopped notes the jobs an incident stopped.
func RecordStopped(ctx context.Context, q store.Querier, id string, jobs []string) error {
	if jobs == nil {
		jobs = []string{}
	}
	b, _ := json.Marshal(jobs)
	_, err := q.ExecContext(ctx, `UPDATE incidents SET stopped = ? WHERE id = ?`, string(b), id)
	return err
}

// Close closes an open incident with the authority's decision and lifts
// its holds. An incident already closed is ErrFailedPrecondition.
func Close(ctx context.Context, q store.Querier, id, by, decision string, now time.Time) (*Incident, error) {
	decision, err := CheckText("decision", decision)
	if err != nil {
		return nil, err
	}
	in, err := Get(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if in.State != Open {
		return nil, fmt.Errorf("incident %q is already closed: %w", id, errdefs.ErrFailedPrecondition)
	}
	t := now.UTC()
	if _, err := q.ExecContext(ctx, `UPDATE incidents SET state = ?, decision = ?, closed_by = ?, closed_at = ? WHERE id = ? AND state = ?`,
		Closed, decision, by, storetime.Format(t), id, Open); err != nil {
		return nil, err
	}
	for _, g := range in.Affected.Grants {
		if _, err := grants.ReleaseGrant(ctx, q, g, grants.HoldIncident(id)); err != nil {
			return nil, err
		}
	}
	in.State, in.Decision, in.ClosedBy, in.ClosedAt = Closed, decision, by, &t
	return in, nil
}

const cols = `id, kind, target, org, reason, reported_by, reporter_org, reported_at, affected, stopped, state, decision, closed_by, closed_at`

func scan(sc interface{ Scan(...any) error }) (*Incident, error) {
	var in Incident
	var at, aff, stopped, closed string
	if err := sc.Scan(&in.ID, &in.Target.Kind, &in.Target.ID, &in.Org, &in.Reason, &in.ReportedBy, &in.ReporterOrg, &at, &aff, &stopped,
		&in.State, &in.Decision, &in.ClosedBy, &closed); err != nil {
		return nil, err
	}
	var err error
	if in.ReportedAt, err = storetime.Parse(at); err != nil {
		return nil, fmt.Errorf("incident %q reported_at: %w", in.ID, errdefs.ErrDataLoss)
	}
	if closed != "" {
		t, err := storetime.Parse(closed)
		if err != nil {
			return nil, fmt.Errorf("incident %q closed_at: %w", in.ID, errdefs.ErrDataLoss)
		}
		in.ClosedAt = &t
	}
	if json.Unmarshal([]byte(aff), &in.Affected) != nil || json.Unmarshal([]byte(stopped), &in.Stopped) != nil {
		return nil, fmt.Errorf("incident %q affected data: %w", in.ID, errdefs.ErrDataLoss)
	}
	in.Affected = in.Affected.sorted()
	if in.Stopped == nil {
		in.Stopped = []string{}
	}
	return &in, nil
}

// Get returns one incident.
func Get(ctx context.Context, q store.Querier, id string) (*Incident, error) {
	in, err := scan(q.QueryRowContext(ctx, `SELECT `+cols+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("incident %q: %w", id, errdefs.ErrNotFound)
	}
	return in, err
}

// Filter selects incidents; zero fields select all.
type Filter struct {
	State        string // Open or Closed
	Org          string // incidents on this organisation's work, or affecting it
	Since, Until time.Time
}

// List returns incidents, oldest first.
func List(ctx context.Context, q store.Querier, f Filter) ([]*Incident, error) {
	where, args := []string{"1"}, []any{}
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, f.State)
	}
	if f.Org != "" {
		where = append(where, `(org = ? OR EXISTS (SELECT 1 FROM json_each(json_extract(incidents.affected, '$.orgs')) WHERE value = ?))`)
		args = append(args, f.Org, f.Org)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "reported_at >= ?"), append(args, storetime.Format(f.Since.UTC()))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "reported_at < ?"), append(args, storetime.Format(f.Until.UTC()))
	}
	rows, err := q.QueryContext(ctx, `SELECT `+cols+` FROM incidents WHERE `+strings.Join(where, " AND ")+` ORDER BY reported_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Incident{}
	for rows.Next() {
		in, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// HeldDatasets returns, for each of names that an open incident holds for
// organisation org (an incident on the dataset of every organisation or of
// org, or on org itself), the id of the oldest such incident.
func HeldDatasets(ctx context.Context, q store.Querier, org string, names []string) (map[string]string, error) {
	out := map[string]string{}
	// An open incident on the organisation (the bureau's halt) holds
	// every dataset for it, grants made after the halt included.
	var orgInc string
	err := q.QueryRowContext(ctx, `SELECT id FROM incidents WHERE state = ? AND kind = ? AND target = ? ORDER BY reported_at, id LIMIT 1`,
		Open, Org, org).Scan(&orgInc)
	switch {
	case err == nil:
		for _, n := range names {
			out[n] = orgInc
		}
		return out, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	for _, n := range names {
		var id string
		err := q.QueryRowContext(ctx, `SELECT id FROM incidents WHERE state = ? AND kind = ? AND target = ? AND (org = '' OR org = ?)
			ORDER BY reported_at, id LIMIT 1`, Open, Dataset, n, org).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[n] = id
	}
	return out, nil
}

// CheckClear says whether the work of a job is clear of open incidents,
// for an approval or a release of its outputs: no open incident on the
// job, on a grant it ran under, on a dataset it read or on its
// organisation. The first that holds it is an ErrFailedPrecondition error
// naming the incident and what it is on.
func CheckClear(ctx context.Context, q store.Querier, job, org string, grantIDs, datasetNames []string) error {
	check := func(kind string, ids ...string) error {
		for _, id := range ids {
			var inc string
			err := q.QueryRowContext(ctx, `SELECT id FROM incidents WHERE state = ? AND kind = ? AND target = ?
				AND (kind != 'dataset' OR org = '' OR org = ?) ORDER BY reported_at, id LIMIT 1`, Open, kind, id, org).Scan(&inc)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("open incident %q on %s %q holds it until the authority closes it: %w", inc, kind, id, errdefs.ErrFailedPrecondition)
		}
		return nil
	}
	if err := check(Job, job); err != nil {
		return err
	}
	if err := check(Grant, grantIDs...); err != nil {
		return err
	}
	if err := check(Dataset, datasetNames...); err != nil {
		return err
	}
	return check(Org, org)
}

// Counts are the incidents by state, kind and reporter organisation, for
// /metrics and the annual report.
type Count struct {
	State, Kind string
	N           int64
}

// CountAll counts the incidents by state and kind.
func CountAll(ctx context.Context, q store.Querier) ([]Count, error) {
	rows, err := q.QueryContext(ctx, `SELECT state, kind, COUNT(*) FROM incidents GROUP BY state, kind ORDER BY state, kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.State, &c.Kind, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
