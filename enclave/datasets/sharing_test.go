package datasets

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/ingest"
	"github.com/enclave-dev/enclave/enclave/store"
)

// TestRequireSharing: a spec must name its sharing class (issue 20 item
// 2); one that leaves it out, or gives it no scalar, is refused with an
// error naming the field, never taken as unconditional.
func TestRequireSharing(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		ok         bool
	}{
		{"named", spec, true},
		{"conditional", strings.Replace(spec, "sharing: unconditional", "sharing: conditional", 1), true},
		{"left out", strings.Replace(spec, "sharing: unconditional\n", "", 1), false},
		{"empty", strings.Replace(spec, "sharing: unconditional", "sharing: ", 1), false},
		{"a list", strings.Replace(spec, "sharing: unconditional", "sharing: [none]", 1), false},
		{"nested only", strings.Replace(spec, "sharing: unconditional\n", "", 1) + "extra: {sharing: none}\n", false},
		{"not a mapping", "- sharing: none\n", false},
		{"not YAML", "sharing: [\n", false},
		{"empty document", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := RequireSharing([]byte(tc.spec))
			if tc.ok && err != nil {
				t.Fatalf("got %v, want accepted", err)
			}
			if !tc.ok && (!errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "sharing")) {
				t.Fatalf("got %v, want an invalid argument naming sharing", err)
			}
		})
	}
}

// TestStageRefusesASpecWithoutSharing: a spec built in code without a
// sharing class is refused at staging and leaves no version.
func TestStageRefusesASpecWithoutSharing(t *testing.T) {
	ctx := context.Background()
	c, db, _ := newCatalog(t)
	sp, err := ingest.ParseSpec(strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	sp.Sharing = ""
	if _, err := c.Stage(ctx, ingest.Source{Path: "/nonexistent"}, sp, "penalties", "acme", "p-acme", nil); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "sharing") {
		t.Fatalf("got %v, want an invalid argument naming sharing", err)
	}
	var n int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM dataset_versions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("got %d versions (%v), want none", n, err)
	}
}

// TestLegacyVersionsAreConditional: a version stored before sharing
// classes (no mark) is conditional after the migration, and Sharing reads
// a missing mark as conditional too.
func TestLegacyVersionsAreConditional(t *testing.T) {
	ctx := context.Background()
	c, db, dir := newCatalog(t)
	if _, err := importAs(t, c, db, dir, "penalties", "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := importAs(t, c, db, dir, "kept", "acme"); err != nil {
		t.Fatal(err)
	}
	// Make "penalties" legacy: no sharing mark, datasets schema back at 4.
	for _, q := range []string{
		`UPDATE dataset_versions SET marks = json_remove(marks, '$."enclave.sharing"') WHERE name = 'penalties'`,
		`DELETE FROM schema_migrations WHERE part = 'datasets' AND version >= 5`,
	} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	v, err := c.Get(ctx, nil, "penalties", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.Marks[ingest.MarkSharing]; ok || v.Sharing() != "conditional" {
		t.Fatalf("legacy version before migration: marks %v, Sharing %q, want no mark read as conditional", v.Marks, v.Sharing())
	}
	db.Close()
	db2, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	for name, want := range map[string]string{"penalties": "conditional", "kept": "unconditional"} {
		var got string
		if err := db2.SQL().QueryRow(`SELECT json_extract(marks, '$."enclave.sharing"') FROM dataset_versions WHERE name = ?`, name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%s after migration: got sharing %q, want %q", name, got, want)
		}
	}
}

// FuzzRequireSharing: any input is accepted or refused with an invalid
// argument, never a panic; an accepted input names sharing.
func FuzzRequireSharing(f *testing.F) {
	f.Add([]byte(spec))
	f.Add([]byte("sharing: none\n"))
	f.Add([]byte("sharing:\n  - a\n"))
	f.Add([]byte("&a sharing: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := RequireSharing(data)
		if err != nil && !errdefs.IsInvalidArgument(err) {
			t.Fatalf("got %v, want nil or an invalid argument", err)
		}
		if err == nil && !strings.Contains(string(data), "sharing") {
			t.Fatalf("accepted a spec that does not name sharing")
		}
	})
}
