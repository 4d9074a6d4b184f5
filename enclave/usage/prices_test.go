package usage

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/store"
)

// priced seeds two applications and their grants (a_pub approved as
// public-interest, a_ind not), a pending public-interest application that
// was never approved, and jobs under them: j1 under the public-interest
// grant only, j2 under both grants, j3 under no grant (the organisation's
// own upload), j4 naming a grant that does not exist, with one export of
// j1 and one of j3.
func priced(t *testing.T) *store.DB {
	db := fixture(t)
	for _, q := range []string{
		`DELETE FROM exports`, `DELETE FROM jobs`,
		`INSERT INTO applications(id, org, applicant, datasets, purpose, scenario, data_flow, public_interest, period_from, period_until,
			approvals_needed, status, created_at) VALUES
			('a_pub', 'acme', 'p-a1', '[]', 'flood relief planning', 's', '', 1, '2026-01-01', '2026-12-31', 1, 'approved', '2026-01-01T00:00:00.000000000Z'),
			('a_ind', 'acme', 'p-a1', '[]', 'credit scoring product', 's', '', 0, '2026-01-01', '2026-12-31', 1, 'approved', '2026-01-01T00:00:00.000000000Z'),
			('a_wish', 'acme', 'p-a1', '[]', 'says it is public interest', 's', '', 1, '2026-01-01', '2026-12-31', 1, 'pending', '2026-01-01T00:00:00.000000000Z')`,
		`INSERT INTO grants(id, application, org, datasets, purpose, scenario, public_interest, period_from, period_until, approvers, status, created_at) VALUES
			('g_pub', 'a_pub', 'acme', '[]', 'flood relief planning', 's', 1, '2026-01-01', '2026-12-31', '[]', 'approved', '2026-01-01T00:00:00.000000000Z'),
			('g_ind', 'a_ind', 'acme', '[]', 'credit scoring product', 's', 0, '2026-01-01', '2026-12-31', '[]', 'approved', '2026-01-01T00:00:00.000000000Z')`,
	} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	u := jobs.Usage{CPUSeconds: 3600, PeakMemoryBytes: 1e9, InputBytes: 1e9, OutputBytes: 1e9, WallSeconds: 3600}
	seed(t, db, []testJob{
		{"j1", "acme", "p-a1", day(1, 5), []string{"census"}, u},
		{"j2", "acme", "p-a1", day(1, 6), []string{"census", "trade"}, u},
		{"j3", "acme", "p-a1", day(1, 7), []string{"own"}, u},
		{"j4", "acme", "p-a1", day(1, 8), []string{"census"}, u},
	}, []testExport{
		{"x1", "j1", "acme", "p-a1", "released", day(1, 9)},
		{"x3", "j3", "acme", "p-a1", "released", day(1, 9)},
	})
	for id, grants := range map[string]string{"j1": `{"census": "g_pub"}`, "j2": `{"census": "g_pub", "trade": "g_ind"}`,
		"j3": `{}`, "j4": `{"census": "g_gone"}`} {
		if _, err := db.SQL().Exec(`UPDATE jobs SET grants = ? WHERE id = ?`, grants, id); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// TestPricesByPurpose: a job is charged at public-interest prices only
// when every grant it read under comes from an application approved as
// public-interest, and each row says which class applied, to which jobs,
// and the applications (with their purposes) it rests on (issue 20 item
// 3, 001 art. 23).
func TestPricesByPurpose(t *testing.T) {
	db := priced(t)
	ctx := context.Background()
	class := map[string]string{}
	rows, err := db.SQL().Query(`SELECT id, class, basis FROM usage_ledger`)
	if err != nil {
		t.Fatal(err)
	}
	basis := map[string]string{}
	for rows.Next() {
		var id, c, b string
		if err := rows.Scan(&id, &c, &b); err != nil {
			t.Fatal(err)
		}
		class[id], basis[id] = c, b
	}
	rows.Close()
	want := map[string]string{"j1": PublicInterest, "j2": Industry, "j3": Industry, "j4": Industry}
	for id, c := range want {
		if class[id] != c {
			t.Errorf("job %s: got class %q, want %q", id, class[id], c)
		}
	}
	if basis["j1"] != "a_pub" || basis["j3"] != "" {
		t.Errorf("basis: got j1 %q, j3 %q; want a_pub and none", basis["j1"], basis["j3"])
	}

	prices := DefaultPriceList()
	prices.PublicInterest = Prices{CPUHour: 0.10} // at cost
	rep, err := Compute(ctx, db.SQL(), Query{}, prices)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 1 {
		t.Fatalf("got %d rows, want one (acme)", len(rep.Rows))
	}
	for _, r := range []Row{rep.Rows[0], rep.Total} {
		if len(r.Classes) != 2 || r.Classes[0].Class != PublicInterest || r.Classes[1].Class != Industry {
			t.Fatalf("%s: got classes %+v, want public-interest then industry", r.Key, r.Classes)
		}
		pub, ind := r.Classes[0], r.Classes[1]
		if pub.Jobs != 1 || pub.ExportsRequested != 1 || ind.Jobs != 3 || ind.ExportsRequested != 1 {
			t.Errorf("%s: got public-interest %d jobs %d exports, industry %d jobs %d exports; want 1, 1, 3, 1", r.Key, pub.Jobs, pub.ExportsRequested, ind.Jobs, ind.ExportsRequested)
		}
		// Public interest: one CPU-hour at cost, nothing else.
		if pub.Charge != (Charge{CPU: 0.10, Total: 0.10}) {
			t.Errorf("%s: public-interest charge %+v, want 0.10 for the CPU-hour only", r.Key, pub.Charge)
		}
		// Industry: three jobs at the industry prices, one export.
		wantInd := Charge{CPU: 1.50, Memory: 0.15, Input: 0.30, Output: 3.00, Jobs: 0.60, Exports: 5.00, Total: 10.55}
		if ind.Charge != wantInd {
			t.Errorf("%s: industry charge %+v, want %+v", r.Key, ind.Charge, wantInd)
		}
		if r.Charge.Total != 10.65 {
			t.Errorf("%s: total charge %v, want 10.65", r.Key, r.Charge.Total)
		}
		if len(pub.Applications) != 1 || pub.Applications[0] != (Basis{"a_pub", "flood relief planning"}) || !strings.Contains(pub.Why, "approved as public-interest") {
			t.Errorf("%s: public-interest basis %+v (%s), want a_pub and its purpose", r.Key, pub.Applications, pub.Why)
		}
		// The pending application claiming public interest counts for nothing.
		for _, b := range append(pub.Applications, ind.Applications...) {
			if b.Application == "a_wish" {
				t.Errorf("%s: the unapproved application a_wish is named as a basis", r.Key)
			}
		}
		if got := len(ind.Applications); got != 2 || ind.Applications[0].Application != "a_ind" || ind.Applications[1].Application != "a_pub" {
			t.Errorf("%s: industry applications %+v, want a_ind and a_pub (j2 read under both)", r.Key, ind.Applications)
		}
	}

	// Coarse (operators' view): the same classes.
	coarse, err := Compute(ctx, db.SQL(), Query{Coarse: true}, prices)
	if err != nil {
		t.Fatal(err)
	}
	if c := coarse.Rows[0].Classes; len(c) != 2 || c[0].Jobs != 1 || c[1].Jobs != 3 {
		t.Errorf("coarse: got classes %+v, want 1 public-interest job and 3 industry", c)
	}

	// With the default list public-interest use is free.
	free, err := Compute(ctx, db.SQL(), Query{By: ByDay}, DefaultPriceList())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range free.Rows {
		for _, c := range r.Classes {
			if c.Class == PublicInterest && c.Charge.Total != 0 {
				t.Errorf("%s: public-interest charge %v under the default list, want free", r.Key, c.Charge.Total)
			}
		}
	}
}

// TestPriceClassMigration: jobs recorded before price classes are classed
// by the migration from the grants they read under.
func TestPriceClassMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	unclassLedger(t, db)
	for _, q := range []string{
		`INSERT INTO applications(id, org, applicant, datasets, purpose, scenario, data_flow, public_interest, period_from, period_until,
			approvals_needed, status, created_at) VALUES ('a_pub', 'acme', 'p', '[]', 'flood relief', 's', '', 1, '2026-01-01', '2026-12-31', 1, 'approved', '2026-01-01T00:00:00.000000000Z')`,
		`INSERT INTO grants(id, application, org, datasets, purpose, scenario, public_interest, period_from, period_until, approvers, status, created_at)
			VALUES ('g_pub', 'a_pub', 'acme', '[]', 'flood relief', 's', 1, '2026-01-01', '2026-12-31', '[]', 'approved', '2026-01-01T00:00:00.000000000Z')`,
		`INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at)
			VALUES ('j_old', 'acme', 'p', 'sha256:x', '[]', '[]', '{"census":"g_pub"}', '{}', 'complete', '{"cpu_seconds": 3600}', '2026-03-01T00:00:00.000000000Z')`,
	} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	if db, err = store.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var class, basis string
	if err := db.SQL().QueryRow(`SELECT class, basis FROM usage_ledger WHERE id = 'j_old'`).Scan(&class, &basis); err != nil {
		t.Fatal(err)
	}
	if class != PublicInterest || basis != "a_pub" {
		t.Fatalf("after the migration: got class %q basis %q, want public-interest on a_pub", class, basis)
	}
}
