package cli

import (
	"bytes"
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
