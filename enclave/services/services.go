// Package services is data products as services (issue 19,
// the compare-verify mode of 000 art. 23, in which an authorized
// unit's application system sends a subject's key (and optionally claimed
// values of some columns) and gets back whether the enclave holds it, and
// nothing else.
//
// A service is created by a custodian over its own dataset or by an
// operator over a dataset its grant covers (for the grant's scenario and
// period); it runs only after officers of another organisation approve it
// (two for general-3 and above or authorization-required data) and stops
// when its dataset is sealed or destroyed, its grant no longer stands or an
// incident is open on it. Consumers (people of a licensed user
// organisation) subscribe for the service's scenario; the authority
// approves; credentials bound to the organisation, the subscription and a
// system name are issued to their application systems and expire with the
// subscription.
//
// The raw key of a call is never stored: the enclave applies the key
// column's own rule to it (kept, or keyed pseudonym: the one-to-one rules)
// and keeps and logs only a keyed hash of the result.
package services

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/ingest"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
	"github.com/enclave-dev/enclave/enclave/usage"
)

func init() {
	store.Register(store.Schema{Part: "services", Requires: []string{"datasets", "grants"}, Migrations: []store.Migration{
		{Version: 1, Name: "services, approvals, subscriptions, credentials, meter", SQL: `
CREATE TABLE services (
	name         TEXT PRIMARY KEY,
	mode         TEXT NOT NULL,
	dataset      TEXT NOT NULL,
	version      INTEGER NOT NULL,
	key_col      TEXT NOT NULL,
	match_cols   TEXT NOT NULL,
	scenario     TEXT NOT NULL,
	rate_per_min INTEGER NOT NULL,
	daily_misses INTEGER NOT NULL,
	org          TEXT NOT NULL,
	grant_id     TEXT NOT NULL,
	until        TEXT NOT NULL,
	level        TEXT NOT NULL,
	market       TEXT NOT NULL,
	state        TEXT NOT NULL,
	comment      TEXT NOT NULL DEFAULT '',
	created_by   TEXT NOT NULL,
	created_at   TEXT NOT NULL
);
CREATE TABLE service_decisions (
	service  TEXT NOT NULL REFERENCES services(name),
	person   TEXT NOT NULL,
	org      TEXT NOT NULL,
	decision TEXT NOT NULL,
	comment  TEXT NOT NULL,
	at       TEXT NOT NULL,
	PRIMARY KEY (service, person)
);
CREATE TABLE subscriptions (
	id         TEXT PRIMARY KEY,
	service    TEXT NOT NULL REFERENCES services(name),
	org        TEXT NOT NULL,
	person     TEXT NOT NULL,
	scenario   TEXT NOT NULL,
	until      TEXT NOT NULL,
	state      TEXT NOT NULL,
	decided_by TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL
);
CREATE INDEX subscriptions_service ON subscriptions(service, org);
CREATE TABLE service_credentials (
	id           TEXT PRIMARY KEY,
	subscription TEXT NOT NULL REFERENCES subscriptions(id),
	org          TEXT NOT NULL,
	system       TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE,
	created_by   TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	revoked_at   TEXT NOT NULL DEFAULT ''
);
CREATE TABLE service_meter (
	service      TEXT NOT NULL,
	subscription TEXT NOT NULL,
	org          TEXT NOT NULL,
	day          TEXT NOT NULL,
	calls        INTEGER NOT NULL,
	matches      INTEGER NOT NULL,
	misses       INTEGER NOT NULL,
	refused      INTEGER NOT NULL,
	PRIMARY KEY (service, subscription, day)
);`},
		{Version: 2, Name: "services over a released export (bulk, and query over its table)", SQL: `
ALTER TABLE services ADD COLUMN export TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN file TEXT NOT NULL DEFAULT '';`},
		{Version: 3, Name: "a subscription's claim of public-interest use (its calls' price class)", SQL: `
ALTER TABLE subscriptions ADD COLUMN public_interest INTEGER NOT NULL DEFAULT 0;`},
	}})
}

// Modes of a service.
const (
	Verify = "verify"
	Query  = "query"
	Bulk   = "bulk"
)

// States of a service and of a subscription.
const (
	Pending  = "pending"
	Approved = "approved"
	Rejected = "rejected"
)

// Defaults and bounds of a service definition.
const (
	DefaultRatePerMin  = 600
	MaxRatePerMin      = 10_000_000
	DefaultDailyMisses = 1000
	MaxBatch           = 100
	MaxText            = 500
)

// Service is a service definition and its review state.
type Service struct {
	Name    string   `json:"name"`
	Mode    string   `json:"mode"`
	Dataset string   `json:"dataset"`
	Version int      `json:"version"`
	Key     string   `json:"key"`
	Match   []string `json:"match"`
	// Columns are what a query service returns of a subject (stored in
	// the match columns' place; a service has one or the other).
	Columns []string `json:"columns,omitempty"`
	// Export is the released export a bulk service hands out (with the
	// later releases of the same product) or a query service reads its
	// table from (File, a file of the bundle); "" for a service over a
	// dataset.
	Export      string    `json:"export,omitempty"`
	File        string    `json:"file,omitempty"`
	Scenario    string    `json:"scenario"`
	RatePerMin  int       `json:"rate_per_min"`
	DailyMisses int       `json:"daily_misses"`
	Org         string    `json:"org"`
	Grant       string    `json:"grant,omitempty"`
	Until       string    `json:"until,omitempty"`
	Level       string    `json:"level"`
	Market      string    `json:"market"`
	State       string    `json:"state"`
	Comment     string    `json:"comment,omitempty"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	Approvers   []string  `json:"approvers"`
}

// Needed is how many officers must approve the service: two for
// general-3 and above or authorization-required data, else one.
func (s *Service) Needed() int {
	if s.Market == "authorized" {
		return 2
	}
	if l, err := ingest.ParseLevel(s.Level); err != nil || l >= ingest.General3 {
		return 2 // an unreadable level takes the stricter rule
	}
	return 1
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// CheckName refuses a service name that is not 1-63 lowercase letters,
// digits and dashes starting with a letter.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("service name %q must be 1-63 lowercase letters, digits and dashes, starting with a letter: %w", clip(name), errdefs.ErrInvalidArgument)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// CheckText refuses an empty, too long or non-UTF-8 text field.
func CheckText(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > MaxText || !utf8.ValidString(s) {
		return "", fmt.Errorf("%s must be 1-%d bytes of UTF-8 text: %w", field, MaxText, errdefs.ErrInvalidArgument)
	}
	return s, nil
}

// ParseRate reads "N/m", "N/s" or "N" (per minute).
func ParseRate(s string) (int, error) {
	if s == "" {
		return DefaultRatePerMin, nil
	}
	num, unit, _ := strings.Cut(s, "/")
	var n int
	if _, err := fmt.Sscanf(num, "%d", &n); err != nil || fmt.Sprint(n) != num || n < 1 {
		return 0, fmt.Errorf("rate %q must be N/m or N/s with N a positive whole number: %w", clip(s), errdefs.ErrInvalidArgument)
	}
	switch unit {
	case "", "m", "min":
	case "s":
		n *= 60
	default:
		return 0, fmt.Errorf("rate %q must be N/m or N/s: %w", clip(s), errdefs.ErrInvalidArgument)
	}
	if n > MaxRatePerMin {
		return 0, fmt.Errorf("rate %q exceeds %d per minute: %w", clip(s), MaxRatePerMin, errdefs.ErrInvalidArgument)
	}
	return n, nil
}

// OneToOne reports whether a stored rule keeps one value for one value
// (kept, or a keyed pseudonym), so that a match on it means a match on
// the raw value.
func OneToOne(rule string) bool {
	return rule == string(ingest.RuleKeep) || strings.HasPrefix(rule, string(ingest.RuleHash)+"{") || rule == string(ingest.RuleHash)
}

// desensitized reports whether a stored rule leaves personal information
// desensitized: anything but kept as it is.
func desensitized(rule string) bool { return rule != string(ingest.RuleKeep) && rule != "" }

// Creator is who creates a service: a custodian over its organisation's
// datasets, or an operator under one of its organisation's grants.
type Creator struct {
	Person string
	Org    string
	// Custodian and Operator say which role the person acts in.
	Custodian, Operator bool
}

// Define checks a new verify service over dataset version v and fills
// what it derives (level, market, grant, until). The key and every match
// column must be columns of v under a one-to-one rule: a lossy rule
// (mask, truncation, generalization, noise) is refused, naming the column
// and its rule. An operator needs a grant of its organisation that
// covers the dataset (and the columns, when the grant names columns),
// stands now and has the same scenario; the service ends with it.
func Define(ctx context.Context, q store.Querier, s *Service, v *datasets.Version, by Creator, now time.Time) error {
	if err := CheckName(s.Name); err != nil {
		return err
	}
	switch s.Mode {
	case Verify:
		if len(s.Columns) > 0 {
			return fmt.Errorf("a verify service answers match or not: it returns no columns (--columns is for query): %w", errdefs.ErrInvalidArgument)
		}
	case Query:
		if err := s.checkQueryShape(); err != nil {
			return err
		}
	case Bulk:
		return fmt.Errorf("a bulk service hands out a released export: name it (--export), not a dataset: %w", errdefs.ErrInvalidArgument)
	default:
		return fmt.Errorf("service mode %q must be verify, query or bulk: %w", clip(s.Mode), errdefs.ErrInvalidArgument)
	}
	if err := s.checkTerms(); err != nil {
		return err
	}
	if err := v.Readable(); err != nil {
		return err
	}
	rule := func(col string) (string, error) {
		for _, c := range v.Columns {
			if c.Name == col {
				if s.Mode == Query && col != s.Key && c.PI != "" && !desensitized(c.Rule) {
					return "", fmt.Errorf("column %q holds personal information (%s) stored as it is: a query returns personal information only desensitized: %w",
						col, c.PI, errdefs.ErrInvalidArgument)
				}
				return c.Rule, nil
			}
		}
		return "", fmt.Errorf("dataset %q version %d has no column %q: %w", v.Name, v.Version, clip(col), errdefs.ErrInvalidArgument)
	}
	if s.Key == "" {
		return fmt.Errorf("a verify service needs a key column (--key): %w", errdefs.ErrInvalidArgument)
	}
	cols := append([]string{s.Key}, s.Match...)
	for _, col := range s.Columns {
		if _, err := rule(col); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, col := range s.Columns {
		if seen[col] || col == s.Key {
			return fmt.Errorf("column %q is named twice: %w", clip(col), errdefs.ErrInvalidArgument)
		}
		seen[col] = true
	}
	for i, col := range cols {
		if seen[col] {
			return fmt.Errorf("column %q is named twice: %w", clip(col), errdefs.ErrInvalidArgument)
		}
		seen[col] = true
		r, err := rule(col)
		if err != nil {
			return err
		}
		if !OneToOne(r) {
			what := "match column"
			if i == 0 {
				what = "key column"
			}
			return fmt.Errorf("%s %q is stored under the lossy rule %s: a match on it would not mean a match on the value (only kept or keyed-pseudonym columns): %w",
				what, col, r, errdefs.ErrInvalidArgument)
		}
	}
	if len(s.Match) > 16 {
		return fmt.Errorf("at most 16 match columns: %w", errdefs.ErrInvalidArgument)
	}
	s.Dataset, s.Version, s.Level, s.Market = v.Name, v.Version, v.Level, v.Market
	s.Org, s.CreatedBy, s.CreatedAt, s.State = by.Org, by.Person, now.UTC().Truncate(time.Second), Pending
	switch {
	case by.Custodian && v.Owner == by.Org:
		return nil
	case by.Operator:
		return s.underGrant(ctx, q, v, append(cols, s.Columns...), now)
	}
	return fmt.Errorf("dataset %q belongs to another organisation and no grant of organisation %q covers it: %w", v.Name, by.Org, errdefs.ErrPermissionDenied)
}

// checkQueryShape checks a query service names 1-32 returned columns and
// no match columns.
func (s *Service) checkQueryShape() error {
	if len(s.Match) > 0 {
		return fmt.Errorf("a query service returns columns (--columns), it matches none (--match is for verify): %w", errdefs.ErrInvalidArgument)
	}
	if len(s.Columns) == 0 || len(s.Columns) > 32 {
		return fmt.Errorf("a query service returns 1-32 columns (--columns): %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// checkTerms checks the scenario, the rate and the enumeration guard's
// budget, filling their defaults.
func (s *Service) checkTerms() error {
	var err error
	if s.Scenario, err = CheckText("scenario", s.Scenario); err != nil {
		return err
	}
	if s.RatePerMin == 0 {
		s.RatePerMin = DefaultRatePerMin
	}
	if s.RatePerMin < 1 || s.RatePerMin > MaxRatePerMin {
		return fmt.Errorf("rate must be 1-%d calls per minute: %w", MaxRatePerMin, errdefs.ErrInvalidArgument)
	}
	if s.DailyMisses == 0 {
		s.DailyMisses = DefaultDailyMisses
	}
	if s.DailyMisses < 1 || s.DailyMisses > 10_000_000 {
		return fmt.Errorf("daily budget of non-matching calls must be 1-10000000: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// underGrant finds a grant of the creator's organisation that stands,
// covers the dataset and columns and has the service's scenario.
func (s *Service) underGrant(ctx context.Context, q store.Querier, v *datasets.Version, cols []string, now time.Time) error {
	gs, err := grants.ForOrg(ctx, q, s.Org)
	if err != nil {
		return err
	}
	day := now.UTC().Format(people.DateLayout)
	for _, g := range gs {
		if g.Status != grants.Approved || g.Scenario != s.Scenario || day < g.From || day > g.Until {
			continue
		}
		for _, d := range g.Datasets {
			if d.Name != v.Name {
				continue
			}
			if len(d.Columns) > 0 && !containsAll(d.Columns, cols) {
				continue
			}
			if err := grants.CheckStanding(ctx, q, s.Org, []string{g.ID}, now); err != nil {
				continue
			}
			s.Grant, s.Until = g.ID, g.Until
			return nil
		}
	}
	return fmt.Errorf("no grant of organisation %q that stands today covers dataset %q (and the service's columns) for the scenario given: %w",
		s.Org, v.Name, errdefs.ErrPermissionDenied)
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// Create stores a defined service.
func Create(ctx context.Context, q store.Querier, s *Service) error {
	match, _ := json.Marshal(orEmpty(s.Match))
	if s.Mode == Query {
		match, _ = json.Marshal(orEmpty(s.Columns))
	}
	_, err := q.ExecContext(ctx, `INSERT INTO services (name, mode, dataset, version, key_col, match_cols, scenario, rate_per_min,
		daily_misses, org, grant_id, until, level, market, state, created_by, created_at, export, file) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		s.Name, s.Mode, s.Dataset, s.Version, s.Key, string(match), s.Scenario, s.RatePerMin, s.DailyMisses, s.Org, s.Grant,
		s.Until, s.Level, s.Market, s.State, s.CreatedBy, storetime.Format(s.CreatedAt), s.Export, s.File)
	if store.IsUnique(err) {
		return fmt.Errorf("service %q: %w", s.Name, errdefs.ErrAlreadyExists)
	}
	return err
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const serviceCols = `name, mode, dataset, version, key_col, match_cols, scenario, rate_per_min, daily_misses, org, grant_id, until,
	level, market, state, comment, created_by, created_at, export, file`

func scanService(sc interface{ Scan(...any) error }) (*Service, error) {
	var s Service
	var match, created string
	if err := sc.Scan(&s.Name, &s.Mode, &s.Dataset, &s.Version, &s.Key, &match, &s.Scenario, &s.RatePerMin, &s.DailyMisses,
		&s.Org, &s.Grant, &s.Until, &s.Level, &s.Market, &s.State, &s.Comment, &s.CreatedBy, &created, &s.Export, &s.File); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(match), &s.Match); err != nil {
		return nil, fmt.Errorf("service %q match columns: %w", s.Name, err)
	}
	if s.Mode == Query {
		s.Columns, s.Match = s.Match, []string{}
	}
	t, err := storetime.Column("service", s.Name, "created_at", created)
	if err != nil {
		return nil, err
	}
	s.CreatedAt = t
	return &s, nil
}

// Get reads a service with its approvers.
func Get(ctx context.Context, q store.Querier, name string) (*Service, error) {
	s, err := scanService(q.QueryRowContext(ctx, `SELECT `+serviceCols+` FROM services WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("service %q: %w", clip(name), errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return s, s.loadApprovers(ctx, q)
}

func (s *Service) loadApprovers(ctx context.Context, q store.Querier) error {
	rows, err := q.QueryContext(ctx, `SELECT person FROM service_decisions WHERE service = ? AND decision = ? ORDER BY at, person`, s.Name, Approved)
	if err != nil {
		return err
	}
	defer rows.Close()
	s.Approvers = []string{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return err
		}
		s.Approvers = append(s.Approvers, p)
	}
	return rows.Err()
}

// List reads every service.
func List(ctx context.Context, q store.Querier) ([]*Service, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+serviceCols+` FROM services ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var out []*Service
	for rows.Next() {
		s, err := scanService(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, s := range out {
		if err := s.loadApprovers(ctx, q); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Decide records an officer's approval or rejection of a pending service.
// The officer must be of another organisation than the service's and may
// decide once; a rejection ends the review, and the service is approved
// once Needed officers have approved it.
func Decide(ctx context.Context, q store.Querier, name, person, org, decision, comment string, now time.Time) (*Service, error) {
	s, err := Get(ctx, q, name)
	if err != nil {
		return nil, err
	}
	if s.State != Pending {
		return nil, fmt.Errorf("service %q is %s, not pending: %w", name, s.State, errdefs.ErrFailedPrecondition)
	}
	if org == s.Org || person == s.CreatedBy {
		return nil, fmt.Errorf("service %q is of organisation %q: an officer of another organisation decides it: %w", name, s.Org, errdefs.ErrPermissionDenied)
	}
	if decision != Approved && decision != Rejected {
		return nil, fmt.Errorf("decision must be approved or rejected: %w", errdefs.ErrInvalidArgument)
	}
	if len(comment) > MaxText || !utf8.ValidString(comment) {
		return nil, fmt.Errorf("comment must be at most %d bytes of UTF-8 text: %w", MaxText, errdefs.ErrInvalidArgument)
	}
	_, err = q.ExecContext(ctx, `INSERT INTO service_decisions (service, person, org, decision, comment, at) VALUES (?,?,?,?,?,?)`,
		name, person, org, decision, comment, storetime.Format(now))
	if store.IsUnique(err) {
		return nil, fmt.Errorf("officer %q has already decided service %q: %w", person, name, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return nil, err
	}
	state := Pending
	if decision == Rejected {
		state = Rejected
	} else if len(s.Approvers)+1 >= s.Needed() {
		state = Approved
	}
	if _, err := q.ExecContext(ctx, `UPDATE services SET state = ?, comment = ? WHERE name = ?`, state, comment, name); err != nil {
		return nil, err
	}
	return Get(ctx, q, name)
}

// Subscription is a consumer organisation's subscription to a service.
type Subscription struct {
	ID        string    `json:"id"`
	Service   string    `json:"service"`
	Org       string    `json:"org"`
	Person    string    `json:"person"`
	Scenario  string    `json:"scenario"`
	Until     string    `json:"until"`
	State     string    `json:"state"`
	DecidedBy string    `json:"decided_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// PublicInterest is the consumer's claim that the subscription serves
	// public governance or public welfare (001 art. 23). The authority
	// decides on the subscription with the claim in view, so an approved
	// claim makes its calls public-interest use, charged at the price
	// list's public-interest call price; nobody else can set it.
	PublicInterest bool `json:"public_interest"`
}

// Class is the price class of the subscription's calls: usage.PublicInterest
// for an approved claim of public-interest use, usage.Industry otherwise.
func (s *Subscription) Class() string {
	if s.PublicInterest && s.State == Approved {
		return usage.PublicInterest
	}
	return usage.Industry
}

// Live reports whether the subscription is approved and runs through day
// (YYYY-MM-DD).
func (s *Subscription) Live(day string) bool { return s.State == Approved && day <= s.Until }

func newID(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Subscribe files a subscription of a consumer's organisation to an
// approved service, for the service's scenario, until a date no later
// than the service's own end, with the consumer's claim of public-interest
// use (which only the authority's approval makes a price class).
func Subscribe(ctx context.Context, q store.Querier, service, org, person, scenario, until string, publicInterest bool, now time.Time) (*Subscription, error) {
	s, err := Get(ctx, q, service)
	if err != nil {
		return nil, err
	}
	if s.State != Approved {
		return nil, fmt.Errorf("service %q is %s: only approved services take subscriptions: %w", service, s.State, errdefs.ErrFailedPrecondition)
	}
	if scenario, err = CheckText("scenario", scenario); err != nil {
		return nil, err
	}
	if scenario != s.Scenario {
		return nil, fmt.Errorf("service %q was approved for another scenario: a subscription must name the service's scenario: %w", service, errdefs.ErrInvalidArgument)
	}
	u, err := time.Parse(people.DateLayout, until)
	if err != nil {
		return nil, fmt.Errorf("until %q must be a date YYYY-MM-DD: %w", clip(until), errdefs.ErrInvalidArgument)
	}
	day := now.UTC().Format(people.DateLayout)
	if until < day {
		return nil, fmt.Errorf("until %s is in the past: %w", until, errdefs.ErrInvalidArgument)
	}
	if s.Until != "" && until > s.Until {
		return nil, fmt.Errorf("until %s is after the service's end %s: %w", until, s.Until, errdefs.ErrInvalidArgument)
	}
	if u.Sub(now) > 2*366*24*time.Hour {
		return nil, fmt.Errorf("a subscription lasts at most two years: %w", errdefs.ErrInvalidArgument)
	}
	sub := &Subscription{ID: newID("sub_"), Service: service, Org: org, Person: person, Scenario: scenario, Until: until,
		State: Pending, CreatedAt: now.UTC().Truncate(time.Second), PublicInterest: publicInterest}
	_, err = q.ExecContext(ctx, `INSERT INTO subscriptions (id, service, org, person, scenario, until, state, created_at, public_interest) VALUES (?,?,?,?,?,?,?,?,?)`,
		sub.ID, sub.Service, sub.Org, sub.Person, sub.Scenario, sub.Until, sub.State, storetime.Format(sub.CreatedAt), sub.PublicInterest)
	return sub, err
}

const subCols = `id, service, org, person, scenario, until, state, decided_by, created_at, public_interest`

func scanSub(sc interface{ Scan(...any) error }) (*Subscription, error) {
	var s Subscription
	var created string
	if err := sc.Scan(&s.ID, &s.Service, &s.Org, &s.Person, &s.Scenario, &s.Until, &s.State, &s.DecidedBy, &created, &s.PublicInterest); err != nil {
		return nil, err
	}
	t, err := storetime.Column("subscription", s.ID, "created_at", created)
	s.CreatedAt = t
	return &s, err
}

// GetSubscription reads one subscription.
func GetSubscription(ctx context.Context, q store.Querier, id string) (*Subscription, error) {
	s, err := scanSub(q.QueryRowContext(ctx, `SELECT `+subCols+` FROM subscriptions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("subscription %q: %w", clip(id), errdefs.ErrNotFound)
	}
	return s, err
}

// Subscriptions lists subscriptions, of one organisation when org is set.
func Subscriptions(ctx context.Context, q store.Querier, org string) ([]*Subscription, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+subCols+` FROM subscriptions WHERE ? = '' OR org = ? ORDER BY created_at, id`, org, org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Subscription
	for rows.Next() {
		s, err := scanSub(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// DecideSubscription records the authority's decision on a pending
// subscription.
func DecideSubscription(ctx context.Context, q store.Querier, id, by, decision string) (*Subscription, error) {
	s, err := GetSubscription(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if s.State != Pending {
		return nil, fmt.Errorf("subscription %q is %s, not pending: %w", id, s.State, errdefs.ErrFailedPrecondition)
	}
	if decision != Approved && decision != Rejected {
		return nil, fmt.Errorf("decision must be approved or rejected: %w", errdefs.ErrInvalidArgument)
	}
	if _, err := q.ExecContext(ctx, `UPDATE subscriptions SET state = ?, decided_by = ? WHERE id = ?`, decision, by, id); err != nil {
		return nil, err
	}
	s.State, s.DecidedBy = decision, by
	return s, nil
}

// Credential is an application system's credential for one subscription.
// Its token is shown once, at issue; only its hash is kept.
type Credential struct {
	ID           string    `json:"id"`
	Subscription string    `json:"subscription"`
	Service      string    `json:"service"`
	Org          string    `json:"org"`
	System       string    `json:"system"`
	Until        string    `json:"until"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	Revoked      bool      `json:"revoked"`
	// Kind is KindToken or KindCertificate.
	Kind string `json:"kind"`
	// Token is set only in the answer to an issue.
	Token string `json:"token,omitempty"`
	// Certificate is the client certificate (PEM), set only in the answer
	// to an issue of a certificate credential.
	Certificate string `json:"certificate,omitempty"`
}

// Kinds of credential.
const (
	KindToken       = "token"
	KindCertificate = "certificate"
)

// TokenPrefix starts every credential token; people's tokens never do.
const TokenPrefix = "esvc_"

// IsCredentialToken reports whether a bearer token is a credential's.
func IsCredentialToken(tok string) bool { return strings.HasPrefix(tok, TokenPrefix) }

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

var systemRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Issue makes a credential for an approved, live subscription of the
// caller's organisation, bound to a system name.
func Issue(ctx context.Context, q store.Querier, subID, org, system, by string, now time.Time) (*Credential, error) {
	sub, err := issuable(ctx, q, subID, org, system, now)
	if err != nil {
		return nil, err
	}
	var b [32]byte
	rand.Read(b[:])
	c := &Credential{ID: newID("cred_"), Subscription: sub.ID, Service: sub.Service, Org: org, System: system, Until: sub.Until,
		CreatedBy: by, CreatedAt: now.UTC().Truncate(time.Second), Kind: KindToken, Token: TokenPrefix + hex.EncodeToString(b[:])}
	_, err = q.ExecContext(ctx, `INSERT INTO service_credentials (id, subscription, org, system, hash, created_by, created_at) VALUES (?,?,?,?,?,?,?)`,
		c.ID, c.Subscription, c.Org, c.System, hashToken(c.Token), by, storetime.Format(c.CreatedAt))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Revoke revokes a credential of an organisation.
func Revoke(ctx context.Context, q store.Querier, id, org string, now time.Time) (*Credential, error) {
	res, err := q.ExecContext(ctx, `UPDATE service_credentials SET revoked_at = ? WHERE id = ? AND org = ? AND revoked_at = ''`,
		storetime.Format(now), id, org)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, fmt.Errorf("credential %q (of organisation %q, not yet revoked): %w", clip(id), org, errdefs.ErrNotFound)
	}
	return getCredential(ctx, q, `c.id = ?`, id)
}

func getCredential(ctx context.Context, q store.Querier, where string, arg string) (*Credential, error) {
	cs, err := credentials(ctx, q, where, arg)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("credential: %w", errdefs.ErrNotFound)
	}
	return cs[0], nil
}

// Credentials lists the credentials of an organisation.
func Credentials(ctx context.Context, q store.Querier, org string) ([]*Credential, error) {
	return credentials(ctx, q, `c.org = ?`, org)
}

func credentials(ctx context.Context, q store.Querier, where string, arg string) ([]*Credential, error) {
	rows, err := q.QueryContext(ctx, `SELECT c.id, c.subscription, s.service, c.org, c.system, s.until, c.created_by, c.created_at, c.revoked_at,
		c.hash FROM service_credentials c JOIN subscriptions s ON s.id = c.subscription WHERE `+where+` ORDER BY c.created_at, c.id`, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Credential
	for rows.Next() {
		var c Credential
		var created, revoked, h string
		if err := rows.Scan(&c.ID, &c.Subscription, &c.Service, &c.Org, &c.System, &c.Until, &c.CreatedBy, &created, &revoked, &h); err != nil {
			return nil, err
		}
		c.Kind = KindToken
		if strings.HasPrefix(h, certHashPrefix) {
			c.Kind = KindCertificate
		}
		if c.CreatedAt, err = storetime.Column("credential", c.ID, "created_at", created); err != nil {
			return nil, err
		}
		c.Revoked = revoked != ""
		out = append(out, &c)
	}
	return out, rows.Err()
}
