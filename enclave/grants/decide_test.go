package grants

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store"
)

func TestParseDatasets(t *testing.T) {
	for _, tc := range []struct {
		name           string
		names, columns []string
		want           string // "name:c1+c2 name" or an error to find
		ok             bool
	}{
		{"names", []string{"penalties", " registrations "}, nil, "penalties registrations", true},
		{"columns", []string{"penalties"}, []string{"penalties.district", "penalties.amount", "penalties.district"}, "penalties:district+amount", true},
		{"empty names are skipped", []string{"", "penalties", " "}, nil, "penalties", true},
		{"none", []string{"", " "}, nil, "at least one dataset", false},
		{"twice", []string{"penalties", "penalties"}, nil, "named twice", false},
		{"a column of another dataset", []string{"penalties"}, []string{"registrations.name"}, "DATASET.COLUMN", false},
		{"a column without its dataset", []string{"penalties"}, []string{"district"}, "DATASET.COLUMN", false},
		{"a dataset without its column", []string{"penalties"}, []string{"penalties."}, "DATASET.COLUMN", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := ParseDatasets(tc.names, tc.columns)
			if !tc.ok {
				if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, %v; want an invalid-argument error naming %q", ds, err, tc.want)
				}
				return
			}
			var parts []string
			for _, d := range ds {
				p := d.Name
				if len(d.Columns) > 0 {
					p += ":" + strings.Join(d.Columns, "+")
				}
				parts = append(parts, p)
			}
			if got := strings.Join(parts, " "); err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

var pins = map[string]Pin{"penalties": {Version: 1, Owner: "credit-centre", Market: "ordinary", Level: "general-2"}}

// fileWith files an application of org needing approvals, with batches
// when batches > 0, at time at.
func fileWith(t *testing.T, db *store.DB, id, org string, approvals int, batches int64, at time.Time) {
	t.Helper()
	a := &Application{ID: id, Org: org, Applicant: "p-op", Datasets: []Dataset{{Name: "penalties"}}, Purpose: "p", Scenario: "s",
		From: "2026-11-23", Until: "2027-06-30", ApprovalsNeeded: approvals, Status: Pending, CreatedAt: at}
	if batches > 0 {
		a.Batches = &batches
	}
	if err := Create(context.Background(), db.SQL(), a); err != nil {
		t.Fatal(err)
	}
}

// TestDecide runs each script of decisions on a fresh application that
// needs two approvals; every refused step records nothing.
func TestDecide(t *testing.T) {
	type step struct {
		person, decision string
		wantErr          func(error) bool
		wantStatus       string
		wantGrant        bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"two approvals make a grant", []step{
			{"p-auth1", Approved, nil, Pending, false},
			{"p-auth2", Approved, nil, Approved, true},
		}},
		{"one person approves once", []step{
			{"p-auth1", Approved, nil, Pending, false},
			{"p-auth1", Approved, errdefs.IsFailedPrecondition, Pending, false},
			{"p-auth2", Approved, nil, Approved, true},
		}},
		{"a rejection ends it", []step{
			{"p-auth1", Approved, nil, Pending, false},
			{"p-auth2", Rejected, nil, Rejected, false},
			{"p-auth3", Approved, errdefs.IsFailedPrecondition, Rejected, false},
		}},
		{"an approved application takes no more decisions", []step{
			{"p-auth1", Approved, nil, Pending, false},
			{"p-auth2", Approved, nil, Approved, true},
			{"p-auth3", Rejected, errdefs.IsFailedPrecondition, Approved, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, _ := openDB(t)
			fileWith(t, db, "a_1", "acme", 2, 0, t0)
			for i, s := range tc.steps {
				at := t0.Add(time.Duration(i+1) * time.Hour)
				err := db.Tx(ctx, func(tx *sql.Tx) error {
					_, _, err := Decide(ctx, tx, "a_1", s.person, s.decision, "c", at, pins)
					return err
				}, nil)
				if (s.wantErr == nil) != (err == nil) || (s.wantErr != nil && !s.wantErr(err)) {
					t.Fatalf("step %d (%s %s): got %v", i, s.person, s.decision, err)
				}
				a, err := Get(ctx, db.SQL(), "a_1")
				if err != nil {
					t.Fatal(err)
				}
				if a.Status != s.wantStatus || (a.Grant != "") != s.wantGrant {
					t.Fatalf("step %d: got status %s grant %q, want %s and a grant %v", i, a.Status, a.Grant, s.wantStatus, s.wantGrant)
				}
				if a.Grant != "" {
					g, err := GetGrant(ctx, db.SQL(), a.Grant)
					if err != nil || g.Org != "acme" || g.Application != "a_1" || strings.Join(g.Approvers, ",") != "p-auth1,p-auth2" ||
						g.Status != Approved || g.Datasets[0].Owner != "credit-centre" {
						t.Fatalf("grant: got %+v, %v", g, err)
					}
				}
			}
			var grants, decisions int
			db.SQL().QueryRow(`SELECT COUNT(*) FROM grants`).Scan(&grants)
			db.SQL().QueryRow(`SELECT COUNT(*) FROM application_decisions`).Scan(&decisions)
			wantDecisions := 0
			for _, s := range tc.steps {
				if s.wantErr == nil {
					wantDecisions++
				}
			}
			if grants > 1 || decisions != wantDecisions {
				t.Errorf("got %d grants and %d decisions recorded, want at most 1 and %d", grants, decisions, wantDecisions)
			}
		})
	}
	t.Run("an unknown application", func(t *testing.T) {
		db, _ := openDB(t)
		_, _, err := Decide(context.Background(), db.SQL(), "a_none", "p-auth1", Approved, "", t0, pins)
		if !errdefs.IsNotFound(err) {
			t.Fatalf("got %v, want not found", err)
		}
	})
}

func TestUseBatch(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	grantOf := func(app string, batches int64) string {
		fileWith(t, db, app, "acme", 1, batches, t0)
		_, g, err := Decide(ctx, db.SQL(), app, "p-auth1", Approved, "", t0, pins)
		if err != nil || g == nil {
			t.Fatalf("approve %s: %v", app, err)
		}
		return g.ID
	}
	limited, unlimited := grantOf("a_limited", 2), grantOf("a_unlimited", 0)
	for i, tc := range []struct {
		grant   string
		wantErr func(error) bool
		left    int64 // of the limited grant after the step
	}{
		{limited, nil, 1},
		{unlimited, nil, 1},
		{limited, nil, 0},
		{limited, errdefs.IsResourceExhausted, 0},
		{unlimited, nil, 0},
		{"g_none", errdefs.IsNotFound, 0},
	} {
		err := UseBatch(ctx, db.SQL(), tc.grant)
		if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !tc.wantErr(err)) {
			t.Fatalf("step %d: UseBatch(%s): got %v", i, tc.grant, err)
		}
		g, err := GetGrant(ctx, db.SQL(), limited)
		if err != nil || g.BatchesLeft == nil || *g.BatchesLeft != tc.left {
			t.Fatalf("step %d: limited grant: got %v left, %v; want %d", i, g.BatchesLeft, err, tc.left)
		}
	}
	if g, _ := GetGrant(ctx, db.SQL(), unlimited); g.BatchesLeft != nil {
		t.Errorf("unlimited grant: got %d batches left, want no limit", *g.BatchesLeft)
	}
}

// TestListsByOrgInTimeOrder: lists hold one organisation's rows, oldest
// first, to the nanosecond within one second.
func TestListsByOrgInTimeOrder(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	// Filed in this order of ids, at times that RFC 3339 text would
	// misorder: .12 s sorts before .1 s as text with trimmed fractions.
	for _, f := range []struct {
		id, org string
		at      time.Time
	}{
		{"a_3", "acme", t0.Add(120 * time.Millisecond)},
		{"a_2", "acme", t0.Add(100 * time.Millisecond)},
		{"a_x", "rival", t0},
		{"a_1", "acme", t0},
	} {
		fileWith(t, db, f.id, f.org, 1, 0, f.at)
		if _, _, err := Decide(ctx, db.SQL(), f.id, "p-auth1", Approved, "", f.at.Add(time.Millisecond), pins); err != nil {
			t.Fatal(err)
		}
	}
	as, err := List(ctx, db.SQL(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	if got := strings.Join(ids, " "); got != "a_1 a_2 a_3" {
		t.Errorf("applications of acme: got %s, want a_1 a_2 a_3", got)
	}
	if all, _ := List(ctx, db.SQL(), ""); len(all) != 4 {
		t.Errorf("every application: got %d, want 4", len(all))
	}
	gs, err := ForOrg(ctx, db.SQL(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	ids = ids[:0]
	for _, g := range gs {
		ids = append(ids, g.Application)
	}
	if got := strings.Join(ids, " "); got != "a_1 a_2 a_3" {
		t.Errorf("grants of acme by application: got %s, want a_1 a_2 a_3", got)
	}
	if !gs[1].CreatedAt.Equal(t0.Add(101 * time.Millisecond)) {
		t.Errorf("grant created at %v, want the decision's time", gs[1].CreatedAt)
	}
}

func TestPolicyPeriodIsInclusive(t *testing.T) {
	g := &Grant{ID: "g_1", From: "2026-11-23", Until: "2027-06-30"}
	p := g.Policy()
	if !p.From.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) || !p.Until.Equal(time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)) {
		t.Errorf("policy period: got %v..%v, want the whole of both days", p.From, p.Until)
	}
}

// TestStoredGrantErrors: a grant whose stored time, period or JSON cannot
// be read is an error naming it, never a grant without bounds.
func TestStoredGrantErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, set, want string }{
		{"created_at", `created_at = '2026-11-23T09:00:00Z'`, "created_at"},
		{"period_from", `period_from = 'soon'`, "period_from"},
		{"period_until", `period_until = '2027-02-30'`, "period_until"},
		{"datasets", `datasets = '[{'`, "datasets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openDB(t)
			fileWith(t, db, "a_1", "acme", 1, 0, t0)
			_, g, err := Decide(ctx, db.SQL(), "a_1", "p-auth1", Approved, "", t0, pins)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL().Exec(`UPDATE grants SET ` + tc.set); err != nil {
				t.Fatal(err)
			}
			if _, err := GetGrant(ctx, db.SQL(), g.ID); !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("GetGrant: got %v, want a data-loss error naming %s", err, tc.want)
			}
			if gs, err := ForOrg(ctx, db.SQL(), "acme"); !errdefs.IsDataLoss(err) {
				t.Errorf("ForOrg: got %d grants, %v; want a data-loss error", len(gs), err)
			}
		})
	}
}
