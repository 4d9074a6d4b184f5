package exports

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/enclave/store"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func insertExport(t *testing.T, db *store.DB, id, org, state string, needed int, at time.Time) {
	t.Helper()
	e := &Export{ID: id, Job: "j-1", Org: org, Requester: "p-op", Purpose: "p", Scenario: "s",
		Files: []File{{Name: "counts.csv", Size: 10, SHA256: strings.Repeat("a", 64)}}, Declared: map[string]string{"counts.csv": "general-2"},
		Level: "general-2", State: state, Result: review.Result{}, ApprovalsNeeded: needed, Previews: []Preview{}, CreatedAt: at}
	if err := Insert(context.Background(), db.SQL(), e); err != nil {
		t.Fatal(err)
	}
}

const justification = "the counts are of districts, checked by hand against the rule"

// TestDecide runs scripts of officers' decisions on a request in a given
// state; a refused decision records nothing and changes no state.
func TestDecide(t *testing.T) {
	type step struct {
		person, decision, justification string
		wantErr                         func(error) bool
		wantState                       string
		wantReady                       bool
	}
	for _, tc := range []struct {
		name   string
		state  string
		needed int
		steps  []step
	}{
		{"one approval releases", PendingReview, 1, []step{
			{"p-off1", Approve, "", nil, PendingReview, true},
		}},
		{"two approvals for the higher levels", PendingReview, 2, []step{
			{"p-off1", Approve, "", nil, PendingReview, false},
			{"p-off1", Approve, "", errdefs.IsFailedPrecondition, PendingReview, false},
			{"p-off2", Approve, "", nil, PendingReview, true},
		}},
		{"a rejection ends it", PendingReview, 2, []step{
			{"p-off1", Approve, "", nil, PendingReview, false},
			{"p-off2", Reject, "", nil, Rejected, false},
			{"p-off3", Approve, "", errdefs.IsFailedPrecondition, Rejected, false},
		}},
		{"changes requested end it", PendingReview, 1, []step{
			{"p-off1", RequestChanges, "", nil, ChangesRequested, false},
			{"p-off2", Approve, "", errdefs.IsFailedPrecondition, ChangesRequested, false},
		}},
		{"an override needs a justification", ChecksFailed, 1, []step{
			{"p-off1", Approve, "", errdefs.IsInvalidArgument, ChecksFailed, false},
			{"p-off1", Approve, "too short", errdefs.IsInvalidArgument, ChecksFailed, false},
			{"p-off1", Approve, justification, nil, ChecksFailed, false},
		}},
		{"an override needs two officers even where one would do", ChecksFailed, 1, []step{
			{"p-off1", Approve, justification, nil, ChecksFailed, false},
			{"p-off2", Approve, justification, nil, ChecksFailed, true},
		}},
		{"a released request takes no decisions", Released, 1, []step{
			{"p-off1", Approve, "", errdefs.IsFailedPrecondition, Released, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := openDB(t)
			insertExport(t, db, "x_1", "acme", tc.state, tc.needed, t0)
			recorded := 0
			for i, s := range tc.steps {
				r := Review{Person: s.person, Org: "security", Decision: s.decision, Comment: "c", Justification: s.justification,
					Time: t0.Add(time.Duration(i+1) * time.Minute)}
				_, ready, err := Decide(ctx, db.SQL(), "x_1", r)
				if (s.wantErr == nil) != (err == nil) || (s.wantErr != nil && !s.wantErr(err)) {
					t.Fatalf("step %d (%s %s): got %v", i, s.person, s.decision, err)
				}
				if err == nil {
					recorded++
					if ready != s.wantReady {
						t.Fatalf("step %d: got ready %v, want %v", i, ready, s.wantReady)
					}
				}
				e, err := Get(ctx, db.SQL(), "x_1")
				if err != nil {
					t.Fatal(err)
				}
				if e.State != s.wantState || len(e.Reviews) != recorded || e.Ready() != s.wantReady {
					t.Fatalf("step %d: got state %s, %d reviews, ready %v; want %s, %d, %v", i, e.State, len(e.Reviews), e.Ready(),
						s.wantState, recorded, s.wantReady)
				}
			}
		})
	}
	t.Run("an unknown request", func(t *testing.T) {
		db := openDB(t)
		if _, _, err := Decide(context.Background(), db.SQL(), "x_none", Review{Person: "p", Decision: Approve}); !errdefs.IsNotFound(err) {
			t.Fatalf("got %v, want not found", err)
		}
	})
}

// TestReleaseRecovery: a request with all its approvals and no release is
// unreleased, oldest first, until it is released; an approval withdrawn
// because its release could not be built makes it take decisions again.
func TestReleaseRecovery(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	// Two requests within one second, the later with the shorter RFC 3339
	// text: the codec keeps them in time order.
	insertExport(t, db, "x_late", "acme", PendingReview, 1, t0.Add(120*time.Millisecond))
	insertExport(t, db, "x_early", "acme", PendingReview, 1, t0.Add(100*time.Millisecond))
	insertExport(t, db, "x_other", "rival", PendingReview, 1, t0)
	for _, id := range []string{"x_late", "x_early"} {
		if _, ready, err := Decide(ctx, db.SQL(), id, Review{Person: "p-off1", Org: "security", Decision: Approve, Time: t0.Add(time.Second)}); err != nil || !ready {
			t.Fatalf("approve %s: got ready %v, %v", id, ready, err)
		}
	}
	ids := func(es []*Export) string {
		var s []string
		for _, e := range es {
			s = append(s, e.ID)
		}
		return strings.Join(s, " ")
	}
	un, err := Unreleased(ctx, db.SQL())
	if err != nil || ids(un) != "x_early x_late" {
		t.Fatalf("unreleased: got %q, %v; want x_early x_late", ids(un), err)
	}
	if err := Withdraw(ctx, db.SQL(), "x_late", "p-off1"); err != nil {
		t.Fatal(err)
	}
	if err := Withdraw(ctx, db.SQL(), "x_late", "p-off1"); !errdefs.IsNotFound(err) {
		t.Fatalf("withdraw twice: got %v, want not found", err)
	}
	if err := MarkReleased(ctx, db.SQL(), "x_early", strings.Repeat("b", 64), t0.Add(2*time.Second+5*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if un, _ := Unreleased(ctx, db.SQL()); len(un) != 0 {
		t.Fatalf("unreleased after the release and the withdrawal: got %q, want none", ids(un))
	}
	e, err := Get(ctx, db.SQL(), "x_early")
	if err != nil || e.State != Released || e.ReleasedAt != "2026-11-23T09:00:02.005Z" || e.BundleSHA256 != strings.Repeat("b", 64) {
		t.Fatalf("released: got state %s at %q, %v", e.State, e.ReleasedAt, err)
	}
	if _, _, err := Decide(ctx, db.SQL(), "x_late", Review{Person: "p-off1", Org: "security", Decision: Approve, Time: t0.Add(3 * time.Second)}); err != nil {
		t.Fatalf("approve again after the withdrawal: %v", err)
	}
	for _, tc := range []struct {
		org      string
		released bool
		want     string
	}{
		{"acme", false, "x_late x_early"},
		{"", false, "x_late x_early x_other"},
		{"acme", true, "x_early"},
		{"rival", true, ""},
	} {
		es, err := List(ctx, db.SQL(), tc.org, tc.released)
		if err != nil || ids(es) != tc.want {
			t.Errorf("List(%q, released %v): got %q, %v; want %q", tc.org, tc.released, ids(es), err, tc.want)
		}
	}
}

// TestStoredRowErrors: a request whose stored time or JSON cannot be read
// is an error naming it, not a zero value.
func TestStoredRowErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, set, want string }{
		{"created_at", `created_at = '2026-11-23T09:00:00Z'`, `export "x_1" created_at`},
		{"released_at", `released_at = 'soon'`, `export "x_1" released_at`},
		{"files", `files = '[{'`, `export "x_1" files`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			insertExport(t, db, "x_1", "acme", PendingReview, 1, t0)
			if _, err := db.SQL().Exec(`UPDATE exports SET ` + tc.set); err != nil {
				t.Fatal(err)
			}
			if _, err := Get(ctx, db.SQL(), "x_1"); !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Get: got %v, want a data-loss error naming %s", err, tc.want)
			}
		})
	}
}
