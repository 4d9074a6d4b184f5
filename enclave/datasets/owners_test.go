package datasets

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/ingest"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/store"
)

const spec = `name: penalties
category: credit/enterprise/penalty
market: ordinary
sharing: unconditional
columns:
  district: {level: general-1, rule: keep}
  amount:   {level: general-2, rule: keep}
`

const rows = "district,amount\nDonglin,12000\nXiqiao,56000\nDonglin,3000\n"

func newCatalog(t *testing.T) (*Catalog, *store.DB, string) {
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
	c, err := New(db, filepath.Join(dir, "datasets"), kr, func() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	return c, db, dir
}

// importAs stages and publishes a version of name as org.
func importAs(t *testing.T, c *Catalog, db *store.DB, dir, name, org string) (*Version, error) {
	t.Helper()
	ctx := context.Background()
	src := filepath.Join(dir, "data.csv")
	if err := os.WriteFile(src, []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ingest.ParseSpec(strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Stage(ctx, ingest.Source{Path: src}, sp, name, org, "p-"+org, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Tx(ctx, func(tx *sql.Tx) error { return c.Publish(ctx, tx, st) }, nil)
	if err != nil {
		c.Unpublish(ctx, st)
		return nil, err
	}
	return st.Version, nil
}

// TestPublishClaimsTheName: the first import of a name makes its
// organisation the owner; another organisation cannot publish a version
// under it, and the refused version leaves no trace.
func TestPublishClaimsTheName(t *testing.T) {
	ctx := context.Background()
	c, db, dir := newCatalog(t)
	if _, err := c.Owner(ctx, nil, "penalties"); !errdefs.IsNotFound(err) {
		t.Fatalf("owner of a name never imported: got %v, want not found", err)
	}
	steps := []struct {
		org         string
		wantDenied  bool
		wantVersion int
	}{
		{"credit-centre", false, 1},
		{"rival-centre", true, 0},
		{"credit-centre", false, 2},
	}
	for i, st := range steps {
		v, err := importAs(t, c, db, dir, "penalties", st.org)
		if got := errdefs.IsPermissionDenied(err); got != st.wantDenied || (!st.wantDenied && err != nil) {
			t.Fatalf("step %d (%s): got error %v, want denied %v", i, st.org, err, st.wantDenied)
		}
		if err == nil && (v.Version != st.wantVersion || v.Owner != "credit-centre") {
			t.Fatalf("step %d (%s): got version %d owner %q, want %d owner credit-centre", i, st.org, v.Version, v.Owner, st.wantVersion)
		}
	}
	if got, err := c.Owner(ctx, nil, "penalties"); err != nil || got != "credit-centre" {
		t.Fatalf("owner: got %q %v, want credit-centre", got, err)
	}
	vs, err := c.Versions(ctx, db.SQL(), "penalties")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 {
		t.Fatalf("versions: got %d, want 2: the refused import published nothing", len(vs))
	}
	for _, v := range vs {
		if v.Owner != "credit-centre" || v.Org != "credit-centre" {
			t.Errorf("version %d: got owner %q org %q, want credit-centre for both", v.Version, v.Owner, v.Org)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "datasets", ".staging")); len(ents) != 0 {
		t.Errorf("staging: got %d entries left, want none", len(ents))
	}
}

// TestOwnersMigration: a state made before names had owners gets each
// name's owner from its first version's importer, even when a later
// version was imported by another organisation.
func TestOwnersMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// Back to the state before the migration: no owners table, and
	// versions imported by anyone.
	for _, q := range []string{
		`DROP TABLE dataset_owners`,
		`DELETE FROM schema_migrations WHERE part = 'datasets' AND version >= 2`, // and the times of schema 3
		`ALTER TABLE dataset_versions DROP COLUMN upload`,                        // and the uploads' columns of schema 4
		`ALTER TABLE dataset_versions DROP COLUMN reviewed_by`,
		`ALTER TABLE dataset_versions DROP COLUMN reviewed_at`,
	} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []struct {
		name string
		ver  int
		org  string
	}{
		{"penalties", 1, "credit-centre"}, {"penalties", 2, "rival-centre"}, {"penalties", 3, "credit-centre"},
		{"registrations", 2, "market-bureau"}, {"registrations", 1, "rival-centre"},
	} {
		if _, err := db.SQL().Exec(`INSERT INTO dataset_versions(name, version, category, level, market, state, rows, bytes, columns, marks,
			spec_sha256, data_sha256, key_object, wrapped_key, fp_values, fp_rows, created_at, created_by, org)
			VALUES (?, ?, 'c', 'general-1', 'ordinary', 'active', 1, 1, '[]', '{}', '', '', 'k', X'00', 0, 0, ?, 'p', ?)`,
			v.name, v.ver, time.Date(2026, 1, v.ver, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano), v.org); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := New(db, t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, want string }{
		{"penalties", "credit-centre"},
		{"registrations", "rival-centre"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Owner(ctx, nil, tc.name)
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
			vs, err := c.Versions(ctx, db.SQL(), tc.name)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				if v.Owner != tc.want {
					t.Errorf("version %d: got owner %q, want %q", v.Version, v.Owner, tc.want)
				}
			}
		})
	}
	var n int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM dataset_owners`).Scan(&n)
	if n != 2 {
		t.Fatalf("owners: got %d, want 2", n)
	}
}

// TestRacingImportKeepsTheWinnersKey: two imports stage the same version
// of a name; the one that loses is discarded, and the winner's data still
// decrypts.
func TestRacingImportKeepsTheWinnersKey(t *testing.T) {
	ctx := context.Background()
	c, db, dir := newCatalog(t)
	src := filepath.Join(dir, "data.csv")
	if err := os.WriteFile(src, []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ingest.ParseSpec(strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	var staged []*Staged
	for _, org := range []string{"credit-centre", "rival-centre"} {
		st, err := c.Stage(ctx, ingest.Source{Path: src}, sp, "penalties", org, "p-"+org, nil)
		if err != nil {
			t.Fatal(err)
		}
		staged = append(staged, st)
	}
	if a, b := staged[0].Version.KeyObject(), staged[1].Version.KeyObject(); a == b || staged[0].Version.Version != staged[1].Version.Version {
		t.Fatalf("key objects of two stagings of version %d: got %q and %q, want two", staged[0].Version.Version, a, b)
	}
	if err := db.Tx(ctx, func(tx *sql.Tx) error { return c.Publish(ctx, tx, staged[0]) }, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(ctx, func(tx *sql.Tx) error { return c.Publish(ctx, tx, staged[1]) }, nil); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("the loser's publish: got %v, want permission denied", err)
	}
	c.Discard(ctx, staged[1])
	v, err := c.Get(ctx, nil, "penalties", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Decrypt(ctx, v, filepath.Join(t.TempDir(), "data.arrow")); err != nil {
		t.Fatalf("the winner's version after the loser was discarded: got %v, want it to decrypt", err)
	}
}
