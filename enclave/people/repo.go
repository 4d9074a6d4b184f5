package people

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// Querier is what the repository functions need: a *sql.DB or a *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const timeLayout = time.RFC3339Nano

// CreateOrg inserts an organisation; a duplicate name is ErrAlreadyExists.
func CreateOrg(ctx context.Context, q Querier, o Org) error {
	_, err := q.ExecContext(ctx, `INSERT INTO orgs(name, type, licence_from, licence_until, status, status_reason, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, o.Name, o.Type, o.LicenceFrom, o.LicenceUntil, o.Status, o.StatusReason,
		o.CreatedAt.UTC().Format(timeLayout), o.UpdatedAt.UTC().Format(timeLayout))
	if isUnique(err) {
		return fmt.Errorf("organisation %q: %w", o.Name, errdefs.ErrAlreadyExists)
	}
	return err
}

const orgCols = `name, type, licence_from, licence_until, status, status_reason, created_at, updated_at`

func scanOrg(sc interface{ Scan(...any) error }) (Org, error) {
	var o Org
	var c, u string
	err := sc.Scan(&o.Name, &o.Type, &o.LicenceFrom, &o.LicenceUntil, &o.Status, &o.StatusReason, &c, &u)
	o.CreatedAt, _ = time.Parse(timeLayout, c)
	o.UpdatedAt, _ = time.Parse(timeLayout, u)
	return o, err
}

// GetOrg returns an organisation by name.
func GetOrg(ctx context.Context, q Querier, name string) (Org, error) {
	o, err := scanOrg(q.QueryRowContext(ctx, `SELECT `+orgCols+` FROM orgs WHERE name = ?`, name))
	return o, notFound(err, "organisation", name)
}

// ListOrgs returns every organisation by name.
func ListOrgs(ctx context.Context, q Querier) ([]Org, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+orgCols+` FROM orgs ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Org{}
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// SetOrgStatus moves an organisation to a new status with a reason.
func SetOrgStatus(ctx context.Context, q Querier, name string, st OrgStatus, reason string, now time.Time) error {
	res, err := q.ExecContext(ctx, `UPDATE orgs SET status = ?, status_reason = ?, updated_at = ? WHERE name = ?`,
		st, reason, now.UTC().Format(timeLayout), name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("organisation %q: %w", name, errdefs.ErrNotFound)
	}
	return nil
}

// CreatePerson inserts a person. idHash is empty when no ID number was
// given; a second person with the same ID number is ErrAlreadyExists;
// roles that break the separation of duties are ErrInvalidArgument
// (CheckDuties).
func CreatePerson(ctx context.Context, q Querier, p Person, idHash string) error {
	if err := CheckDuties(p.Roles); err != nil {
		return err
	}
	var h any
	if idHash != "" {
		h = idHash
	}
	_, err := q.ExecContext(ctx, `INSERT INTO people(id, name, org, roles, id_number_hash, id_number_mask, agreement_until, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.Name, p.Org, joinRoles(p.Roles), h, p.IDNumberMasked,
		p.AgreementUntil, p.CreatedAt.UTC().Format(timeLayout), p.CreatedBy)
	if isUnique(err) {
		return fmt.Errorf("a person with this resident id number is already registered: %w", errdefs.ErrAlreadyExists)
	}
	return err
}

func joinRoles(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

func splitRoles(s string) []Role {
	var out []Role
	for _, r := range strings.Split(s, ",") {
		if r != "" {
			out = append(out, Role(r))
		}
	}
	return out
}

const personCols = `id, name, org, roles, id_number_mask, agreement_until, created_at, created_by`

func scanPerson(sc interface{ Scan(...any) error }) (Person, error) {
	var p Person
	var roles, c string
	err := sc.Scan(&p.ID, &p.Name, &p.Org, &roles, &p.IDNumberMasked, &p.AgreementUntil, &c, &p.CreatedBy)
	p.Roles = splitRoles(roles)
	p.CreatedAt, _ = time.Parse(timeLayout, c)
	return p, err
}

// GetPerson returns a person by id.
func GetPerson(ctx context.Context, q Querier, id string) (Person, error) {
	p, err := scanPerson(q.QueryRowContext(ctx, `SELECT `+personCols+` FROM people WHERE id = ?`, id))
	return p, notFound(err, "person", id)
}

// ListPeople returns every person, optionally of one organisation.
func ListPeople(ctx context.Context, q Querier, org string) ([]Person, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+personCols+` FROM people WHERE ? = '' OR org = ? ORDER BY created_at, id`, org, org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Person{}
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetAgreement records a person's confidentiality agreement end date.
func SetAgreement(ctx context.Context, q Querier, id, until string) error {
	res, err := q.ExecContext(ctx, `UPDATE people SET agreement_until = ? WHERE id = ?`, until, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("person %q: %w", id, errdefs.ErrNotFound)
	}
	return nil
}

// Token is a stored token's record; the token itself is never stored.
type Token struct {
	ID        string    `json:"id"`
	Person    string    `json:"person"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt string    `json:"revoked_at,omitempty"`
}

// CreateToken stores the hash of a new token for a person.
func CreateToken(ctx context.Context, q Querier, t Token, hash string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO tokens(id, person, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Person, hash, t.CreatedAt.UTC().Format(timeLayout), t.ExpiresAt.UTC().Format(timeLayout))
	return err
}

// GetToken returns a token's record by id.
func GetToken(ctx context.Context, q Querier, id string) (Token, error) {
	var t Token
	var c, e string
	err := q.QueryRowContext(ctx, `SELECT id, person, created_at, expires_at, revoked_at FROM tokens WHERE id = ?`, id).
		Scan(&t.ID, &t.Person, &c, &e, &t.RevokedAt)
	t.CreatedAt, _ = time.Parse(timeLayout, c)
	t.ExpiresAt, _ = time.Parse(timeLayout, e)
	return t, notFound(err, "token", id)
}

// ListTokens returns the token records of a person.
func ListTokens(ctx context.Context, q Querier, person string) ([]Token, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, person, created_at, expires_at, revoked_at FROM tokens WHERE person = ? ORDER BY created_at`, person)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		var c, e string
		if err := rows.Scan(&t.ID, &t.Person, &c, &e, &t.RevokedAt); err != nil {
			return nil, err
		}
		t.CreatedAt, _ = time.Parse(timeLayout, c)
		t.ExpiresAt, _ = time.Parse(timeLayout, e)
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken marks a token revoked; revoking twice is ErrFailedPrecondition.
func RevokeToken(ctx context.Context, q Querier, id, by string, now time.Time) error {
	res, err := q.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at = ''`,
		now.UTC().Format(timeLayout), by, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := GetToken(ctx, q, id); err != nil {
			return err
		}
		return fmt.Errorf("token %q is already revoked: %w", id, errdefs.ErrFailedPrecondition)
	}
	return nil
}

// Subject is an authenticated caller: the person, their organisation and
// the token they used.
type Subject struct {
	Person  Person `json:"person"`
	Org     Org    `json:"org"`
	TokenID string `json:"token_id"`
}

// Authenticate resolves a bearer token to its subject. Unknown, expired
// and revoked tokens are all ErrUnauthenticated with the same message, so
// the answer tells an attacker nothing.
func Authenticate(ctx context.Context, q Querier, token string, now time.Time) (Subject, error) {
	unauth := fmt.Errorf("token is unknown, expired or revoked: %w", errdefs.ErrUnauthenticated)
	if WellFormedToken(token) != nil {
		return Subject{}, unauth
	}
	var tokID, personID, expires, revoked string
	err := q.QueryRowContext(ctx, `SELECT id, person, expires_at, revoked_at FROM tokens WHERE hash = ?`, HashToken(token)).
		Scan(&tokID, &personID, &expires, &revoked)
	if err == sql.ErrNoRows {
		return Subject{}, unauth
	}
	if err != nil {
		return Subject{}, err
	}
	exp, err := time.Parse(timeLayout, expires)
	if err != nil || revoked != "" || !now.Before(exp) {
		return Subject{}, unauth
	}
	p, err := GetPerson(ctx, q, personID)
	if err != nil {
		return Subject{}, err
	}
	o, err := GetOrg(ctx, q, p.Org)
	if err != nil {
		return Subject{}, err
	}
	return Subject{Person: p, Org: o, TokenID: tokID}, nil
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func notFound(err error, what string, id any) error {
	if err == sql.ErrNoRows {
		return fmt.Errorf("%s %q: %w", what, fmt.Sprint(id), errdefs.ErrNotFound)
	}
	return err
}
