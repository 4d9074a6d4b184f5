// Package people holds the enclave's participants: organisations with their
// licences, real-name registered persons with roles, and the
// bearer tokens they act with. Tokens are 256 random bits, stored only as a
// hash; resident ID numbers are stored only as a keyed hash and a masked
// form.
package people

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/containerd/errdefs"
)

// Role is what a person may do in the enclave (DESIGN.md section 1).
type Role string

// The roles.
const (
	Admin     Role = "admin"
	Authority Role = "authority"
	Custodian Role = "custodian"
	Operator  Role = "operator"
	Officer   Role = "officer"
	Bureau    Role = "bureau"
)

// Roles lists every role in a fixed order.
var Roles = []Role{Admin, Authority, Custodian, Operator, Officer, Bureau}

// OrgType is the kind of an organisation.
type OrgType string

// The organisation types.
const (
	Company           OrgType = "company"
	University        OrgType = "university"
	ResearchInstitute OrgType = "research-institute"
	Agency            OrgType = "agency"
)

// OrgTypes lists every organisation type.
var OrgTypes = []OrgType{Company, University, ResearchInstitute, Agency}

// OrgStatus is the state of an organisation's licence.
type OrgStatus string

// The organisation statuses.
const (
	Active      OrgStatus = "active"
	Suspended   OrgStatus = "suspended"
	Blacklisted OrgStatus = "blacklisted"
	Revoked     OrgStatus = "revoked"
)

// MaxLicence is the longest licence the regulations allow (R-04: at most
// two years).
const MaxLicence = 2

// DateLayout is how dates are written on the command line and in the API.
const DateLayout = "2006-01-02"

// Org is an organisation taking part in the enclave.
type Org struct {
	Name         string    `json:"name"`
	Type         OrgType   `json:"type"`
	LicenceFrom  string    `json:"licence_from"`
	LicenceUntil string    `json:"licence_until"`
	Status       OrgStatus `json:"status"`
	StatusReason string    `json:"status_reason"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Person is a real-name registered participant.
type Person struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Org            string    `json:"org"`
	Roles          []Role    `json:"roles"`
	IDNumberMasked string    `json:"id_number_masked,omitempty"`
	AgreementUntil string    `json:"agreement_until,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      string    `json:"created_by"`
}

// HasRole reports whether p holds role r.
func (p *Person) HasRole(r Role) bool { return slices.Contains(p.Roles, r) }

var nameRE = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._\-·()（）]{0,127}$`)

// ValidName checks an organisation's or person's name: 1 to 128
// characters, letters, digits, spaces and a little punctuation.
func ValidName(what, s string) error {
	if !utf8.ValidString(s) || !nameRE.MatchString(s) || strings.TrimSpace(s) != s {
		return fmt.Errorf("%s name must be 1-128 letters, digits, spaces or . _ - · ( ): %w", what, errdefs.ErrInvalidArgument)
	}
	return nil
}

// ParseOrgType validates an organisation type.
func ParseOrgType(s string) (OrgType, error) {
	t := OrgType(s)
	if !slices.Contains(OrgTypes, t) {
		return "", fmt.Errorf("organisation type %q is not one of company, university, research-institute, agency: %w", s, errdefs.ErrInvalidArgument)
	}
	return t, nil
}

// ParseRoles validates a list of role names; duplicates and combinations
// that break the separation of duties (CheckDuties) are refused.
func ParseRoles(names []string) ([]Role, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("at least one role is required: %w", errdefs.ErrInvalidArgument)
	}
	var out []Role
	for _, n := range names {
		r := Role(strings.TrimSpace(n))
		if !slices.Contains(Roles, r) {
			return nil, fmt.Errorf("role %q is not one of admin, authority, custodian, operator, officer, bureau: %w", n, errdefs.ErrInvalidArgument)
		}
		if slices.Contains(out, r) {
			return nil, fmt.Errorf("role %q given twice: %w", n, errdefs.ErrInvalidArgument)
		}
		out = append(out, r)
	}
	if err := CheckDuties(out); err != nil {
		return nil, err
	}
	return out, nil
}

// The rules of the separation of duties (DESIGN.md section 1), as the
// errors of CheckDuties name them.
const (
	RuleOperatorAlone = "separation of duties: nobody holds operator together with officer, authority or custodian"
	RuleAdminAlone    = "separation of duties: admin holds no other role"
)

// CheckDuties refuses a set of roles one person may not hold together:
// operator with officer, authority or custodian (whoever runs jobs may not
// review, approve or supply their data), and admin with anything else
// (whoever manages people may not act in the domain). Its error is of class
// errdefs.ErrInvalidArgument and names the rule.
func CheckDuties(roles []Role) error {
	if slices.Contains(roles, Admin) && len(roles) > 1 {
		return fmt.Errorf("%s: %w", RuleAdminAlone, errdefs.ErrInvalidArgument)
	}
	if slices.Contains(roles, Operator) {
		for _, r := range []Role{Officer, Authority, Custodian} {
			if slices.Contains(roles, r) {
				return fmt.Errorf("%s (operator with %s): %w", RuleOperatorAlone, r, errdefs.ErrInvalidArgument)
			}
		}
	}
	return nil
}

// ParseDate parses a YYYY-MM-DD date, naming the field on error.
func ParseDate(field, s string) (time.Time, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not a date of the form YYYY-MM-DD: %w", field, s, errdefs.ErrInvalidArgument)
	}
	return t, nil
}

// CheckLicence validates a licence period: from before until, and at most
// MaxLicence years long.
func CheckLicence(from, until time.Time) error {
	if !until.After(from) {
		return fmt.Errorf("licence_until must be after licence_from: %w", errdefs.ErrInvalidArgument)
	}
	if until.After(from.AddDate(MaxLicence, 0, 0)) {
		return fmt.Errorf("licence from %s until %s is longer than %d years: %w", from.Format(DateLayout), until.Format(DateLayout), MaxLicence, errdefs.ErrInvalidArgument)
	}
	return nil
}

// ParseStatus validates an organisation status.
func ParseStatus(s string) (OrgStatus, error) {
	switch st := OrgStatus(s); st {
	case Active, Suspended, Blacklisted, Revoked:
		return st, nil
	}
	return "", fmt.Errorf("organisation status %q is not one of active, suspended, blacklisted, revoked: %w", s, errdefs.ErrInvalidArgument)
}

// Transition checks that an organisation may move from one status to
// another. Blacklisting and revocation are final (R-04, 000 art. 62).
func Transition(from, to OrgStatus) error {
	ok := false
	switch from {
	case Active:
		ok = to == Suspended || to == Blacklisted || to == Revoked
	case Suspended:
		ok = to == Active || to == Blacklisted || to == Revoked
	}
	if !ok {
		return fmt.Errorf("organisation cannot go from %s to %s: %w", from, to, errdefs.ErrFailedPrecondition)
	}
	return nil
}
