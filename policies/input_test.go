package policy

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

const validJSON = `{
 "action": "job.run", "now": "2026-06-01T12:00:00Z",
 "subject": {"id": "p-op1", "name": "Test Person", "org": "acme", "org_type": "company", "org_status": "active",
  "licence_from": "2026-01-01T00:00:00Z", "licence_until": "2027-01-01T00:00:00Z", "roles": ["operator"],
  "agreement_until": "2026-12-31T00:00:00Z"},
 "resource": {"kind": "job", "org": "acme", "owner": "p-op1",
  "datasets": [{"name": "credit_penalties", "version": 3, "level": "general-2", "market": "ordinary", "state": "active", "columns": ["a"]}],
  "image": {"digest": "sha256:abc", "status": "approved"}},
 "grants": [{"id": "g-1", "org": "acme", "datasets": [{"name": "credit_penalties", "columns": null}],
  "from": "2026-05-01T00:00:00Z", "until": "2026-07-01T00:00:00Z", "approvers": ["p-auth1"], "batches_left": 2, "status": "approved"}],
 "usage": {"running_jobs": 1, "cpu_seconds_month": 10},
 "quota": {"concurrent_jobs": 4, "cpu_seconds_month": null, "memory_bytes_per_job": 1073741824},
 "request": {"cpu": 1.5, "memory_bytes": 536870912},
 "config": {"authorized_org_types": ["company"]}
}`

func TestDecodeInput(t *testing.T) {
	in, err := DecodeInput([]byte(validJSON))
	if err != nil {
		t.Fatalf("DecodeInput: %v", err)
	}
	if got, want := in.Grants[0].BatchesLeft, int64(2); got == nil || *got != want {
		t.Errorf("got batches_left %v, want %d", got, want)
	}
	if in.Quota.CPUSecondsMonth != nil {
		t.Errorf("got cpu quota %v, want nil", *in.Quota.CPUSecondsMonth)
	}
	if got, want := in.Now, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("got now %v, want %v", got, want)
	}
	replace := func(old, new string) string {
		if !strings.Contains(validJSON, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(validJSON, old, new, 1)
	}
	bad := []struct {
		name, doc, field string
	}{
		{"not json", "{", ""},
		{"trailing data", validJSON + " {}", ""},
		{"unknown field", replace(`"kind": "job"`, `"kind": "job", "rows": 1`), ""},
		{"wrong type", replace(`"running_jobs": 1`, `"running_jobs": "1"`), ""},
		{"no action", replace(`"action": "job.run"`, `"action": ""`), "action"},
		{"action charset", replace(`"action": "job.run"`, `"action": "Job Run"`), "action"},
		{"no now", replace(`"now": "2026-06-01T12:00:00Z"`, `"now": "0001-01-01T00:00:00Z"`), "now"},
		{"far future", replace(`"licence_until": "2027-01-01T00:00:00Z"`, `"licence_until": "3000-01-01T00:00:00Z"`), "subject.licence_until"},
		{"unknown org type", replace(`"org_type": "company"`, `"org_type": "bank"`), "subject.org_type"},
		{"unknown level", replace(`"level": "general-2"`, `"level": "secret"`), "resource.datasets.level"},
		{"unknown market", replace(`"market": "ordinary"`, `"market": "grey"`), "resource.datasets.market"},
		{"unknown state", replace(`"state": "active"`, `"state": "lost"`), "resource.datasets.state"},
		{"unknown grant status", replace(`"status": "approved"}]`, `"status": "maybe"}]`), "grants.status"},
		{"negative batches", replace(`"batches_left": 2`, `"batches_left": -1`), "grants.batches_left"},
		{"negative quota", replace(`"concurrent_jobs": 4`, `"concurrent_jobs": -4`), "quota.concurrent_jobs"},
		{"negative memory", replace(`"memory_bytes": 536870912`, `"memory_bytes": -1`), "request.memory_bytes"},
		{"long id", replace(`"id": "p-op1"`, `"id": "`+strings.Repeat("x", 300)+`"`), "subject.id"},
		{"unknown authorized type", replace(`"authorized_org_types": ["company"]`, `"authorized_org_types": ["bank"]`), "config.authorized_org_types"},
		{"grant without until", replace(`"until": "2026-07-01T00:00:00Z", `, ``), "grants.until"},
		{"dataset twice", replace(`"columns": ["a"]}]`, `"columns": ["a"]}, {"name": "credit_penalties", "version": 4}]`), "resource.datasets.name"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeInput([]byte(tc.doc))
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got error %v, want an invalid-argument error", err)
			}
			if tc.field != "" && !strings.Contains(err.Error(), `"`+tc.field+`"`) {
				t.Errorf("got error %q, want it to name field %q", err, tc.field)
			}
			for _, secret := range []string{"bank", "secret", "grey", "xxxxxxxx", "Job Run", "3000"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("got error %q, want no input value in it", err)
				}
			}
		})
	}
}

func TestValidateCPU(t *testing.T) {
	for _, cpu := range []float64{-1, math.NaN(), math.Inf(1)} {
		in := Input{Action: "job.run", Now: time.Now(), Request: Request{CPU: cpu}}
		if err := in.Validate(); !errdefs.IsInvalidArgument(err) {
			t.Errorf("cpu %v: got %v, want an invalid-argument error", cpu, err)
		}
	}
}

func TestBuiltin(t *testing.T) {
	for _, name := range []string{"decision.rego", "roles.rego", "data.rego"} {
		b, err := fsReadFile(name)
		if err != nil || !bytes.Contains(b, []byte("package enclave")) {
			t.Errorf("%s: got %d bytes, %v, want a Rego file of package enclave", name, len(b), err)
		}
	}
}

// FuzzDecodeInput: decoding never panics; whatever decodes is valid and
// survives a JSON round trip unchanged.
func FuzzDecodeInput(f *testing.F) {
	f.Add([]byte(validJSON))
	f.Add([]byte(`{"action":"whoami","now":"2026-01-01T00:00:00Z","subject":{"id":"p"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := DecodeInput(data)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got error class of %v, want invalid argument", err)
			}
			return
		}
		if err := in.Validate(); err != nil {
			t.Fatalf("decoded input does not validate: %v", err)
		}
		b1, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := DecodeInput(b1)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		b2, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("marshal again: %v", err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("got %s after a round trip, want %s", b2, b1)
		}
	})
}

func fsReadFile(name string) ([]byte, error) {
	return fs.ReadFile(Builtin(), name)
}
