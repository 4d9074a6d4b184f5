package server

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/release"
)

// TestExportNames (issue 21): an export names its requester and reviewers
// beside their ids; an id no person has keeps the id alone, and the ids
// are never replaced.
func TestExportNames(t *testing.T) {
	w := newWorld(t)
	c := &call{s: w.srv, r: httptest.NewRequest("GET", "/v1/exports", nil)}
	x := named(c, api.Export{Requester: w.operator.ID, Reviews: []api.ExportReview{{Person: w.officer.ID}, {Person: "p_nobody"}}})
	if x.Requester != w.operator.ID || x.RequesterName != "Wang Lei" {
		t.Fatalf("requester: got %q %q, want %q Wang Lei", x.Requester, x.RequesterName, w.operator.ID)
	}
	if x.Reviews[0].Person != w.officer.ID || x.Reviews[0].PersonName != w.officer.Name || w.officer.Name == "" {
		t.Fatalf("reviewer: got %+v, want %q named %q", x.Reviews[0], w.officer.ID, w.officer.Name)
	}
	if x.Reviews[1].Person != "p_nobody" || x.Reviews[1].PersonName != "" {
		t.Fatalf("unknown reviewer: got %+v, want the id alone", x.Reviews[1])
	}
}

// TestDatasetNames (issue 21): dataset show and list name the person who
// imported the version beside the id.
func TestDatasetNames(t *testing.T) {
	w := newWorld(t)
	var d api.Dataset
	w.mustDo(w.operator.Token, "GET", "/v1/datasets/penalties", nil, &d)
	if d.CreatedBy != w.custodian.ID || d.CreatedByName != "Li Na" || d.ReviewedByName != "" {
		t.Fatalf("show: got created_by %q named %q, reviewed_by_name %q; want %q named Li Na", d.CreatedBy, d.CreatedByName, d.ReviewedByName, w.custodian.ID)
	}
	var ds []api.Dataset
	w.mustDo(w.operator.Token, "GET", "/v1/datasets", nil, &ds)
	if len(ds) == 0 || ds[0].CreatedByName != "Li Na" {
		t.Fatalf("list: got %+v, want the importer's name", ds)
	}
}

// TestReleaseNamesPeople (issue 21): the release attestation names the
// requester and the approving officers beside their ids, signed with the
// rest: the downloaded bundle verifies and carries the names.
func TestReleaseNamesPeople(t *testing.T) {
	jw := newJobWorld(t)
	x := jw.requested()
	jw.mustDo(jw.officer.Token, "POST", "/v1/exports/"+x.ID+"/approve", overrideReview, nil)
	jw.mustDo(jw.officer2.Token, "POST", "/v1/exports/"+x.ID+"/approve", overrideReview, nil)
	code, bundle := jw.do(jw.operator.Token, "GET", "/v1/exports/"+x.ID+"/download", nil)
	if code != 200 {
		t.Fatalf("download: got %d", code)
	}
	pub, err := jw.srv.Keyring.PublicKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	v, err := release.Verify(bytes.NewReader(bundle), pub)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	p := v.Predicate
	if p.Requester != jw.operator.ID || p.RequesterName != "Wang Lei" {
		t.Errorf("requester: got %q named %q, want %q named Wang Lei", p.Requester, p.RequesterName, jw.operator.ID)
	}
	want := map[string]string{jw.officer.ID: "Chen Jing", jw.officer2.ID: "Qian Mo"}
	if len(p.Approvals) != 2 {
		t.Fatalf("approvals: got %+v, want two", p.Approvals)
	}
	for _, a := range p.Approvals {
		if want[a.Person] == "" || a.PersonName != want[a.Person] {
			t.Errorf("approval: got %q named %q, want the officers by name %v", a.Person, a.PersonName, want)
		}
	}
}
