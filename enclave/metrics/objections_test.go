package metrics

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/objections"
	"github.com/enclave-dev/enclave/enclave/store"
)

// TestScrapeObjections: /metrics counts objections as open, answered and
// overdue at the scrape's clock (issue 20 item 4).
func TestScrapeObjections(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mon := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{mon, mon, mon.AddDate(0, 0, 7), mon.AddDate(0, 0, 7)} {
		if _, err := objections.File(ctx, db.SQL(), "obj_"+string(rune('a'+i)), "penalties", "credit-centre", "p", "acme", "wrong", at); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SQL().ExecContext(ctx, `UPDATE objections SET state = 'answered' WHERE id IN ('obj_a', 'obj_c')`); err != nil {
		t.Fatal(err)
	}
	now := mon.AddDate(0, 0, 8) // past obj_b's due time, within obj_d's
	fams := scrape(t, New(db.SQL(), Options{Now: func() time.Time { return now }}))
	for _, tc := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"state": "open"}, 1},
		{map[string]string{"state": "answered"}, 2},
		{map[string]string{"state": "overdue"}, 1},
	} {
		if got, ok := value(fams, "enclave_objections", tc.labels); !ok || got != tc.want {
			t.Errorf("enclave_objections %v: got %v (present %v), want %v", tc.labels, got, ok, tc.want)
		}
	}
	if got, ok := value(fams, "enclave_metrics_objections_up", nil); !ok || got != 1 {
		t.Errorf("up: %v %v", got, ok)
	}
}
