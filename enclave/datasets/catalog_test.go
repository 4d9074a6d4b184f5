package datasets

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/ingest"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		ref     string
		name    string
		version int
		ok      bool
	}{
		{"penalties", "penalties", 0, true},
		{"penalties@2", "penalties", 2, true},
		{"penalties@0", "", 0, false},
		{"penalties@-1", "", 0, false},
		{"penalties@two", "", 0, false},
		{"penalties@", "", 0, false},
		{"@2", "", 0, false},
		{"", "", 0, false},
		{"../etc@1", "", 0, false},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			name, v, err := ParseRef(tc.ref)
			if tc.ok != (err == nil) || name != tc.name || v != tc.version {
				t.Fatalf("ParseRef(%q): got %q %d %v, want %q %d ok=%v", tc.ref, name, v, err, tc.name, tc.version, tc.ok)
			}
			if err != nil && !errdefs.IsInvalidArgument(err) {
				t.Errorf("ParseRef(%q): error %v is not invalid-argument", tc.ref, err)
			}
		})
	}
}

// arrowColumns reads the column names of an Arrow IPC file.
func arrowColumns(t *testing.T, path string) ([]string, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	for _, fl := range r.Schema().Fields() {
		names = append(names, fl.Name)
	}
	var rows int64
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		rows += rec.NumRows()
	}
	return names, rows
}

// TestLifecycle walks a dataset through versions, reads, seal, unseal and
// destruction; each step either does what it says or is refused with its
// error class and changes nothing.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	c, db, dir := newCatalog(t)
	for i := 0; i < 2; i++ {
		if _, err := importAs(t, c, db, dir, "penalties", "credit-centre"); err != nil {
			t.Fatal(err)
		}
	}
	tx := func(fn func(tx *sql.Tx) error) error { return db.Tx(ctx, fn, nil) }
	out := t.TempDir()
	steps := []struct {
		name    string
		do      func() error
		wantErr func(error) bool
	}{
		{"newest is version 2", func() error {
			v, err := c.Get(ctx, nil, "penalties", 0)
			if err == nil && (v.Version != 2 || v.Rows != 3 || v.CreatedAt.IsZero() || v.State != Active) {
				t.Errorf("newest: got version %d, %d rows, created %v, %s", v.Version, v.Rows, v.CreatedAt, v.State)
			}
			return err
		}, nil},
		{"an unknown version", func() error { _, err := c.Get(ctx, nil, "penalties", 3); return err }, errdefs.IsNotFound},
		{"an unknown dataset", func() error { _, err := c.Get(ctx, nil, "credit", 0); return err }, errdefs.IsNotFound},
		{"decrypt every column", func() error {
			v, _ := c.Get(ctx, nil, "penalties", 1)
			if err := c.Decrypt(ctx, v, filepath.Join(out, "all.arrow")); err != nil {
				return err
			}
			if cols, rows := arrowColumns(t, filepath.Join(out, "all.arrow")); strings.Join(cols, ",") != "district,amount" || rows != 3 {
				t.Errorf("decrypted: got columns %v and %d rows, want district,amount and 3", cols, rows)
			}
			return nil
		}, nil},
		{"decrypt one column", func() error {
			v, _ := c.Get(ctx, nil, "penalties", 1)
			if err := c.DecryptColumns(ctx, v, filepath.Join(out, "district.arrow"), []string{"district"}); err != nil {
				return err
			}
			if cols, rows := arrowColumns(t, filepath.Join(out, "district.arrow")); strings.Join(cols, ",") != "district" || rows != 3 {
				t.Errorf("projected: got columns %v and %d rows, want district and 3", cols, rows)
			}
			return nil
		}, nil},
		{"decrypt a column it does not have", func() error {
			v, _ := c.Get(ctx, nil, "penalties", 1)
			return c.DecryptColumns(ctx, v, filepath.Join(out, "x.arrow"), []string{"name"})
		}, errdefs.IsInvalidArgument},
		{"seal", func() error {
			return tx(func(tx *sql.Tx) error {
				vs, err := c.SetState(ctx, tx, "penalties", Sealed, "inquiry")
				if err == nil && len(vs) != 2 {
					t.Errorf("sealed %d versions, want 2", len(vs))
				}
				return err
			})
		}, nil},
		{"a sealed version is not readable", func() error {
			v, _ := c.Get(ctx, nil, "penalties", 2)
			return c.Decrypt(ctx, v, filepath.Join(out, "sealed.arrow"))
		}, errdefs.IsFailedPrecondition},
		{"seal twice", func() error {
			return tx(func(tx *sql.Tx) error { _, err := c.SetState(ctx, tx, "penalties", Sealed, "again"); return err })
		}, errdefs.IsFailedPrecondition},
		{"unseal", func() error {
			return tx(func(tx *sql.Tx) error { _, err := c.SetState(ctx, tx, "penalties", Active, "closed"); return err })
		}, nil},
		{"destroy version 1", func() error {
			var vs []*Version
			if err := tx(func(tx *sql.Tx) error {
				var err error
				vs, err = c.MarkDestroyed(ctx, tx, "penalties", 1, "term over")
				return err
			}); err != nil {
				return err
			}
			if len(vs) != 1 {
				t.Fatalf("marked %d versions, want 1", len(vs))
			}
			d, err := c.Shred(ctx, vs[0])
			if err == nil && (d.Files == 0 || d.KeyID == "" || !strings.Contains(d.Technique, "crypto-shred")) {
				t.Errorf("destruction record: got %+v", d)
			}
			if _, serr := os.Stat(c.versionDir("penalties", 1)); !os.IsNotExist(serr) {
				t.Errorf("the files of a destroyed version are still there: %v", serr)
			}
			return err
		}, nil},
		{"a destroyed version is gone", func() error {
			v, err := c.Get(ctx, nil, "penalties", 1)
			if err != nil {
				return err
			}
			if v.State != Destroyed || v.DestroyedAt == "" {
				t.Errorf("destroyed version: got state %s destroyed at %q", v.State, v.DestroyedAt)
			}
			if v.DestroyedAt != "" && !strings.HasPrefix(v.DestroyedAt, "2026-11-23T09:00:00") {
				t.Errorf("destroyed at %q, want the catalogue's clock", v.DestroyedAt)
			}
			return c.Decrypt(ctx, v, filepath.Join(out, "destroyed.arrow"))
		}, errdefs.IsNotFound},
		{"destroy it twice", func() error {
			return tx(func(tx *sql.Tx) error { _, err := c.MarkDestroyed(ctx, tx, "penalties", 1, "again"); return err })
		}, errdefs.IsFailedPrecondition},
		{"destroy a version that never was", func() error {
			return tx(func(tx *sql.Tx) error { _, err := c.MarkDestroyed(ctx, tx, "penalties", 9, "x"); return err })
		}, errdefs.IsNotFound},
		{"version 2 is untouched", func() error {
			v, err := c.Get(ctx, nil, "penalties", 2)
			if err == nil && v.State != Active {
				t.Errorf("version 2: got %s, want active", v.State)
			}
			if err != nil {
				return err
			}
			return c.Decrypt(ctx, v, filepath.Join(out, "v2.arrow"))
		}, nil},
	}
	for _, st := range steps {
		err := st.do()
		if st.wantErr == nil && err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if st.wantErr != nil && !st.wantErr(err) {
			t.Fatalf("%s: got %v, want a refusal of its class", st.name, err)
		}
	}
	all, err := c.List(ctx, true)
	if err != nil || len(all) != 2 {
		t.Fatalf("List(all): got %d versions, %v; want 2", len(all), err)
	}
}

// TestWithheldStaysSealed: withheld data is sealed from its import and
// cannot be unsealed.
func TestWithheldStaysSealed(t *testing.T) {
	ctx := context.Background()
	c, db, dir := newCatalog(t)
	src := filepath.Join(dir, "data.csv")
	if err := os.WriteFile(src, []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ingest.ParseSpec(strings.NewReader(strings.Replace(spec, "market: ordinary", "market: withheld", 1)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Stage(ctx, ingest.Source{Path: src}, sp, "sealed_register", "credit-centre", "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(ctx, func(tx *sql.Tx) error { return c.Publish(ctx, tx, st) }, nil); err != nil {
		t.Fatal(err)
	}
	v, err := c.Get(ctx, nil, "sealed_register", 0)
	if err != nil || v.State != Sealed || !errdefs.IsFailedPrecondition(v.Readable()) {
		t.Fatalf("withheld import: got %v; want sealed and unreadable", err)
	}
	err = db.Tx(ctx, func(tx *sql.Tx) error { _, err := c.SetState(ctx, tx, "sealed_register", Active, "please"); return err }, nil)
	if !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("unseal withheld data: got %v, want failed precondition", err)
	}
	if v, _ := c.Get(ctx, nil, "sealed_register", 0); v.State != Sealed {
		t.Errorf("after the refused unseal: got %s, want sealed", v.State)
	}
}

// TestBadImportLeavesNothing: an import that fails leaves no version, no
// staged files and no owner.
func TestBadImportLeavesNothing(t *testing.T) {
	ctx := context.Background()
	c, _, dir := newCatalog(t)
	sp, err := ingest.ParseSpec(strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, csv string }{
		{"a column the spec does not name", "district,amount,name\nDonglin,12000,Li\n"},
		{"a column the spec names is missing", "district\nDonglin\n"},
		{"a row with more fields than the header", "district,amount\nDonglin,12000,extra\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(dir, "bad.csv")
			if err := os.WriteFile(src, []byte(tc.csv), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Stage(ctx, ingest.Source{Path: src}, sp, "penalties", "credit-centre", "p", nil); err == nil {
				t.Fatal("a bad import was staged")
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "datasets", ".staging")); len(ents) != 0 {
				t.Errorf("staging: %d entries left, want none", len(ents))
			}
			if _, err := c.Owner(ctx, nil, "penalties"); !errdefs.IsNotFound(err) {
				t.Errorf("owner after a failed import: got %v, want not found", err)
			}
		})
	}
}
