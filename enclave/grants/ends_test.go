package grants

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
)

// grantFor makes an approved grant of acme (licensed until 2027-06-30)
// on penalties.
func grantFor(t *testing.T, db *store.DB, app string) *Grant {
	t.Helper()
	fileApp(t, db, app, Dataset{Name: "penalties"})
	g, err := decide(db, app, map[string]Pin{"penalties": {Version: 1, Owner: "credit-centre", Market: "ordinary", Level: "general-2"}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func addAcme(t *testing.T, db *store.DB) {
	t.Helper()
	o := people.Org{Name: "acme", Type: people.Company, USCC: "91990100P00000001J", LicenceFrom: "2026-01-01", LicenceUntil: "2027-06-30",
		Status: people.Active, StatusReason: "licensed", CreatedAt: t0, UpdatedAt: t0}
	if err := people.CreateOrg(context.Background(), db.SQL(), o); err != nil {
		t.Fatal(err)
	}
}

func status(t *testing.T, db *store.DB, id string) string {
	t.Helper()
	g, err := GetGrant(context.Background(), db.SQL(), id)
	if err != nil {
		t.Fatal(err)
	}
	return g.Status
}

// TestFollowOrg: a suspension holds every live grant of the organisation,
// a reinstatement lifts that hold (and only that one), a blacklisting
// revokes them with the reason, and an ended grant stays ended.
func TestFollowOrg(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	addAcme(t, db)
	g1, g2 := grantFor(t, db, "a_1"), grantFor(t, db, "a_2")
	q := db.SQL()
	if _, err := HoldGrant(ctx, q, g2.ID, HoldIncident("inc_1"), "p-bur", "incident inc_1", t0); err != nil {
		t.Fatal(err)
	}
	ch, err := FollowOrg(ctx, q, "acme", people.Suspended, "p-auth", "late report", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Held) != 2 || status(t, db, g1.ID) != Suspended || status(t, db, g2.ID) != Suspended {
		t.Fatalf("after suspension: held %v, statuses %s %s, want both suspended", ch.Held, status(t, db, g1.ID), status(t, db, g2.ID))
	}
	ch, err = FollowOrg(ctx, q, "acme", people.Active, "p-auth", "report filed", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Released) != 2 || status(t, db, g1.ID) != Approved || status(t, db, g2.ID) != Suspended {
		t.Fatalf("after reinstatement: got %s and %s, want approved and suspended (the incident still holds it)", status(t, db, g1.ID), status(t, db, g2.ID))
	}
	st, err := Show(ctx, q, g2.ID)
	if err != nil || len(st.Holds) != 1 || st.Holds[0].Cause != "incident:inc_1" {
		t.Fatalf("holds of %s: got %+v, %v, want the incident's", g2.ID, st, err)
	}
	ch, err = FollowOrg(ctx, q, "acme", people.Blacklisted, "p-auth", "fraud", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Ended) != 2 || status(t, db, g1.ID) != Revoked || status(t, db, g2.ID) != Revoked {
		t.Fatalf("after blacklisting: ended %v, want both revoked", ch.Ended)
	}
	st, err = Show(ctx, q, g1.ID)
	if err != nil || st.End == nil || st.End.Status != Revoked || !strings.Contains(st.End.Reason, "blacklisted: fraud") || st.End.By != "p-auth" ||
		!st.End.At.Equal(t0.Add(time.Hour)) || len(st.Holds) != 0 {
		t.Fatalf("end of %s: got %+v, %v", g1.ID, st, err)
	}
	a, err := Get(ctx, q, "a_1")
	if err != nil || a.Status != Revoked {
		t.Fatalf("application a_1: got %v, %v, want revoked", a, err)
	}
	if _, err := EndGrant(ctx, q, g1.ID, Revoked, "p-auth", "again", t0); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("revoking an ended grant: got %v, want failed precondition", err)
	}
	if held, err := HoldGrant(ctx, q, g1.ID, HoldOrg, "p-auth", "x", t0); err != nil || held || status(t, db, g1.ID) != Revoked {
		t.Fatalf("holding an ended grant: got %v, %v, status %s, want nothing done", held, err, status(t, db, g1.ID))
	}
	if _, err := EndGrant(ctx, q, g1.ID, Approved, "p-auth", "x", t0); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("ending as approved: got %v, want invalid argument", err)
	}
}

// TestCheckStanding: an approval or a release stands only while the
// organisation is active and licensed and every grant approved and in its
// period; the error names what does not stand.
func TestCheckStanding(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	addAcme(t, db)
	g := grantFor(t, db, "a_1")
	q := db.SQL()
	now := time.Date(2027, 1, 10, 12, 0, 0, 0, time.UTC)
	if err := CheckStanding(ctx, q, "acme", []string{g.ID}, now); err != nil {
		t.Fatalf("an approved grant of an active organisation: %v", err)
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		org  string
		ids  []string
		want string
	}{
		{"before the grant", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "acme", []string{g.ID}, "not today"},
		{"after the licence", time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC), "acme", nil, "no licence valid today"},
		{"unknown grant", now, "acme", []string{"g_none"}, "not on record"},
		{"unknown organisation", now, "nobody", nil, "not on record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckStanding(ctx, q, tc.org, tc.ids, tc.now)
			if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want failed precondition saying %q", err, tc.want)
			}
		})
	}
	if err := people.SetOrgStatus(ctx, q, "acme", people.Suspended, "x", now); err != nil {
		t.Fatal(err)
	}
	if err := CheckStanding(ctx, q, "acme", nil, now); !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), `"acme" is suspended`) {
		t.Fatalf("suspended organisation: got %v", err)
	}
	if err := people.SetOrgStatus(ctx, q, "acme", people.Active, "x", now); err != nil {
		t.Fatal(err)
	}
	if _, err := HoldGrant(ctx, q, g.ID, HoldIncident("inc_9"), "p", "incident inc_9", now); err != nil {
		t.Fatal(err)
	}
	if err := CheckStanding(ctx, q, "acme", []string{g.ID}, now); !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "is suspended") {
		t.Fatalf("held grant: got %v", err)
	}
	if _, err := ReleaseGrant(ctx, q, g.ID, HoldIncident("inc_9")); err != nil {
		t.Fatal(err)
	}
	if _, err := EndGrant(ctx, q, g.ID, Expired, "system", "period over", now); err != nil {
		t.Fatal(err)
	}
	if err := CheckStanding(ctx, q, "acme", []string{g.ID}, now); !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "is expired") {
		t.Fatalf("expired grant: got %v", err)
	}
}

// TestResolve: an application id names its grant; one without a grant is
// not found.
func TestResolve(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	g := grantFor(t, db, "a_1")
	fileApp(t, db, "a_2", Dataset{Name: "penalties"})
	for _, id := range []string{"a_1", g.ID} {
		got, err := Resolve(ctx, db.SQL(), id)
		if err != nil || got.ID != g.ID {
			t.Fatalf("Resolve(%s): got %v, %v, want %s", id, got, err, g.ID)
		}
	}
	for _, id := range []string{"a_2", "a_none", "g_none", ""} {
		if _, err := Resolve(ctx, db.SQL(), id); !errdefs.IsNotFound(err) {
			t.Fatalf("Resolve(%q): got %v, want not found", id, err)
		}
	}
}
