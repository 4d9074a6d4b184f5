package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/synth"
)

// TestOperatorUpload drives a real daemon over real containerd as an
// operator, officers and another organisation would (issue 20 item 1):
//   - the upload runs the import (marks, row count, fingerprints) and is
//     pending review: no job reads it and no application names it;
//   - an officer of the uploader's own organisation may not approve it; an
//     officer of another organisation sees it (schema, marks, rows) and
//     approves it;
//   - another organisation never sees it: list, show and a job naming it
//     read exactly as a name never imported;
//   - the owner's job reads it together with the granted dataset;
//   - destroyed on request with a destruction record, after which no job
//     reads it.
func TestOperatorUpload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	jd := startJobDaemon(t, ctx, jobDaemonOpts{prefix: "enclave-uploads-"})
	must := fatalOn(t)
	w := jd.world(t, ctx)
	admin, _ := client.New(jd.sock, jd.adminToken)
	person := func(name, org, role string) *client.Client {
		t.Helper()
		p, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: name, Org: org, Roles: []string{role}}))
		must(err)
		c, _ := client.New(jd.sock, p.Token)
		return c
	}
	ownOfficer := person("Acme Officer", "acme", "officer")
	rival := person("Rival Operator", "security", "operator")

	csv := filepath.Join(jd.base, "customers.csv")
	f, err := os.Create(csv)
	must(err)
	must(synth.WriteCSV(f, 11, 120))
	f.Close()
	upload := func(c *client.Client, name string) (api.Dataset, error) {
		data, err := os.Open(csv)
		must(err)
		defer data.Close()
		return c.UploadDataset(ctx, name, []byte(synth.Spec(name)), data, nil, nil)
	}
	up, err := upload(w.operator, "acme_customers")
	must(err)
	if !up.Upload || up.State != "pending-review" || up.Rows != 120 || up.Org != "acme" || up.FingerprintValues == 0 || len(up.Marks) == 0 {
		t.Fatalf("upload: got %+v, want an imported upload of acme pending review with 120 rows, marks and fingerprints", up)
	}
	if _, err := upload(rival, "credit_penalties"); err == nil {
		t.Fatal("an upload under a custodian's dataset name was accepted")
	}

	fused := api.JobRequest{Image: w.image, Inputs: []string{"acme_customers", "credit_penalties"}, Outputs: []string{"n.txt"},
		Args: []string{"sh", "-c", `test -s /in/acme_customers/data.arrow && test -s /in/credit_penalties/data.arrow && echo 2 > /out/n.txt`}, Timeout: "1m"}
	if _, err := w.operator.RunJob(ctx, fused); !errdefs.IsPermissionDenied(err) || !strings.Contains(err.Error(), "dataset.unavailable") {
		t.Fatalf("a job on the pending upload: got %v, want a denial naming dataset.unavailable", err)
	}
	if _, err := w.operator.FileApplication(ctx, api.ApplicationRequest{Datasets: []string{"acme_customers"}, Purpose: "p", Scenario: "s",
		Until: time.Now().AddDate(0, 1, 0).Format("2006-01-02")}); err == nil || !strings.Contains(err.Error(), "upload.not_shared") {
		t.Fatalf("an application naming the upload: got %v, want upload.not_shared", err)
	}

	// Another organisation: the upload reads as a name never imported.
	notFound := func(c *client.Client, name string) string {
		t.Helper()
		ds, err := c.ListDatasets(ctx, true)
		must(err)
		for _, d := range ds {
			if d.Name == name {
				t.Fatalf("another organisation lists %s", name)
			}
		}
		_, err = c.ShowDataset(ctx, name)
		if !errdefs.IsNotFound(err) {
			t.Fatalf("another organisation's show of %s: got %v, want not found", name, err)
		}
		_, jerr := c.RunJob(ctx, api.JobRequest{Image: w.image, Inputs: []string{name}, Args: []string{"true"}, Timeout: "1m"})
		if jerr == nil {
			t.Fatalf("another organisation's job on %s was admitted", name)
		}
		return strings.ReplaceAll(err.Error()+" | "+jerr.Error(), name, "NAME")
	}
	if a, b := notFound(rival, "acme_customers"), notFound(rival, "never_imported"); a != b {
		t.Fatalf("another organisation tells the upload from an unknown name:\n%s\n%s", a, b)
	}

	// The review: not by the uploader's own organisation; by another's
	// officer, who sees schema, marks and row count.
	if _, err := ownOfficer.ReviewUpload(ctx, "acme_customers", "approve", ""); !errdefs.IsPermissionDenied(err) || !strings.Contains(err.Error(), "scope.independent") {
		t.Fatalf("approval by the uploader's own officer: got %v, want scope.independent", err)
	}
	seen, err := w.officer.ShowDataset(ctx, "acme_customers")
	must(err)
	if seen.Rows != 120 || len(seen.Columns) == 0 || len(seen.Marks) == 0 {
		t.Fatalf("the reviewer's view: got %+v, want schema, marks and row count", seen)
	}
	if _, err := w.operator.ReviewUpload(ctx, "acme_customers", "approve", ""); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("approval by the uploader: got %v, want denied", err)
	}
	ok, err := w.officer.ReviewUpload(ctx, "acme_customers", "approve", "schema and marks fit the stated purpose")
	must(err)
	if ok.State != "active" || ok.ReviewedBy != w.ids[w.officer] {
		t.Fatalf("approval: got %+v, want active, reviewed by %s", ok, w.ids[w.officer])
	}
	// As an unknown name does, whoever asks: no second decision.
	sameAsUnknown(t, "a second decision", "acme_customers", func(name string) error {
		_, err := w.officer2.ReviewUpload(ctx, name, "reject", "late")
		return err
	})
	if a, b := notFound(rival, "acme_customers"), notFound(rival, "never_imported"); a != b {
		t.Fatalf("after approval, another organisation tells the upload from an unknown name:\n%s\n%s", a, b)
	}
	// Once approved, other officers no longer see it either.
	if _, err := w.officer2.ShowDataset(ctx, "acme_customers"); !errdefs.IsNotFound(err) {
		t.Fatalf("another officer's show after the review: got %v, want not found", err)
	}

	// Fusion: the owner's job reads the upload with the granted dataset.
	j, err := w.operator.RunJob(ctx, fused)
	must(err)
	j, err = w.operator.WaitJob(ctx, j.ID)
	must(err)
	if j.State != "complete" || len(j.Outputs) != 1 {
		t.Fatalf("the fused job: got %s with %d outputs, want complete with 1", j.State, len(j.Outputs))
	}

	// A rejected upload stays unreadable.
	_, err = upload(w.operator, "acme_suppliers")
	must(err)
	if _, err := w.officer.ReviewUpload(ctx, "acme_suppliers", "reject", ""); err == nil {
		t.Fatal("a rejection without a reason was accepted")
	}
	rj, err := w.officer.ReviewUpload(ctx, "acme_suppliers", "reject", "a column carries unmasked identifiers")
	must(err)
	if rj.State != "rejected" {
		t.Fatalf("rejection: got %s", rj.State)
	}
	fused.Inputs = []string{"acme_suppliers"}
	if _, err := w.operator.RunJob(ctx, fused); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("a job on the rejected upload: got %v, want denied", err)
	}

	// Destroyed on request, with a destruction record.
	dr, err := w.operator.DestroyDataset(ctx, "acme_customers", "the study ended")
	must(err)
	if len(dr.Destructions) != 1 || dr.Destructions[0].KeyID == "" || !strings.Contains(dr.Destructions[0].Technique, "crypto-shred") {
		t.Fatalf("destruction: got %+v, want one record with the shredded key", dr)
	}
	fused.Inputs = []string{"acme_customers"}
	if _, err := w.operator.RunJob(ctx, fused); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("a job on the destroyed upload: got %v, want denied", err)
	}
	sameAsUnknown(t, "another organisation destroying the upload", "acme_suppliers", func(name string) error {
		_, err := rival.DestroyDataset(ctx, name, "mischief")
		return err
	})

	// The rest dies with the organisation's licence, recorded.
	_, err = w.authority.SetOrgStatus(ctx, "acme", "revoke", "licence conditions broken")
	must(err)
	evs, err := w.bureau.AuditList(ctx, client.AuditFilter{Action: "dataset.destruction", Object: "dataset:acme_suppliers@1"})
	must(err)
	if len(evs) != 1 || evs[0].Outcome != "ok" || evs[0].Details["key_id"] == "" || !strings.Contains(evs[0].Reason, "licence") {
		t.Fatalf("destruction record of the rejected upload after the revocation: got %+v, want one, ok, naming the key and the licence", evs)
	}
}

// sameAsUnknown fails t unless do fails on name exactly as on a name never
// imported (the name replaced in the message, the request id dropped).
func sameAsUnknown(t *testing.T, what, name string, do func(name string) error) {
	t.Helper()
	a, b := do(name), do("never_imported")
	if a == nil || b == nil {
		t.Fatalf("%s: got %v and %v, want both refused", what, a, b)
	}
	clean := func(err error, n string) string {
		msg := strings.ReplaceAll(err.Error(), n, "NAME")
		if i := strings.Index(msg, "(request "); i >= 0 {
			msg = msg[:i]
		}
		return msg
	}
	if clean(a, name) != clean(b, "never_imported") {
		t.Fatalf("%s: tells %s from an unknown name:\n%v\n%v", what, name, a, b)
	}
}
