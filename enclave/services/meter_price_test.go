package services

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/store"
)

// TestUsageChargesThePriceList: a usage row charges each answered call at
// the runtime's call price (the daemon's price list, issue 19 item 4),
// refused calls free, rounded to cents; a price of zero is free.
func TestUsageChargesThePriceList(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kr, err := local.Create(filepath.Join(t.TempDir(), "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO services(name, mode, dataset, version, key_col, match_cols, scenario, rate_per_min, daily_misses, org, grant_id, until, level, market, state, created_by, created_at)
			VALUES ('firm-check', 'verify', 'penalties', 1, 'uscc', '[]', 's', 60, 10, 'credit-centre', '', '2027-12-31', 'general-2', 'ordinary', 'approved', 'p', '2026-01-01T00:00:00.000000000Z')`,
		`INSERT INTO service_meter(service, subscription, org, day, calls, matches, misses, refused) VALUES ('firm-check', 's_1', 'bank', '2026-03-02', 7, 4, 3, 5)`,
	} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		price, want float64
	}{{DefaultCallPrice, 0.07}, {0.25, 1.75}, {0.333, 2.33}, {0, 0}} {
		r := &Runtime{DB: db, Keyring: kr, CallPrice: tc.price}
		rows, err := r.Usage(ctx, UsageFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Calls != 7 || rows[0].Charge != tc.want {
			t.Errorf("call price %v: got %+v, want 7 calls charged %v (the 5 refused free)", tc.price, rows, tc.want)
		}
	}
}
