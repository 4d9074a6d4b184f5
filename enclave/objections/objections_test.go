package objections

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	_ "github.com/enclave-dev/enclave/enclave/datasets" // the dataset_versions table
	"github.com/enclave-dev/enclave/enclave/store"
)

func open(t *testing.T) *sql.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.SQL().Exec(`INSERT INTO dataset_versions(name, version, category, level, market, state, rows, bytes, columns, marks, spec_sha256,
		data_sha256, key_object, wrapped_key, fp_values, fp_rows, created_at, created_by, org) VALUES ('penalties', 1, 'c', 'general-2', 'ordinary',
		'active', 1, 1, '[]', '{}', '', '', '', x'00', 0, 0, '2026-11-01T00:00:00.000000000Z', 'p-cust', 'credit-centre')`); err != nil {
		t.Fatal(err)
	}
	return db.SQL()
}

func TestDueDate(t *testing.T) {
	for _, c := range []struct{ filed, due string }{
		{"2026-12-02T15:04:05Z", "2026-12-10T00:00:00Z"}, // Wednesday: Thu, Fri, Mon, Tue, Wed
		{"2026-12-04T09:00:00Z", "2026-12-12T00:00:00Z"}, // Friday: across the weekend to the next Friday's end
		{"2026-12-05T09:00:00Z", "2026-12-12T00:00:00Z"}, // Saturday
		{"2026-12-06T23:59:59Z", "2026-12-12T00:00:00Z"}, // Sunday
		{"2026-12-07T00:00:00Z", "2026-12-15T00:00:00Z"}, // Monday: Tue..Fri, Mon
	} {
		filed, _ := time.Parse(time.RFC3339, c.filed)
		want, _ := time.Parse(time.RFC3339, c.due)
		if got := DueDate(filed); !got.Equal(want) {
			t.Errorf("DueDate(%s %s) = %s %s, want %s", filed.Weekday(), c.filed, got.Weekday(), got.Format(time.RFC3339), c.due)
		}
	}
}

func TestFileAnswer(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	fri := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	o, err := File(ctx, db, "obj_1", "penalties", "credit-centre", "p-acme", "acme", "  row 3 is wrong  ", fri)
	if err != nil {
		t.Fatal(err)
	}
	if o.Text != "row 3 is wrong" || !o.DueAt.Equal(time.Date(2026, 12, 12, 0, 0, 0, 0, time.UTC)) || o.State != Open {
		t.Fatalf("filed %+v", o)
	}
	got, err := Get(ctx, db, "obj_1")
	if err != nil || got.Text != o.Text || !got.DueAt.Equal(o.DueAt) || !got.FiledAt.Equal(fri) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "   ", "a\x00b", string([]byte{0xff})} {
		if _, err := File(ctx, db, "obj_bad", "penalties", "credit-centre", "p-acme", "acme", bad, fri); !errdefs.IsInvalidArgument(err) {
			t.Errorf("text %q: %v, want invalid argument", bad, err)
		}
	}
	if _, err := Get(ctx, db, "obj_bad"); !errdefs.IsNotFound(err) {
		t.Fatalf("a refused objection was stored: %v", err)
	}
	// Another organisation, the filer's included, may not answer.
	if _, err := Answer(ctx, db, "obj_1", "acme", "p-acme", "fine", 0, fri); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("non-custodian answer: %v", err)
	}
	// A corrected version that does not exist is refused and changes nothing.
	if _, err := Answer(ctx, db, "obj_1", "credit-centre", "p-cust", "fixed", 2, fri); !errdefs.IsNotFound(err) {
		t.Fatalf("missing corrected version: %v", err)
	}
	if got, _ := Get(ctx, db, "obj_1"); got.State != Open || got.Answer != "" {
		t.Fatalf("a refused answer changed the objection: %+v", got)
	}
	a, err := Answer(ctx, db, "obj_1", "credit-centre", "p-cust", "corrected in version 1", 1, fri.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if a.State != Answered || a.CorrectedVersion != 1 || a.AnsweredBy != "p-cust" || a.AnsweredAt == nil {
		t.Fatalf("answered %+v", a)
	}
	if _, err := Answer(ctx, db, "obj_1", "credit-centre", "p-cust", "again", 0, fri); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("second answer: %v", err)
	}
	if _, err := Answer(ctx, db, "obj_none", "credit-centre", "p-cust", "x", 0, fri); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown objection: %v", err)
	}
}

func TestOverdue(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	fri := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for _, id := range []string{"obj_a", "obj_b", "obj_c"} {
		if _, err := File(ctx, db, id, "penalties", "credit-centre", "p-acme", "acme", "wrong", fri); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := File(ctx, db, "obj_late", "penalties", "credit-centre", "p-globex", "globex", "wrong", fri.AddDate(0, 0, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := Answer(ctx, db, "obj_a", "credit-centre", "p-cust", "ok", 0, fri.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	due := time.Date(2026, 12, 12, 0, 0, 0, 0, time.UTC)
	// The last instant of the fifth working day: nothing is overdue yet.
	before := due.Add(-time.Nanosecond)
	if c, err := CountAt(ctx, db, before); err != nil || c != (Counts{Open: 3, Answered: 1}) {
		t.Fatalf("counts before due = %+v, %v", c, err)
	}
	if os, _ := List(ctx, db, Filter{Overdue: true, Now: before}); len(os) != 0 {
		t.Fatalf("overdue before due: %d", len(os))
	}
	if c, err := CountAt(ctx, db, due); err != nil || c != (Counts{Open: 1, Answered: 1, Overdue: 2}) {
		t.Fatalf("counts at due = %+v, %v", c, err)
	}
	os, err := List(ctx, db, Filter{Overdue: true, Now: due})
	if err != nil || len(os) != 2 || os[0].ID != "obj_b" || os[1].ID != "obj_c" {
		t.Fatalf("overdue at due = %v, %v", os, err)
	}
	if os[0].StateAt(due) != Overdue || os[0].StateAt(before) != Open {
		t.Fatalf("StateAt: %s, %s", os[0].StateAt(due), os[0].StateAt(before))
	}
	if a, _ := Get(ctx, db, "obj_a"); a.StateAt(due.AddDate(1, 0, 0)) != Answered {
		t.Fatalf("an answered objection became overdue")
	}
	// An organisation's view: what it filed or must answer.
	if os, _ := List(ctx, db, Filter{Party: "globex"}); len(os) != 1 || os[0].ID != "obj_late" {
		t.Fatalf("globex's view = %v", os)
	}
	if os, _ := List(ctx, db, Filter{Party: "credit-centre"}); len(os) != 4 {
		t.Fatalf("the custodian's view = %d", len(os))
	}
}
