package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
)

// TestSharingClassIsExplicit: a spec without a sharing class is refused,
// naming the field, and publishes nothing; a legacy version without the
// mark is conditional (issue 20 item 2).
func TestSharingClassIsExplicit(t *testing.T) {
	w := newWorld(t)
	before := w.count("dataset_versions")
	l := w.importDataset(w.custodian.Token, "unclassed", strings.Replace(testSpec, "sharing: unconditional\n", "", 1), testCSV)
	if l.Error == nil || l.Error.Class != "invalid-argument" || !strings.Contains(l.Error.Message, "sharing") {
		t.Fatalf("import without sharing: got %+v, want invalid-argument naming sharing", l)
	}
	if n := w.count("dataset_versions"); n != before {
		t.Fatalf("a refused import published something: %d versions, want %d", n, before)
	}
	// An application filed while penalties was unconditional.
	var old api.Application
	w.mustDo(w.operator.Token, "POST", "/v1/applications", api.ApplicationRequest{Datasets: []string{"penalties"}, Purpose: "p", Scenario: "s", Until: "2027-06-30"}, &old)
	// A legacy version (no mark) reads as conditional in the catalogue.
	if _, err := w.db.SQL().Exec(`UPDATE dataset_versions SET marks = json_remove(marks, '$."enclave.sharing"') WHERE name = 'penalties'`); err != nil {
		t.Fatal(err)
	}
	code, body := w.do(w.operator.Token, "POST", "/v1/applications", api.ApplicationRequest{Datasets: []string{"penalties"}, Purpose: "p", Scenario: "s", Until: "2027-06-30"})
	if code != 400 || !strings.Contains(string(body), "conditional") {
		t.Fatalf("application for a legacy version without conditions: got %d %s, want 400 naming conditional", code, body)
	}
	// Nor is the application filed before approved without conditions; it
	// may still be rejected.
	grantsBefore := w.count("grants")
	code, body = w.do(w.authority.Token, "POST", "/v1/applications/"+old.ID+"/approve", api.CommentRequest{})
	if code != 412 || !strings.Contains(string(body), "names no conditions") || w.count("grants") != grantsBefore {
		t.Fatalf("approving an application without conditions for a conditional dataset: got %d %s, want 412 and no grant", code, body)
	}
	w.mustDo(w.authority.Token, "POST", "/v1/applications/"+old.ID+"/reject", api.CommentRequest{Comment: "name the conditions"}, &old)
	if old.Status != "rejected" {
		t.Fatalf("rejection: got %s", old.Status)
	}
}

// TestConditionalSharingNeedsConditions: an application for a conditional
// dataset must name its conditions; the authority sees them on the
// application and the grant keeps them (issue 20 item 2).
func TestConditionalSharingNeedsConditions(t *testing.T) {
	w := newWorld(t)
	spec := strings.Replace(strings.Replace(testSpec, "sharing: unconditional", "sharing: conditional", 1), "name: penalties", "name: restricted", 1)
	if l := w.importDataset(w.custodian.Token, "restricted", spec, testCSV); l.Dataset == nil {
		t.Fatalf("import: got %+v", l.Error)
	}
	var d api.Dataset
	w.mustDo(w.operator.Token, "GET", "/v1/datasets/restricted", nil, &d)
	if d.Marks["enclave.sharing"] != "conditional" {
		t.Fatalf("catalogue: got marks %v, want sharing conditional", d.Marks)
	}
	req := api.ApplicationRequest{Datasets: []string{"restricted"}, Purpose: "district risk statistics", Scenario: "dashboard", Until: "2027-06-30"}
	for _, c := range []string{"", "   "} {
		req.Conditions = c
		before := w.count("applications")
		code, body := w.do(w.operator.Token, "POST", "/v1/applications", req)
		if code != 400 || !strings.Contains(string(body), `restricted`) || !strings.Contains(string(body), "conditional") {
			t.Fatalf("conditions %q: got %d %s, want 400 naming the dataset and its class", c, code, body)
		}
		if w.count("applications") != before {
			t.Fatalf("a refused application was recorded")
		}
	}
	req.Conditions = strings.Repeat("x", 2001)
	if code, body := w.do(w.operator.Token, "POST", "/v1/applications", req); code != 400 || !strings.Contains(string(body), "at most 2000 bytes") {
		t.Fatalf("conditions of 2001 bytes: got %d %s, want 400 naming the bound", code, body)
	}
	req.Conditions = "aggregates by district only; no re-identification; results reviewed before use"
	var a api.Application
	w.mustDo(w.operator.Token, "POST", "/v1/applications", req, &a)
	var seen api.Application
	w.mustDo(w.authority.Token, "GET", "/v1/applications/"+a.ID, nil, &seen)
	if seen.Conditions != req.Conditions {
		t.Fatalf("the authority sees conditions %q, want %q", seen.Conditions, req.Conditions)
	}
	w.mustDo(w.authority.Token, "POST", "/v1/applications/"+a.ID+"/approve", api.CommentRequest{Comment: "conditions accepted"}, &a)
	var g api.Grant
	w.mustDo(w.operator.Token, "GET", "/v1/grants/"+a.Grant, nil, &g)
	if g.Conditions != req.Conditions {
		t.Fatalf("grant conditions %q, want %q", g.Conditions, req.Conditions)
	}
	// The applicant's audit entry says conditions were named, not what they are.
	if e := w.lastEntry("application.file"); e.Details["conditions_named"] != "true" || strings.Contains(e.Reason+strings.Join(e.Objects, " "), "re-identification") {
		t.Fatalf("application.file entry: got %+v", e)
	}
}

// TestUsageShowsPricesByPurpose: a job read under a grant the authority
// approved as public-interest is charged at the public-interest prices
// (free by default), and the report names the application and its
// purpose; an application that only claims public interest counts for
// nothing until approved (issue 20 item 3).
func TestUsageShowsPricesByPurpose(t *testing.T) {
	w := newWorld(t)
	bureau := w.person("Sun Hao", "platform", "bureau")
	file := func(purpose string, public bool) api.Application {
		var a api.Application
		w.mustDo(w.operator.Token, "POST", "/v1/applications", api.ApplicationRequest{Datasets: []string{"penalties"}, Purpose: purpose,
			Scenario: "s", Until: "2027-06-30", PublicInterest: public}, &a)
		return a
	}
	pub := file("flood relief planning", true)
	w.mustDo(w.authority.Token, "POST", "/v1/applications/"+pub.ID+"/approve", api.CommentRequest{}, &pub)
	claimed := file("says it is public interest", true) // never approved: no grant
	ind := file("credit scoring product", false)
	w.mustDo(w.authority.Token, "POST", "/v1/applications/"+ind.ID+"/approve", api.CommentRequest{}, &ind)
	for _, j := range []struct{ id, grants string }{
		{"j_pub", `{"penalties":"` + pub.Grant + `"}`},
		{"j_ind", `{"penalties":"` + ind.Grant + `"}`},
		{"j_own", `{}`},
	} {
		if _, err := w.db.SQL().Exec(`INSERT INTO jobs(id, org, owner, image, args, inputs, grants, limits, state, usage, created_at)
			VALUES (?, 'acme', 'p_x', 'sha256:x', '[]', '[{"dataset":"penalties","version":1}]', ?, '{}', 'complete', '{"cpu_seconds": 3600}', '2026-03-02T10:00:00Z')`,
			j.id, j.grants); err != nil {
			t.Fatal(err)
		}
	}
	for _, token := range []string{bureau.Token, w.operator.Token} {
		code, body := w.do(token, "GET", "/v1/usage?org=acme", nil)
		if code != 200 {
			t.Fatalf("usage: got %d %s", code, body)
		}
		var rep api.UsageReport
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatal(err)
		}
		cl := rep.Total.Classes
		if len(cl) != 2 || cl[0].Class != "public-interest" || cl[0].Jobs != 1 || cl[1].Class != "industry" || cl[1].Jobs != 2 {
			t.Fatalf("classes: got %+v, want 1 public-interest job and 2 industry", cl)
		}
		if cl[0].Charge.Total != 0 || cl[1].Charge.Total == 0 || rep.Total.Charge.Total != cl[1].Charge.Total {
			t.Fatalf("charges: public-interest %v, industry %v, total %v; want free, paid, and the total the industry part", cl[0].Charge.Total, cl[1].Charge.Total, rep.Total.Charge.Total)
		}
		if len(cl[0].Applications) != 1 || cl[0].Applications[0].Application != pub.ID || cl[0].Applications[0].Purpose != "flood relief planning" || cl[0].Why == "" {
			t.Fatalf("public-interest basis: got %+v, want %s and its purpose", cl[0], pub.ID)
		}
		if strings.Contains(string(body), claimed.ID) {
			t.Fatalf("the unapproved application %s is named in the report", claimed.ID)
		}
	}
}
