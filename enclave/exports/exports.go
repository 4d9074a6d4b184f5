// Package exports is the only way out of the enclave:
// an operator asks to take files of a finished job out for a stated
// purpose; the files are frozen by hash; the automatic egress checks run
// (egress-review/); officers of other organisations review, two where the
// rules say so; an approved request becomes a signed release bundle that
// only the requesting organisation downloads; every release is on the
// product register.
package exports

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/containerd/errdefs"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

func init() {
	store.Register(store.Schema{Part: "exports", Migrations: []store.Migration{
		{Version: 1, Name: "exports and reviews", SQL: `
CREATE TABLE exports (
	id               TEXT PRIMARY KEY,
	job              TEXT NOT NULL,
	org              TEXT NOT NULL,
	requester        TEXT NOT NULL,
	purpose          TEXT NOT NULL,
	scenario         TEXT NOT NULL,
	files            TEXT NOT NULL,
	declared         TEXT NOT NULL,
	level            TEXT NOT NULL,
	state            TEXT NOT NULL,
	result           TEXT NOT NULL,
	approvals_needed INTEGER NOT NULL,
	bundle_sha256    TEXT NOT NULL DEFAULT '',
	created_at       TEXT NOT NULL,
	released_at      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX exports_org ON exports(org, created_at);
CREATE TABLE export_reviews (
	export        TEXT NOT NULL REFERENCES exports(id),
	person        TEXT NOT NULL,
	org           TEXT NOT NULL,
	decision      TEXT NOT NULL,
	comment       TEXT NOT NULL,
	justification TEXT NOT NULL,
	decided_at    TEXT NOT NULL,
	PRIMARY KEY (export, person)
);`},
		{Version: 2, Name: "previews", SQL: `ALTER TABLE exports ADD COLUMN previews TEXT NOT NULL DEFAULT '[]';`},
		// Issue 17 item 4: every stored time in the fixed-width codec.
		{Version: 3, Name: "stored times in the fixed-width codec", Func: store.RewriteTimesOf(map[string][]string{
			"exports":        {"created_at", "released_at"},
			"export_reviews": {"decided_at"},
		})},
	}})
}

// States of an export request.
const (
	// PendingReview: the checks passed or asked for review; officers decide.
	PendingReview = "pending-review"
	// ChecksFailed: a check failed; only two officers with a written
	// justification can override.
	ChecksFailed = "checks-failed"
	// ChangesRequested: an officer asked the operator for changes; the
	// operator files a new request.
	ChangesRequested = "changes-requested"
	Rejected         = "rejected"
	Released         = "released"
)

// Decisions an officer can take.
const (
	Approve        = "approve"
	Reject         = "reject"
	RequestChanges = "request-changes"
)

// File is one candidate file, frozen by hash when the request was made.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Review is one officer's decision.
type Review struct {
	Person        string    `json:"person"`
	Org           string    `json:"org"`
	Decision      string    `json:"decision"`
	Comment       string    `json:"comment,omitempty"`
	Justification string    `json:"justification,omitempty"`
	Time          time.Time `json:"time"`
}

// Export is an export request and its fate.
type Export struct {
	ID              string            `json:"id"`
	Job             string            `json:"job"`
	Org             string            `json:"org"`
	Requester       string            `json:"requester"`
	Purpose         string            `json:"purpose"`
	Scenario        string            `json:"scenario"`
	Files           []File            `json:"files"`
	Declared        map[string]string `json:"declared_levels,omitempty"`
	Level           string            `json:"level"`
	State           string            `json:"state"`
	Result          review.Result     `json:"checks"`
	ApprovalsNeeded int               `json:"approvals_needed"`
	Reviews         []Review          `json:"reviews"`
	Previews        []Preview         `json:"previews"`
	BundleSHA256    string            `json:"bundle_sha256,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	// ReleasedAt is when the bundle was made, RFC 3339 ("" before).
	ReleasedAt string `json:"released_at,omitempty"`
	// View is set on an export as a person sees it (ForReader):
	// api.ViewExact or api.ViewCoarse.
	View string `json:"view,omitempty"`
}

// Approvals counts the officers who approved.
func (e *Export) Approvals() int {
	n := 0
	for _, r := range e.Reviews {
		if r.Decision == Approve {
			n++
		}
	}
	return n
}

// Querier is a *sql.DB or a *sql.Tx.
type Querier = store.Querier

// Insert records a new request.
func Insert(ctx context.Context, q Querier, e *Export) error {
	files, _ := json.Marshal(e.Files)
	decl, _ := json.Marshal(e.Declared)
	res, _ := json.Marshal(e.Result)
	prev, _ := json.Marshal(e.Previews)
	_, err := q.ExecContext(ctx, `INSERT INTO exports(id, job, org, requester, purpose, scenario, files, declared, level, state, result, approvals_needed, created_at, previews)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.Job, e.Org, e.Requester, e.Purpose, e.Scenario, string(files), string(decl),
		e.Level, e.State, string(res), e.ApprovalsNeeded, storetime.Format(e.CreatedAt), string(prev))
	return err
}

const cols = `id, job, org, requester, purpose, scenario, files, declared, level, state, result, approvals_needed, bundle_sha256, created_at, released_at, previews`

func scan(sc interface{ Scan(...any) error }) (*Export, error) {
	var e Export
	var files, decl, res, created, released, prev string
	if err := sc.Scan(&e.ID, &e.Job, &e.Org, &e.Requester, &e.Purpose, &e.Scenario, &files, &decl, &e.Level, &e.State, &res,
		&e.ApprovalsNeeded, &e.BundleSHA256, &created, &released, &prev); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		column, text string
		into         any
	}{{"previews", prev, &e.Previews}, {"files", files, &e.Files}, {"declared", decl, &e.Declared}, {"result", res, &e.Result}} {
		if err := json.Unmarshal([]byte(f.text), f.into); err != nil {
			return nil, fmt.Errorf("export %q %s: stored JSON unreadable: %w", e.ID, f.column, errdefs.ErrDataLoss)
		}
	}
	var err error
	if e.CreatedAt, err = storetime.Column("export", e.ID, "created_at", created); err != nil {
		return nil, err
	}
	r, err := storetime.OptionalColumn("export", e.ID, "released_at", released)
	if err != nil {
		return nil, err
	}
	if r != nil {
		e.ReleasedAt = r.Format(time.RFC3339Nano)
	}
	return &e, nil
}

func (e *Export) loadReviews(ctx context.Context, q Querier) error {
	rows, err := q.QueryContext(ctx, `SELECT person, org, decision, comment, justification, decided_at FROM export_reviews WHERE export = ? ORDER BY decided_at, rowid`, e.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	e.Reviews = []Review{}
	for rows.Next() {
		var r Review
		var t string
		if err := rows.Scan(&r.Person, &r.Org, &r.Decision, &r.Comment, &r.Justification, &t); err != nil {
			return err
		}
		if r.Time, err = storetime.Column("review of export", e.ID, "decided_at", t); err != nil {
			return err
		}
		e.Reviews = append(e.Reviews, r)
	}
	return rows.Err()
}

// Get returns a request with its reviews.
func Get(ctx context.Context, q Querier, id string) (*Export, error) {
	e, err := scan(q.QueryRowContext(ctx, `SELECT `+cols+` FROM exports WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("export %q: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return e, e.loadReviews(ctx, q)
}

// List returns requests, newest first: of one organisation when org is
// not empty, and only released ones when released is set.
func List(ctx context.Context, q Querier, org string, released bool) ([]*Export, error) {
	query := `SELECT ` + cols + ` FROM exports WHERE (? = '' OR org = ?)`
	if released {
		query += ` AND state = 'released'`
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY created_at DESC`, org, org)
	if err != nil {
		return nil, err
	}
	var out []*Export
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
	}
	rows.Close()
	for _, e := range out {
		if err := e.loadReviews(ctx, q); err != nil {
			return nil, err
		}
	}
	if out == nil {
		out = []*Export{}
	}
	return out, rows.Err()
}

// Decide records an officer's decision and returns the request as it now
// stands. An approval of a request whose checks failed needs a written
// justification, and counts towards an override that needs two officers.
// When the approvals are enough, the state is left at PendingReview for
// the caller to release; Decide reports that with ready.
func Decide(ctx context.Context, q Querier, id string, r Review) (e *Export, ready bool, err error) {
	e, err = Get(ctx, q, id)
	if err != nil {
		return nil, false, err
	}
	if e.State != PendingReview && e.State != ChecksFailed {
		return nil, false, fmt.Errorf("export %q is %s and takes no more decisions: %w", id, e.State, errdefs.ErrFailedPrecondition)
	}
	if slices.ContainsFunc(e.Reviews, func(x Review) bool { return x.Person == r.Person }) {
		return nil, false, fmt.Errorf("person %q already reviewed export %q: %w", r.Person, id, errdefs.ErrFailedPrecondition)
	}
	if r.Decision == Approve && e.State == ChecksFailed && len(r.Justification) < 20 {
		return nil, false, fmt.Errorf("approving a request whose checks failed overrides them: give a written justification of at least 20 characters: %w", errdefs.ErrInvalidArgument)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO export_reviews(export, person, org, decision, comment, justification, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, r.Person, r.Org, r.Decision, r.Comment, r.Justification, storetime.Format(r.Time)); err != nil {
		return nil, false, err
	}
	e.Reviews = append(e.Reviews, r)
	next := e.State
	switch r.Decision {
	case Reject:
		next = Rejected
	case RequestChanges:
		next = ChangesRequested
	case Approve:
		ready = e.Approvals() >= e.Needed()
	}
	if next != e.State {
		if _, err := q.ExecContext(ctx, `UPDATE exports SET state = ? WHERE id = ?`, next, id); err != nil {
			return nil, false, err
		}
		e.State = next
	}
	return e, ready, nil
}

// MarkReleased records the release of a request and its bundle's hash.
func MarkReleased(ctx context.Context, q Querier, id, bundleSHA string, at time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE exports SET state = ?, bundle_sha256 = ?, released_at = ? WHERE id = ?`, Released, bundleSHA, storetime.Format(at), id)
	return err
}

// Previous returns the files released before under any of the grants, for
// the differencing check, as (export id, file) pairs.
func Previous(ctx context.Context, q Querier, org string) ([]*Export, error) {
	return List(ctx, q, org, true)
}
