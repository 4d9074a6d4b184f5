package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/backup"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/store"
)

// The value a job computes and writes to its log and an output: it is in
// no command line, so only the job's plaintext can hold it.
const derivedMarker = "marker-42-1337"

// plaintextFiles walks root and returns the files that are not sealed
// (enclave/sealedfile) and hold Arrow's magic or the marker, and the
// files under jobs/ and exports/ that are not sealed at all.
func plaintextFiles(t *testing.T, root string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sealed := bytes.HasPrefix(data, []byte("ENCSEAL\x00"))
		derived := strings.HasPrefix(rel, "jobs"+string(filepath.Separator)) || strings.HasPrefix(rel, "exports"+string(filepath.Separator))
		if !sealed && (derived || bytes.Contains(data, []byte("ARROW1")) || bytes.Contains(data, []byte(derivedMarker))) {
			bad = append(bad, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// TestDerivedDataDiesWithItsBasis, against real containerd: a job copies
// its whole input and writes a value to its log and an output; after it,
// no file under the data directory holds Arrow's magic or the value
// outside a sealed file, and the sandbox's plaintext area is empty; an
// export of it rests sealed too. A backup is taken; then the custodian
// destroys the dataset: the answer names the job and the unreleased
// export, their files are gone, the export takes no decision and the log
// is not found. The backup restored with the live data directory's
// tombstones brings back neither the dataset nor what was derived from
// it, and its audit log verifies.
func TestDerivedDataDiesWithItsBasis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	jd := startJobDaemon(t, ctx, jobDaemonOpts{prefix: "enclave-derived-"})
	cfg := jd.cfg
	must := fatalOn(t)
	w := jd.world(t, ctx)
	os.Remove(filepath.Join(jd.base, "penalties.csv"))
	j, err := w.operator.RunJob(ctx, api.JobRequest{Image: w.image, Inputs: []string{"credit_penalties"}, Outputs: []string{"copy.arrow", "note.txt"},
		Args:    []string{"sh", "-c", `cp /in/credit_penalties/data.arrow /out/copy.arrow && echo "marker-$((6*7))-$((1000+337))" | tee /out/note.txt`},
		Timeout: "1m"})
	must(err)
	j, err = w.operator.WaitJob(ctx, j.ID)
	must(err)
	if j.State != "complete" || len(j.Outputs) != 2 {
		t.Fatalf("job: got %s with %d outputs, want complete with 2", j.State, len(j.Outputs))
	}
	if bad := plaintextFiles(t, cfg.DataDir); len(bad) > 0 {
		t.Fatalf("after the job, plaintext under the data directory: %v", bad)
	}
	if ents, err := os.ReadDir(filepath.Join(cfg.SandboxDir, "plain")); err != nil || len(ents) != 0 {
		t.Fatalf("after the job, the sandbox's plaintext area: %d entries, %v; want none", len(ents), err)
	}
	// The exact view reads the log, decrypted.
	logs, err := w.officer.JobLogs(ctx, j.ID)
	must(err)
	var lb bytes.Buffer
	lb.ReadFrom(logs)
	logs.Close()
	if !strings.Contains(lb.String(), derivedMarker) {
		t.Fatalf("the job's log read back: got %q, want the marker", lb.String())
	}
	x, err := w.operator.RequestExport(ctx, api.ExportRequest{Job: j.ID, Files: []string{"note.txt"}, Purpose: "dashboard"})
	must(err)
	if bad := plaintextFiles(t, cfg.DataDir); len(bad) > 0 {
		t.Fatalf("after the export request, plaintext under the data directory: %v", bad)
	}
	if _, err := os.Stat(filepath.Join(cfg.exportsDir(), x.ID, "files", "0000")); err != nil {
		t.Fatalf("the export's frozen file: %v", err)
	}

	const pass = "correct horse battery staple"
	bk := filepath.Join(jd.base, "backup")
	if _, err := backup.Backup(ctx, cfg.DataDir, bk, pass); err != nil { // while the daemon serves
		t.Fatal(err)
	}

	out, err := w.custodian.DestroyDataset(ctx, "credit_penalties", "the provider's term ended")
	must(err)
	var objects []string
	for _, dd := range out.Derived {
		objects = append(objects, dd.Object)
		if dd.Cause != "dataset:credit_penalties@1" || !strings.Contains(dd.Technique, "crypto-shredding") || dd.Process == "" || dd.Reason == "" {
			t.Errorf("destruction record: got %+v, want cause, process, technique and reason", dd)
		}
	}
	slices.Sort(objects)
	if want := []string{"export:" + x.ID, "job:" + j.ID}; !slices.Equal(objects, want) {
		t.Fatalf("derived destructions: got %v, want %v", objects, want)
	}
	for _, p := range []string{filepath.Join(cfg.jobsDir(), j.ID), filepath.Join(cfg.exportsDir(), x.ID)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after the destruction: %v, want it gone", p, err)
		}
	}
	if xs, err := w.operator.ShowExport(ctx, x.ID); err != nil || xs.State != "destroyed" {
		t.Errorf("the export after the destruction: got %q, %v; want destroyed", xs.State, err)
	}
	if _, err := w.officer.DecideExport(ctx, x.ID, "approve", api.ReviewRequest{Comment: "fine", Justification: "a count reviewed by hand, nothing else"}); err == nil {
		t.Error("an officer approved an export whose files were destroyed")
	}
	if r, err := w.officer.JobLogs(ctx, j.ID); err == nil {
		r.Close()
		t.Error("the log of a job whose basis was destroyed is still served")
	}
	if _, err := w.operator.RequestExport(ctx, api.ExportRequest{Job: j.ID, Files: []string{"note.txt"}, Purpose: "again"}); err == nil {
		t.Error("an export of a destroyed job's output was accepted")
	}
	jd.d.Process.Signal(syscall.SIGTERM)
	jd.d.Wait()
	jd.d = nil

	// The backup, taken before the destruction, restored with the live
	// data directory's tombstones.
	restored := filepath.Join(jd.base, "restored")
	ts, err := backup.LoadTombstones(cfg.DataDir)
	must(err)
	if err := backup.Restore(ctx, bk, restored, pass, backup.Tombstones{}); err == nil {
		t.Fatal("a restore shown no tombstones went ahead")
	}
	must(backup.Restore(ctx, bk, restored, pass, backup.Tombstones{List: ts}))
	// Without a sandbox: the restored start destroys what came back all
	// the same (no job runs there); the export is read from the state.
	rd := startDaemon(t, restored)
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			rd.Process.Signal(syscall.SIGTERM)
			rd.Wait()
		}
	}
	defer stop()
	rsock := filepath.Join(restored, "enclaved.sock")
	radmin, _ := client.New(rsock, jd.adminToken)
	as := func(name, org, role string) *client.Client {
		t.Helper()
		p, err := radmin.AddPerson(ctx, registered(api.PersonRequest{Name: name, Org: org, Roles: []string{role}}))
		must(err)
		c, _ := client.New(rsock, p.Token)
		return c
	}
	rcust, rbureau := as("Ma Li", "credit-centre", "custodian"), as("Lu Xun", "platform", "bureau")
	ds, err := rcust.ShowDataset(ctx, "credit_penalties")
	if err != nil || ds.State != "destroyed" {
		t.Fatalf("the dataset after the restore: got %q, %v; want destroyed", ds.State, err)
	}
	for _, p := range []string{filepath.Join(restored, "jobs", j.ID), filepath.Join(restored, "exports", x.ID),
		filepath.Join(restored, "datasets", "credit_penalties")} {
		if n := countRegular(t, p); n != 0 {
			t.Errorf("%s after the restore holds %d files, want none", p, n)
		}
	}
	if bad := plaintextFiles(t, restored); len(bad) > 0 {
		t.Errorf("plaintext in the restored data directory: %v", bad)
	}
	rep, err := rbureau.AuditVerify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("audit verify after the restore: %+v, %v", rep, err)
	}
	stop()
	db, err := store.Open(ctx, filepath.Join(restored, "state.db"))
	must(err)
	defer db.Close()
	if e, err := exports.Get(ctx, db.SQL(), x.ID); err != nil || e.State != exports.Destroyed {
		t.Errorf("the export after the restore: got %+v, %v; want destroyed", e, err)
	}
	for _, obj := range []string{jobs.JobKeyObject(j.ID), jobs.ExportKeyObject(x.ID)} {
		if dead, err := jobs.NewDataKeys(db.SQL(), nil).Shredded(ctx, obj); err != nil || !dead {
			t.Errorf("the key of %s after the restore: shredded %v, %v; want shredded", obj, dead, err)
		}
	}
}

func countRegular(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}
