package server

import (
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
)

// TestDestroyAnswersDerivedFilesCoarsely: destroying a dataset answers
// the custodian with each derived job's files rounded by the coarse rule,
// not the exact count, which the job chose by how many files it wrote (a
// way out of several bits per job); the state's destruction record keeps
// the exact count, and only the bureau reads it exact.
func TestDestroyAnswersDerivedFilesCoarsely(t *testing.T) {
	jw := newJobWorld(t)
	jw.srv.Shredder = &exports.Shredder{DB: jw.db, Keys: jw.srv.Jobs.DataKeys(), JobsDir: jw.jobsDir, ExportsDir: filepath.Join(t.TempDir(), "exports"),
		Audit: jw.log, Jobs: jw.srv.Jobs, Now: jw.clock}
	j := jw.runJob("ok", "a.csv", "b.csv", "c.csv", "d.csv", "e.csv", "f.csv")
	exact := 0
	if err := filepath.WalkDir(filepath.Join(jw.jobsDir, j.ID), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			exact++
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	coarse := int(jobs.Coarse(float64(exact), 1))
	if coarse == exact {
		t.Fatalf("fixture: the job's work area holds %d files, a power of two, which the coarse rule keeps", exact)
	}

	var dr api.DestroyResult
	jw.mustDo(jw.custodian.Token, "POST", "/v1/datasets/penalties/destroy", api.ReasonRequest{Reason: "term end"}, &dr)
	var got *api.DerivedDestruction
	for i := range dr.Derived {
		if dr.Derived[i].Object == "job:"+j.ID {
			got = &dr.Derived[i]
		}
	}
	if got == nil {
		t.Fatalf("derived: got %+v, want the destruction of job %s", dr.Derived, j.ID)
	}
	if got.Files != coarse {
		t.Errorf("custodian: got %d files removed, want %d (%d rounded by the coarse rule)", got.Files, coarse, exact)
	}
	recs, err := jobs.Destructions(jw.ctx, jw.db.SQL(), "job:"+j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Files != exact {
		t.Fatalf("state's record: got %+v, want one with %d files", recs, exact)
	}
	if v := derivedView(recs[0], true); v.Files != exact {
		t.Errorf("bureau: got %d files removed, want the exact %d", v.Files, exact)
	}
	if v := derivedView(recs[0], false); v.Files != coarse || v.Object != "job:"+j.ID || v.KeyID != recs[0].KeyID {
		t.Errorf("coarse view: got %+v, want the record with %d files", v, coarse)
	}
}
