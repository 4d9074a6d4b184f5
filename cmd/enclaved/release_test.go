package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/store"
)

// TestReleaseFinishedAfterKill: enclaved is killed with SIGKILL between
// the second officer's approval and the bundle (the approval recorded,
// a 0-byte release.tar.tmp behind: the state issue 16 found). At the next
// start the export is released, by the system and on the audit log as
// recovered; the partial bundle is gone and the operator downloads the
// release.
func TestReleaseFinishedAfterKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	jd := startJobDaemon(t, ctx, jobDaemonOpts{prefix: "enclave-release-"})
	cfg := jd.cfg
	must := fatalOn(t)
	w := jd.world(t, ctx)
	operator, officer1, officer2, bureau, ids := w.operator, w.officer, w.officer2, w.bureau, w.ids
	j, err := operator.RunJob(ctx, api.JobRequest{Image: w.image, Inputs: []string{"credit_penalties"}, Outputs: []string{"note.txt"},
		Args: []string{"sh", "-c", "echo 'districts 5' > /out/note.txt"}, Timeout: "1m"})
	must(err)
	j, err = operator.WaitJob(ctx, j.ID)
	must(err)
	if j.State != "complete" {
		t.Fatalf("job: got %s, want complete", j.State)
	}
	x, err := operator.RequestExport(ctx, api.ExportRequest{Job: j.ID, Files: []string{"note.txt"}, Purpose: "dashboard"})
	must(err)
	review := api.ReviewRequest{Comment: "a count", Justification: "one count of districts, reviewed by hand"}
	_, err = officer1.DecideExport(ctx, x.ID, "approve", review)
	must(err)

	// The second approval is recorded, and the daemon dies before the
	// bundle is written.
	jd.d.Process.Kill()
	jd.d.Wait()
	jd.d = nil
	db, err := store.Open(ctx, cfg.statePath())
	must(err)
	_, ready, err := exports.Decide(ctx, db.SQL(), x.ID, exports.Review{Person: ids[officer2], Org: "security", Decision: exports.Approve,
		Comment: review.Comment, Justification: review.Justification, Time: time.Now().UTC()})
	db.Close()
	if err != nil || !ready {
		t.Fatalf("second approval: ready %v, err %v", ready, err)
	}
	tmp := filepath.Join(cfg.exportsDir(), x.ID, "release.tar.tmp")
	must(os.WriteFile(tmp, nil, 0o600))

	jd.d = startDaemon(t, cfg.DataDir, "ENCLAVED_TEST_SANDBOX=1")
	x, err = operator.ShowExport(ctx, x.ID)
	must(err)
	if x.State != "released" || x.BundleSHA256 == "" {
		t.Fatalf("after the restart: got %s, want released", x.State)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("release.tar.tmp is still there: %v", err)
	}
	evs, err := bureau.AuditList(ctx, client.AuditFilter{Action: "export.release", Object: "export:" + x.ID})
	must(err)
	if len(evs) != 1 || evs[0].Actor != "system" || evs[0].Outcome != "ok" || evs[0].Details["recovered"] != "true" {
		t.Fatalf("the release on the audit log: got %+v, want one by the system, recovered", evs)
	}
	rc, err := operator.DownloadRelease(ctx, x.ID)
	must(err)
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil || n == 0 {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	evs, err = bureau.AuditList(ctx, client.AuditFilter{Action: "export.download", Object: "export:" + x.ID})
	must(err)
	if len(evs) != 2 || evs[0].Outcome != "intent" || evs[1].Outcome != "ok" {
		t.Fatalf("the download on the audit log: got %+v, want an intent and its outcome", evs)
	}
}
