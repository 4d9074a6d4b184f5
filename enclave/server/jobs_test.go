package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// jobLog is what the fake job writes to its log: two lines anyone may
// read, an identifier-like token and a hex run that the text rule
// withholds from operators.
const jobLog = "start\nrows 3\n91990104A6N74W818W\nkey 3f2a9c0d7e6b5a4f3f2a9c0d7e6b5a4f\ndone\n"

// jobWorld is a world with a job manager over the fake runtime and an
// export service without checks: acme's operator has a grant on penalties
// and an approved image; officers of acme and of another organisation,
// and the bureau, look on.
type jobWorld struct {
	*world
	rt                             *sandboxtest.Fake
	officerOwn, officer2, bureau   api.PersonCreated
	operatorSameOrg                api.PersonCreated
	image                          string
	ctx                            context.Context
	jobsDir                        string
	undeclared                     int
	outputBytes                    int
	peakMemory, cpuNanos, wallTime uint64
}

func newJobWorld(t *testing.T) *jobWorld {
	jw := &jobWorld{ctx: context.Background(), image: sandboxtest.FakeDigest, undeclared: 3, outputBytes: 5000,
		peakMemory: 5<<20 + 1, cpuNanos: 1_500_000_000, wallTime: uint64(2200 * time.Millisecond)}
	jw.rt = &sandboxtest.Fake{RunFunc: jw.run}
	dir := t.TempDir()
	jw.jobsDir = filepath.Join(dir, "jobs")
	jw.world = newWorldWith(t, func(d *Deps) {
		m, err := jobs.NewManager(jobs.Config{Dir: jw.jobsDir, InputDir: filepath.Join(dir, "inputs"), UID: os.Getuid(), GID: os.Getgid(), MaxRunning: 2,
			Now: d.Now, PlainDir: t.TempDir(), Keyring: d.Keyring},
			d.DB, jw.rt, d.Catalog, d.Audit)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		d.Jobs = m
		d.Exports = &exports.Service{Dir: filepath.Join(dir, "exports"), Jobs: m, Catalog: d.Catalog, Keyring: d.Keyring}
	})
	w := jw.world
	add := func(name, org, role string) api.PersonCreated {
		var out api.PersonCreated
		w.mustDo(w.admin, "POST", "/v1/people", registered(api.PersonRequest{Name: name, Org: org, Roles: []string{role}, AgreementUntil: "2027-06-30"}), &out)
		return out
	}
	jw.officerOwn = add("Zhao Yun", "acme", "officer")
	jw.officer2 = add("Qian Mo", "security", "officer")
	jw.bureau = add("Sun Hao", "platform", "bureau")
	jw.operatorSameOrg = add("Liu Bei", "acme", "operator")
	var a struct{ ID string }
	w.mustDo(w.operator.Token, "POST", "/v1/applications", api.ApplicationRequest{Datasets: []string{"penalties"}, Purpose: "risk statistics",
		Scenario: "dashboard", Until: "2027-06-30"}, &a)
	w.mustDo(w.authority.Token, "POST", "/v1/applications/"+a.ID+"/approve", api.CommentRequest{}, nil)
	if err := jobs.CreateImage(jw.ctx, w.db.SQL(), &jobs.Image{Digest: jw.image, Name: "fake", Size: 1, Status: jobs.ImageApproved, Org: "acme",
		ImportedBy: w.operator.ID, ImportedAt: w.now}); err != nil {
		t.Fatal(err)
	}
	return jw
}

// run is the fake job: args[0] "fail" exits 3, anything else exits 0;
// each declared output is written with outputBytes bytes; the runtime
// reports undeclared entries as the real collector does, by count.
func (jw *jobWorld) run(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	io.WriteString(logs, jobLog)
	if err := os.MkdirAll(spec.OutDir, 0o700); err != nil {
		return sandbox.Exit{}, err
	}
	ex := sandbox.Exit{Reason: sandbox.ReasonExited, Undeclared: jw.undeclared,
		Usage: sandbox.Usage{PeakMemoryBytes: jw.peakMemory, CPUNanos: jw.cpuNanos, Wall: time.Duration(jw.wallTime),
			IOReadBytes: 3 << 20, IOWriteBytes: 1}}
	if spec.Args[0] == "fail" {
		ex.Code = 3
	}
	for _, n := range spec.Outputs {
		data := []byte(strings.Repeat("x", jw.outputBytes))
		if err := os.WriteFile(filepath.Join(spec.OutDir, n), data, 0o600); err != nil {
			return sandbox.Exit{}, err
		}
		ex.Outputs = append(ex.Outputs, sandbox.File{Name: n, Size: int64(len(data))})
		ex.Usage.OutputBytes += uint64(len(data))
	}
	return ex, nil
}

// runJob submits a job as acme's operator and waits for its end.
func (jw *jobWorld) runJob(cmd string, outputs ...string) api.Job {
	jw.t.Helper()
	var j api.Job
	jw.mustDo(jw.operator.Token, "POST", "/v1/jobs", api.JobRequest{Image: jw.image, Inputs: []string{"penalties"}, Outputs: outputs,
		Args: []string{cmd}}, &j)
	if _, err := jw.srv.Jobs.Wait(jw.ctx, j.ID); err != nil {
		jw.t.Fatal(err)
	}
	return j
}

func (jw *jobWorld) show(token, id string) api.Job {
	jw.t.Helper()
	var j api.Job
	jw.mustDo(token, "GET", "/v1/jobs/"+id, nil, &j)
	return j
}

func TestJobRunRefusesBadOutputs(t *testing.T) {
	jw := newJobWorld(t)
	many := make([]string, api.MaxOutputs+1)
	for i := range many {
		many[i] = fmt.Sprintf("f%03d.csv", i)
	}
	tests := []struct {
		name    string
		outputs []string
		want    string
	}{
		{"path", []string{"sub/counts.csv"}, api.OutputNameRule},
		{"hidden", []string{".counts"}, api.OutputNameRule},
		{"leading dash", []string{"-counts"}, api.OutputNameRule},
		{"too long", []string{strings.Repeat("a", 65)}, api.OutputNameRule},
		{"space", []string{"a b"}, api.OutputNameRule},
		{"twice", []string{"a.csv", "a.csv"}, "declared twice"},
		{"too many", many, "at most 100 outputs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := jw.do(jw.operator.Token, "POST", "/v1/jobs", api.JobRequest{Image: jw.image, Inputs: []string{"penalties"},
				Outputs: tc.outputs, Args: []string{"ok"}})
			var eb api.ErrorBody
			json.Unmarshal(body, &eb)
			if code != 400 || eb.Error.Class != "invalid-argument" || !strings.Contains(eb.Error.Message, tc.want) {
				t.Fatalf("got %d %s, want 400 invalid-argument naming %q", code, body, tc.want)
			}
		})
	}
	if n := jw.count("jobs"); n != 0 || len(jw.rt.Specs()) != 0 {
		t.Fatalf("refused jobs: got %d recorded and %d run, want none", n, len(jw.rt.Specs()))
	}
}

func TestJobViews(t *testing.T) {
	jw := newJobWorld(t)
	failed := jw.runJob("fail", "counts.csv", "missing-is-fine.txt")
	if specs := jw.rt.Specs(); len(specs) != 1 || strings.Join(specs[0].Outputs, ",") != "counts.csv,missing-is-fine.txt" {
		t.Fatalf("the runtime got outputs %v, want the declared ones", specs)
	}
	coarse := api.JobUsage{CPUSeconds: 2, PeakMemoryBytes: 8 << 20, IOReadBytes: 4 << 20, IOWriteBytes: 1 << 20, OutputBytes: 16 << 10, InputBytes: 1 << 20,
		WallSeconds: 4}
	tests := []struct {
		name      string
		token     string
		exact     bool
		undecl    int
		outputLen int64
	}{
		{"operator", jw.operator.Token, false, 4, 8192},
		{"another operator of the organisation", jw.operatorSameOrg.Token, false, 4, 8192},
		{"officer of the organisation", jw.officerOwn.Token, false, 4, 8192},
		{"officer of another organisation", jw.officer.Token, true, 3, 5000},
		{"bureau", jw.bureau.Token, true, 3, 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := jw.show(tc.token, failed.ID)
			if j.State != "executor-error" || j.Outcome != api.OutcomeFailed {
				t.Fatalf("state: got %s/%s, want executor-error/failed", j.State, j.Outcome)
			}
			if got := j.ExitCode != nil && *j.ExitCode == 3 && j.Reason == "exited"; got != tc.exact {
				t.Errorf("exit status shown: got %v (code %v, reason %q, message %q), want %v", got, j.ExitCode, j.Reason, j.Message, tc.exact)
			}
			if strings.Contains(j.Message, "3") != tc.exact {
				t.Errorf("message: got %q, want the status only in the exact view", j.Message)
			}
			if tc.exact {
				if j.View != api.ViewExact || j.Usage.PeakMemoryBytes != 5<<20+1 || j.Usage.WallSeconds != 2.2 || j.Usage.CPUSeconds != 1.5 {
					t.Errorf("exact usage: got %s %+v", j.View, j.Usage)
				}
			} else if j.View != api.ViewCoarse || j.Usage != coarse {
				t.Errorf("coarse usage: got %s %+v, want %+v", j.View, j.Usage, coarse)
			}
			if j.UndeclaredDropped != tc.undecl {
				t.Errorf("undeclared: got %d, want %d", j.UndeclaredDropped, tc.undecl)
			}
			if len(j.Outputs) != 2 || j.Outputs[0].Name != "counts.csv" || j.Outputs[0].Size != tc.outputLen || (j.Outputs[0].SHA256 != "") != tc.exact {
				t.Errorf("outputs: got %+v, want size %d and a hash only in the exact view", j.Outputs, tc.outputLen)
			}
			if strings.Join(j.DeclaredOutputs, ",") != "counts.csv,missing-is-fine.txt" {
				t.Errorf("declared outputs: got %v", j.DeclaredOutputs)
			}
			// The list shows each job the same way.
			var list []api.Job
			jw.mustDo(tc.token, "GET", "/v1/jobs", nil, &list)
			if len(list) != 1 || list[0].View != j.View || list[0].Usage != j.Usage || (list[0].ExitCode != nil) != tc.exact {
				t.Errorf("list: got %+v, want the same view as show", list)
			}
		})
	}
	// job outputs, for the operators who may read it.
	var outs []api.JobOutput
	jw.mustDo(jw.operator.Token, "GET", "/v1/jobs/"+failed.ID+"/outputs", nil, &outs)
	if len(outs) != 2 || outs[0].Size != 8192 || outs[0].SHA256 != "" {
		t.Errorf("job outputs: got %+v, want coarse sizes and no hashes", outs)
	}
	// The bytes on the wire carry no exit status and no exact figure.
	_, body := jw.do(jw.operator.Token, "GET", "/v1/jobs/"+failed.ID, nil)
	for _, leak := range []string{"exit_code", `"reason"`, "5242881", "2.2", "status 3"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("the operator's job carries %q: %s", leak, body)
		}
	}
}

func TestJobLogViews(t *testing.T) {
	jw := newJobWorld(t)
	j := jw.runJob("ok")
	filtered := "start\nrows 3\n[line 3 withheld: it may carry data of the job's inputs]\n[line 4 withheld: it may carry data of the job's inputs]\ndone\n"
	tests := []struct {
		name, token, want string
	}{
		{"operator", jw.operator.Token, filtered},
		{"officer of the organisation", jw.officerOwn.Token, filtered},
		{"officer of another organisation", jw.officer.Token, jobLog},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := jw.do(tc.token, "GET", "/v1/jobs/"+j.ID+"/logs", nil)
			if code != 200 || string(body) != tc.want {
				t.Errorf("got %d %q, want %q", code, body, tc.want)
			}
		})
	}
	ents := jw.entries("job.logs.read")
	if len(ents) != 3 || ents[0].Event.Details["filtered"] != "true" || ents[0].Event.Details["withheld_lines"] != "2" ||
		ents[1].Event.Details["filtered"] != "true" || ents[2].Event.Details["filtered"] != "false" {
		t.Errorf("log reads on the record: got %+v", ents)
	}
}

// TestJobEndRevealedCoarsely: a job that ran 5 s is shown to its operator
// as running, with no log, until 8 s after its start; an officer of another
// organisation sees the end at once.
func TestJobEndRevealedCoarsely(t *testing.T) {
	jw := newJobWorld(t)
	j := jw.runJob("ok", "counts.csv")
	// The harness clock stands still; the job is made to have run 5 s.
	start := jw.now.Add(-5 * time.Second)
	if _, err := jw.db.SQL().Exec(`UPDATE jobs SET started_at = ?, ended_at = ? WHERE id = ?`, storetime.Format(start),
		storetime.Format(jw.now), j.ID); err != nil {
		t.Fatal(err)
	}
	if got := jw.show(jw.operator.Token, j.ID); got.State != "running" || got.Outcome != "" || len(got.Outputs) != 0 || got.EndedAt != nil {
		t.Errorf("operator, 5 s after the start: got %s/%s, outputs %v, ended %v; want running and nothing of the end", got.State, got.Outcome,
			got.Outputs, got.EndedAt)
	}
	if code, body := jw.do(jw.operator.Token, "GET", "/v1/jobs/"+j.ID+"/logs", nil); code != 412 || !strings.Contains(string(body), "has not ended") {
		t.Errorf("operator's log before the reveal: got %d %s, want 412", code, body)
	}
	if got := jw.show(jw.officer.Token, j.ID); got.State != "complete" || !got.EndedAt.Equal(jw.now) {
		t.Errorf("officer of another organisation: got %s ended %v, want complete at %v", got.State, got.EndedAt, jw.now)
	}
	if code, _ := jw.do(jw.officer.Token, "GET", "/v1/jobs/"+j.ID+"/logs", nil); code != 200 {
		t.Errorf("officer's log: got %d, want 200", code)
	}
	jw.advance(3 * time.Second) // 8 s after the start
	got := jw.show(jw.operator.Token, j.ID)
	if got.State != "complete" || got.EndedAt == nil || !got.EndedAt.Equal(start.Add(8*time.Second)) {
		t.Errorf("operator, 8 s after the start: got %s ended %v, want complete at the start + 8 s", got.State, got.EndedAt)
	}
	if code, _ := jw.do(jw.operator.Token, "GET", "/v1/jobs/"+j.ID+"/logs", nil); code != 200 {
		t.Errorf("operator's log after the reveal: got %d, want 200", code)
	}
}

// TestJobAuditDetailViews: the bureau reads a job's end with its exact
// figures; a custodian reading the events of their dataset is not listed
// the end at all (its entry, written at the real end, would time the job:
// TestCoarseAuditHasNoJobEnds) and reads the start's figures coarsely.
func TestJobAuditDetailViews(t *testing.T) {
	jw := newJobWorld(t)
	j := jw.runJob("fail", "counts.csv")
	read := func(token, action string) map[string]string {
		t.Helper()
		var evs []api.AuditEvent
		jw.mustDo(token, "GET", "/v1/audit?dataset=penalties&action="+action, nil, &evs)
		for _, ev := range evs {
			if slicesContains(ev.Objects, "job:"+j.ID) {
				return ev.Details
			}
		}
		return nil
	}
	exact := read(jw.bureau.Token, "job.end")
	for k, want := range map[string]string{"exit_code": "3", "peak_memory_bytes": "5242881", "wall_seconds": "2.200", "undeclared_dropped": "3"} {
		if exact[k] != want {
			t.Errorf("bureau: %s got %q, want %q", k, exact[k], want)
		}
	}
	if end := read(jw.custodian.Token, "job.end"); end != nil {
		t.Errorf("custodian: got the job's end %v, want none", end)
	}
	if start := read(jw.custodian.Token, "job.start"); start == nil || start["input_bytes"] != "1048576" {
		t.Errorf("custodian: got the job's start %v, want its input bytes as 1 MiB", start)
	}
}

func TestExportsNameOnlyDeclaredOutputs(t *testing.T) {
	jw := newJobWorld(t)
	j := jw.runJob("ok", "counts.csv")
	for _, tc := range []struct {
		name  string
		files []string
	}{
		{"undeclared", []string{"stray.txt"}},
		{"the manifest, not declared", []string{"MANIFEST.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := jw.do(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: j.ID, Files: tc.files, Purpose: "dashboard"})
			if code != 400 || !strings.Contains(string(body), "no output") {
				t.Fatalf("got %d %s, want 400 naming no output", code, body)
			}
		})
	}
	// Without declared outputs there is nothing to export.
	none := jw.runJob("ok")
	if code, _ := jw.do(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: none.ID, Files: []string{"counts.csv"}, Purpose: "p"}); code != 400 {
		t.Fatalf("export of a job that declared nothing: got %d, want 400", code)
	}
}

func TestExportViewsUntilRelease(t *testing.T) {
	jw := newJobWorld(t)
	j := jw.runJob("ok", "counts.csv")
	var x exports.Export
	jw.mustDo(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: j.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"}, &x)
	if x.View != api.ViewCoarse || len(x.Files) != 1 || x.Files[0].Size != 8192 || x.Files[0].SHA256 != "" {
		t.Fatalf("operator's export: got %s %+v, want coarse sizes and no hash", x.View, x.Files)
	}
	for _, p := range x.Previews {
		if len(p.Columns) != 0 || p.Rows != 0 || len(p.Sample) != 0 {
			t.Errorf("operator's preview of an export whose checks did not pass: got %+v", p)
		}
	}
	var own, other exports.Export
	jw.mustDo(jw.officerOwn.Token, "GET", "/v1/exports/"+x.ID, nil, &own)
	jw.mustDo(jw.officer.Token, "GET", "/v1/exports/"+x.ID, nil, &other)
	if own.Files[0].SHA256 != "" || own.Files[0].Size != 8192 {
		t.Errorf("officer of the organisation: got %+v, want the coarse view", own.Files)
	}
	if other.Files[0].SHA256 == "" || other.Files[0].Size != 5000 {
		t.Errorf("officer of another organisation: got %+v, want exact", other.Files)
	}
	var list []exports.Export
	jw.mustDo(jw.operator.Token, "GET", "/v1/exports", nil, &list)
	if len(list) != 1 || list[0].Files[0].SHA256 != "" {
		t.Errorf("operator's export list: got %+v, want no hashes", list)
	}
	// Two officers of another organisation override the failed checks:
	// released, the bundle carries the exact size and hash, so the
	// operator sees them too.
	just := api.ReviewRequest{Justification: "aggregate counts reviewed by hand, no rows"}
	jw.mustDo(jw.officer.Token, "POST", "/v1/exports/"+x.ID+"/approve", just, nil)
	jw.mustDo(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", just, &x)
	if x.State != exports.Released {
		t.Fatalf("after two approvals: state %s", x.State)
	}
	jw.mustDo(jw.operator.Token, "GET", "/v1/exports/"+x.ID, nil, &x)
	if x.Files[0].SHA256 != other.Files[0].SHA256 || x.Files[0].Size != 5000 {
		t.Errorf("operator's released export: got %+v, want the exact size and hash", x.Files)
	}
	var outs []api.JobOutput
	jw.mustDo(jw.operator.Token, "GET", "/v1/jobs/"+j.ID+"/outputs", nil, &outs)
	if len(outs) != 1 || outs[0].SHA256 != other.Files[0].SHA256 || outs[0].Size != 5000 {
		t.Errorf("operator's outputs after the release: got %+v, want the exact size and hash", outs)
	}
}

func TestPersonAddSeparatesDuties(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		roles []string
		rule  string
	}{
		{[]string{"operator", "officer"}, "nobody holds operator together with officer"},
		{[]string{"custodian", "operator"}, "nobody holds operator together with officer, authority or custodian"},
		{[]string{"operator", "authority"}, "nobody holds operator together with officer, authority or custodian"},
		{[]string{"admin", "bureau"}, "admin holds no other role"},
	} {
		t.Run(strings.Join(tc.roles, ","), func(t *testing.T) {
			code, body := h.do(h.admin, "POST", "/v1/people", registered(api.PersonRequest{Name: "Wu Ming", Org: "platform", Roles: tc.roles}))
			var eb api.ErrorBody
			json.Unmarshal(body, &eb)
			if code != 400 || eb.Error.Class != "invalid-argument" || !strings.Contains(eb.Error.Message, "separation of duties: "+tc.rule) {
				t.Fatalf("got %d %s, want 400 invalid-argument naming the rule %q", code, body, tc.rule)
			}
		})
	}
	if n := h.count("people"); n != 1 {
		t.Fatalf("refused people: got %d people, want only the admin", n)
	}
}

func slicesContains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
