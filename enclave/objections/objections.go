// Package objections is the register of objections about datasets (issue
// 20 item 4; 001 art. 13, 002 art. 20): anyone with a token files an
// objection about a dataset they can see in the catalogue, and the
// dataset's custodian organisation answers it within AnswerDays working
// days (Monday to Friday), the due time computed when it is filed. An
// answer may name a corrected version of the dataset, which must exist.
// An objection still open after its due time is overdue: the bureau's
// views, /metrics and the annual report show it.
//
// The text of an objection and of its answer is the filer's and the
// custodian's words: stored as they are, never logged.
//
// The functions take a store.Querier so that the server runs them in the
// transaction that records the change on the audit log.
package objections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

func init() {
	store.Register(store.Schema{Part: "objections", Requires: []string{"datasets"}, Migrations: []store.Migration{
		{Version: 1, Name: "objection register", SQL: `
CREATE TABLE objections (
	id                TEXT PRIMARY KEY,
	dataset           TEXT NOT NULL,
	org               TEXT NOT NULL,
	text              TEXT NOT NULL,
	filed_by          TEXT NOT NULL,
	filer_org         TEXT NOT NULL,
	filed_at          TEXT NOT NULL,
	due_at            TEXT NOT NULL,
	state             TEXT NOT NULL,
	answer            TEXT NOT NULL DEFAULT '',
	answered_by       TEXT NOT NULL DEFAULT '',
	answered_at       TEXT NOT NULL DEFAULT '',
	corrected_version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX objections_state ON objections(state, due_at);
CREATE INDEX objections_filed ON objections(filed_at);`},
	}})
}

// States of an objection as stored; Overdue is an open objection past its
// due time, computed when it is read (StateAt).
const (
	Open     = "open"
	Answered = "answered"
	Overdue  = "overdue"
)

// AnswerDays is how many working days the custodian has to answer.
const AnswerDays = 5

// MaxText bounds an objection's or an answer's text, in bytes.
const MaxText = 4000

// Objection is one entry of the register.
type Objection struct {
	ID               string
	Dataset          string
	Org              string // the dataset's custodian organisation, who answers
	Text             string
	FiledBy          string
	FilerOrg         string
	FiledAt          time.Time
	DueAt            time.Time
	State            string // Open or Answered
	Answer           string
	AnsweredBy       string
	AnsweredAt       *time.Time
	CorrectedVersion int // 0: none named
}

// StateAt is the objection's state at now: Overdue for an open objection
// whose due time has passed.
func (o *Objection) StateAt(now time.Time) string {
	if o.State == Open && !now.Before(o.DueAt) {
		return Overdue
	}
	return o.State
}

// DueDate is the end of the AnswerDays-th working day (Monday to Friday,
// UTC) after the day of filed: the first instant after it. An objection
// filed on a Friday, a Saturday or a Sunday is due at the end of the next
// Friday; one filed on a Wednesday at the end of the next Wednesday.
func DueDate(filed time.Time) time.Time {
	filed = filed.UTC()
	d := time.Date(filed.Year(), filed.Month(), filed.Day(), 0, 0, 0, 0, time.UTC)
	for n := 0; n < AnswerDays; {
		d = d.AddDate(0, 0, 1)
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n++
		}
	}
	return d.AddDate(0, 0, 1)
}

// CheckText checks an objection's or an answer's text: not empty, at most
// MaxText bytes of UTF-8 without control characters but newlines and
// tabs. Its errors never quote the text.
func CheckText(field, s string) (string, error) {
	return people.CheckNote(field, s, MaxText)
}

// File records an objection in q: dataset (whose custodian organisation is
// org; the caller checked the filer may see it), the filer and their
// organisation, the text, and the due time computed from now.
func File(ctx context.Context, q store.Querier, id, dataset, org, filer, filerOrg, text string, now time.Time) (*Objection, error) {
	text, err := CheckText("the objection's text", text)
	if err != nil {
		return nil, err
	}
	if dataset == "" || org == "" {
		return nil, fmt.Errorf("an objection names a dataset and its custodian organisation: %w", errdefs.ErrInvalidArgument)
	}
	now = now.UTC()
	o := &Objection{ID: id, Dataset: dataset, Org: org, Text: text, FiledBy: filer, FilerOrg: filerOrg, FiledAt: now, DueAt: DueDate(now), State: Open}
	if _, err := q.ExecContext(ctx, `INSERT INTO objections(id, dataset, org, text, filed_by, filer_org, filed_at, due_at, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, o.ID, o.Dataset, o.Org, o.Text, o.FiledBy, o.FilerOrg,
		storetime.Format(o.FiledAt), storetime.Format(o.DueAt), Open); err != nil {
		if store.IsUnique(err) {
			return nil, fmt.Errorf("objection %q: %w", id, errdefs.ErrAlreadyExists)
		}
		return nil, err
	}
	return o, nil
}

// Answer records the custodian's answer to objection id in q. org is the
// answerer's organisation: only the dataset's custodian organisation
// answers (ErrPermissionDenied otherwise); an objection answered already
// is ErrFailedPrecondition; corrected, when not 0, must be an existing
// version of the dataset (ErrNotFound naming it). Nothing changes on an
// error.
func Answer(ctx context.Context, q store.Querier, id, org, by, text string, corrected int, now time.Time) (*Objection, error) {
	text, err := CheckText("the answer's text", text)
	if err != nil {
		return nil, err
	}
	if corrected < 0 {
		return nil, fmt.Errorf("the corrected version must be a positive version number: %w", errdefs.ErrInvalidArgument)
	}
	o, err := Get(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if o.Org != org {
		return nil, fmt.Errorf("objection %q is answered by the custodian organisation of dataset %q only: %w", id, o.Dataset, errdefs.ErrPermissionDenied)
	}
	if o.State != Open {
		return nil, fmt.Errorf("objection %q is answered already: %w", id, errdefs.ErrFailedPrecondition)
	}
	if corrected > 0 {
		var n int
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM dataset_versions WHERE name = ? AND version = ?`, o.Dataset, corrected).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("the corrected version: dataset %q has no version %d: %w", o.Dataset, corrected, errdefs.ErrNotFound)
		}
	}
	now = now.UTC()
	res, err := q.ExecContext(ctx, `UPDATE objections SET state = ?, answer = ?, answered_by = ?, answered_at = ?, corrected_version = ?
		WHERE id = ? AND state = ?`, Answered, text, by, storetime.Format(now), corrected, id, Open)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, fmt.Errorf("objection %q is answered already: %w", id, errdefs.ErrFailedPrecondition)
	}
	o.State, o.Answer, o.AnsweredBy, o.AnsweredAt, o.CorrectedVersion = Answered, text, by, &now, corrected
	return o, nil
}

const cols = `id, dataset, org, text, filed_by, filer_org, filed_at, due_at, state, answer, answered_by, answered_at, corrected_version`

func scan(sc interface{ Scan(...any) error }) (*Objection, error) {
	var o Objection
	var filed, due, answered string
	if err := sc.Scan(&o.ID, &o.Dataset, &o.Org, &o.Text, &o.FiledBy, &o.FilerOrg, &filed, &due, &o.State, &o.Answer,
		&o.AnsweredBy, &answered, &o.CorrectedVersion); err != nil {
		return nil, err
	}
	var err error
	if o.FiledAt, err = storetime.Column("objection", o.ID, "filed_at", filed); err != nil {
		return nil, err
	}
	if o.DueAt, err = storetime.Column("objection", o.ID, "due_at", due); err != nil {
		return nil, err
	}
	if o.AnsweredAt, err = storetime.OptionalColumn("objection", o.ID, "answered_at", answered); err != nil {
		return nil, err
	}
	return &o, nil
}

// Get returns objection id; an unknown id is ErrNotFound.
func Get(ctx context.Context, q store.Querier, id string) (*Objection, error) {
	o, err := scan(q.QueryRowContext(ctx, `SELECT `+cols+` FROM objections WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("objection %q: not found or not yours: %w", id, errdefs.ErrNotFound)
	}
	return o, err
}

// Filter selects objections for List.
type Filter struct {
	// Party, when not empty, is an organisation: only the objections it
	// filed or must answer (its people's view; the bureau sees all).
	Party string
	// Overdue keeps only the objections open past their due time at Now.
	Overdue bool
	Now     time.Time
}

// List returns objections, oldest first.
func List(ctx context.Context, q store.Querier, f Filter) ([]*Objection, error) {
	where, args := []string{"1"}, []any{}
	if f.Party != "" {
		where, args = append(where, "(org = ? OR filer_org = ?)"), append(args, f.Party, f.Party)
	}
	if f.Overdue {
		where, args = append(where, "state = ? AND due_at <= ?"), append(args, Open, storetime.Format(f.Now))
	}
	rows, err := q.QueryContext(ctx, `SELECT `+cols+` FROM objections WHERE `+strings.Join(where, " AND ")+` ORDER BY filed_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("query objections: %w", err)
	}
	defer rows.Close()
	var out []*Objection
	for rows.Next() {
		o, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Counts is how many objections are in each state at a moment.
type Counts struct {
	Open, Answered, Overdue int64
}

// CountAt counts every objection by its state at now (an overdue one is
// not counted open).
func CountAt(ctx context.Context, q store.Querier, now time.Time) (Counts, error) {
	var c Counts
	err := q.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(state = ? AND due_at > ?), 0), COALESCE(SUM(state = ?), 0), COALESCE(SUM(state = ? AND due_at <= ?), 0) FROM objections`,
		Open, storetime.Format(now), Answered, Open, storetime.Format(now)).Scan(&c.Open, &c.Answered, &c.Overdue)
	return c, err
}
