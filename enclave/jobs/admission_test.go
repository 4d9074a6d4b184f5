package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/ingest"
	policy "github.com/enclave-dev/enclave/policies"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

func TestParseRequest(t *testing.T) {
	ok := api.JobRequest{Image: sandboxtest.FakeDigest, Inputs: []string{"credit"}, Args: []string{"/app/model"}, Outputs: []string{"counts.csv"}}
	with := func(f func(r *api.JobRequest)) api.JobRequest { r := ok; f(&r); return r }
	tests := []struct {
		name string
		req  api.JobRequest
		want string // "" for ok
	}{
		{"ok", ok, ""},
		{"limits", with(func(r *api.JobRequest) { r.CPUs, r.Memory, r.Timeout = 2, "2Gi", "30m" }), ""},
		{"tag, not a digest", with(func(r *api.JobRequest) { r.Image = "model:latest" }), "must be a digest"},
		{"no command", with(func(r *api.JobRequest) { r.Args = nil }), "needs a command"},
		{"no input", with(func(r *api.JobRequest) { r.Inputs = nil }), "at least one dataset"},
		{"output path", with(func(r *api.JobRequest) { r.Outputs = []string{"../x"} }), api.OutputNameRule},
		{"memory", with(func(r *api.JobRequest) { r.Memory = "lots" }), `size "lots"`},
		{"timeout", with(func(r *api.JobRequest) { r.Timeout = "forever" }), `timeout "forever"`},
		{"negative cpus", with(func(r *api.JobRequest) { r.CPUs = -1 }), "cpu"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRequest(tc.req)
			if tc.want != "" {
				if !errdefs.IsInvalidArgument(err) || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
					t.Fatalf("got %v, want an invalid-argument error naming %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want ok", err)
			}
			if r.Image != tc.req.Image || !slices.Equal(r.Args, tc.req.Args) || !slices.Equal(r.Inputs, tc.req.Inputs) || !slices.Equal(r.Outputs, tc.req.Outputs) {
				t.Errorf("got %+v, want the request's image, command, inputs and outputs", r)
			}
			if tc.req.Memory == "2Gi" && (r.Limits.MemoryBytes != 2<<30 || r.Limits.CPUs != 2 || r.Limits.Timeout != 30*time.Minute) {
				t.Errorf("got limits %+v, want 2 CPUs, 2 GiB, 30m", r.Limits)
			}
			if tc.req.Memory == "" && r.Limits != sandbox.DefaultLimits() {
				t.Errorf("got limits %+v, want the defaults", r.Limits)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // 0: refused
	}{
		{"1048576", 1 << 20}, {"512Mi", 512 << 20}, {"2Gi", 2 << 30}, {"4Ki", 4 << 10}, {"100M", 100e6}, {"3K", 3000}, {"1G", 1e9},
		{"", 0}, {"0", 0}, {"-1Mi", 0}, {"1.5Gi", 0}, {"Gi", 0}, {"1Ti", 0}, {"2000000Gi", 0},
	} {
		got, err := ParseSize(tc.in)
		switch {
		case tc.want == 0 && !errdefs.IsInvalidArgument(err):
			t.Errorf("ParseSize(%q): got %d, %v, want an invalid-argument error", tc.in, got, err)
		case tc.want != 0 && (err != nil || got != tc.want):
			t.Errorf("ParseSize(%q): got %d, %v, want %d", tc.in, got, err, tc.want)
		}
	}
}

// admissionWorld is a manager over the fake sandbox with an approved
// image and organisation acme's grant on "credit" with one batch left.
type admissionWorld struct {
	m     *Manager
	a     *Admission
	grant string
	v     *datasets.Version
	quota policy.Quota
}

func newAdmissionWorld(t *testing.T) *admissionWorld {
	t.Helper()
	ctx := context.Background()
	m, _ := newManager(t, &sandboxtest.Fake{})
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	w := &admissionWorld{m: m, v: &datasets.Version{Name: "credit", Version: 1, Level: "general-3", Market: "authorized", Org: "centre",
		Columns: []ingest.ColumnInfo{{Name: "district"}, {Name: "fine"}}}}
	limit := int64(3)
	w.quota = policy.Quota{ConcurrentJobs: &limit}
	w.a = &Admission{Jobs: m, Now: func() time.Time { return now },
		Quota: func(_ context.Context, org string) (policy.Quota, error) {
			if org != "acme" {
				return policy.Quota{}, fmt.Errorf("quota of %q asked for", org)
			}
			return w.quota, nil
		}}
	if err := CreateImage(ctx, m.DB(), &Image{Digest: sandboxtest.FakeDigest, Name: "model", Size: 1, Status: ImageApproved, Org: "acme",
		ImportedBy: "p_op", ImportedAt: now}); err != nil {
		t.Fatal(err)
	}
	one := int64(1)
	app := &grants.Application{ID: "a_1", Org: "acme", Applicant: "p_op", Datasets: []grants.Dataset{{Name: "credit"}}, Purpose: "p",
		Scenario: "s", From: "2026-11-01", Until: "2027-06-30", Batches: &one, ApprovalsNeeded: 1, Status: grants.Pending, CreatedAt: now}
	err := m.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := grants.Create(ctx, tx, app); err != nil {
			return err
		}
		_, g, err := grants.Decide(ctx, tx, app.ID, "p_auth", grants.Approved, "", now, map[string]grants.Pin{"credit": grants.PinOf(w.v)})
		if err == nil {
			w.grant = g.ID
		}
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// resolve is the resolver of the test: "credit" (any version) and nothing
// else.
func (w *admissionWorld) resolve(_ context.Context, ins []grants.Dataset) ([]policy.Dataset, []*datasets.Version, error) {
	var pds []policy.Dataset
	var vs []*datasets.Version
	for _, in := range ins {
		name, _, _ := strings.Cut(in.Name, "@")
		if name != "credit" {
			return nil, nil, fmt.Errorf("dataset %q is not in the catalogue: %w", in.Name, errdefs.ErrInvalidArgument)
		}
		pds = append(pds, policy.Dataset{Name: "credit", Version: 1, Owner: "centre", Level: w.v.Level, Market: w.v.Market, State: "active", Columns: in.Columns})
		vs = append(vs, w.v)
	}
	return pds, vs, nil
}

func TestAdmissionPlan(t *testing.T) {
	w := newAdmissionWorld(t)
	ctx := context.Background()
	req := func(image string, inputs, columns []string) Request {
		return Request{Image: image, Args: []string{"run"}, Inputs: inputs, Columns: columns, Limits: sandbox.DefaultLimits()}
	}
	for _, tc := range []struct {
		name     string
		r        Request
		want     string   // an invalid-argument error naming this, or ""
		wantCols []string // the columns the policy sees of the input
	}{
		{"every column", req(sandboxtest.FakeDigest, []string{"credit"}, nil), "", []string{"district", "fine"}},
		{"named columns", req(sandboxtest.FakeDigest, []string{"credit"}, []string{"credit.fine"}), "", []string{"fine"}},
		{"never imported", req("sha256:"+strings.Repeat("1", 64), []string{"credit"}, nil), "was never imported", nil},
		{"unknown dataset", req(sandboxtest.FakeDigest, []string{"other"}, nil), `"other" is not in the catalogue`, nil},
		{"input twice", req(sandboxtest.FakeDigest, []string{"credit", "credit@1"}, nil), `"credit" is an input twice`, nil},
		{"column of no input", req(sandboxtest.FakeDigest, []string{"credit"}, []string{"other.fine"}), "other", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := w.a.Plan(ctx, w.m.DB(), "acme", "p_op", tc.r, w.resolve)
			if tc.want != "" {
				if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want an invalid-argument error naming %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Org != "acme" || p.Owner != "p_op" || p.Image.Status != ImageApproved || len(p.Datasets) != 1 || !slices.Equal(p.Datasets[0].Columns, tc.wantCols) {
				t.Fatalf("got plan %+v, want acme's, the approved image and credit read as %v", p, tc.wantCols)
			}
			if len(p.Grants) != 1 || p.Grants[0].ID != w.grant || p.Grants[0].BatchesLeft == nil || *p.Grants[0].BatchesLeft != 1 {
				t.Errorf("got grants %+v, want acme's grant with one batch", p.Grants)
			}
			if p.Quota.ConcurrentJobs == nil || *p.Quota.ConcurrentJobs != 3 || p.Usage.RunningJobs != 0 {
				t.Errorf("got quota %+v and usage %+v, want acme's quota and no jobs running", p.Quota, p.Usage)
			}
		})
	}
}

// TestAdmissionAdmit: an admitted job is recorded queued, with its inputs
// and the columns it reads, and spends one batch of its grant; once the
// grant has none left, an admission is refused and records nothing.
func TestAdmissionAdmit(t *testing.T) {
	w := newAdmissionWorld(t)
	ctx := context.Background()
	r := Request{Image: sandboxtest.FakeDigest, Args: []string{"run"}, Inputs: []string{"credit"}, Columns: []string{"credit.fine"},
		Outputs: []string{"counts.csv"}, Limits: sandbox.DefaultLimits()}
	p, err := w.a.Plan(ctx, w.m.DB(), "acme", "p_op", r, w.resolve)
	if err != nil {
		t.Fatal(err)
	}
	admit := func(id string) (*Job, error) {
		var j *Job
		err := w.m.db.Tx(ctx, func(tx *sql.Tx) error {
			var err error
			j, err = w.a.Admit(ctx, tx, p, id, map[string]string{"credit": w.grant}, "rev-1")
			return err
		}, nil)
		return j, err
	}
	if _, err := admit("j-1"); err != nil {
		t.Fatal(err)
	}
	j, err := Get(ctx, w.m.DB(), "j-1")
	if err != nil {
		t.Fatal(err)
	}
	if j.State != Queued || j.Org != "acme" || j.Owner != "p_op" || j.Revision != "rev-1" || j.Grants["credit"] != w.grant ||
		len(j.Inputs) != 1 || j.Inputs[0].Dataset != "credit" || !slices.Equal(j.Inputs[0].Columns, []string{"fine"}) || !slices.Equal(j.Declared, []string{"counts.csv"}) {
		t.Fatalf("got job %+v, want acme's queued job reading credit's fine column", j)
	}
	g, err := grants.GetGrant(ctx, w.m.DB(), w.grant)
	if err != nil || g.BatchesLeft == nil || *g.BatchesLeft != 0 {
		t.Fatalf("got grant %+v, %v, want no batch left", g, err)
	}
	if _, err := admit("j-2"); !errdefs.IsResourceExhausted(err) {
		t.Fatalf("admission past the batches: got %v, want resource exhausted", err)
	}
	if _, err := Get(ctx, w.m.DB(), "j-2"); !errdefs.IsNotFound(err) {
		t.Fatalf("a refused admission recorded job j-2: %v", err)
	}
}

// FuzzParseRequest: whatever a job request holds, ParseRequest accepts it
// only with a digest, valid outputs, limits the sandbox accepts and the
// memory asked for, and refuses it otherwise as an invalid argument.
func FuzzParseRequest(f *testing.F) {
	f.Add(sandboxtest.FakeDigest, "credit", "run", "counts.csv", 1.0, "512Mi", "10m")
	f.Add("sha256:x", "", "", "../x", -1.0, "1.5Gi", "-1s")
	f.Add(sandboxtest.FakeDigest, "credit@2", "run", "", 0.0, "9999999999Gi", "99999h")
	f.Fuzz(func(t *testing.T, image, input, arg, output string, cpus float64, memory, timeout string) {
		req := api.JobRequest{Image: image, Inputs: []string{input}, Args: []string{arg}, CPUs: cpus, Memory: memory, Timeout: timeout}
		if output != "" {
			req.Outputs = []string{output}
		}
		r, err := ParseRequest(req)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got %v, want an invalid-argument error", err)
			}
			return
		}
		if !sandbox.ValidDigest(r.Image) || r.Limits.Validate() != nil || api.CheckOutputs(r.Outputs) != nil {
			t.Fatalf("accepted %+v", r)
		}
		if memory != "" {
			if n, err := ParseSize(memory); err != nil || n != r.Limits.MemoryBytes || n <= 0 {
				t.Fatalf("memory %q: limits hold %d", memory, r.Limits.MemoryBytes)
			}
		}
	})
}
