package store

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestOrdered(t *testing.T) {
	part := func(name string, requires ...string) Schema { return Schema{Part: name, Requires: requires} }
	list := []string{"people", "datasets", "grants", "jobs", "usage"}
	tests := []struct {
		name       string
		registered []Schema
		want       []string // the order, or nil with wantErr
		wantErr    string
	}{
		{"the list's order, not the registration's", []Schema{part("usage", "jobs"), part("jobs"), part("people"), part("grants", "datasets"), part("datasets")},
			[]string{"people", "datasets", "grants", "jobs", "usage"}, ""},
		{"parts this program does not link are passed over", []Schema{part("jobs"), part("people")}, []string{"people", "jobs"}, ""},
		{"a part not in the list", []Schema{part("people"), part("ledger")}, nil, `"ledger" is registered but not in the list`},
		{"a requirement not registered", []Schema{part("people"), part("usage", "jobs")}, nil, `"usage" requires part "jobs", which is not registered`},
		{"a requirement listed after", []Schema{part("jobs", "usage"), part("usage")}, nil, `"jobs" requires part "usage", which store.Parts lists after it`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ordered(tc.registered, list)
			if tc.wantErr != "" {
				if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want a failed-precondition error naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range got {
				names = append(names, s.Part)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("got %v, want %v", names, tc.want)
			}
		})
	}
}

// TestPartsOfThisProgram: the parts registered in this test binary (the
// store's own) are in Parts and in their order there, each once.
func TestPartsOfThisProgram(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Parts {
		if seen[p] {
			t.Errorf("part %q is in Parts twice", p)
		}
		seen[p] = true
	}
	got, err := ordered(schemas, Parts)
	if err != nil || len(got) != len(schemas) {
		t.Fatalf("got %d parts, %v, want the %d registered", len(got), err, len(schemas))
	}
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var parts []string
	rows, err := db.SQL().Query(`SELECT part FROM schema_migrations GROUP BY part ORDER BY MIN(rowid)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		rows.Scan(&p)
		parts = append(parts, p)
	}
	if !slices.Equal(parts, []string{"people", "audit-watermark"}) {
		t.Errorf("migrated parts %v, want people then audit-watermark", parts)
	}
}
