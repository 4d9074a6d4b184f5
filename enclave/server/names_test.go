package server

import (
	"net/http/httptest"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
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
