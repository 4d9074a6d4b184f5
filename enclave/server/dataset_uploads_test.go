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

// postImport sends an import (spec, data) to path: /v1/datasets or /v1/uploads.
func (h *harness) postImport(path, token, name, spec, data string) imported {
	h.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormFile("spec", "spec.yaml")
	io.WriteString(part, spec)
	part, _ = mw.CreateFormFile("data", "data.csv")
	io.WriteString(part, data)
	mw.Close()
	if name != "" {
		path += "?name=" + name
	}
	req, _ := http.NewRequest("POST", h.http.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := imported{code: resp.StatusCode}
	out.body, _ = io.ReadAll(resp.Body)
	sc := bufio.NewScanner(bytes.NewReader(out.body))
	for sc.Scan() {
		out.line = api.ImportLine{}
		json.Unmarshal(sc.Bytes(), &out.line)
	}
	return out
}

// TestUploadQuotaAndVisibility: an upload past the organisation's quota is
// refused naming the quota and publishes nothing; a custodian cannot
// upload; an upload is pending review, listed for its organisation and
// officers, and not for another organisation's custodian.
func TestUploadQuotaAndVisibility(t *testing.T) {
	w := newWorldWith(t, func(d *Deps) { d.UploadQuota = 1 << 20 })
	spec := strings.Replace(testSpec, "name: penalties", "name: acme_own", 1)
	if l := w.postImport("/v1/uploads", w.custodian.Token, "", spec, testCSV); l.code != http.StatusForbidden {
		t.Fatalf("a custodian's upload: got %d %s, want 403", l.code, l.body)
	}
	l := w.postImport("/v1/uploads", w.operator.Token, "", spec, testCSV)
	if l.line.Dataset == nil || l.line.Dataset.State != "pending-review" || !l.line.Dataset.Upload || l.line.Dataset.Owner != "acme" {
		t.Fatalf("upload: got %d %s, want a pending upload of acme", l.code, l.body)
	}
	listed := func(token string) bool {
		var ds []api.Dataset
		w.mustDo(token, "GET", "/v1/datasets?all=1", nil, &ds)
		for _, d := range ds {
			if d.Name == "acme_own" {
				return true
			}
		}
		return false
	}
	if !listed(w.operator.Token) || !listed(w.officer.Token) || listed(w.custodian.Token) {
		t.Fatalf("listing: operator %v, officer %v, custodian %v; want true, true, false",
			listed(w.operator.Token), listed(w.officer.Token), listed(w.custodian.Token))
	}
	before := w.count("dataset_versions")
	rows := testCSV[strings.Index(testCSV, "\n")+1:]
	big := testCSV + strings.Repeat(rows, 20000)
	l = w.postImport("/v1/uploads", w.operator.Token, "acme_big", strings.Replace(spec, "acme_own", "acme_big", 1), big)
	if l.line.Error == nil || !strings.Contains(l.line.Error.Message, "quota") {
		t.Fatalf("an upload past the quota: got %d %s, want an error naming the quota", l.code, l.body)
	}
	if n := w.count("dataset_versions"); n != before {
		t.Fatalf("the refused upload left %d versions, want %d", n, before)
	}
}
