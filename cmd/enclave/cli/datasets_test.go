package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/enclave-dev/enclave/enclave/api"
)

// TestDatasetTableShowsOwner: dataset show names the organisation that
// owns the name, apart from the one that imported the version.
func TestDatasetTableShowsOwner(t *testing.T) {
	tests := []struct {
		name string
		d    api.Dataset
		want []string
	}{
		{"owner's version", api.Dataset{ID: "penalties@2", Org: "credit-centre", Owner: "credit-centre", CreatedBy: "p_1"},
			[]string{"owner credit-centre", "by p_1 (credit-centre)"}},
		{"a version imported before names had owners", api.Dataset{ID: "penalties@3", Org: "rival", Owner: "credit-centre", CreatedBy: "p_2"},
			[]string{"owner credit-centre", "by p_2 (rival)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tabwriter.NewWriter(&buf, 2, 4, 2, ' ', 0)
			datasetTable(tw, tc.d)
			tw.Flush()
			got := strings.Join(strings.Fields(buf.String()), " ")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want %q in it", got, w)
				}
			}
		})
	}
}

// TestDatasetImportName: --name may be left out when the spec names the
// dataset; a --name that differs from the spec's, or no name at all, is a
// usage error before anything is sent.
func TestDatasetImportName(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	named := write("named.yaml", "name: credit_penalties\ncolumns:\n  a: {level: general-1, rule: keep}\n")
	unnamed := write("unnamed.yaml", "columns:\n  a: {level: general-1, rule: keep}\n")
	data := write("d.csv", "a\n1\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"the spec's name", []string{"--spec", named}, ExitFailure, "cannot reach the daemon"},
		{"the same in both", []string{"--spec", named, "--name", "credit_penalties"}, ExitFailure, "cannot reach the daemon"},
		{"--name only", []string{"--spec", unnamed, "--name", "credit_penalties"}, ExitFailure, "cannot reach the daemon"},
		{"different", []string{"--spec", named, "--name", "other"}, ExitUsage, `--name "other" differs from the name "credit_penalties" in the spec`},
		{"neither", []string{"--spec", unnamed}, ExitUsage, "--name is required: the spec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errb := run(t, append([]string{"dataset", "import", data}, tc.args...)...)
			if code != tc.code || !strings.Contains(errb, tc.want) {
				t.Fatalf("got exit %d, stderr %q; want %d and %q", code, errb, tc.code, tc.want)
			}
		})
	}
}
