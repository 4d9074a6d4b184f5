package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/exports"
)

// overrideReview is the officers' override of the test world's checks (it
// has none, so every request fails them and needs two officers).
var overrideReview = api.ReviewRequest{Justification: "aggregate counts reviewed by hand, no rows"}

// requested runs a job and asks to export its output.
func (jw *jobWorld) requested() exports.Export {
	jw.t.Helper()
	j := jw.runJob("ok", "counts.csv")
	var x exports.Export
	jw.mustDo(jw.operator.Token, "POST", "/v1/exports", api.ExportRequest{Job: j.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"}, &x)
	return x
}

func outcomes(ents []audit.Entry, export string) []string {
	var out []string
	for _, e := range ents {
		for _, o := range e.Event.Objects {
			if o == "export:"+export {
				out = append(out, e.Event.Outcome)
			}
		}
	}
	return out
}

// TestReleaseLeftUnfinishedIsFinishedAtStart: the daemon stopped between
// the second officer's approval and the bundle (the approval recorded, a
// 0-byte release.tar.tmp behind, inputs decrypted for a review, the
// directory of a request never recorded). Before the restart the export
// sits at 2 of 2 approvals and the officer is refused approving again; at
// start it is released by the system, on the audit log as recovered, the
// leftovers are gone and the bundle downloads.
func TestReleaseLeftUnfinishedIsFinishedAtStart(t *testing.T) {
	jw := newJobWorld(t)
	x := jw.requested()
	jw.mustDo(jw.officer.Token, "POST", "/v1/exports/"+x.ID+"/approve", overrideReview, nil)
	// The second approval as a crash leaves it: recorded, nothing after.
	if _, ready, err := exports.Decide(jw.ctx, jw.db.SQL(), x.ID, exports.Review{Person: jw.officer2.ID, Org: "security", Decision: exports.Approve,
		Justification: overrideReview.Justification, Time: jw.clock()}); err != nil || !ready {
		t.Fatalf("second approval: ready %v, err %v", ready, err)
	}
	dir := filepath.Join(jw.srv.Exports.Dir, x.ID)
	if err := os.WriteFile(filepath.Join(dir, "release.tar.tmp"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "inputs"), 0o700); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(jw.srv.Exports.Dir, "x_neverrecorded")
	if err := os.MkdirAll(filepath.Join(orphan, "inputs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if code, _ := jw.do(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", overrideReview); code != 412 {
		t.Fatalf("approving again before the restart: got %d, want 412", code)
	}

	released, rolledBack, err := jw.srv.FinishReleases(jw.ctx)
	if err != nil || released != 1 || rolledBack != 0 {
		t.Fatalf("FinishReleases: released %d, rolled back %d, err %v; want 1, 0, nil", released, rolledBack, err)
	}
	jw.mustDo(jw.officer.Token, "GET", "/v1/exports/"+x.ID, nil, &x)
	if x.State != exports.Released || x.BundleSHA256 == "" {
		t.Fatalf("after the start: got %s, want released", x.State)
	}
	for _, p := range []string{filepath.Join(dir, "release.tar.tmp"), filepath.Join(dir, "inputs"), orphan} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the start", p)
		}
	}
	var rel []audit.Entry
	for _, e := range jw.entries("export.release") {
		if e.Event.Details["recovered"] == "true" {
			rel = append(rel, e)
		}
	}
	if len(rel) != 1 || rel[0].Event.Actor != "system" || rel[0].Event.Outcome != "ok" || rel[0].Event.Details["bundle_sha256"] != x.BundleSHA256 {
		t.Fatalf("recovered release on the record: got %+v", rel)
	}
	if code, body := jw.do(jw.operator.Token, "GET", "/v1/exports/"+x.ID+"/download", nil); code != 200 || len(body) == 0 {
		t.Fatalf("download after the recovered release: got %d", code)
	}
	// Nothing left to finish at the next start.
	if released, rolledBack, err := jw.srv.FinishReleases(jw.ctx); err != nil || released+rolledBack != 0 {
		t.Fatalf("second start: released %d, rolled back %d, err %v", released, rolledBack, err)
	}
}

// TestReleaseThatCannotBeBuiltRollsBack: when the bundle cannot be built
// (a frozen file is gone), the approval that made the export ready is
// withdrawn, on the record, so that the officer approves again rather than
// being refused; both when an officer approves and at start.
func TestReleaseThatCannotBeBuiltRollsBack(t *testing.T) {
	jw := newJobWorld(t)
	x := jw.requested()
	frozen := jw.srv.Exports.FilePath(x.ID, 0)
	data, err := os.ReadFile(frozen)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(frozen); err != nil {
		t.Fatal(err)
	}
	jw.mustDo(jw.officer.Token, "POST", "/v1/exports/"+x.ID+"/approve", overrideReview, nil)
	if code, _ := jw.do(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", overrideReview); code < 400 {
		t.Fatalf("approval whose release cannot be built: got %d, want an error", code)
	}
	jw.mustDo(jw.officer.Token, "GET", "/v1/exports/"+x.ID, nil, &x)
	if x.State != exports.ChecksFailed || x.Approvals() != 1 {
		t.Fatalf("after the failed release: got %s with %d approvals, want checks-failed with 1", x.State, x.Approvals())
	}
	if got := outcomes(jw.entries("export.release"), x.ID); len(got) != 1 || got[0] != "failed" {
		t.Errorf("the failed release on the record: got %v, want one failed", got)
	}
	rb := jw.entries("export.rollback")
	if len(rb) != 1 || rb[0].Event.Details["withdrawn_approval"] != jw.officer2.ID || rb[0].Event.Outcome != "ok" {
		t.Fatalf("rollback on the record: got %+v", rb)
	}
	if _, err := os.Stat(jw.srv.Exports.BundlePath(x.ID) + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("a partial bundle is left: %v", err)
	}

	// At start: the same, for a crash after the approval was recorded.
	jw.advance(time.Minute)
	if _, _, err := exports.Decide(jw.ctx, jw.db.SQL(), x.ID, exports.Review{Person: jw.officer2.ID, Org: "security", Decision: exports.Approve,
		Justification: overrideReview.Justification, Time: jw.clock()}); err != nil {
		t.Fatal(err)
	}
	if released, rolledBack, err := jw.srv.FinishReleases(jw.ctx); err != nil || released != 0 || rolledBack != 1 {
		t.Fatalf("FinishReleases: released %d, rolled back %d, err %v; want 0, 1, nil", released, rolledBack, err)
	}
	rb = jw.entries("export.rollback")
	if len(rb) != 2 || rb[1].Event.Actor != "system" || rb[1].Event.Details["recovered"] != "true" {
		t.Fatalf("rollback at start on the record: got %+v", rb)
	}

	// With the file back, the officer approves again and it is released.
	if err := os.WriteFile(frozen, data, 0o400); err != nil {
		t.Fatal(err)
	}
	jw.mustDo(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", overrideReview, &x)
	if x.State != exports.Released {
		t.Fatalf("approved again: got %s, want released", x.State)
	}
}

// TestDownloadOutcomeAudited: a download is recorded as an intent before the
// first byte and then with its outcome: ok when the bundle went out whole,
// failed with the class when it did not (a bundle that no longer matches
// its recorded hash, an export not released).
func TestDownloadOutcomeAudited(t *testing.T) {
	jw := newJobWorld(t)
	x := jw.requested()
	download := func() (int, []byte) { return jw.do(jw.operator.Token, "GET", "/v1/exports/"+x.ID+"/download", nil) }
	if code, _ := download(); code != 412 {
		t.Fatalf("download before the release: got %d, want 412", code)
	}
	jw.mustDo(jw.officer.Token, "POST", "/v1/exports/"+x.ID+"/approve", overrideReview, nil)
	jw.mustDo(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", overrideReview, &x)
	code, body := download()
	if code != 200 {
		t.Fatalf("download: got %d %s", code, body)
	}
	bundle := jw.srv.Exports.BundlePath(x.ID)
	if err := os.WriteFile(bundle, append(body, 0), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body = download()
	var eb api.ErrorBody
	json.Unmarshal(body, &eb)
	if code != 500 || eb.Error.Class != "data-loss" {
		t.Fatalf("download of a bundle that changed: got %d %s, want 500 data-loss", code, body)
	}
	var got []string
	for _, e := range jw.entries("export.download") {
		got = append(got, e.Event.Outcome+":"+e.Event.Reason)
	}
	want := []string{"intent:", "failed:failed-precondition", "intent:", "ok:", "intent:", "failed:data-loss"}
	if len(got) != len(want) {
		t.Fatalf("download entries: got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("download entries: got %v, want %v", got, want)
		}
	}
}
