package sweeper

import (
	"context"
	"slices"
	"testing"
	"time"

	_ "github.com/enclave-dev/enclave/enclave/incidents" // the incidents table
)

// TestEveryEventCarriesTheWatermark (issue 18 item 5): every entry a
// sweep appends (ends, stops, destructions) is recorded in the state's
// audit watermark with the change it announces, so that a log cut after
// a sweep fails `audit verify`.
func TestEveryEventCarriesTheWatermark(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, at := range []time.Time{time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 7, 4, 0, 0, 0, 0, time.UTC)} {
		e.clock.set(at)
		before := len(e.log.events)
		if _, err := e.sw.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if len(e.log.events) == before {
			t.Fatalf("the sweep at %v appended nothing: the test proves nothing", at)
		}
		wm, err := e.db.AuditWatermark(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(e.log.events) - 1); wm != want {
			t.Fatalf("after the sweep at %v: watermark %d, want %d, the index of its last entry", at, wm, want)
		}
	}
	var actions []string
	for _, ev := range e.log.events {
		actions = append(actions, ev.Action)
	}
	for _, a := range []string{"term.end", "job.stop", "term.destroy", "term.destroyed"} {
		if !slices.Contains(actions, a) {
			t.Errorf("no %s entry among %v", a, actions)
		}
	}
}

// TestEndedPeriodExpiresGrant: a grant whose period (or licence) is over
// is marked expired with who and why; a revoked one keeps its status.
func TestEndedPeriodExpiresGrant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	exec(t, e.db, `UPDATE grants SET status = 'revoked' WHERE id = 'g2'`)
	e.clock.set(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))
	gen := e.db.Generation()
	if _, err := e.sw.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	// Caches keyed by the generation (a service's grant, a credential)
	// must see the ends at once.
	if moved := e.db.Generation() - gen; moved < 2 {
		t.Errorf("the state's generation moved %d times for two grants ended, want at least 2", moved)
	}
	for id, want := range map[string]string{"g1": "expired", "g2": "revoked", "g3": "expired"} {
		var st, reason, by string
		e.db.SQL().QueryRow(`SELECT g.status, COALESCE(x.reason, ''), COALESCE(x.ended_by, '') FROM grants g LEFT JOIN grant_ends x ON x.grant_id = g.id
			WHERE g.id = ?`, id).Scan(&st, &reason, &by)
		if st != want {
			t.Errorf("grant %s: got %s, want %s", id, st, want)
		}
		if want == "expired" && (reason == "" || by != "system") {
			t.Errorf("grant %s: end recorded as %q by %q, want a cause by system", id, reason, by)
		}
	}
}

// TestHeldUseStops: a job running under a suspended grant, reading a
// dataset an open incident holds, or of a person whose agreement ended is
// stopped, each stop on the record with its cause; a suspension is not the
// end of the term (nothing is destroyed).
func TestHeldUseStops(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, setup, cause string
	}{
		{"suspended grant", `UPDATE grants SET status = 'suspended' WHERE id = 'g1'`, "grant:g1"},
		{"held dataset", `INSERT INTO incidents(id, kind, target, org, reason, reported_by, reporter_org, reported_at, affected, state)
			VALUES ('inc_1', 'dataset', 'census', '', 'r', 'p-bur', 'platform', '2026-03-01T00:00:00.000000000Z', '{}', 'open')`, "incident:inc_1"},
		{"organisation halted", `INSERT INTO incidents(id, kind, target, org, reason, reported_by, reporter_org, reported_at, affected, state)
			VALUES ('inc_2', 'org', 'acme', 'acme', 'r', 'p-bur', 'platform', '2026-03-01T00:00:00.000000000Z', '{}', 'open')`, "incident:inc_2"},
		{"ended agreement", `INSERT INTO people(id, name, org, roles, agreement_until, created_at, created_by) VALUES ('p', 'P', 'acme', '["operator"]', '2026-02-28',
			'2026-01-01T00:00:00.000000000Z', 'p-admin')`, "person:p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			exec(t, e.db, `UPDATE jobs SET inputs = '[{"dataset":"census","version":1}]' WHERE id = 'j-run'`)
			res, err := e.sw.Sweep(ctx)
			if err != nil || len(res.Held) != 0 {
				t.Fatalf("before: held %v, %v", res.Held, err)
			}
			exec(t, e.db, tc.setup)
			res, err = e.sw.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Held, []string{"j-run"}) || !slices.Equal(e.jobs.canceled, []string{"j-run"}) || len(res.Ended) != 0 || len(res.Destroyed) != 0 {
				t.Fatalf("got held %v canceled %v ended %v destroyed %v, want j-run stopped only", res.Held, e.jobs.canceled, res.Ended, res.Destroyed)
			}
			last := e.log.events[len(e.log.events)-1]
			if last.Action != "job.stop" || !slices.Contains(last.Objects, tc.cause) || last.Actor != "system" {
				t.Fatalf("last event: got %s %v by %s, want job.stop naming %s", last.Action, last.Objects, last.Actor, tc.cause)
			}
		})
	}
}

type fakeShredder struct{ grants, orgs []string }

func (f *fakeShredder) ShredGrant(ctx context.Context, grant, reason string) (int, error) {
	f.grants = append(f.grants, grant)
	return 2, nil
}

func (f *fakeShredder) ShredOrg(ctx context.Context, org, reason string) (int, error) {
	f.orgs = append(f.orgs, org)
	return 1, nil
}

// TestRevokedOrgGetsNoGrace: the grants of an organisation revoked or
// blacklisted are destroyed at the first pass, without the grace period,
// through the Shredder first; another organisation's ended grant waits for
// its grace.
func TestRevokedOrgGetsNoGrace(t *testing.T) {
	e := newEnv(t)
	sh := &fakeShredder{}
	e.sw.cfg.Shredder = sh
	exec(t, e.db, `UPDATE orgs SET status = 'revoked' WHERE name = 'acme'`)
	exec(t, e.db, `UPDATE grants SET status = 'revoked' WHERE org = 'acme'`)
	exec(t, e.db, `UPDATE jobs SET state = 'canceled' WHERE id = 'j-run'`)
	e.clock.set(time.Date(2026, 4, 1, 0, 0, 1, 0, time.UTC)) // globex's licence ended too
	res, err := e.sw.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sh.grants, []string{"g1", "g2"}) || !slices.Equal(sh.orgs, []string{"acme"}) || res.Shredded != 5 {
		t.Fatalf("shredded grants %v and organisations %v (%d objects), want g1, g2 and acme at once", sh.grants, sh.orgs, res.Shredded)
	}
	got := objects(res.Destroyed)
	for _, want := range []string{"job:j-done", "job:j-keep", "job:j-run", "export:x-open"} {
		if !slices.Contains(got, want) {
			t.Errorf("destroyed %v, want %s among them", got, want)
		}
	}
	if slices.Contains(got, "job:j-glob") {
		t.Errorf("globex's job destroyed within its grace")
	}
	if _, err := e.sw.Sweep(context.Background()); err != nil || len(sh.orgs) != 1 {
		t.Fatalf("a second pass: shredded organisations %v, %v, want acme once", sh.orgs, err)
	}
}
