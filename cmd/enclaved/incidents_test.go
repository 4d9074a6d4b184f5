package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
)

// TestGrantsEndAndIncidentsStopUse drives a real daemon over real
// containerd as the authority, the operator, officers and the bureau would
// (issue 18 items 1 and 4):
//   - revoking the application's grant stops the job running under it at
//     once, and the next job is refused naming the revoked grant;
//   - an incident the operator reports on the dataset stops the job
//     reading it and refuses new ones until the authority closes it, after
//     which a job runs again; another organisation's operator cannot report
//     on the job ("not found or not yours");
//   - a second officer's approval after the organisation's suspension is
//     refused, and after the reinstatement nothing is downloadable.
func TestGrantsEndAndIncidentsStopUse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	jd := startJobDaemon(t, ctx, jobDaemonOpts{prefix: "enclave-incidents-"})
	must := fatalOn(t)
	w := jd.world(t, ctx)
	long := api.JobRequest{Image: w.image, Inputs: []string{"credit_penalties"}, Args: []string{"sh", "-c", "sleep 120"}, Timeout: "3m"}
	running := func(id string) {
		t.Helper()
		for {
			j, err := w.officer.ShowJob(ctx, id)
			must(err)
			if j.State == "running" {
				return
			}
			if j.State != "queued" && j.State != "initializing" {
				t.Fatalf("job %s: got %s, want it running", id, j.State)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ended := func(id, want string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		j, err := w.operator.WaitJob(wctx, id)
		must(err)
		if j.State != want {
			t.Fatalf("job %s: got %s, want %s", id, j.State, want)
		}
	}
	approve := func(until string) string {
		t.Helper()
		app, err := w.operator.FileApplication(ctx, api.ApplicationRequest{Datasets: []string{"credit_penalties"}, Purpose: "risk statistics",
			Scenario: "district dashboard", Until: until})
		must(err)
		_, err = w.authority.DecideApplication(ctx, app.ID, "approve", "fits the licence")
		must(err)
		return app.ID
	}
	apps, err := w.operator.ListApplications(ctx)
	must(err)
	first := apps[0].ID

	// 1. Revocation ends the grant and stops the job under it.
	j, err := w.operator.RunJob(ctx, long)
	must(err)
	running(j.ID)
	r, err := w.authority.RevokeGrant(ctx, first, "the scenario was exceeded")
	must(err)
	if r.Status != "revoked" || len(r.Stopped) != 1 || r.Stopped[0] != j.ID {
		t.Fatalf("revocation: got %+v, want the grant revoked and job %s stopped", r, j.ID)
	}
	ended(j.ID, "canceled")
	_, err = w.operator.RunJob(ctx, long)
	if !errdefs.IsPermissionDenied(err) || !strings.Contains(err.Error(), "grant.not_approved") || !strings.Contains(err.Error(), r.Grant) {
		t.Fatalf("a job after the revocation: got %v, want a denial naming grant %s", err, r.Grant)
	}

	// 2. An incident on the dataset stops its use until it is closed.
	approve(time.Now().AddDate(0, 3, 0).Format("2006-01-02"))
	j, err = w.operator.RunJob(ctx, long)
	must(err)
	running(j.ID)
	admin, _ := client.New(jd.sock, jd.adminToken)
	rival, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: "Rival Operator", Org: "security", Roles: []string{"operator"}}))
	must(err)
	rc, _ := client.New(jd.sock, rival.Token)
	if _, err := rc.ReportIncident(ctx, api.IncidentRequest{Job: j.ID, Reason: "curious"}); !errdefs.IsNotFound(err) ||
		!strings.Contains(err.Error(), "not found or not yours") || strings.Contains(err.Error(), "acme") {
		t.Fatalf("another organisation's report on the job: got %v, want \"not found or not yours\" naming no organisation", err)
	}
	in, err := w.operator.ReportIncident(ctx, api.IncidentRequest{Dataset: "credit_penalties", Reason: "a column looks unmasked"})
	must(err)
	if in.State != "open" || len(in.Stopped) != 1 || in.Stopped[0] != j.ID {
		t.Fatalf("incident: got %+v, want open and job %s stopped", in, j.ID)
	}
	ended(j.ID, "canceled")
	_, err = w.operator.RunJob(ctx, long)
	if !errdefs.IsPermissionDenied(err) || !strings.Contains(err.Error(), "incident.dataset_held") {
		t.Fatalf("a job under the open incident: got %v, want a denial naming the hold", err)
	}
	if _, err := w.operator.CloseIncident(ctx, in.ID, "mine to close"); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("the operator closing the incident: got %v, want a denial", err)
	}
	in, err = w.authority.CloseIncident(ctx, in.ID, "masking verified; use resumes")
	must(err)
	if in.State != "closed" || in.ClosedAt == nil {
		t.Fatalf("closed incident: got %+v", in)
	}
	j, err = w.operator.RunJob(ctx, api.JobRequest{Image: w.image, Inputs: []string{"credit_penalties"}, Outputs: []string{"note.txt"},
		Args: []string{"sh", "-c", "echo 'districts 5' > /out/note.txt"}, Timeout: "1m"})
	must(err)
	ended(j.ID, "complete")
	list, err := w.bureau.ListIncidents(ctx, "", "acme")
	must(err)
	if len(list) != 1 || list[0].Decision != "masking verified; use resumes" {
		t.Fatalf("the bureau's register: got %+v", list)
	}

	// 3. The suspension between two approvals.
	x, err := w.operator.RequestExport(ctx, api.ExportRequest{Job: j.ID, Files: []string{"note.txt"}, Purpose: "dashboard"})
	must(err)
	review := api.ReviewRequest{Comment: "a count", Justification: "one count of districts, reviewed by hand"}
	_, err = w.officer.DecideExport(ctx, x.ID, "approve", review)
	must(err)
	_, err = w.authority.SetOrgStatus(ctx, "acme", "suspend", "late security report")
	must(err)
	_, err = w.officer2.DecideExport(ctx, x.ID, "approve", review)
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), `organisation "acme" is suspended`) {
		t.Fatalf("approval after the suspension: got %v, want refused naming it", err)
	}
	_, err = w.authority.SetOrgStatus(ctx, "acme", "reinstate", "report filed")
	must(err)
	if rc, err := w.operator.DownloadRelease(ctx, x.ID); err == nil {
		rc.Close()
		t.Fatal("the export is downloadable after the reinstatement")
	}
	x, err = w.officer2.ShowExport(ctx, x.ID)
	must(err)
	if x.State == "released" {
		t.Fatalf("export after the refused approval: %s", x.State)
	}
	evs, err := w.bureau.AuditList(ctx, client.AuditFilter{Action: "job.stop"})
	must(err)
	if len(evs) < 2 {
		t.Fatalf("job stops on the audit log: got %d, want the revocation's and the incident's", len(evs))
	}
	rep, err := w.bureau.AuditVerify(ctx)
	must(err)
	if !rep.OK {
		t.Fatalf("audit verify: %+v", rep)
	}
}
