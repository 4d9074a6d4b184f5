package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
)

// answering serves answers by path (as JSON) on a unix socket, as the
// daemon would, and returns its address.
func answering(t *testing.T, answers map[string]any) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := answers[r.URL.Path]
		if !ok {
			w.WriteHeader(404)
			json.NewEncoder(w).Encode(api.ErrorBody{Error: api.ErrorDetail{Class: "not-found", Message: r.URL.Path + ": not found"}})
			return
		}
		json.NewEncoder(w).Encode(v)
	}))
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	return sock
}

// TestTablesNamePeople (issue 21): where a table shows a person, it shows
// "Name (p_id)" from the api's name fields, or the id alone when the
// daemon gave no name; -o json carries both fields unchanged.
func TestTablesNamePeople(t *testing.T) {
	const op, off = "p_4c52aa", "p_9e01bb"
	export := api.Export{ID: "x_1", Job: "j-1", Org: "acme", Requester: op, RequesterName: "Wang Lei", State: "approved",
		Reviews: []api.ExportReview{{Person: off, PersonName: "Zhao Min", Org: "bank", Decision: "approve"}}}
	job := api.Job{ID: "j-1", Org: "acme", Owner: op, OwnerName: "Wang Lei", State: "complete", View: api.ViewExact}
	image := api.Image{Digest: "sha256:ab", Name: "toolbox", Status: "approved", Org: "acme", ImportedBy: op, ImportedByName: "Wang Lei",
		DecidedBy: off, DecidedByName: "Zhao Min"}
	ds := api.Dataset{ID: "penalties@1", Owner: "credit-centre", Org: "credit-centre", CreatedBy: "p_11cc", CreatedByName: "Li Na",
		Upload: true, ReviewedBy: off, ReviewedByName: "Zhao Min"}
	unnamed := api.Job{ID: "j-2", Org: "acme", Owner: "p_77dd", State: "complete", View: api.ViewExact}
	sock := answering(t, map[string]any{
		"/v1/exports": []api.Export{export}, "/v1/exports/x_1": export,
		"/v1/jobs": []api.Job{job}, "/v1/jobs/j-1": job, "/v1/jobs/j-2": unnamed,
		"/v1/images":   []api.Image{image},
		"/v1/datasets": []api.Dataset{ds}, "/v1/datasets/penalties@1": ds,
	})
	env := map[string]string{"ENCLAVE_ADDR": sock, "ENCLAVE_TOKEN": "x", "HOME": t.TempDir()}
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Main(args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] }); code != ExitOK {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errb.String())
		}
		return strings.Join(strings.Fields(out.String()), " ")
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"export", "list"}, []string{"REQUESTER", "x_1 acme Wang Lei (p_4c52aa) j-1"}},
		{[]string{"export", "show", "x_1"}, []string{"requested by Wang Lei (p_4c52aa)", "approve by Zhao Min (p_9e01bb) of bank"}},
		{[]string{"job", "list"}, []string{"OWNER", "j-1 acme Wang Lei (p_4c52aa) complete"}},
		{[]string{"job", "show", "j-1"}, []string{"acme (by Wang Lei (p_4c52aa))"}},
		{[]string{"job", "show", "j-2"}, []string{"acme (by p_77dd)"}},
		{[]string{"image", "list"}, []string{"Wang Lei (p_4c52aa) (acme) Zhao Min (p_9e01bb)"}},
		{[]string{"dataset", "list"}, []string{"IMPORTED BY", "Li Na (p_11cc)"}},
		{[]string{"dataset", "show", "penalties@1"}, []string{"by Li Na (p_11cc) (credit-centre)", "reviewed by Zhao Min (p_9e01bb)"}},
	} {
		got := run(tc.args...)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%v: want %q in\n%s", tc.args, w, got)
			}
		}
	}
	var x api.Export
	if err := json.Unmarshal([]byte(run("export", "show", "x_1", "-o", "json")), &x); err != nil || x.Requester != op || x.RequesterName != "Wang Lei" {
		t.Errorf("export show -o json: got %+v, %v; want the id and the name in their own fields", x, err)
	}
}
