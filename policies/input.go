package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/containerd/errdefs"
)

// Input is the document the policies decide on, available in Rego as
// `input`. The daemon fills it from its store for every request; fields that
// do not apply to an action stay at their zero value. Times are instants
// encoded as RFC 3339; an "until" instant is inclusive, so a DATE given on
// the command line should become the last instant of that day.
type Input struct {
	// Action is what the subject asks to do, one of Actions (for example
	// "job.run"). An unknown action is denied with rule "action.unknown".
	Action string `json:"action"`
	// Now is the instant of the request; the policies never read a clock.
	Now time.Time `json:"now"`
	// Subject is the authenticated person making the request.
	Subject Subject `json:"subject"`
	// Resource is what the action is about.
	Resource Resource `json:"resource"`
	// Grants lists the grants of the subject's organisation (job.run); the
	// policies ignore grants of other organisations.
	Grants []Grant `json:"grants"`
	// Usage is the subject's organisation's current resource use (job.run).
	Usage Usage `json:"usage"`
	// Quota is the subject's organisation's quota (job.run).
	Quota Quota `json:"quota"`
	// Request holds the resources a job asks for (job.run).
	Request Request `json:"request"`
	// Config holds deployment settings the policies read.
	Config Config `json:"config"`
}

// Subject is the person making a request, with their organisation.
type Subject struct {
	// ID is the person's id; an empty ID is unauthenticated and denied.
	ID string `json:"id"`
	// Name is the person's registered name (for display only).
	Name string `json:"name"`
	// Org is the name of the person's organisation.
	Org string `json:"org"`
	// OrgType is one of OrgTypes.
	OrgType string `json:"org_type"`
	// OrgStatus is one of OrgStatuses. Operators of an organisation that
	// is not active may only call whoami and health; people of other roles
	// are refused the same way when the status is set and not active.
	OrgStatus string `json:"org_status"`
	// LicenceFrom and LicenceUntil bound the organisation's licence; nil
	// means no licence on record.
	LicenceFrom  *time.Time `json:"licence_from"`
	LicenceUntil *time.Time `json:"licence_until"`
	// Roles are the person's roles, from Roles.
	Roles []string `json:"roles"`
	// AgreementUntil is the end of the person's confidentiality agreement
	// nil means none on record. People of the roles that see data
	// or decide (operator, officer, custodian, authority, bureau) need one
	// valid now for every action but whoami (rule agreement.not_valid).
	AgreementUntil *time.Time `json:"agreement_until"`
	// IDVerified is true when the person's resident ID number was
	// validated and is on record; the same roles need it for every action
	// but whoami (rule person.id_not_verified).
	IDVerified bool `json:"id_verified"`
}

// Resource is the object of an action. Which fields matter depends on the
// action; see the comments.
type Resource struct {
	// Kind names the resource type ("job", "export", "application", ...).
	Kind string `json:"kind"`
	// ID is the resource's id, if it has one.
	ID string `json:"id"`
	// Org is the organisation that owns or requested the resource: the
	// job's organisation, the applicant's or the export requester's
	// organisation, the importer's organisation for images, the
	// organisation that owns a dataset's name (the first to import it;
	// for an import of a new name, the importer's), the organisation
	// reported on for usage.report ("" for all). Scoped checks compare it
	// with Subject.Org.
	Org string `json:"org"`
	// Owner is the person id of the applicant, submitter, requester or
	// importer; approvals are never by the owner.
	Owner string `json:"owner"`
	// Approvers lists the person ids that already approved an application
	// (application.approve refuses a second approval by the same person).
	Approvers []string `json:"approvers"`
	// Datasets are the datasets a job reads or an application names, with
	// their marks and state as recorded in the catalogue.
	Datasets []Dataset `json:"datasets"`
	// Purpose and Scenario are an application's stated purpose and usage
	// scenario (identifiers or free text; the policies never echo them).
	Purpose  string `json:"purpose"`
	Scenario string `json:"scenario"`
	// PublicInterest marks an application whose purpose is public-interest
	// research; required for universities and research institutes.
	PublicInterest bool `json:"public_interest"`
	// From and Until are the period of an application (application.file,
	// within the licence) or of a licence (org.add, at most two years).
	From  *time.Time `json:"from"`
	Until *time.Time `json:"until"`
	// Image is the job's image (job.run requires status "approved").
	Image *Image `json:"image"`
	// Licensing is what the organisation register knows when a licence is
	// granted (org.add) or renewed (org.renew); nil otherwise.
	Licensing *Licensing `json:"licensing"`
}

// Licensing is what the organisation register knows of the unified social
// credit code of an organisation being licensed (org.add) or renewed
// (org.renew), and of its current licence (org.renew).
type Licensing struct {
	// BlacklistedAs names an organisation with the same code that was
	// blacklisted ("" for none): the code is never licensed again (rule
	// licence.uscc_blacklisted).
	BlacklistedAs string `json:"blacklisted_as"`
	// RevokedAs and RevokedAt name the organisation with the same code
	// whose licence was revoked last, and when (nil for never): the code is
	// not licensed again for three years (rule licence.uscc_revoked).
	RevokedAs string     `json:"revoked_as"`
	RevokedAt *time.Time `json:"revoked_at"`
	// LicenceUntil is the last instant of the current licence (org.renew):
	// a licence is renewed only in its last three months (rule
	// licence.renewal_window).
	LicenceUntil *time.Time `json:"licence_until"`
	// Status is the organisation's status (org.renew): only an active
	// organisation renews (rule licence.renewal_not_active).
	Status string `json:"status"`
}

// Dataset is one dataset version as recorded in the catalogue.
type Dataset struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	// Owner is the organisation that provided this version (its
	// importer). Every version imported since issue 15 is the name's
	// owner's; an older one may be another organisation's.
	Owner string `json:"owner"`
	// Level is one of Levels.
	Level string `json:"level"`
	// Market is one of Markets.
	Market string `json:"market"`
	// State is one of DatasetStates: the catalogue's state, or "held"
	// while an open incident names the dataset (issue 18): no job reads it
	// and no application names it until the authority closes the incident.
	State string `json:"state"`
	// Columns are the columns the job reads; empty means all columns.
	Columns []string `json:"columns"`
	// Upload is true for an operator's own data (issue 20): only its
	// organisation's jobs read it, without a grant, and no application
	// names it.
	Upload bool `json:"upload"`
	// Sharing is the sharing class (issue 20): "unconditional",
	// "conditional" (an application names its conditions; the server
	// refuses to file or approve one that does not) or "none" (never
	// granted). A version imported before the class existed is given as
	// "conditional" (datasets.Version.Sharing), never as "".
	Sharing string `json:"sharing"`
}

// Image is a job image.
type Image struct {
	Digest string `json:"digest"`
	// Status is "pending", "approved" or "rejected".
	Status string `json:"status"`
}

// Grant is an approved data-use application.
type Grant struct {
	ID string `json:"id"`
	// Org is the organisation the grant was issued to.
	Org string `json:"org"`
	// Datasets names the granted datasets and, optionally, columns.
	Datasets []GrantDataset `json:"datasets"`
	Purpose  string         `json:"purpose"`
	Scenario string         `json:"scenario"`
	// PublicInterest is true when the application was filed and approved
	// as public-interest research.
	PublicInterest bool `json:"public_interest"`
	// From and Until bound the grant's validity, both inclusive.
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	// Approvers are the distinct person ids that approved the grant;
	// `important` data needs at least two.
	Approvers []string `json:"approvers"`
	// BatchesLeft is the number of jobs the grant still admits; nil means
	// unlimited.
	BatchesLeft *int64 `json:"batches_left"`
	// Status is one of GrantStatuses; only "approved" grants admit jobs.
	Status string `json:"status"`
}

// GrantDataset is one dataset of a grant, pinned to what the grant was
// approved for: a version whose owner or market class differs from the
// pins, or whose level is above Level, is not admitted by the grant.
type GrantDataset struct {
	Name string `json:"name"`
	// Columns, when not empty, are the only columns a job may read.
	Columns []string `json:"columns"`
	// Owner, Market and Level are the provider, the market class and the
	// highest level the grant was approved for; empty pins admit nothing.
	Owner  string `json:"owner"`
	Market string `json:"market"`
	Level  string `json:"level"`
	// Version is the version the approval saw (shown, not decided on).
	Version int64 `json:"version"`
}

// Usage is an organisation's current resource use.
type Usage struct {
	RunningJobs     int64 `json:"running_jobs"`
	CPUSecondsMonth int64 `json:"cpu_seconds_month"`
}

// Quota is an organisation's quota; a nil field is not limited.
type Quota struct {
	ConcurrentJobs    *int64 `json:"concurrent_jobs"`
	CPUSecondsMonth   *int64 `json:"cpu_seconds_month"`
	MemoryBytesPerJob *int64 `json:"memory_bytes_per_job"`
}

// Request is what a job asks for, after defaults were applied.
type Request struct {
	CPU         float64 `json:"cpu"`
	MemoryBytes int64   `json:"memory_bytes"`
}

// Config holds deployment settings the policies read.
type Config struct {
	// AuthorizedOrgTypes lists the organisation types that may use
	// authorization-required (market "authorized") data.
	AuthorizedOrgTypes []string `json:"authorized_org_types"`
}

// Roles, organisation types and statuses, dataset marks and states as the
// policies know them.
const (
	RoleAdmin     = "admin"
	RoleAuthority = "authority"
	RoleCustodian = "custodian"
	RoleOperator  = "operator"
	RoleOfficer   = "officer"
	RoleBureau    = "bureau"
)

// Roles lists every role.
var Roles = []string{RoleAdmin, RoleAuthority, RoleCustodian, RoleOperator, RoleOfficer, RoleBureau}

// OrgTypes lists every organisation type.
var OrgTypes = []string{"company", "university", "research-institute", "agency"}

// OrgStatuses lists every organisation status.
var OrgStatuses = []string{"active", "suspended", "blacklisted", "revoked"}

// Levels lists the classification levels, lowest first.
var Levels = []string{"general-1", "general-2", "general-3", "general-4", "important"}

// Markets lists the market-use classes.
var Markets = []string{"ordinary", "authorized", "withheld"}

// DatasetStates lists the states of a dataset as the policies see it:
// the catalogue's, and "held" for a dataset under an open incident.
var DatasetStates = []string{"active", "sealed", "destroyed", "held", "pending-review", "rejected"}

// GrantStatuses lists the states of a grant: "suspended" while its
// organisation is suspended or an open incident names it, "revoked" and
// "expired" once it ended (issue 18).
var GrantStatuses = []string{"approved", "suspended", "revoked", "expired"}

// ImageStatuses lists the states of an image.
var ImageStatuses = []string{"pending", "approved", "rejected"}

// Actions lists every action the built-in policies know, in the order of
// the role table (policies/rego/roles.rego).
var Actions = []string{
	"whoami", "health", "keys.public",
	"person.add", "person.list", "person.show", "token.revoke", "token.issue", "token.list", "person.agreement",
	"org.add", "org.suspend", "org.reinstate", "org.blacklist", "org.revoke", "org.renew", "org.show", "org.list",
	"image.import", "image.approve", "image.reject", "image.list",
	"dataset.import", "dataset.seal", "dataset.unseal", "dataset.destroy", "dataset.list", "dataset.show",
	"dataset.upload", "dataset.approve", "dataset.reject",
	"application.file", "application.approve", "application.reject", "application.list", "application.revoke",
	"job.run", "job.list", "job.show", "job.wait", "job.outputs", "job.cancel", "job.logs", "job.halt",
	"export.request", "export.show", "export.approve", "export.reject", "export.download", "release.list",
	"usage.report", "audit.list", "audit.verify", "audit.export", "audit.purge",
	"org.quota", "report.annual", "metrics.read",
	"policy.explain",
	"incident.report", "incident.list", "incident.show", "incident.close", "job.halt_all",
	"objection.file", "objection.list", "objection.show", "objection.answer",
	// A service call is decided on every call (issue 19 item 8): it is
	// specialized and planned like the rest.
	"service.verify", "service.query", "service.bulk",
}

// Limits on the size of an input, so that a hostile request cannot make a
// decision arbitrarily expensive.
const (
	maxString = 256
	maxList   = 256
)

// DecodeInput decodes one JSON input document strictly (unknown fields and
// trailing data are refused) and validates it. Errors are of class
// errdefs.ErrInvalidArgument and name the field, never its value.
func DecodeInput(data []byte) (Input, error) {
	var in Input
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Input{}, fmt.Errorf("decode policy input: %w", errdefs.ErrInvalidArgument)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Input{}, fmt.Errorf("decode policy input: trailing data: %w", errdefs.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return Input{}, err
	}
	return in, nil
}

// Validate checks the shape of in: a non-empty action made of lowercase
// letters, digits, dots and underscores; a set Now; known values in every
// enumerated field; no dataset named twice in resource.datasets; times between the years 1678 and 2262; no negative counts; strings of at most 256 bytes and
// lists of at most 256 items. It does not decide anything: a valid input
// may well be denied. Errors are of class errdefs.ErrInvalidArgument and
// name the field, never its value.
func (in *Input) Validate() error {
	v := validator{}
	v.action(in.Action)
	v.time("now", &in.Now, true)
	v.time("subject.licence_from", in.Subject.LicenceFrom, false)
	v.time("subject.licence_until", in.Subject.LicenceUntil, false)
	v.time("subject.agreement_until", in.Subject.AgreementUntil, false)
	v.time("resource.from", in.Resource.From, false)
	v.time("resource.until", in.Resource.Until, false)
	s := &in.Subject
	v.str("subject.id", s.ID)
	v.str("subject.name", s.Name)
	v.str("subject.org", s.Org)
	v.enum("subject.org_type", s.OrgType, OrgTypes)
	v.enum("subject.org_status", s.OrgStatus, OrgStatuses)
	v.strs("subject.roles", s.Roles)
	r := &in.Resource
	v.str("resource.kind", r.Kind)
	v.str("resource.id", r.ID)
	v.str("resource.org", r.Org)
	v.str("resource.owner", r.Owner)
	v.strs("resource.approvers", r.Approvers)
	v.str("resource.scenario", r.Scenario)
	v.long("resource.purpose", r.Purpose)
	v.list("resource.datasets", len(r.Datasets))
	seen := make(map[string]bool, len(r.Datasets))
	for i := range r.Datasets {
		d := &r.Datasets[i]
		v.str("resource.datasets.name", d.Name)
		v.str("resource.datasets.owner", d.Owner)
		if seen[d.Name] {
			v.fail("resource.datasets.name", "names a dataset twice")
		}
		seen[d.Name] = true
		if d.Version < 0 {
			v.fail("resource.datasets.version", "is negative")
		}
		v.enum("resource.datasets.level", d.Level, Levels)
		v.enum("resource.datasets.market", d.Market, Markets)
		v.enum("resource.datasets.state", d.State, DatasetStates)
		v.strs("resource.datasets.columns", d.Columns)
	}
	if r.Image != nil {
		v.str("resource.image.digest", r.Image.Digest)
		v.enum("resource.image.status", r.Image.Status, ImageStatuses)
	}
	if l := r.Licensing; l != nil {
		v.str("resource.licensing.blacklisted_as", l.BlacklistedAs)
		v.str("resource.licensing.revoked_as", l.RevokedAs)
		v.time("resource.licensing.revoked_at", l.RevokedAt, false)
		v.time("resource.licensing.licence_until", l.LicenceUntil, false)
		v.enum("resource.licensing.status", l.Status, OrgStatuses)
	}
	v.list("grants", len(in.Grants))
	for i := range in.Grants {
		g := &in.Grants[i]
		v.str("grants.id", g.ID)
		v.str("grants.org", g.Org)
		v.str("grants.scenario", g.Scenario)
		v.long("grants.purpose", g.Purpose)
		v.enum("grants.status", g.Status, GrantStatuses)
		v.strs("grants.approvers", g.Approvers)
		v.list("grants.datasets", len(g.Datasets))
		for j := range g.Datasets {
			gd := &g.Datasets[j]
			v.str("grants.datasets.name", gd.Name)
			v.strs("grants.datasets.columns", gd.Columns)
			v.str("grants.datasets.owner", gd.Owner)
			v.enum("grants.datasets.market", gd.Market, Markets)
			v.enum("grants.datasets.level", gd.Level, Levels)
			if gd.Version < 0 {
				v.fail("grants.datasets.version", "is negative")
			}
		}
		v.time("grants.from", &g.From, true)
		v.time("grants.until", &g.Until, true)
		if g.BatchesLeft != nil && *g.BatchesLeft < 0 {
			v.fail("grants.batches_left", "is negative")
		}
	}
	v.nonNeg("usage.running_jobs", in.Usage.RunningJobs)
	v.nonNeg("usage.cpu_seconds_month", in.Usage.CPUSecondsMonth)
	for name, q := range map[string]*int64{
		"quota.concurrent_jobs":      in.Quota.ConcurrentJobs,
		"quota.cpu_seconds_month":    in.Quota.CPUSecondsMonth,
		"quota.memory_bytes_per_job": in.Quota.MemoryBytesPerJob,
	} {
		if q != nil {
			v.nonNeg(name, *q)
		}
	}
	if !(in.Request.CPU >= 0) || math.IsInf(in.Request.CPU, 1) { // also refuses NaN
		v.fail("request.cpu", "is negative or not finite")
	}
	v.nonNeg("request.memory_bytes", in.Request.MemoryBytes)
	v.list("config.authorized_org_types", len(in.Config.AuthorizedOrgTypes))
	for _, t := range in.Config.AuthorizedOrgTypes {
		v.enum("config.authorized_org_types", t, OrgTypes)
	}
	return v.err
}

// validator keeps the first validation error.
type validator struct{ err error }

func (v *validator) fail(field, what string) {
	if v.err == nil {
		v.err = fmt.Errorf("policy input field %q %s: %w", field, what, errdefs.ErrInvalidArgument)
	}
}

// Times must be representable as nanoseconds since the epoch, as Rego's
// time built-ins use them.
var (
	minTime = time.Unix(0, math.MinInt64).Add(time.Second)
	maxTime = time.Unix(0, math.MaxInt64).Add(-time.Second)
)

func (v *validator) time(field string, t *time.Time, required bool) {
	switch {
	case t == nil && required:
		v.fail(field, "is not set")
	case t == nil:
	case t.IsZero() && required:
		v.fail(field, "is not set")
	case t.Before(minTime) || t.After(maxTime):
		v.fail(field, "is outside the representable range")
	}
}

func (v *validator) action(a string) {
	if a == "" || len(a) > 64 {
		v.fail("action", "is empty or too long")
		return
	}
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			v.fail("action", "has a character outside [a-z0-9._]")
			return
		}
	}
}

func (v *validator) str(field, s string) {
	if len(s) > maxString {
		v.fail(field, "is too long")
	}
}

// long allows free text up to 16 times the identifier limit.
func (v *validator) long(field, s string) {
	if len(s) > 16*maxString {
		v.fail(field, "is too long")
	}
}

func (v *validator) strs(field string, ss []string) {
	v.list(field, len(ss))
	for _, s := range ss {
		v.str(field, s)
	}
}

func (v *validator) list(field string, n int) {
	if n > maxList {
		v.fail(field, "has too many items")
	}
}

func (v *validator) enum(field, s string, known []string) {
	if s != "" && !slices.Contains(known, s) {
		v.fail(field, "has an unknown value")
	}
}

func (v *validator) nonNeg(field string, n int64) {
	if n < 0 {
		v.fail(field, "is negative")
	}
}
