package incidents

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/grants"
	_ "github.com/enclave-dev/enclave/enclave/jobs" // the jobs table
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// world is a state with organisations acme and globex, dataset
// penalties (version 1, credit-centre's), a grant of each organisation on
// it, and jobs: acme's j-run (running) and j-done (complete), globex's
// j-other (running), each reading penalties under its organisation's
// grant.
type world struct {
	db     *sql.DB
	grants map[string]string // org -> grant id
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w := &world{db: db.SQL(), grants: map[string]string{}}
	for i, org := range []string{"acme", "globex"} {
		o := people.Org{Name: org, Type: people.Company, USCC: []string{"91990100P00000001J", "91990100P00000002G"}[i], LicenceFrom: "2026-01-01",
			LicenceUntil: "2027-06-30", Status: people.Active, StatusReason: "licensed", CreatedAt: t0, UpdatedAt: t0}
		if err := people.CreateOrg(ctx, w.db, o); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(t, w.db, `INSERT INTO dataset_versions(name, version, category, level, market, state, rows, bytes, columns, marks, spec_sha256,
		data_sha256, key_object, wrapped_key, fp_values, fp_rows, created_at, created_by, org) VALUES ('penalties', 1, 'c', 'general-2', 'ordinary',
		'active', 1, 1, '[]', '{}', '', '', '', x'00', 0, 0, '2026-11-01T00:00:00.000000000Z', 'p-cust', 'credit-centre')`)
	for _, org := range []string{"acme", "globex"} {
		app := "a_" + org
		a := &grants.Application{ID: app, Org: org, Applicant: "p-" + org, Datasets: []grants.Dataset{{Name: "penalties"}}, Purpose: "p", Scenario: "s",
			From: "2026-11-23", Until: "2027-06-30", ApprovalsNeeded: 1, Status: grants.Pending, CreatedAt: t0}
		if err := grants.Create(ctx, w.db, a); err != nil {
			t.Fatal(err)
		}
		tx, err := w.db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		_, g, err := grants.Decide(ctx, tx, app, "p-auth", grants.Approved, "", t0,
			map[string]grants.Pin{"penalties": {Version: 1, Owner: "credit-centre", Market: "ordinary", Level: "general-2"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		w.grants[org] = g.ID
	}
	for _, j := range []struct{ id, org, state string }{{"j-run", "acme", "running"}, {"j-done", "acme", "complete"}, {"j-other", "globex", "running"}} {
		mustExec(t, w.db, `INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, created_at)
			VALUES (?, ?, 'p-op', 'sha256:00', '[]', '[{"dataset":"penalties","version":1}]', json_object('penalties', ?), '{}', ?, '2026-12-01T00:00:00.000000000Z')`,
			j.id, j.org, w.grants[j.org], j.state)
	}
	return w
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

// TestOperatorReportsOnlyOwnWork: an operator's report on another
// organisation's job, grant or dataset it never used, or on one that does
// not exist, is refused alike as "not found or not yours", naming no
// organisation; on its own work it is recorded with the affected data.
func TestOperatorReportsOnlyOwnWork(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	mustExec(t, w.db, `INSERT INTO dataset_versions(name, version, category, level, market, state, rows, bytes, columns, marks, spec_sha256,
		data_sha256, key_object, wrapped_key, fp_values, fp_rows, created_at, created_by, org) VALUES ('registrations', 1, 'c', 'general-2', 'ordinary',
		'active', 1, 1, '[]', '{}', '', '', '', x'00', 0, 0, '2026-11-01T00:00:00.000000000Z', 'p-cust', 'market-bureau')`)
	for _, tc := range []Target{{Job, "j-other"}, {Job, "j-none"}, {Grant, w.grants["globex"]}, {Grant, "g_none"}, {Dataset, "registrations"},
		{Dataset, "none"}, {Org, "globex"}} {
		_, err := Report(ctx, w.db, "inc_x", tc, "acme", "p-acme", "acme", "a leak", t0)
		if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "not found or not yours") || strings.Contains(err.Error(), "globex") && tc.ID != "globex" {
			t.Errorf("%v: got %v, want not found or not yours, naming no organisation", tc, err)
		}
	}
	if n := count(t, w.db); n != 0 {
		t.Fatalf("%d incidents recorded by refused reports, want 0", n)
	}
	in, err := Report(ctx, w.db, "inc_1", Target{Job, "j-done"}, "acme", "p-acme", "acme", "the output holds a name", t0)
	if err != nil {
		t.Fatal(err)
	}
	want := Affected{Datasets: []string{"penalties@1"}, Grants: []string{w.grants["acme"]}, Jobs: []string{"j-done"}, Orgs: []string{"acme"}}
	if !affectedEqual(in.Affected, want) || in.Org != "acme" || in.State != Open {
		t.Fatalf("incident: got %+v, want affected %+v, open, of acme", in, want)
	}
	got, err := Get(ctx, w.db, "inc_1")
	if err != nil || !affectedEqual(got.Affected, want) || got.ReportedBy != "p-acme" || !got.ReportedAt.Equal(t0) || got.Reason != "the output holds a name" {
		t.Fatalf("stored incident: got %+v, %v", got, err)
	}
	if err := CheckClear(ctx, w.db, "j-done", "acme", []string{w.grants["acme"]}, []string{"penalties"}); !errdefs.IsFailedPrecondition(err) ||
		!strings.Contains(err.Error(), "inc_1") {
		t.Fatalf("exports of a job under an open incident: got %v, want failed precondition naming it", err)
	}
	stop, err := Stop(ctx, w.db, in)
	if err != nil || len(stop) != 0 {
		t.Fatalf("a complete job's incident stops %v, %v, want nothing", stop, err)
	}
}

// TestGrantIncidentHoldsUntilClosed: an incident on a grant suspends it and
// stops the jobs under it (only those); closing it approves the grant
// again and clears the exports.
func TestGrantIncidentHoldsUntilClosed(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	g := w.grants["acme"]
	in, err := Report(ctx, w.db, "inc_1", Target{Grant, g}, "", "p-bur", "platform", "suspected re-identification", t0)
	if err != nil {
		t.Fatal(err)
	}
	if st := grantStatus(t, w.db, g); st != grants.Suspended {
		t.Fatalf("grant under an incident: got %s, want suspended", st)
	}
	stop, err := Stop(ctx, w.db, in)
	if err != nil || !slices.Equal(stop, []string{"j-run"}) {
		t.Fatalf("jobs to stop: got %v, %v, want [j-run]", stop, err)
	}
	if err := CheckClear(ctx, w.db, "j-done", "acme", []string{g}, nil); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("exports under the grant: got %v, want failed precondition", err)
	}
	if _, err := Close(ctx, w.db, "inc_1", "p-auth", "", t0); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("closing without a decision: got %v, want invalid argument", err)
	}
	c, err := Close(ctx, w.db, "inc_1", "p-auth", "no personal data left; resume", t0.Add(time.Hour))
	if err != nil || c.State != Closed || c.ClosedBy != "p-auth" || c.ClosedAt == nil || !c.ClosedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("close: got %+v, %v", c, err)
	}
	if st := grantStatus(t, w.db, g); st != grants.Approved {
		t.Fatalf("grant after the close: got %s, want approved", st)
	}
	if err := CheckClear(ctx, w.db, "j-done", "acme", []string{g}, []string{"penalties"}); err != nil {
		t.Fatalf("exports after the close: %v", err)
	}
	if _, err := Close(ctx, w.db, "inc_1", "p-auth", "again", t0); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("closing twice: got %v, want failed precondition", err)
	}
	got, _ := Get(ctx, w.db, "inc_1")
	if got.Decision != "no personal data left; resume" {
		t.Fatalf("decision: got %q", got.Decision)
	}
}

// TestDatasetAndOrgIncidents: an incident on a dataset holds it (for the
// policies) and stops every job reading it, of any organisation; one on
// an organisation holds every live grant of it and stops its jobs.
func TestDatasetAndOrgIncidents(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	in, err := Report(ctx, w.db, "inc_d", Target{Dataset, "penalties"}, "", "p-off", "security", "a column was mis-marked", t0)
	if err != nil {
		t.Fatal(err)
	}
	held, err := HeldDatasets(ctx, w.db, "globex", []string{"penalties", "other"})
	if err != nil || len(held) != 1 || held["penalties"] != "inc_d" {
		t.Fatalf("held datasets: got %v, %v", held, err)
	}
	stop, _ := Stop(ctx, w.db, in)
	if !slices.Equal(stop, []string{"j-other", "j-run"}) {
		t.Fatalf("dataset incident stops %v, want j-other and j-run", stop)
	}
	if !slices.Equal(in.Affected.Orgs, []string{"acme", "globex"}) || len(in.Affected.Grants) != 2 {
		t.Fatalf("affected: got %+v", in.Affected)
	}
	if grantStatus(t, w.db, w.grants["acme"]) != grants.Approved {
		t.Fatalf("a dataset incident suspends no grant: it holds the dataset")
	}
	if _, err := Close(ctx, w.db, "inc_d", "p-auth", "re-marked", t0); err != nil {
		t.Fatal(err)
	}
	if held, _ := HeldDatasets(ctx, w.db, "acme", []string{"penalties"}); len(held) != 0 {
		t.Fatalf("held after the close: %v", held)
	}

	in, err = Report(ctx, w.db, "inc_o", Target{Org, "acme"}, "", "p-bur", "platform", "emergency", t0)
	if err != nil {
		t.Fatal(err)
	}
	if grantStatus(t, w.db, w.grants["acme"]) != grants.Suspended || grantStatus(t, w.db, w.grants["globex"]) != grants.Approved {
		t.Fatalf("an organisation's incident holds its grants and no other's")
	}
	stop, _ = Stop(ctx, w.db, in)
	if !slices.Equal(stop, []string{"j-run"}) {
		t.Fatalf("organisation incident stops %v, want [j-run]", stop)
	}
	held, err = HeldDatasets(ctx, w.db, "acme", []string{"penalties", "anything"})
	if err != nil || held["penalties"] != "inc_o" || held["anything"] != "inc_o" {
		t.Fatalf("datasets held for a halted organisation: got %v, %v, want every one by inc_o", held, err)
	}
	if held, _ := HeldDatasets(ctx, w.db, "globex", []string{"penalties"}); len(held) != 0 {
		t.Fatalf("another organisation's datasets held by acme's halt: %v", held)
	}
	if err := RecordStopped(ctx, w.db, "inc_o", stop); err != nil {
		t.Fatal(err)
	}
	open, err := List(ctx, w.db, Filter{State: Open, Org: "acme"})
	if err != nil || len(open) != 1 || open[0].ID != "inc_o" || !slices.Equal(open[0].Stopped, []string{"j-run"}) {
		t.Fatalf("open incidents of acme: got %+v, %v", open, err)
	}
	all, err := List(ctx, w.db, Filter{Org: "globex"})
	if err != nil || len(all) != 1 || all[0].ID != "inc_d" {
		t.Fatalf("incidents affecting globex: got %+v, %v", all, err)
	}
	cs, err := CountAll(ctx, w.db)
	if err != nil || len(cs) != 2 {
		t.Fatalf("counts: got %+v, %v", cs, err)
	}
}

// TestParseTarget: exactly one target, an identifier; a dataset by name.
func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		job, dataset, grant, org string
		ok                       bool
	}{
		{job: "j-1", ok: true},
		{dataset: "penalties", ok: true},
		{grant: "g_1", ok: true},
		{org: "acme", ok: true},
		{},
		{job: "j-1", grant: "g_1"},
		{dataset: "penalties@2"},
		{job: "j 1"},
		{job: "j-1\n"},
		{org: strings.Repeat("a", 257)},
	} {
		got, err := ParseTarget(tc.job, tc.dataset, tc.grant, tc.org)
		if tc.ok != (err == nil) || !tc.ok && !errdefs.IsInvalidArgument(err) {
			t.Errorf("ParseTarget(%q, %q, %q, %q): got %v, %v", tc.job, tc.dataset, tc.grant, tc.org, got, err)
		}
	}
	for _, s := range []string{"", "  ", strings.Repeat("x", MaxText+1), "bell\a", "\xff"} {
		if _, err := CheckText("reason", s); !errdefs.IsInvalidArgument(err) {
			t.Errorf("CheckText(%q): got %v, want invalid argument", s, err)
		}
	}
	if s, err := CheckText("reason", "  two lines\nand a\ttab "); err != nil || s != "two lines\nand a\ttab" {
		t.Errorf("CheckText: got %q, %v", s, err)
	}
}

// FuzzReportInput: what a report brings from outside (the target's four
// fields, the reason) is accepted only as exactly one identifier and a
// text without control characters, and never panics.
func FuzzReportInput(f *testing.F) {
	f.Add("j-1", "", "", "", "a reason")
	f.Add("", "penalties", "", "", "line\nbreak")
	f.Add("", "", "g_1", "org", "\x00")
	f.Fuzz(func(t *testing.T, job, dataset, grant, org, reason string) {
		tg, err := ParseTarget(job, dataset, grant, org)
		if err == nil {
			if tg.ID == "" || strings.ContainsAny(tg.ID, " \n\t\x00") || len(tg.ID) > 256 {
				t.Fatalf("accepted target %q", tg.ID)
			}
		} else if !errdefs.IsInvalidArgument(err) {
			t.Fatalf("error of another class: %v", err)
		}
		s, err := CheckText("reason", reason)
		if err == nil {
			if s == "" || len(s) > MaxText || strings.ContainsAny(s, "\x00\r\x7f") {
				t.Fatalf("accepted reason %q", s)
			}
		} else if strings.Contains(err.Error(), reason) && reason != "" && strings.TrimSpace(reason) != "" {
			t.Fatalf("the error quotes the input: %v", err)
		}
	})
}

func count(t *testing.T, db *sql.DB) int {
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM incidents`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func grantStatus(t *testing.T, db *sql.DB, id string) string {
	t.Helper()
	g, err := grants.GetGrant(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	return g.Status
}

func affectedEqual(a, b Affected) bool {
	return slices.Equal(a.Datasets, b.Datasets) && slices.Equal(a.Grants, b.Grants) && slices.Equal(a.Jobs, b.Jobs) && slices.Equal(a.Orgs, b.Orgs)
}

// TestOperatorDatasetIncidentHoldsOwnUseOnly: an operator's report on a
// dataset stops and holds only its own organisation's use of it, so that
// one organisation cannot stop another's work; the same report by an
// officer holds it for every organisation.
func TestOperatorDatasetIncidentHoldsOwnUseOnly(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	in, err := Report(ctx, w.db, "inc_op", Target{Dataset, "penalties"}, "acme", "p-acme", "acme", "looks unmasked", t0)
	if err != nil {
		t.Fatal(err)
	}
	if in.Org != "acme" || !slices.Equal(in.Affected.Orgs, []string{"acme"}) || !slices.Equal(in.Affected.Jobs, []string{"j-done", "j-run"}) {
		t.Fatalf("an operator's dataset incident: got org %q affected %+v, want acme's work only", in.Org, in.Affected)
	}
	stop, _ := Stop(ctx, w.db, in)
	if !slices.Equal(stop, []string{"j-run"}) {
		t.Fatalf("it stops %v, want acme's j-run only", stop)
	}
	for org, want := range map[string]int{"acme": 1, "globex": 0} {
		held, err := HeldDatasets(ctx, w.db, org, []string{"penalties"})
		if err != nil || len(held) != want {
			t.Fatalf("held for %s: got %v, %v, want %d", org, held, err, want)
		}
	}
	if err := CheckClear(ctx, w.db, "j-other", "globex", []string{w.grants["globex"]}, []string{"penalties"}); err != nil {
		t.Fatalf("globex's exports under acme's incident: %v", err)
	}
	if err := CheckClear(ctx, w.db, "j-done", "acme", []string{w.grants["acme"]}, []string{"penalties"}); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("acme's exports under its own incident: got %v, want failed precondition", err)
	}
}
