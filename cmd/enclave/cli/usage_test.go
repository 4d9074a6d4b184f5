package cli

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
)

func TestParseQuota(t *testing.T) {
	tests := []struct {
		in   string
		size bool
		want int64
		ok   bool
	}{
		{"4", false, 4, true},
		{"4Gi", true, 4 << 30, true},
		{"512M", true, 512e6, true},
		{"4Gi", false, 0, false},
		{"-1", false, 0, false},
		{"lots", true, 0, false},
		{"9999999999Ti", true, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseQuota(tc.in, tc.size)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("got %d, %v; want %d, ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestUsageCSV(t *testing.T) {
	rep := api.UsageReport{By: "month", Rows: []api.UsageRow{{Key: "2026-01", Jobs: 2, CPUHours: 1.5, Charge: api.UsageCharge{Total: 0.95},
		Classes: []api.UsageClass{{Class: "public-interest", Jobs: 1, Charge: api.UsageCharge{Total: 0.05}, Applications: []api.UsageBasis{{Application: "a_1"}}},
			{Class: "industry", Jobs: 1, Charge: api.UsageCharge{Total: 0.90}}}}},
		Total: api.UsageRow{Key: "total", Jobs: 2, CPUHours: 1.5}}
	var buf bytes.Buffer
	if err := usageCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0][0] != "month" || recs[1][0] != "2026-01" || recs[1][2] != "1.5" || recs[1][17] != "0.95" || recs[2][0] != "total" {
		t.Errorf("got %v, want a header, the January row and the total", recs)
	}
	// Which prices applied (issue 20 item 3): each class's charge and the
	// public-interest applications.
	if got := recs[1][18:]; got[0] != "0.05" || got[1] != "0.9" || got[2] != "a_1" {
		t.Errorf("got price classes %v, want 0.05, 0.9 and a_1", got)
	}
	for i, r := range recs {
		if len(r) != len(usageHeader) {
			t.Errorf("record %d: got %d fields, want %d", i, len(r), len(usageHeader))
		}
	}
}
