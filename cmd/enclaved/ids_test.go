package main

import (
	"sync/atomic"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/synth"
)

// idSeq numbers the synthetic ID numbers and credit codes of the tests.
var idSeq atomic.Int64

func nextIDNumber() string { return synth.ResidentID(int(idSeq.Add(1))) }

func nextUSCC() string { return synth.USCC(int(idSeq.Add(1))) }

// testAdmin is a first admin for init: the admin of org, with a synthetic
// ID number, and the organisation's synthetic credit code.
func testAdmin(org string) firstAdmin {
	return firstAdmin{Org: org, USCC: nextUSCC(), Name: "admin", IDNumber: nextIDNumber()}
}

// registered fills in what registration requires and a test leaves out: a
// fresh ID number and, for the roles that need one, an agreement to the end
// of 2029 with its liability.
func registered(req api.PersonRequest) api.PersonRequest {
	if req.IDNumber == "" {
		req.IDNumber = nextIDNumber()
	}
	for _, r := range req.Roles {
		if req.AgreementUntil == "" && people.NeedsAgreement([]people.Role{people.Role(r)}) {
			req.AgreementUntil = "2029-12-31"
		}
	}
	if req.AgreementUntil != "" && req.AgreementLiability == "" {
		req.AgreementLiability = "confidentiality agreement NDA-TEST, liability per its article 5"
	}
	return req
}

// licensed fills in what a licence application requires and a test leaves
// out: a fresh credit code and the fields of 001 art. 11.
func licensed(req api.OrgRequest) api.OrgRequest {
	if req.USCC == "" {
		req.USCC = nextUSCC()
	}
	if req.BusinessScope == "" {
		req.BusinessScope = "credit risk statistics"
	}
	if req.SecurityLead == "" {
		req.SecurityLead = "Qian Yi"
	}
	if req.Principal == "" {
		req.Principal = "Zhao Er"
	}
	if req.DataDisposal == "" {
		req.DataDisposal = "destroy every copy and derived product within 30 days of the licence's end"
	}
	return req
}
