package services

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// credWorld is a runtime over a real database holding an approved
// subscription of organisation "bank" to service "firms" and a credential
// for each token of toks. The runtime's clock stands still, so that Fresh
// never passes: whatever it reads again, a write made it.
func credWorld(t *testing.T, toks ...string) (*Runtime, *store.DB, time.Time) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kr, err := local.Create(filepath.Join(dir, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := storetime.Format(now)
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if err := people.CreateOrg(ctx, tx, people.Org{Name: "bank", Type: people.Company, LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31",
			Status: people.Active, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO services (name, mode, dataset, version, key_col, match_cols, scenario, rate_per_min,
			daily_misses, org, grant_id, until, level, market, state, created_by, created_at)
			VALUES ('firms', 'verify', 'd', 1, 'k', '', 'loan checks', 600, 100, 'registry', '', '', 'general-1', 'ordinary', 'approved', 'p', ?)`, at); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (id, service, org, person, scenario, until, state, created_at)
			VALUES ('sub_1', 'firms', 'bank', 'p', 'loan checks', '2027-06-30', 'approved', ?)`, at); err != nil {
			return err
		}
		for i, tok := range toks {
			if _, err := tx.ExecContext(ctx, `INSERT INTO service_credentials (id, subscription, org, system, hash, created_by, created_at)
				VALUES (?, 'sub_1', 'bank', 'desk', ?, 'p', ?)`, "cred_"+string(rune('a'+i)), hashToken(tok), at); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Runtime{DB: db, Keyring: kr, Now: func() time.Time { return now }, TempDir: dir}, db, now
}

// TestRevocationTakesEffectAtOnce: the runtime keeps what it read of a
// credential (no database read per call), and a revocation, a suspension
// of the organisation or an ended subscription committed through
// store.DB.Tx is refused on the very next call, with no Forget and no time
// passing; a change made outside Tx takes effect at once after Forget.
// Concurrent calls after a change read the credential once.
func TestRevocationTakesEffectAtOnce(t *testing.T) {
	ctx := context.Background()
	r, db, now := credWorld(t, "tok-a", "tok-b", "tok-c")
	at := storetime.Format(now)
	change := func(q string, args ...any) {
		t.Helper()
		if err := db.Tx(ctx, func(tx *sql.Tx) error { _, err := tx.ExecContext(ctx, q, args...); return err }, nil); err != nil {
			t.Fatal(err)
		}
	}
	live := func(tok string) {
		t.Helper()
		if c, err := r.Authenticate(ctx, tok); err != nil || c.Subscription != "sub_1" || c.Org.Name != "bank" {
			t.Fatalf("Authenticate(%s): got %+v, %v; want the caller of sub_1", tok, c, err)
		}
	}
	refused := func(tok, why string) {
		t.Helper()
		if _, err := r.Authenticate(ctx, tok); !errdefs.IsUnauthorized(err) {
			t.Fatalf("after %s: Authenticate(%s): got %v, want unauthenticated at once", why, tok, err)
		}
	}
	live("tok-a")
	live("tok-b")
	reads := r.reads.Load()
	for range 100 {
		live("tok-a")
	}
	if n := r.reads.Load() - reads; n != 0 {
		t.Fatalf("100 calls with nothing written read the credential %d times, want 0", n)
	}

	change(`UPDATE service_credentials SET revoked_at = ? WHERE hash = ?`, at, hashToken("tok-a"))
	refused("tok-a", "a revocation")
	live("tok-b")

	// Concurrent calls after a change share one reading.
	change(`UPDATE subscriptions SET scenario = scenario`)
	reads = r.reads.Load()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Authenticate(ctx, "tok-b"); err != nil {
				t.Errorf("Authenticate: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := r.reads.Load() - reads; n != 1 {
		t.Errorf("16 concurrent calls after a change read the credential %d times, want 1", n)
	}

	change(`UPDATE orgs SET status = 'suspended' WHERE name = 'bank'`)
	refused("tok-b", "the organisation's suspension")
	change(`UPDATE orgs SET status = 'active' WHERE name = 'bank'`)
	live("tok-b")
	change(`UPDATE subscriptions SET until = '2026-12-06' WHERE id = 'sub_1'`)
	refused("tok-b", "the subscription's end")
	change(`UPDATE subscriptions SET until = '2027-06-30' WHERE id = 'sub_1'`)
	live("tok-c")

	// Outside store.DB.Tx the generation does not move; Forget covers it.
	if _, err := db.SQL().ExecContext(ctx, `UPDATE service_credentials SET revoked_at = ? WHERE hash = ?`, at, hashToken("tok-c")); err != nil {
		t.Fatal(err)
	}
	r.Forget("firms")
	refused("tok-c", "a revocation made outside Tx and Forget")
}
