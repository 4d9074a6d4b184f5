// Package people holds the enclave's participants: organisations with their
// licences, real-name registered persons with roles, and the
// bearer tokens they act with. Tokens are 256 random bits, stored only as a
// hash; resident ID numbers are stored only as a keyed hash and a masked
// form. Every person carries a validated resident ID number (GB 11643),
// and everyone of a role that sees data or decides a confidentiality
// agreement with its term and the liability accepted (001 art. 16.1);
// every organisation its unified social credit code (GB 32100) and what its
// licence application recorded (001 art. 11).
package people

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/pii"
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
	// Consumer is a person of a licensed user organisation who subscribes
	// to services and manages its systems' credentials (issue 19).
	Consumer Role = "consumer"
)

// Roles lists every role in a fixed order.
var Roles = []Role{Admin, Authority, Custodian, Operator, Officer, Bureau, Consumer}

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

// Org is an organisation taking part in the enclave. LicenceFrom is the
// first day of its continuous licence and LicenceUntil the last day of its
// current term; Licences lists the terms (an initial licence and its
// renewals, each at most MaxLicence years), when asked for.
type Org struct {
	Name string  `json:"name"`
	Type OrgType `json:"type"`
	// USCC is the organisation's unified social credit code (GB 32100);
	// empty only for organisations recorded before codes were required.
	USCC         string `json:"uscc"`
	LicenceFrom  string `json:"licence_from"`
	LicenceUntil string `json:"licence_until"`
	Application
	Status       OrgStatus `json:"status"`
	StatusReason string    `json:"status_reason"`
	// StatusAt is when the status last changed (for a revocation, when the
	// licence was revoked).
	StatusAt  time.Time     `json:"status_at"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	Licences  []LicenceTerm `json:"licences,omitempty"`
}

// Application is what an organisation's licence application recorded
// (001 art. 11): the business it is licensed for, the person responsible
// for data security, the principal responsible person (001 art. 14: the
// first responsible for operation and security), and what happens to the
// data when the licence ends.
type Application struct {
	BusinessScope string `json:"business_scope"`
	SecurityLead  string `json:"security_lead"`
	Principal     string `json:"principal"`
	DataDisposal  string `json:"data_disposal"`
}

// LicenceTerm is one term of an organisation's licence: the first
// ("licence") or a renewal ("renewal").
type LicenceTerm struct {
	Kind       string    `json:"kind"`
	From       string    `json:"from"`
	Until      string    `json:"until"`
	RecordedAt time.Time `json:"recorded_at"`
	RecordedBy string    `json:"recorded_by"`
}

// Person is a real-name registered participant. The resident ID number is
// kept only as a keyed hash (never shown) and IDNumberMasked.
type Person struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Org            string `json:"org"`
	Roles          []Role `json:"roles"`
	IDNumberMasked string `json:"id_number_masked,omitempty"`
	Agreement
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// Agreement is a person's confidentiality agreement (001 art. 16.1: it
// states the term of confidentiality and the liability for breach): its
// first and last day (YYYY-MM-DD, inclusive) and the liability text, or a
// reference to the signed text, that the person accepted.
type Agreement struct {
	AgreementFrom      string `json:"agreement_from,omitempty"`
	AgreementUntil     string `json:"agreement_until,omitempty"`
	AgreementLiability string `json:"agreement_liability,omitempty"`
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

// AgreementRoles are the roles that see data or decide; whoever holds one
// needs a confidentiality agreement that is valid now for any action but
// whoami (the policies' rule agreement.not_valid).
var AgreementRoles = []Role{Operator, Officer, Custodian, Authority, Bureau}

// NeedsAgreement reports whether a person with roles must hold a
// confidentiality agreement.
func NeedsAgreement(roles []Role) bool {
	for _, r := range roles {
		if slices.Contains(AgreementRoles, r) {
			return true
		}
	}
	return false
}

// The rules that registration names in its errors.
const (
	RuleIDNumber  = "real-name registration: every person has a valid resident ID number"
	RuleAgreement = "confidentiality agreement: every operator, officer, custodian, authority and bureau person holds one with a term and the liability accepted"
	RuleUSCC      = "organisation identity: every organisation has a valid unified social credit code"
)

// MaxText bounds the free texts of agreements and licence applications.
const MaxText = 1000

// CheckIDNumber validates a resident ID number for registration: 18
// characters with a valid check character (GB 11643) and a real birth
// date, not in the future on now's day and not before 1900. Its error is of
// class errdefs.ErrInvalidArgument, names the rule and never contains s.
func CheckIDNumber(s string, now time.Time) error {
	if s == "" {
		return fmt.Errorf("%s: id_number is required: %w", RuleIDNumber, errdefs.ErrInvalidArgument)
	}
	birth, err := pii.ResidentIDBirthDate(s)
	if err != nil {
		return fmt.Errorf("%s: id_number: %w", RuleIDNumber, err)
	}
	y, m, d := now.UTC().Date()
	if birth.After(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		return fmt.Errorf("%s: id_number has a birth date in the future: %w", RuleIDNumber, errdefs.ErrInvalidArgument)
	}
	if birth.Year() < 1900 {
		return fmt.Errorf("%s: id_number has a birth date before 1900: %w", RuleIDNumber, errdefs.ErrInvalidArgument)
	}
	return nil
}

// CheckUSCC validates a unified social credit code (GB 32100-2015) and
// returns it in capitals. Its error is of class errdefs.ErrInvalidArgument,
// names the rule and never contains s.
func CheckUSCC(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%s: uscc is required: %w", RuleUSCC, errdefs.ErrInvalidArgument)
	}
	if err := pii.ValidUSCC(s); err != nil {
		return "", fmt.Errorf("%s: uscc: %w", RuleUSCC, err)
	}
	return strings.ToUpper(s), nil
}

// CheckText validates a required free text of at most MaxText bytes:
// valid UTF-8, not blank, no control characters but newlines and tabs.
func CheckText(field, s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("%s is required: %w", field, errdefs.ErrInvalidArgument)
	}
	if len(s) > MaxText || !utf8.ValidString(s) {
		return fmt.Errorf("%s must be valid UTF-8 of at most %d bytes: %w", field, MaxText, errdefs.ErrInvalidArgument)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return fmt.Errorf("%s holds a control character: %w", field, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// CheckNote checks a required free text of at most max bytes (an
// incident's reason, an objection and its answer) and returns it trimmed:
// not blank, UTF-8, no control characters but newlines and tabs. Its
// errors name the field, never quote the text.
func CheckNote(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > max {
		return "", fmt.Errorf("%s is required (at most %d bytes): %w", field, max, errdefs.ErrInvalidArgument)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%s is not UTF-8 text: %w", field, errdefs.ErrInvalidArgument)
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return "", fmt.Errorf("%s holds a control character: %w", field, errdefs.ErrInvalidArgument)
		}
	}
	return s, nil
}

// CheckApplication validates what a licence application records: every
// field required, the security lead and the principal as person names.
func CheckApplication(a Application) error {
	if err := CheckText("business_scope", a.BusinessScope); err != nil {
		return err
	}
	if err := ValidName("security lead", a.SecurityLead); err != nil {
		return fmt.Errorf("security_lead: %w", err)
	}
	if err := ValidName("principal", a.Principal); err != nil {
		return fmt.Errorf("principal: %w", err)
	}
	return CheckText("data_disposal", a.DataDisposal)
}

// CheckAgreement validates a confidentiality agreement for a person with
// roles on now's day: required (until and liability) for AgreementRoles,
// optional for admins; when given, from and until are dates, until is not
// before from nor before today (an agreement that already ended cannot be
// recorded), and the liability is a text of at most MaxText bytes. An empty
// from is today; the returned agreement has it filled in.
func CheckAgreement(roles []Role, a Agreement, now time.Time) (Agreement, error) {
	if a == (Agreement{}) {
		if NeedsAgreement(roles) {
			return a, fmt.Errorf("%s: agreement_until and agreement_liability are required: %w", RuleAgreement, errdefs.ErrInvalidArgument)
		}
		return a, nil
	}
	today := now.UTC().Format(DateLayout)
	if a.AgreementFrom == "" {
		a.AgreementFrom = today
	}
	from, err := ParseDate("agreement_from", a.AgreementFrom)
	if err != nil {
		return a, err
	}
	if a.AgreementUntil == "" {
		return a, fmt.Errorf("%s: agreement_until is required: %w", RuleAgreement, errdefs.ErrInvalidArgument)
	}
	until, err := ParseDate("agreement_until", a.AgreementUntil)
	if err != nil {
		return a, err
	}
	if until.Before(from) {
		return a, fmt.Errorf("agreement_until must not be before agreement_from: %w", errdefs.ErrInvalidArgument)
	}
	if a.AgreementUntil < today {
		return a, fmt.Errorf("agreement_until %s has passed: %w", a.AgreementUntil, errdefs.ErrInvalidArgument)
	}
	if err := CheckText("agreement_liability", a.AgreementLiability); err != nil {
		return a, fmt.Errorf("%s: %w", RuleAgreement, err)
	}
	return a, nil
}
