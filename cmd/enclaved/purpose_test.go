package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/synth"
)

// TestPurposeAgainstDaemon drives a real daemon over real containerd
// through issue 20 items 1-3:
//   - a spec without a sharing class is refused and publishes nothing;
//   - an application for a conditional dataset without conditions is
//     refused; with them the authority sees them, and approves it as
//     public-interest use;
//   - a job under that grant is charged at public-interest prices (free by
//     default) and the report names the application and its purpose,
//     while a job under the industry grant is charged;
//   - an approved upload is destroyed by the term sweeper when its
//     organisation's licence merely expires, with a destruction record.
func TestPurposeAgainstDaemon(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	jd := startJobDaemon(t, ctx, jobDaemonOpts{prefix: "enclave-purpose-"})
	cfg := jd.cfg
	must := fatalOn(t)
	w := jd.world(t, ctx)
	var csv bytes.Buffer
	must(synth.WriteCSV(&csv, 13, 150))
	importAs := func(c *client.Client, name, spec string, upload bool) (api.Dataset, error) {
		if upload {
			return c.UploadDataset(ctx, name, []byte(spec), bytes.NewReader(csv.Bytes()), nil, nil)
		}
		return c.ImportDataset(ctx, name, []byte(spec), bytes.NewReader(csv.Bytes()), nil, nil)
	}

	// Item 2: the sharing class is explicit.
	unclassed := strings.Replace(synth.Spec("unclassed"), "sharing: unconditional\n", "", 1)
	if _, err := importAs(w.custodian, "unclassed", unclassed, false); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "sharing") {
		t.Fatalf("import without sharing: got %v, want invalid argument naming sharing", err)
	}
	if _, err := w.custodian.ShowDataset(ctx, "unclassed"); !errdefs.IsNotFound(err) {
		t.Fatalf("the refused import left a dataset: %v", err)
	}
	_, err := importAs(w.custodian, "flood_zones", strings.Replace(synth.Spec("flood_zones"), "sharing: unconditional", "sharing: conditional", 1), false)
	must(err)
	until := time.Now().AddDate(0, 2, 0).Format("2006-01-02")
	req := api.ApplicationRequest{Datasets: []string{"flood_zones"}, Purpose: "flood-relief planning", Scenario: "district relief map",
		Until: until, PublicInterest: true}
	if _, err := w.operator.FileApplication(ctx, req); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "conditional") {
		t.Fatalf("an application for a conditional dataset without conditions: got %v, want invalid argument naming the class", err)
	}
	req.Conditions = "district aggregates only; no re-identification"
	pub, err := w.operator.FileApplication(ctx, req)
	must(err)
	seen, err := w.authority.ShowApplication(ctx, pub.ID)
	must(err)
	if seen.Conditions != req.Conditions || !seen.PublicInterest {
		t.Fatalf("the authority sees %+v, want the conditions and public interest", seen)
	}
	_, err = w.authority.DecideApplication(ctx, pub.ID, "approve", "public welfare")
	must(err)

	// Item 3: prices by purpose, on jobs that really ran.
	run := func(input string) {
		t.Helper()
		j, err := w.operator.RunJob(ctx, api.JobRequest{Image: w.image, Inputs: []string{input}, Outputs: []string{"n.txt"},
			Args: []string{"sh", "-c", "test -s /in/" + input + "/data.arrow && echo 1 > /out/n.txt"}, Timeout: "1m"})
		must(err)
		if j, err = w.operator.WaitJob(ctx, j.ID); err != nil || j.State != "complete" {
			t.Fatalf("job on %s: got %+v %v, want complete", input, j, err)
		}
	}
	run("flood_zones")
	run("credit_penalties")
	for _, c := range []*client.Client{w.bureau, w.operator} {
		rep, err := c.UsageReport(ctx, client.UsageQuery{Org: "acme"})
		must(err)
		cl := rep.Total.Classes
		if len(cl) != 2 || cl[0].Class != "public-interest" || cl[0].Jobs != 1 || cl[1].Class != "industry" || cl[1].Jobs != 1 {
			t.Fatalf("usage classes: got %+v, want one public-interest job and one industry job", cl)
		}
		if cl[0].Charge.Total != 0 || cl[1].Charge.Total <= 0 {
			t.Fatalf("charges: public-interest %v, industry %v; want free and paid", cl[0].Charge.Total, cl[1].Charge.Total)
		}
		if len(cl[0].Applications) != 1 || cl[0].Applications[0].Application != pub.ID || cl[0].Applications[0].Purpose != req.Purpose {
			t.Fatalf("public-interest basis: got %+v, want %s and its purpose", cl[0].Applications, pub.ID)
		}
	}

	// Item 1: an approved upload dies when the licence merely expires.
	_, err = importAs(w.operator, "acme_customers", synth.Spec("acme_customers"), true)
	must(err)
	_, err = w.officer.ReviewUpload(ctx, "acme_customers", "approve", "schema and marks fit")
	must(err)
	// Time passes: the daemon is stopped, acme's licence is set to have
	// ended a month ago (past the default grace of 7 days), and the
	// daemon's sweeper, which sweeps when it starts, finds it.
	jd.d.Process.Signal(syscall.SIGTERM)
	jd.d.Wait()
	jd.d = nil
	db, err := store.Open(ctx, filepath.Join(cfg.DataDir, "state.db"))
	must(err)
	ended := time.Now().AddDate(0, -1, 0).Format("2006-01-02")
	for _, q := range []string{`UPDATE orgs SET licence_until = ? WHERE name = 'acme'`, `UPDATE org_licences SET licence_until = ? WHERE org = 'acme'`} {
		if _, err := db.SQL().Exec(q, ended); err != nil {
			db.Close()
			t.Fatal(err)
		}
	}
	must(db.Close())
	jd.d = startDaemon(t, cfg.DataDir, "ENCLAVED_TEST_SANDBOX=1")
	var evs []api.AuditEvent
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		evs, err = w.bureau.AuditList(ctx, client.AuditFilter{Action: "dataset.destruction", Object: "dataset:acme_customers@1"})
		must(err)
		if len(evs) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(evs) != 1 || evs[0].Outcome != "ok" || evs[0].Details["key_id"] == "" || !strings.Contains(evs[0].Reason, "licence ended on "+ended) {
		t.Fatalf("destruction record of the upload after the licence expired: got %+v, want one, ok, naming the key and the licence's end", evs)
	}
	if v, err := w.custodian.ShowDataset(ctx, "flood_zones"); err != nil || v.State != "active" {
		t.Fatalf("the custodian's dataset after acme's licence expired: got %+v %v, want it kept", v, err)
	}
}
