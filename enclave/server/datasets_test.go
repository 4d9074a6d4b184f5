package server

import (
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
)

// TestStateOfEveryVersion: sealing, unsealing and destroying a dataset of
// several versions acts on every version (the policies see the dataset
// once: its newest version, or the one named).
func TestStateOfEveryVersion(t *testing.T) {
	w := newWorld(t)
	if l := w.importDataset(w.custodian.Token, "penalties", testSpec, testCSV); l.Dataset == nil || l.Dataset.Version != 2 {
		t.Fatalf("second version: got %+v", l.Error)
	}
	tests := []struct {
		path      string
		wantState []string
	}{
		{"/v1/datasets/penalties/seal", []string{"sealed", "sealed"}},
		{"/v1/datasets/penalties/unseal", []string{"active", "active"}},
		{"/v1/datasets/penalties@1/destroy", []string{"destroyed", "active"}},
		{"/v1/datasets/penalties/destroy", []string{"destroyed", "destroyed"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if code, body := w.do(w.custodian.Token, "POST", tc.path, api.ReasonRequest{Reason: "term end"}); code != 200 {
				t.Fatalf("got %d %s, want 200", code, body)
			}
			var vs []api.Dataset
			w.mustDo(w.custodian.Token, "GET", "/v1/datasets?all=1", nil, &vs)
			if len(vs) != len(tc.wantState) {
				t.Fatalf("got %d versions, want %d", len(vs), len(tc.wantState))
			}
			for i, v := range vs {
				if v.State != tc.wantState[i] {
					t.Errorf("version %d: got %s, want %s", v.Version, v.State, tc.wantState[i])
				}
			}
		})
	}
}
