package people

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// Querier is what the repository functions need: a *sql.DB or a *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// CreateOrg inserts an organisation and the first term of its licence; a
// duplicate name is ErrAlreadyExists.
func CreateOrg(ctx context.Context, q Querier, o Org) error {
	if o.StatusAt.IsZero() {
		o.StatusAt = o.CreatedAt
	}
	_, err := q.ExecContext(ctx, `INSERT INTO orgs(name, type, uscc, licence_from, licence_until, business_scope, security_lead, principal,
		data_disposal, status, status_reason, status_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, o.Name, o.Type, o.USCC, o.LicenceFrom, o.LicenceUntil,
		o.BusinessScope, o.SecurityLead, o.Principal, o.DataDisposal, o.Status, o.StatusReason,
		storetime.Format(o.StatusAt), storetime.Format(o.CreatedAt), storetime.Format(o.UpdatedAt))
	if isUnique(err) {
		return fmt.Errorf("organisation %q: %w", o.Name, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return err
	}
	return addTerm(ctx, q, o.Name, LicenceTerm{Kind: "licence", From: o.LicenceFrom, Until: o.LicenceUntil, RecordedAt: o.CreatedAt})
}

func addTerm(ctx context.Context, q Querier, org string, t LicenceTerm) error {
	_, err := q.ExecContext(ctx, `INSERT INTO org_licences(org, seq, kind, licence_from, licence_until, recorded_at, recorded_by)
		SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM org_licences WHERE org = ?`,
		org, t.Kind, t.From, t.Until, storetime.Format(t.RecordedAt), t.RecordedBy, org)
	return err
}

const orgCols = `name, type, uscc, licence_from, licence_until, business_scope, security_lead, principal, data_disposal,
	status, status_reason, status_at, created_at, updated_at`

func scanOrg(sc interface{ Scan(...any) error }) (Org, error) {
	var o Org
	var st, c, u string
	err := sc.Scan(&o.Name, &o.Type, &o.USCC, &o.LicenceFrom, &o.LicenceUntil, &o.BusinessScope, &o.SecurityLead, &o.Principal,
		&o.DataDisposal, &o.Status, &o.StatusReason, &st, &c, &u)
	if err != nil {
		return o, err
	}
	if err := parseTimes(&o.StatusAt, st, &o.CreatedAt, c, &o.UpdatedAt, u); err != nil {
		return o, fmt.Errorf("organisation %q: %w", o.Name, err)
	}
	return o, nil
}

// parseTimes parses stored times (storetime) in pairs (target, text).
func parseTimes(pairs ...any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		t, err := storetime.Parse(pairs[i+1].(string))
		if err != nil {
			return err
		}
		*pairs[i].(*time.Time) = t
	}
	return nil
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

// ListLicences returns the terms of an organisation's licence, oldest
// first.
func ListLicences(ctx context.Context, q Querier, org string) ([]LicenceTerm, error) {
	rows, err := q.QueryContext(ctx, `SELECT kind, licence_from, licence_until, recorded_at, recorded_by FROM org_licences
		WHERE org = ? ORDER BY seq`, org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []LicenceTerm{}
	for rows.Next() {
		var t LicenceTerm
		var at string
		if err := rows.Scan(&t.Kind, &t.From, &t.Until, &at, &t.RecordedBy); err != nil {
			return nil, err
		}
		if err := parseTimes(&t.RecordedAt, at); err != nil {
			return nil, fmt.Errorf("licence term of organisation %q: %w", org, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RenewLicence records a renewal term of an organisation's licence and
// moves its end to until. Whether the renewal is allowed is the policies'
// decision (org.renew); this only records it.
func RenewLicence(ctx context.Context, q Querier, name string, t LicenceTerm) error {
	res, err := q.ExecContext(ctx, `UPDATE orgs SET licence_until = ?, updated_at = ? WHERE name = ?`,
		t.Until, storetime.Format(t.RecordedAt), name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("organisation %q: %w", name, errdefs.ErrNotFound)
	}
	t.Kind = "renewal"
	return addTerm(ctx, q, name, t)
}

// USCCRecord is what the register knows of one unified social credit
// code, over every organisation that was recorded under it.
type USCCRecord struct {
	// Blacklisted names an organisation with the code that was
	// blacklisted ("" for none).
	Blacklisted string
	// RevokedAt is the latest revocation of a licence under the code (zero
	// for none), and Revoked the organisation it was revoked from.
	RevokedAt time.Time
	Revoked   string
	// HeldBy names an organisation with the code that is active or
	// suspended and whose licence has not ended on day today ("" for none).
	HeldBy string
}

// LookupUSCC returns the register's record of a code (in capitals) on day
// today (YYYY-MM-DD).
func LookupUSCC(ctx context.Context, q Querier, uscc, today string) (USCCRecord, error) {
	var r USCCRecord
	rows, err := q.QueryContext(ctx, `SELECT name, status, status_at, licence_until FROM orgs WHERE uscc = ? ORDER BY name`, uscc)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, until string
		var st OrgStatus
		var at string
		if err := rows.Scan(&name, &st, &at, &until); err != nil {
			return r, err
		}
		var t time.Time
		if err := parseTimes(&t, at); err != nil {
			return r, fmt.Errorf("organisation %q status_at: %w", name, err)
		}
		switch {
		case st == Blacklisted && r.Blacklisted == "":
			r.Blacklisted = name
		case st == Revoked && t.After(r.RevokedAt):
			r.RevokedAt, r.Revoked = t, name
		case (st == Active || st == Suspended) && until >= today && r.HeldBy == "":
			r.HeldBy = name
		}
	}
	return r, rows.Err()
}

// SetOrgStatus moves an organisation to a new status with a reason.
func SetOrgStatus(ctx context.Context, q Querier, name string, st OrgStatus, reason string, now time.Time) error {
	at := storetime.Format(now)
	res, err := q.ExecContext(ctx, `UPDATE orgs SET status = ?, status_reason = ?, status_at = ?, updated_at = ? WHERE name = ?`,
		st, reason, at, at, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("organisation %q: %w", name, errdefs.ErrNotFound)
	}
	return nil
}

// CreatePerson inserts a person with the keyed hash of their resident ID
// number (required). Roles that break the separation of duties
// (CheckDuties), and AgreementRoles without an agreement, are
// ErrInvalidArgument; a second person with the same ID number is
// ErrAlreadyExists.
func CreatePerson(ctx context.Context, q Querier, p Person, idHash string) error {
	if err := CheckDuties(p.Roles); err != nil {
		return err
	}
	if idHash == "" || p.IDNumberMasked == "" {
		return fmt.Errorf("%s: id_number is required: %w", RuleIDNumber, errdefs.ErrInvalidArgument)
	}
	if NeedsAgreement(p.Roles) && (p.AgreementUntil == "" || p.AgreementLiability == "") {
		return fmt.Errorf("%s: agreement_until and agreement_liability are required: %w", RuleAgreement, errdefs.ErrInvalidArgument)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO people(id, name, org, roles, id_number_hash, id_number_mask, agreement_from, agreement_until,
		agreement_liability, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.Name, p.Org, joinRoles(p.Roles), idHash, p.IDNumberMasked,
		p.AgreementFrom, p.AgreementUntil, p.AgreementLiability, storetime.Format(p.CreatedAt), p.CreatedBy)
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

const personCols = `id, name, org, roles, id_number_mask, agreement_from, agreement_until, agreement_liability, created_at, created_by`

func scanPerson(sc interface{ Scan(...any) error }) (Person, error) {
	var p Person
	var roles, c string
	err := sc.Scan(&p.ID, &p.Name, &p.Org, &roles, &p.IDNumberMasked, &p.AgreementFrom, &p.AgreementUntil, &p.AgreementLiability, &c, &p.CreatedBy)
	if err != nil {
		return p, err
	}
	p.Roles = splitRoles(roles)
	if err := parseTimes(&p.CreatedAt, c); err != nil {
		return p, fmt.Errorf("person %q created_at: %w", p.ID, err)
	}
	return p, nil
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

// SetAgreement records a person's renewed confidentiality agreement (see
// CheckAgreement).
func SetAgreement(ctx context.Context, q Querier, id string, a Agreement) error {
	res, err := q.ExecContext(ctx, `UPDATE people SET agreement_from = ?, agreement_until = ?, agreement_liability = ? WHERE id = ?`,
		a.AgreementFrom, a.AgreementUntil, a.AgreementLiability, id)
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
		t.ID, t.Person, hash, storetime.Format(t.CreatedAt), storetime.Format(t.ExpiresAt))
	return err
}

// GetToken returns a token's record by id.
func GetToken(ctx context.Context, q Querier, id string) (Token, error) {
	var t Token
	var c, e string
	var r string
	err := q.QueryRowContext(ctx, `SELECT id, person, created_at, expires_at, revoked_at FROM tokens WHERE id = ?`, id).
		Scan(&t.ID, &t.Person, &c, &e, &r)
	if err != nil {
		return t, notFound(err, "token", id)
	}
	return t, t.parse(c, e, r)
}

// parse fills in a token's times from their stored text. RevokedAt keeps
// the RFC 3339 text it always showed.
func (t *Token) parse(created, expires, revoked string) error {
	if err := parseTimes(&t.CreatedAt, created, &t.ExpiresAt, expires); err != nil {
		return fmt.Errorf("token %q: %w", t.ID, err)
	}
	t.RevokedAt = ""
	if revoked != "" {
		var at time.Time
		if err := parseTimes(&at, revoked); err != nil {
			return fmt.Errorf("token %q revoked_at: %w", t.ID, err)
		}
		t.RevokedAt = at.Format(time.RFC3339Nano)
	}
	return nil
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
		var c, e, r string
		if err := rows.Scan(&t.ID, &t.Person, &c, &e, &r); err != nil {
			return nil, err
		}
		if err := t.parse(c, e, r); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken marks a token revoked; revoking twice is ErrFailedPrecondition.
func RevokeToken(ctx context.Context, q Querier, id, by string, now time.Time) error {
	res, err := q.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at = ''`,
		storetime.Format(now), by, id)
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
	exp, err := storetime.Parse(expires)
	if err != nil {
		// A token whose expiry cannot be read admits no one; the caller
		// sees an internal error, and the message says no more than this.
		return Subject{}, fmt.Errorf("token %q expires_at: %w", tokID, err)
	}
	if revoked != "" || !now.Before(exp) {
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
