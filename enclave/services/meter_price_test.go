package services

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/store"
)

// meterWorld is a state database with every part's schema and a local
// keyring, both removed when t ends.
func meterWorld(t *testing.T) (*store.DB, keys.Keyring) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kr, err := local.Create(filepath.Join(t.TempDir(), "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	return db, kr
}

// TestUsageChargesThePriceList: a usage row charges each answered call at
// the runtime's call price (the daemon's price list, issue 19 item 4),
// refused calls free, rounded to cents; a price of zero is free.
func TestUsageChargesThePriceList(t *testing.T) {
	ctx := context.Background()
	db, kr := meterWorld(t)
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

// TestUsageChargesByClass: the calls of a subscription approved with a
// claim of public-interest use are charged at the public-interest call
// price; an ordinary subscription's, and those of a claim that was not
// approved, at the industry price (001 art. 23).
func TestUsageChargesByClass(t *testing.T) {
	ctx := context.Background()
	db, kr := meterWorld(t)
	for _, q := range []string{
		`INSERT INTO services(name, mode, dataset, version, key_col, match_cols, scenario, rate_per_min, daily_misses, org, grant_id, until, level, market, state, created_by, created_at)
			VALUES ('firm-check', 'verify', 'penalties', 1, 'uscc', '[]', 's', 60, 10, 'credit-centre', '', '2027-12-31', 'general-2', 'ordinary', 'approved', 'p', '2026-01-01T00:00:00.000000000Z')`,
		`INSERT INTO subscriptions(id, service, org, person, scenario, until, state, created_at, public_interest) VALUES
			('sub_pub', 'firm-check', 'welfare-office', 'c1', 's', '2027-01-01', 'approved', '2026-01-01T00:00:00.000000000Z', 1),
			('sub_ind', 'firm-check', 'bank', 'c2', 's', '2027-01-01', 'approved', '2026-01-01T00:00:00.000000000Z', 0),
			('sub_rej', 'firm-check', 'bank', 'c2', 's', '2027-01-01', 'rejected', '2026-01-01T00:00:00.000000000Z', 1)`,
		`INSERT INTO service_meter(service, subscription, org, day, calls, matches, misses, refused) VALUES
			('firm-check', 'sub_pub', 'welfare-office', '2026-03-02', 10, 6, 4, 0),
			('firm-check', 'sub_ind', 'bank', '2026-03-02', 10, 6, 4, 0),
			('firm-check', 'sub_rej', 'bank', '2026-03-02', 10, 6, 4, 0)`,
	} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	r := &Runtime{DB: db, Keyring: kr, CallPrice: 0.05, PublicCallPrice: 0.02}
	rows, err := r.Usage(ctx, UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		class  string
		charge float64
	}{"sub_pub": {"public-interest", 0.20}, "sub_ind": {"industry", 0.50}, "sub_rej": {"industry", 0.50}}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for _, u := range rows {
		if w := want[u.Subscription]; u.Class != w.class || u.Charge != w.charge {
			t.Errorf("%s: got class %q charge %v, want %q %v", u.Subscription, u.Class, u.Charge, w.class, w.charge)
		}
	}
	for id, w := range want {
		sub, err := GetSubscription(ctx, db.SQL(), id)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Class() != w.class {
			t.Errorf("%s: Class() = %q, want %q", id, sub.Class(), w.class)
		}
	}
}
