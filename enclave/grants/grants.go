// Package grants holds data-use applications and the grants they become
// one application, one list, one approval). An operator files an
// application naming datasets (and optionally columns), purpose, scenario,
// data flow and period; authorities other than the applicant's
// organisation approve or reject it; an approval by enough distinct
// authorities (two for important data) creates a grant that job admission
// reads. A change of scope is a new application.
package grants

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
	policy "github.com/enclave-dev/enclave/policies"
)

func init() {
	store.Register(store.Schema{Part: "grants", Requires: []string{"datasets"}, Migrations: []store.Migration{
		{Version: 1, Name: "applications and grants", SQL: `
CREATE TABLE applications (
	id              TEXT PRIMARY KEY,
	org             TEXT NOT NULL,
	applicant       TEXT NOT NULL,
	datasets        TEXT NOT NULL,
	purpose         TEXT NOT NULL,
	scenario        TEXT NOT NULL,
	data_flow       TEXT NOT NULL,
	public_interest INTEGER NOT NULL,
	period_from     TEXT NOT NULL,
	period_until    TEXT NOT NULL,
	batches         INTEGER,
	approvals_needed INTEGER NOT NULL,
	status          TEXT NOT NULL,
	grant_id        TEXT NOT NULL DEFAULT '',
	created_at      TEXT NOT NULL
);
CREATE TABLE application_decisions (
	application TEXT NOT NULL REFERENCES applications(id),
	person      TEXT NOT NULL,
	decision    TEXT NOT NULL,
	comment     TEXT NOT NULL,
	decided_at  TEXT NOT NULL,
	PRIMARY KEY (application, person)
);
CREATE TABLE grants (
	id              TEXT PRIMARY KEY,
	application     TEXT NOT NULL REFERENCES applications(id),
	org             TEXT NOT NULL,
	datasets        TEXT NOT NULL,
	purpose         TEXT NOT NULL,
	scenario        TEXT NOT NULL,
	public_interest INTEGER NOT NULL,
	period_from     TEXT NOT NULL,
	period_until    TEXT NOT NULL,
	approvers       TEXT NOT NULL,
	batches_left    INTEGER,
	status          TEXT NOT NULL,
	created_at      TEXT NOT NULL
);
CREATE INDEX grants_org ON grants(org);`},
		// Issue 15: each dataset of a grant is pinned to the owner, market
		// class and level of the version its approval saw. A grant made
		// before pins gets those of the newest version of each dataset
		// imported by then; a dataset with no such version stays unpinned
		// and the grant admits none of it.
		{Version: 2, Name: "grant pins", SQL: `
UPDATE grants SET datasets = (
	SELECT json_group_array(CASE WHEN v.name IS NULL THEN json(j.value)
		ELSE json_set(j.value, '$.owner', v.org, '$.market', v.market, '$.level', v.level, '$.version', v.version) END)
	FROM json_each(grants.datasets) j
	LEFT JOIN dataset_versions v ON v.name = json_extract(j.value, '$.name') AND v.version = (
		SELECT MAX(w.version) FROM dataset_versions w
		WHERE w.name = json_extract(j.value, '$.name') AND julianday(w.created_at) <= julianday(grants.created_at))
);`},
		// Issue 17 item 4: every stored time in the fixed-width codec.
		{Version: 3, Name: "stored times in the fixed-width codec", Func: store.RewriteTimesOf(map[string][]string{
			"applications":          {"created_at"},
			"application_decisions": {"decided_at"},
			"grants":                {"created_at"},
		})},
		// Issue 20 item 2: a dataset of sharing class conditional is
		// granted only on conditions the application names, which the
		// authority sees and the grant keeps.
		{Version: 4, Name: "conditions of conditional sharing", SQL: `
ALTER TABLE applications ADD COLUMN conditions TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN conditions TEXT NOT NULL DEFAULT '';`},
	}})
}

// Statuses of an application.
const (
	Pending  = "pending"
	Approved = "approved"
	Rejected = "rejected"
)

// Dataset is one dataset an application names, with optional columns.
// In a grant it is pinned to what the approval saw of the dataset's
// newest version: its owner (the organisation that imported it), market
// class and level; a version that differs in owner or market class, or
// has a higher level, does not flow to the grant (issue 15).
type Dataset struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns,omitempty"`
	Owner   string   `json:"owner,omitempty"`
	Market  string   `json:"market,omitempty"`
	Level   string   `json:"level,omitempty"`
	Version int      `json:"version,omitempty"`
}

// Pin is what a grant pins of a dataset: the version the approval saw,
// its owner (the organisation that imported it), market class and level.
type Pin struct {
	Version int
	Owner   string
	Market  string
	Level   string
}

// PinOf is the pin of a dataset version. (The grants part of the schema
// reads dataset_versions in its migrations; importing datasets also
// registers that part first.)
func PinOf(v *datasets.Version) Pin {
	return Pin{Version: v.Version, Owner: v.Org, Market: v.Market, Level: v.Level}
}

// Application is a data-use application.
type Application struct {
	ID             string    `json:"id"`
	Org            string    `json:"org"`
	Applicant      string    `json:"applicant"`
	Datasets       []Dataset `json:"datasets"`
	Purpose        string    `json:"purpose"`
	Scenario       string    `json:"scenario"`
	DataFlow       string    `json:"data_flow"`
	PublicInterest bool      `json:"public_interest"`
	// Conditions are how the applicant meets the conditions of the
	// conditional datasets it names (issue 20 item 2); required when it
	// names any.
	Conditions      string     `json:"conditions,omitempty"`
	From            string     `json:"from"`
	Until           string     `json:"until"`
	Batches         *int64     `json:"batches,omitempty"`
	ApprovalsNeeded int        `json:"approvals_needed"`
	Status          string     `json:"status"`
	Grant           string     `json:"grant,omitempty"`
	Decisions       []Decision `json:"decisions"`
	CreatedAt       time.Time  `json:"created_at"`
}

// Decision is one authority's decision on an application.
type Decision struct {
	Person   string    `json:"person"`
	Decision string    `json:"decision"`
	Comment  string    `json:"comment,omitempty"`
	Time     time.Time `json:"time"`
}

// Approvers returns the persons who approved.
func (a *Application) Approvers() []string {
	var out []string
	for _, d := range a.Decisions {
		if d.Decision == Approved {
			out = append(out, d.Person)
		}
	}
	return out
}

// Grant is an approved application: what jobs of an organisation may read.
type Grant struct {
	ID             string    `json:"id"`
	Application    string    `json:"application"`
	Org            string    `json:"org"`
	Datasets       []Dataset `json:"datasets"`
	Purpose        string    `json:"purpose"`
	Scenario       string    `json:"scenario"`
	PublicInterest bool      `json:"public_interest"`
	Conditions     string    `json:"conditions,omitempty"`
	From           string    `json:"from"`
	Until          string    `json:"until"`
	Approvers      []string  `json:"approvers"`
	BatchesLeft    *int64    `json:"batches_left,omitempty"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"created_at"`
}

// Policy returns the grant as the policies see it; dates are inclusive.
func (g *Grant) Policy() policy.Grant {
	pg := policy.Grant{ID: g.ID, Org: g.Org, Purpose: g.Purpose, Scenario: g.Scenario, PublicInterest: g.PublicInterest,
		Approvers: g.Approvers, BatchesLeft: g.BatchesLeft, Status: g.Status}
	for _, d := range g.Datasets {
		pg.Datasets = append(pg.Datasets, policy.GrantDataset{Name: d.Name, Columns: d.Columns, Owner: d.Owner, Market: d.Market,
			Level: d.Level, Version: int64(d.Version)})
	}
	if t, err := time.Parse(people.DateLayout, g.From); err == nil {
		pg.From = t
	}
	if t, err := time.Parse(people.DateLayout, g.Until); err == nil {
		pg.Until = t.Add(24*time.Hour - time.Nanosecond)
	}
	return pg
}

// Querier is a *sql.DB or a *sql.Tx.
type Querier = store.Querier

// ParseDatasets reads "--datasets A,B" and "--columns A.c1,A.c2": every
// column must belong to a named dataset.
func ParseDatasets(names, columns []string) ([]Dataset, error) {
	var out []Dataset
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if slices.ContainsFunc(out, func(d Dataset) bool { return d.Name == n }) {
			return nil, fmt.Errorf("dataset %q named twice: %w", n, errdefs.ErrInvalidArgument)
		}
		out = append(out, Dataset{Name: n})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("an application names at least one dataset: %w", errdefs.ErrInvalidArgument)
	}
	for _, c := range columns {
		ds, col, ok := strings.Cut(strings.TrimSpace(c), ".")
		i := slices.IndexFunc(out, func(d Dataset) bool { return d.Name == ds })
		if !ok || col == "" || i < 0 {
			return nil, fmt.Errorf("column %q must be DATASET.COLUMN of a dataset the application names: %w", c, errdefs.ErrInvalidArgument)
		}
		if !slices.Contains(out[i].Columns, col) {
			out[i].Columns = append(out[i].Columns, col)
		}
	}
	return out, nil
}

// Create inserts a new application.
func Create(ctx context.Context, q Querier, a *Application) error {
	ds, _ := json.Marshal(a.Datasets)
	_, err := q.ExecContext(ctx, `INSERT INTO applications(id, org, applicant, datasets, purpose, scenario, data_flow, public_interest,
		period_from, period_until, batches, approvals_needed, status, created_at, conditions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Org, a.Applicant, string(ds), a.Purpose, a.Scenario, a.DataFlow, a.PublicInterest, a.From, a.Until, a.Batches,
		a.ApprovalsNeeded, a.Status, storetime.Format(a.CreatedAt), a.Conditions)
	return err
}

const appCols = `id, org, applicant, datasets, purpose, scenario, data_flow, public_interest, period_from, period_until, batches, approvals_needed, status, grant_id, created_at, conditions`

func scanApp(sc interface{ Scan(...any) error }) (*Application, error) {
	var a Application
	var ds, created string
	var batches sql.NullInt64
	if err := sc.Scan(&a.ID, &a.Org, &a.Applicant, &ds, &a.Purpose, &a.Scenario, &a.DataFlow, &a.PublicInterest, &a.From, &a.Until,
		&batches, &a.ApprovalsNeeded, &a.Status, &a.Grant, &created, &a.Conditions); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(ds), &a.Datasets); err != nil {
		return nil, fmt.Errorf("application %q datasets: stored JSON unreadable: %w", a.ID, errdefs.ErrDataLoss)
	}
	if batches.Valid {
		a.Batches = &batches.Int64
	}
	var err error
	if a.CreatedAt, err = storetime.Column("application", a.ID, "created_at", created); err != nil {
		return nil, err
	}
	return &a, nil
}

func (a *Application) loadDecisions(ctx context.Context, q Querier) error {
	rows, err := q.QueryContext(ctx, `SELECT person, decision, comment, decided_at FROM application_decisions WHERE application = ? ORDER BY decided_at`, a.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	a.Decisions = []Decision{}
	for rows.Next() {
		var d Decision
		var t string
		if err := rows.Scan(&d.Person, &d.Decision, &d.Comment, &t); err != nil {
			return err
		}
		if d.Time, err = storetime.Column("decision on application", a.ID, "decided_at", t); err != nil {
			return err
		}
		a.Decisions = append(a.Decisions, d)
	}
	return rows.Err()
}

// Get returns an application with its decisions.
func Get(ctx context.Context, q Querier, id string) (*Application, error) {
	a, err := scanApp(q.QueryRowContext(ctx, `SELECT `+appCols+` FROM applications WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("application %q: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return a, a.loadDecisions(ctx, q)
}

// List returns applications, of one organisation when org is not empty.
func List(ctx context.Context, q Querier, org string) ([]*Application, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+appCols+` FROM applications WHERE ? = '' OR org = ? ORDER BY created_at`, org, org)
	if err != nil {
		return nil, err
	}
	var out []*Application
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, a := range out {
		if err := a.loadDecisions(ctx, q); err != nil {
			return nil, err
		}
	}
	if out == nil {
		out = []*Application{}
	}
	return out, nil
}

// Decide records one authority's decision. An approval that brings the
// distinct approvers to ApprovalsNeeded creates the grant, each dataset
// pinned as pins says (by name); a dataset without a pin is
// ErrFailedPrecondition and nothing is recorded. A rejection ends the
// application.
func Decide(ctx context.Context, q Querier, id, person, decision, comment string, now time.Time, pins map[string]Pin) (*Application, *Grant, error) {
	a, err := Get(ctx, q, id)
	if err != nil {
		return nil, nil, err
	}
	if a.Status != Pending {
		return nil, nil, fmt.Errorf("application %q is already %s: %w", id, a.Status, errdefs.ErrFailedPrecondition)
	}
	if slices.ContainsFunc(a.Decisions, func(d Decision) bool { return d.Person == person }) {
		return nil, nil, fmt.Errorf("person %q already decided on application %q: %w", person, id, errdefs.ErrFailedPrecondition)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO application_decisions(application, person, decision, comment, decided_at) VALUES (?, ?, ?, ?, ?)`,
		id, person, decision, comment, storetime.Format(now)); err != nil {
		return nil, nil, err
	}
	a.Decisions = append(a.Decisions, Decision{Person: person, Decision: decision, Comment: comment, Time: now.UTC()})
	if decision == Rejected {
		a.Status = Rejected
		_, err := q.ExecContext(ctx, `UPDATE applications SET status = ? WHERE id = ?`, Rejected, id)
		return a, nil, err
	}
	if len(a.Approvers()) < a.ApprovalsNeeded {
		return a, nil, nil
	}
	ds := make([]Dataset, len(a.Datasets))
	for i, d := range a.Datasets {
		p, ok := pins[d.Name]
		if !ok || p.Owner == "" || p.Market == "" || p.Level == "" {
			return nil, nil, fmt.Errorf("dataset %q of application %q has no version to pin the grant to: %w", d.Name, id, errdefs.ErrFailedPrecondition)
		}
		ds[i] = Dataset{Name: d.Name, Columns: d.Columns, Owner: p.Owner, Market: p.Market, Level: p.Level, Version: p.Version}
	}
	g := &Grant{ID: people.NewID("g_"), Application: a.ID, Org: a.Org, Datasets: ds, Purpose: a.Purpose, Scenario: a.Scenario,
		PublicInterest: a.PublicInterest, Conditions: a.Conditions, From: a.From, Until: a.Until, Approvers: a.Approvers(), BatchesLeft: a.Batches,
		Status: Approved, CreatedAt: now.UTC()}
	dsJSON, _ := json.Marshal(g.Datasets)
	ap, _ := json.Marshal(g.Approvers)
	if _, err := q.ExecContext(ctx, `INSERT INTO grants(id, application, org, datasets, purpose, scenario, public_interest, period_from, period_until,
		approvers, batches_left, status, created_at, conditions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.Application, g.Org, string(dsJSON), g.Purpose, g.Scenario, g.PublicInterest, g.From, g.Until, string(ap), g.BatchesLeft,
		g.Status, storetime.Format(g.CreatedAt), g.Conditions); err != nil {
		return nil, nil, err
	}
	a.Status, a.Grant = Approved, g.ID
	if _, err := q.ExecContext(ctx, `UPDATE applications SET status = ?, grant_id = ? WHERE id = ?`, Approved, g.ID, id); err != nil {
		return nil, nil, err
	}
	return a, g, nil
}

const grantCols = `id, application, org, datasets, purpose, scenario, public_interest, period_from, period_until, approvers, batches_left, status, created_at, conditions`

func scanGrant(sc interface{ Scan(...any) error }) (*Grant, error) {
	var g Grant
	var ds, ap, created string
	var batches sql.NullInt64
	if err := sc.Scan(&g.ID, &g.Application, &g.Org, &ds, &g.Purpose, &g.Scenario, &g.PublicInterest, &g.From, &g.Until, &ap,
		&batches, &g.Status, &created, &g.Conditions); err != nil {
		return nil, err
	}
	if json.Unmarshal([]byte(ds), &g.Datasets) != nil || json.Unmarshal([]byte(ap), &g.Approvers) != nil {
		return nil, fmt.Errorf("grant %q datasets or approvers: stored JSON unreadable: %w", g.ID, errdefs.ErrDataLoss)
	}
	if batches.Valid {
		g.BatchesLeft = &batches.Int64
	}
	var err error
	if g.CreatedAt, err = storetime.Column("grant", g.ID, "created_at", created); err != nil {
		return nil, err
	}
	// The period is what Policy gives the policies: a date that does not
	// parse would silently leave the grant unbounded there.
	for _, d := range []struct{ column, text string }{{"period_from", g.From}, {"period_until", g.Until}} {
		if _, err := time.Parse(people.DateLayout, d.text); err != nil {
			return nil, fmt.Errorf("grant %q %s: stored date unreadable: %w", g.ID, d.column, errdefs.ErrDataLoss)
		}
	}
	return &g, nil
}

// GetGrant returns a grant.
func GetGrant(ctx context.Context, q Querier, id string) (*Grant, error) {
	g, err := scanGrant(q.QueryRowContext(ctx, `SELECT `+grantCols+` FROM grants WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("grant %q: %w", id, errdefs.ErrNotFound)
	}
	return g, err
}

// ForOrg returns the grants of an organisation, every status; the
// policies decide which are valid now.
func ForOrg(ctx context.Context, q Querier, org string) ([]*Grant, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+grantCols+` FROM grants WHERE org = ? ORDER BY created_at`, org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// UseBatch takes one batch of a batch-limited grant for a job; a grant
// with none left is ErrResourceExhausted.
func UseBatch(ctx context.Context, q Querier, id string) error {
	res, err := q.ExecContext(ctx, `UPDATE grants SET batches_left = batches_left - 1 WHERE id = ? AND batches_left IS NOT NULL AND batches_left > 0`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		g, err := GetGrant(ctx, q, id)
		if err != nil {
			return err
		}
		if g.BatchesLeft == nil {
			return nil
		}
		return fmt.Errorf("grant %q has no batches left: %w", id, errdefs.ErrResourceExhausted)
	}
	return nil
}
