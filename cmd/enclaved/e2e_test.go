package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/release"
	"github.com/enclave-dev/enclave/enclave/synth"
)

// TestMainPath drives the daemon as its people would, through the real
// parts (containerd, runc, OPA, Arrow, the audit log): a custodian imports
// synthetic penalties, an operator files an application that an authority
// approves, an officer approves the groupcount image, the operator's job
// runs in the sandbox, a job that prints input values has those log lines
// withheld from the operator (an officer sees them), an export of the
// aggregate passes the checks and two officers release it, the bundle
// verifies offline, a copy of the raw rows is stopped, and the audit log
// verifies.
func TestMainPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	jd := startJobDaemon(t, ctx, jobDaemonOpts{prefix: "enclave-e2e-"})
	base, imgs, sock := jd.base, jd.imgs, jd.sock
	admin, _ := client.New(sock, jd.adminToken)
	as := func(name, org, role string) *client.Client {
		t.Helper()
		p, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: name, Org: org, Roles: []string{role}, AgreementUntil: time.Now().AddDate(1, 0, 0).Format("2006-01-02")}))
		if err != nil {
			t.Fatal(err)
		}
		c, _ := client.New(sock, p.Token)
		return c
	}
	must := fatalOn(t)
	authority := as("Zhou Min", "platform", "authority")
	until := time.Now().AddDate(1, 0, 0).Format("2006-01-02")
	for _, o := range []api.OrgRequest{{Name: "credit-centre", Type: "agency", LicenceUntil: until}, {Name: "acme", Type: "company", LicenceUntil: until}, {Name: "security", Type: "agency", LicenceUntil: until}} {
		_, err := authority.AddOrg(ctx, licensed(o))
		must(err)
	}
	custodian := as("Li Na", "credit-centre", "custodian")
	operator := as("Wang Lei", "acme", "operator")
	officer1 := as("Chen Jing", "security", "officer")
	officer2 := as("Zhao Min", "security", "officer")

	csvPath := filepath.Join(base, "penalties.csv")
	f, _ := os.Create(csvPath)
	must(synth.WriteCSV(f, 5, 3000))
	f.Close()
	data, _ := os.Open(csvPath)
	ds, err := custodian.ImportDataset(ctx, "credit_penalties", []byte(synth.Spec("credit_penalties")), data, nil, nil)
	data.Close()
	must(err)
	if ds.Rows != 3000 || ds.Level != "general-4" {
		t.Fatalf("imported: got %+v", ds)
	}

	app, err := operator.FileApplication(ctx, api.ApplicationRequest{Datasets: []string{"credit_penalties"}, Purpose: "risk statistics",
		Scenario: "district dashboard", Until: time.Now().AddDate(0, 3, 0).Format("2006-01-02")})
	must(err)
	_, err = authority.DecideApplication(ctx, app.ID, "approve", "fits the licence")
	must(err)
	image := func(name string) string {
		f, err := os.Open(imgs[name])
		must(err)
		defer f.Close()
		im, err := operator.ImportImage(ctx, name, f)
		must(err)
		_, err = officer1.DecideImage(ctx, im.Digest, "approve", "")
		must(err)
		return im.Digest
	}
	gc, tb := image("groupcount"), image("toolbox")

	// run runs a job that declares outputs (the only files collected).
	run := func(img string, outputs []string, args ...string) api.Job {
		t.Helper()
		j, err := operator.RunJob(ctx, api.JobRequest{Image: img, Inputs: []string{"credit_penalties"}, Outputs: outputs, Args: args, Timeout: "2m"})
		must(err)
		j, err = operator.WaitJob(ctx, j.ID)
		must(err)
		return j
	}
	j := run(gc, []string{"by_district.arrow"}, "groupcount", "-in", "/in/credit_penalties/data.arrow", "-by", "district", "-out", "/out/by_district.arrow")
	if j.State != "complete" || len(j.Outputs) != 1 || j.Usage.CPUSeconds <= 0 || j.Usage.PeakMemoryBytes == 0 {
		t.Fatalf("groupcount job: got %+v", j)
	}
	// The operator reads the job coarsely; an officer of another
	// organisation exactly.
	if j.View != api.ViewCoarse || j.ExitCode != nil || j.Outcome != api.OutcomeComplete || j.Outputs[0].SHA256 != "" || j.Outputs[0].Size%4096 != 0 {
		t.Fatalf("the operator's view of the groupcount job: got %+v", j)
	}
	if seen, err := officer1.ShowJob(ctx, j.ID); err != nil || seen.View != api.ViewExact || seen.ExitCode == nil || *seen.ExitCode != 0 ||
		seen.Outputs[0].SHA256 == "" {
		t.Fatalf("the officer's view of the groupcount job: got %+v, %v", seen, err)
	}

	// Issue 15: the dataset belongs to credit-centre. A custodian of a
	// second data provider is refused, naming the rule, when sealing,
	// destroying or importing a version under its name.
	_, err = authority.AddOrg(ctx, licensed(api.OrgRequest{Name: "district-data", Type: "agency", LicenceUntil: until}))
	must(err)
	foreign := as("Sun Li", "district-data", "custodian")
	refused := func(what string, err error, rule string) {
		t.Helper()
		if !errdefs.IsPermissionDenied(err) || !strings.Contains(err.Error(), rule) {
			t.Fatalf("%s: got %v, want a denial by %s", what, err, rule)
		}
	}
	_, err = foreign.SetDatasetState(ctx, "credit_penalties", "seal", "ours now")
	refused("a foreign custodian's seal", err, "dataset.not_owner")
	_, err = foreign.DestroyDataset(ctx, "credit_penalties", "ours now")
	refused("a foreign custodian's destroy", err, "dataset.not_owner")
	data, _ = os.Open(csvPath)
	_, err = foreign.ImportDataset(ctx, "credit_penalties", []byte(synth.Spec("credit_penalties")), data, nil, nil)
	data.Close()
	refused("a foreign custodian's import", err, "dataset.not_owner")
	// A new version that changes the market class does not flow to the
	// grant approved for the first, until a new approval.
	data, _ = os.Open(csvPath)
	v2, err := custodian.ImportDataset(ctx, "credit_penalties", []byte(strings.Replace(synth.Spec("credit_penalties"), "market: authorized", "market: ordinary", 1)), data, nil, nil)
	data.Close()
	must(err)
	if v2.Version != 2 || v2.Owner != "credit-centre" || v2.Market != "ordinary" {
		t.Fatalf("the owner's second version: got %+v", v2)
	}
	_, err = operator.RunJob(ctx, api.JobRequest{Image: gc, Inputs: []string{"credit_penalties"}, Args: []string{"true"}})
	refused("a job on a version the grant was not approved for", err, "grant.version_not_approved")
	opID := func() string {
		w, err := operator.Whoami(ctx)
		must(err)
		return w.Person.ID
	}()
	x2, err := authority.Explain(ctx, opID, "job.run", []string{"credit_penalties"}, "")
	must(err)
	if x2.Decision.Allow || len(x2.Decision.Reasons) != 1 || x2.Decision.Reasons[0].Rule != "grant.version_not_approved" {
		t.Fatalf("explain of the job: got %+v, want a deny by grant.version_not_approved", x2.Decision)
	}
	app2, err := operator.FileApplication(ctx, api.ApplicationRequest{Datasets: []string{"credit_penalties"}, Purpose: "risk statistics",
		Scenario: "district dashboard", Until: time.Now().AddDate(0, 3, 0).Format("2006-01-02")})
	must(err)
	_, err = authority.DecideApplication(ctx, app2.ID, "approve", "version 2, ordinary")
	must(err)

	// A job that prints input values: the operator's view of its log
	// withholds those lines, an officer's does not.
	leak := run(tb, nil, "sh", "-c", "echo start; head -c 400000 /in/credit_penalties/data.arrow | strings | grep -E '^[0-9]{3}[*]' | head -3; echo done")
	read := func(c *client.Client) string {
		rc, err := c.JobLogs(ctx, leak.ID)
		must(err)
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return string(b)
	}
	opLog, offLog := read(operator), read(officer1)
	if !strings.Contains(opLog, "withheld") || strings.Count(offLog, "\n") != strings.Count(opLog, "\n") || strings.Contains(offLog, "withheld") {
		t.Fatalf("log filtering: operator sees %q, officer sees %q", opLog, offLog)
	}

	x, err := operator.RequestExport(ctx, api.ExportRequest{Job: j.ID, Files: []string{"by_district.arrow"}, Purpose: "dashboard"})
	must(err)
	if x.Checks.Verdict != "pass" || x.State != "pending-review" || x.ApprovalsNeeded != 2 {
		t.Fatalf("export: got %+v", x)
	}
	if len(x.Previews) != 1 || x.Previews[0].Rows == 0 || len(x.Previews[0].Sample) == 0 {
		t.Fatalf("preview of a clean export: got %+v", x.Previews)
	}
	if _, err := operator.DecideExport(ctx, x.ID, "approve", api.ReviewRequest{}); err == nil {
		t.Fatal("the requester approved their own export")
	}
	_, err = officer1.DecideExport(ctx, x.ID, "approve", api.ReviewRequest{Comment: "aggregates"})
	must(err)
	x, err = officer2.DecideExport(ctx, x.ID, "approve", api.ReviewRequest{Comment: "second"})
	must(err)
	if x.State != "released" {
		t.Fatalf("after two approvals: state %q", x.State)
	}
	rc, err := operator.DownloadRelease(ctx, x.ID)
	must(err)
	bundle, _ := io.ReadAll(rc)
	rc.Close()
	if _, err := officer1.DownloadRelease(ctx, x.ID); err == nil {
		t.Fatal("an officer downloaded the operator's release")
	}
	pk, err := operator.PublicKey(ctx)
	must(err)
	pub, _ := base64.StdEncoding.DecodeString(pk.Key)
	v, err := release.Verify(bytes.NewReader(bundle), ed25519.PublicKey(pub))
	must(err)
	if len(v.Predicate.Approvals) != 2 || v.Predicate.Job.ID != j.ID || v.Files[0].Level != "general-4" || len(v.Predicate.Inputs) != 1 {
		t.Fatalf("attestation: got %+v", v.Predicate)
	}

	// Copying the raw rows out is stopped by the checks; a file the job
	// did not declare (named like an identifier) is dropped and only
	// counted.
	cp := run(tb, []string{"copy.arrow"}, "sh", "-c", "cp /in/credit_penalties/data.arrow /out/copy.arrow && touch /out/91990104A6N74W818W")
	if len(cp.Outputs) != 1 || cp.UndeclaredDropped != 1 {
		t.Fatalf("undeclared outputs: got %+v and %d dropped, want copy.arrow only and 1 dropped", cp.Outputs, cp.UndeclaredDropped)
	}
	if _, err := operator.RequestExport(ctx, api.ExportRequest{Job: cp.ID, Files: []string{"91990104A6N74W818W"}, Purpose: "table"}); err == nil {
		t.Fatal("an undeclared file was exported")
	}
	bad, err := operator.RequestExport(ctx, api.ExportRequest{Job: cp.ID, Files: []string{"copy.arrow"}, Purpose: "table"})
	must(err)
	failed := map[string]bool{}
	for _, c := range bad.Checks.Checks {
		if c.Verdict == "fail" {
			failed[c.Name] = true
		}
	}
	if bad.State != "checks-failed" || !failed["raw-values"] || !failed["row-copy"] {
		t.Fatalf("raw copy: got state %s, failed checks %v", bad.State, failed)
	}
	if len(bad.Previews) != 1 || len(bad.Previews[0].Sample) != 0 {
		t.Fatalf("the operator sees rows of an export whose checks failed: %+v", bad.Previews)
	}
	seen, err := officer1.ShowExport(ctx, bad.ID)
	must(err)
	for _, row := range seen.Previews[0].Sample {
		for i, c := range seen.Previews[0].Columns {
			if c.PI != "" && !strings.Contains(row[i], "withheld") {
				t.Fatalf("an officer's preview shows a personal-information column %q", c.Name)
			}
		}
	}
	if len(seen.Previews[0].Sample) == 0 {
		t.Fatal("an officer sees no sample of the failed export")
	}
	if _, err := officer1.DecideExport(ctx, bad.ID, "approve", api.ReviewRequest{}); err == nil {
		t.Fatal("a failed export was approved without justification")
	}

	// A job that asks for some columns sees only those in its input file.
	countField := func(cols []string) string {
		t.Helper()
		j, err := operator.RunJob(ctx, api.JobRequest{Image: tb, Inputs: []string{"credit_penalties"}, Columns: cols,
			Args: []string{"sh", "-c", "strings /in/credit_penalties/data.arrow | grep -c legal_rep_id; true"}})
		must(err)
		j, err = operator.WaitJob(ctx, j.ID)
		must(err)
		rc, err := officer1.JobLogs(ctx, j.ID)
		must(err)
		defer rc.Close()
		out, _ := io.ReadAll(rc)
		if j.State != "complete" {
			t.Fatalf("column job: state %s", j.State)
		}
		return strings.TrimSpace(string(out))
	}
	if all, some := countField(nil), countField([]string{"credit_penalties.district"}); all == "0" || some != "0" {
		t.Fatalf("projection: the whole input names legal_rep_id %s times, the district-only input %s times; want >0 and 0", all, some)
	}

	// Suspending the organisation stops its running job at once.
	long, err := operator.RunJob(ctx, api.JobRequest{Image: tb, Inputs: []string{"credit_penalties"}, Args: []string{"sleep", "300"}, Timeout: "10m"})
	must(err)
	for i := 0; i < 100; i++ {
		if j, _ := operator.ShowJob(ctx, long.ID); j.State == "running" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err = authority.SetOrgStatus(ctx, "acme", "suspend", "annual report missing")
	must(err)
	for i := 0; i < 300 && long.State != "canceled"; i++ {
		time.Sleep(100 * time.Millisecond)
		long, err = officer1.ShowJob(ctx, long.ID)
	}
	if err != nil || long.State != "canceled" {
		t.Fatalf("job of a suspended organisation: got %s %v, want canceled", long.State, err)
	}
	if _, err := operator.RunJob(ctx, api.JobRequest{Image: tb, Inputs: []string{"credit_penalties"}, Args: []string{"true"}}); err == nil {
		t.Fatal("a suspended organisation ran a job")
	}

	bureau := as("Sun Hao", "platform", "bureau")
	rep, err := bureau.AuditVerify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("audit verify: %+v %v", rep, err)
	}
}
