package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/checks"
	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/checker"
	"github.com/enclave-dev/enclave/enclave/exports"
)

// init serves a check process when the daemon (this test binary) runs
// itself again as one: it must run before the testing flags are parsed.
func init() {
	if len(os.Args) > 1 && os.Args[1] == checker.ChildCommand {
		sets := exports.DefaultCheckSets()
		sets["hostile"] = hostileChecks
		os.Exit(checker.Serve(os.Args[2:], os.Stdin, os.Stdout, exports.ChildOps(sets)))
	}
}

// funcCheck is a check whose behaviour is a function.
type funcCheck struct {
	name string
	run  func(ctx context.Context, req *review.Request) ([]review.Finding, error)
}

func (c funcCheck) Name() string    { return c.name }
func (c funcCheck) Version() string { return "1" }
func (c funcCheck) Run(ctx context.Context, req *review.Request) ([]review.Finding, error) {
	return c.run(ctx, req)
}

// hostileChecks: a check that dies as a parser bug would (a panic on a
// goroutine of its own, which no recover reaches), one that allocates
// without end, and one that behaves.
func hostileChecks() []review.Check {
	return []review.Check{
		funcCheck{"allocates", func(context.Context, *review.Request) ([]review.Finding, error) {
			var keep [][]byte
			for {
				b := make([]byte, 16<<20)
				for i := 0; i < len(b); i += 4096 {
					b[i] = 1
				}
				keep = append(keep, b)
			}
		}},
		funcCheck{"parser-bug", func(context.Context, *review.Request) ([]review.Finding, error) {
			done := make(chan struct{})
			go func() { panic("index out of range in a decoder") }()
			<-done
			return nil, nil
		}},
		funcCheck{"quiet", func(context.Context, *review.Request) ([]review.Finding, error) {
			return []review.Finding{{Verdict: review.VerdictPass, Evidence: "nothing to say"}}, nil
		}},
	}
}

func testRunner() *checker.Runner {
	return &checker.Runner{Limits: checker.Limits{Memory: 512 << 20, CPU: time.Minute, Wall: 2 * time.Minute}}
}

// TestExportCheckCrashCostsOneCheck: a check that crashes its process on
// an output, or allocates without end, costs the export request that
// check, which fails closed with the reason as its evidence; the other
// check keeps its verdict, the request is recorded as checks-failed, and
// the daemon goes on serving. The previews are made in a check process too.
func TestExportCheckCrashCostsOneCheck(t *testing.T) {
	jw := newJobWorld(t)
	jw.srv.Exports.Runner, jw.srv.Exports.CheckSet, jw.srv.Exports.Checks = testRunner(), "hostile", hostileChecks()
	j := jw.runJob("ok", "counts.csv")
	var x exports.Export
	jw.mustDo(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: j.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"}, &x)
	if x.State != exports.ChecksFailed {
		t.Fatalf("state: got %s, want %s", x.State, exports.ChecksFailed)
	}
	jw.mustDo(jw.officer.Token, "GET", "/v1/exports/"+x.ID, nil, &x)
	got := map[string]review.Verdict{}
	for _, c := range x.Result.Checks {
		got[c.Name] = c.Verdict
	}
	if got["parser-bug"] != review.VerdictFail || got["allocates"] != review.VerdictFail || got["quiet"] != review.VerdictPass ||
		got[review.IntegrityCheck] != review.VerdictPass {
		t.Fatalf("verdicts: got %v, want parser-bug and allocates failed, quiet and integrity passed", got)
	}
	for _, f := range x.Result.Findings {
		if f.Check == "parser-bug" && !strings.Contains(f.Evidence, "the check process crashed") {
			t.Errorf("evidence: got %q, want the crash named", f.Evidence)
		}
		if f.Check == "allocates" && !strings.Contains(f.Evidence, "memory") {
			t.Errorf("evidence: got %q, want the memory limit named", f.Evidence)
		}
	}
	if len(x.Previews) != 1 || x.Previews[0].File != "counts.csv" || x.Previews[0].Kind == "unknown" {
		t.Errorf("previews: got %+v, want counts.csv previewed", x.Previews)
	}
	if code, body := jw.do(jw.operator.Token, "GET", "/v1/jobs/"+j.ID, nil); code != 200 {
		t.Fatalf("the daemon after a check crashed: got %d %s", code, body)
	}
}

// TestDefaultChecksInCheckProcess: the default checks judge in a check
// process what they judge in the daemon's own.
func TestDefaultChecksInCheckProcess(t *testing.T) {
	jw := newJobWorld(t)
	jw.srv.Exports.Checks = checks.Default()
	j := jw.runJob("ok", "counts.csv")
	var inProcess, inChild exports.Export
	jw.mustDo(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: j.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"}, &inProcess)
	jw.srv.Exports.Runner, jw.srv.Exports.CheckSet = testRunner(), exports.DefaultCheckSet
	jw.mustDo(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: j.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"}, &inChild)
	jw.mustDo(jw.officer.Token, "GET", "/v1/exports/"+inProcess.ID, nil, &inProcess)
	jw.mustDo(jw.officer.Token, "GET", "/v1/exports/"+inChild.ID, nil, &inChild)
	a, _ := json.Marshal(inProcess.Result)
	b, _ := json.Marshal(inChild.Result)
	if string(a) != string(b) || len(inChild.Result.Checks) != len(checks.Default())+1 {
		t.Fatalf("in a check process: got %s, want %s", b, a)
	}
	pa, _ := json.Marshal(inProcess.Previews)
	pb, _ := json.Marshal(inChild.Previews)
	if string(pa) != string(pb) {
		t.Fatalf("previews in a check process: got %s, want %s", pb, pa)
	}
}

// TestJobLogFilteredInCheckProcess: the operator's view of a job's log is
// filtered in a check process, with the same lines withheld; when no check
// process can run, none of the log is shown.
func TestJobLogFilteredInCheckProcess(t *testing.T) {
	jw := newJobWorld(t)
	jw.srv.Exports.Runner = testRunner()
	j := jw.runJob("ok")
	filtered := "start\nrows 3\n[line 3 withheld: it may carry data of the job's inputs]\n[line 4 withheld: it may carry data of the job's inputs]\ndone\n"
	if code, body := jw.do(jw.operator.Token, "GET", "/v1/jobs/"+j.ID+"/logs", nil); code != 200 || string(body) != filtered {
		t.Fatalf("got %d %q, want %q", code, body, filtered)
	}
	jw.srv.Exports.Runner = &checker.Runner{Exe: filepath.Join(t.TempDir(), "gone")}
	code, body := jw.do(jw.operator.Token, "GET", "/v1/jobs/"+j.ID+"/logs", nil)
	if code != 503 || strings.Contains(string(body), "rows 3") {
		t.Fatalf("without a check process: got %d %q, want 503 and nothing of the log", code, body)
	}
}

// TestNoCheckProcessFailsClosed: when no check process can start, every
// check of an export request fails naming why, and the previews show
// nothing.
func TestNoCheckProcessFailsClosed(t *testing.T) {
	jw := newJobWorld(t)
	jw.srv.Exports.Checks, jw.srv.Exports.Runner = checks.Default(), &checker.Runner{Exe: filepath.Join(t.TempDir(), "gone")}
	j := jw.runJob("ok", "counts.csv")
	var x exports.Export
	jw.mustDo(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: j.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"}, &x)
	jw.mustDo(jw.officer.Token, "GET", "/v1/exports/"+x.ID, nil, &x)
	if x.State != exports.ChecksFailed || len(x.Result.Checks) != len(checks.Default())+1 {
		t.Fatalf("got %s with %d checks, want checks-failed with every check", x.State, len(x.Result.Checks))
	}
	for _, c := range x.Result.Checks {
		if c.Verdict != review.VerdictFail {
			t.Errorf("check %s: got %s, want fail", c.Name, c.Verdict)
		}
	}
	for _, f := range x.Result.Findings {
		if !strings.Contains(f.Evidence, "could not be started") {
			t.Errorf("finding %+v does not name why", f)
		}
	}
	if len(x.Previews) != 1 || x.Previews[0].Kind != "unknown" || !strings.HasPrefix(x.Previews[0].Note, "not previewed") || len(x.Previews[0].Columns) != 0 {
		t.Errorf("previews: got %+v, want not previewed", x.Previews)
	}
}
