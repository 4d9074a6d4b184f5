package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
)

const testSpec = `name: penalties
category: credit/enterprise/penalty
market: authorized
sharing: unconditional
columns:
  uscc:         {level: general-2, rule: keep}
  legal_rep_id: {level: general-4, pi: identity, rule: {hash: {}}}
  amount:       {level: general-3, rule: {generalize: {bucket: 10000}}}
  district:     {level: general-1, rule: keep}
`

// Synthetic values with valid check digits; no real person.
const testCSV = `uscc,legal_rep_id,amount,district
91990104A6N74W818W,32058319900101007X,12000,Donglin
91990104A6N74W818W,32058319900101007X,56000,Xiqiao
91990104A6N74W818W,32058319900101007X,3000,Donglin
`

// importDataset uploads spec and data as the person with token and
// returns the final line of the answer.
func (h *harness) importDataset(token, name, spec, data string) api.ImportLine {
	h.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("spec", "spec.yaml")
	io.WriteString(w, spec)
	w, _ = mw.CreateFormFile("data", "data.csv")
	io.WriteString(w, data)
	mw.Close()
	req, _ := http.NewRequest("POST", h.http.URL+"/v1/datasets?name="+name, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		data, _ := io.ReadAll(resp.Body)
		var eb api.ErrorBody
		json.Unmarshal(data, &eb)
		return api.ImportLine{Error: &eb.Error}
	}
	var last api.ImportLine
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		last = api.ImportLine{}
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			h.t.Fatal(err)
		}
	}
	return last
}

// world is a small enclave: an authority, a licensed company with an
// operator, a custodian with an imported dataset.
type world struct {
	*harness
	authority, custodian, operator, officer api.PersonCreated
}

func newWorld(t *testing.T) *world {
	return newWorldWith(t, nil)
}

// newWorldWith is newWorld over newHarnessWith.
func newWorldWith(t *testing.T, more func(d *Deps)) *world {
	h := newHarnessWith(t, nil, more)
	w := &world{harness: h}
	w.authority = h.person("Zhou Min", "platform", "authority")
	for _, o := range []api.OrgRequest{
		{Name: "credit-centre", Type: "agency", LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31"},
		{Name: "acme", Type: "company", LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31"},
		{Name: "security", Type: "agency", LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31"},
	} {
		h.mustDo(w.authority.Token, "POST", "/v1/orgs", licensed(o), nil)
	}
	add := func(name, org, role string) api.PersonCreated {
		var out api.PersonCreated
		h.mustDo(h.admin, "POST", "/v1/people", registered(api.PersonRequest{Name: name, Org: org, Roles: []string{role}, AgreementUntil: "2027-06-30"}), &out)
		return out
	}
	w.custodian = add("Li Na", "credit-centre", "custodian")
	w.operator = add("Wang Lei", "acme", "operator")
	w.officer = add("Chen Jing", "security", "officer")
	if l := h.importDataset(w.custodian.Token, "penalties", testSpec, testCSV); l.Dataset == nil {
		t.Fatalf("import: got %+v, want a dataset", l.Error)
	}
	return w
}

func TestDatasetImportAndCatalogue(t *testing.T) {
	w := newWorld(t)
	var d api.Dataset
	w.mustDo(w.operator.Token, "GET", "/v1/datasets/penalties", nil, &d)
	if d.ID != "penalties@1" || d.Rows != 3 || d.Level != "general-4" || d.Market != "authorized" || d.Marks["enclave.level"] != "general-4" {
		t.Fatalf("show: got %+v", d)
	}
	// The catalogue never carries rows or raw values.
	_, body := w.do(w.operator.Token, "GET", "/v1/datasets/penalties", nil)
	for _, raw := range []string{"32058319900101007X", "Xiqiao", "56000"} {
		if strings.Contains(string(body), raw) {
			t.Fatalf("dataset show carries a value from the rows")
		}
	}
	// Operators may not import; an admin may not even look.
	if l := w.importDataset(w.operator.Token, "x", testSpec, testCSV); l.Error == nil || l.Error.Class != "permission-denied" {
		t.Fatalf("operator import: got %+v, want permission-denied", l)
	}
	if code, _ := w.do(w.admin, "GET", "/v1/datasets", nil); code != 403 {
		t.Fatalf("admin list: got %d, want 403", code)
	}
	// resident IDs kept raw and undeclared are refused, naming the column.
	bad := strings.Replace(testSpec, "{level: general-4, pi: identity, rule: {hash: {}}}", "{level: general-4, rule: keep}", 1)
	l := w.importDataset(w.custodian.Token, "penalties", bad, testCSV)
	if l.Error == nil || !strings.Contains(l.Error.Message, `"legal_rep_id"`) || strings.Contains(l.Error.Message, "32058319900101007X") {
		t.Fatalf("raw identifiers: got %+v, want a refusal naming the column and no value", l)
	}
	var list []api.Dataset
	w.mustDo(w.custodian.Token, "GET", "/v1/datasets?all=1", nil, &list)
	if len(list) != 1 {
		t.Fatalf("a refused import published something: %d versions", len(list))
	}
	// Seal, then destroy: a destruction record is written.
	w.mustDo(w.custodian.Token, "POST", "/v1/datasets/penalties/seal", api.ReasonRequest{Reason: "review"}, nil)
	w.mustDo(w.operator.Token, "GET", "/v1/datasets/penalties", nil, &d)
	if d.State != "sealed" {
		t.Fatalf("after seal: state %q", d.State)
	}
	var dr api.DestroyResult
	w.mustDo(w.custodian.Token, "POST", "/v1/datasets/penalties@1/destroy", api.ReasonRequest{Reason: "term end"}, &dr)
	if len(dr.Destructions) != 1 || dr.Destructions[0].KeyID == "" || dr.Destructions[0].Technique == "" {
		t.Fatalf("destroy: got %+v", dr)
	}
	if ents := w.entries("dataset.destruction"); len(ents) != 1 || ents[0].Event.Details["key_id"] != dr.Destructions[0].KeyID {
		t.Fatalf("destruction record: got %+v", ents)
	}
	if _, err := w.srv.Catalog.Get(t.Context(), nil, "penalties", 1); err != nil {
		t.Fatal(err)
	}
	v, _ := w.srv.Catalog.Get(t.Context(), nil, "penalties", 1)
	if err := w.srv.Catalog.Decrypt(t.Context(), v, t.TempDir()+"/data.arrow"); err == nil {
		t.Fatal("a destroyed version decrypted")
	}
}

func TestApplicationsAndGrants(t *testing.T) {
	w := newWorld(t)
	req := api.ApplicationRequest{Datasets: []string{"penalties"}, Columns: []string{"penalties.district"}, Purpose: "risk model",
		Scenario: "credit scoring", From: "2026-11-23", Until: "2027-06-30"}
	var a struct {
		ID, Status, Grant string
	}
	w.mustDo(w.operator.Token, "POST", "/v1/applications", req, &a)
	if a.Status != "pending" {
		t.Fatalf("filed: got %+v", a)
	}
	for _, tc := range []struct {
		name string
		req  api.ApplicationRequest
		code int
		want string
	}{
		{"unknown dataset", api.ApplicationRequest{Datasets: []string{"nope"}, Purpose: "p", Scenario: "s", Until: "2027-01-01"}, 400, "not in the catalogue"},
		{"unknown column", api.ApplicationRequest{Datasets: []string{"penalties"}, Columns: []string{"penalties.salary"}, Purpose: "p", Scenario: "s", Until: "2027-01-01"}, 400, "no column"},
		{"past licence", api.ApplicationRequest{Datasets: []string{"penalties"}, Purpose: "p", Scenario: "s", Until: "2028-06-01"}, 403, "application.period"},
		{"no purpose", api.ApplicationRequest{Datasets: []string{"penalties"}, Scenario: "s", Until: "2027-01-01"}, 400, "purpose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := w.do(w.operator.Token, "POST", "/v1/applications", tc.req)
			if code != tc.code || !strings.Contains(string(body), tc.want) {
				t.Fatalf("got %d %s, want %d containing %q", code, body, tc.code, tc.want)
			}
		})
	}
	// The applicant cannot approve; an authority of another organisation can.
	if code, _ := w.do(w.operator.Token, "POST", "/v1/applications/"+a.ID+"/approve", api.CommentRequest{}); code != 403 {
		t.Fatalf("operator approve: got %d, want 403", code)
	}
	w.mustDo(w.authority.Token, "POST", "/v1/applications/"+a.ID+"/approve", api.CommentRequest{Comment: "fine"}, &a)
	if a.Status != "approved" || a.Grant == "" {
		t.Fatalf("approved: got %+v", a)
	}
	if code, _ := w.do(w.authority.Token, "POST", "/v1/applications/"+a.ID+"/approve", api.CommentRequest{}); code != 403 && code != 412 {
		t.Fatalf("second approval: got %d, want a refusal", code)
	}
	var ok []string
	for _, e := range w.entries("application.approve") {
		if e.Event.Outcome == "ok" {
			ok = append(ok, strings.Join(e.Event.Objects, " "))
		}
		if e.Event.Retention != "5y" {
			t.Errorf("approval event about authorization-required data kept %s, want 5y", e.Event.Retention)
		}
	}
	if len(ok) != 1 || !strings.Contains(ok[0], "grant:"+a.Grant) {
		t.Fatalf("approval audit: got %v, want one approval naming the grant", ok)
	}
	// The operator sees only their organisation's applications.
	var list []struct{ Org string }
	w.mustDo(w.operator.Token, "GET", "/v1/applications", nil, &list)
	for _, x := range list {
		if x.Org != "acme" {
			t.Fatalf("operator sees an application of %q", x.Org)
		}
	}
}

func TestPolicyExplain(t *testing.T) {
	w := newWorld(t)
	officer := w.officer
	path := "/v1/policy/explain?as=" + w.operator.ID + "&action=job.run&dataset=penalties"
	var x api.Explanation
	w.mustDo(officer.Token, "GET", path, nil, &x)
	if x.Decision.Allow || len(x.Decision.Reasons) == 0 || x.Decision.Reasons[0].Rule != "grant.dataset_not_granted" {
		t.Fatalf("before a grant: got %+v, want a deny by grant.dataset_not_granted", x.Decision)
	}
	var a struct{ ID string }
	w.mustDo(w.operator.Token, "POST", "/v1/applications", api.ApplicationRequest{Datasets: []string{"penalties"}, Purpose: "p", Scenario: "s", Until: "2027-06-30"}, &a)
	w.mustDo(w.authority.Token, "POST", "/v1/applications/"+a.ID+"/approve", api.CommentRequest{}, nil)
	w.mustDo(officer.Token, "GET", path, nil, &x)
	if !x.Decision.Allow || x.Decision.Grants["penalties"] == "" {
		t.Fatalf("after the grant: got %+v, want allow naming the grant", x.Decision)
	}
	// Explaining is for authorities, officers, the bureau and admins.
	if code, _ := w.do(w.operator.Token, "GET", path, nil); code != 403 {
		t.Fatalf("operator explain: got %d, want 403", code)
	}
	// Nothing was run: no job exists.
	if n := w.count("jobs"); n != 0 {
		t.Fatalf("explain created %d jobs", n)
	}
}
