package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/api/apitest"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/authz"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/server"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// The API document is checked here, outside enclave/server, so that the
// validator is not linked into the server's tests (whose check processes
// are the test binary itself).

// denyAll decides nothing but no: the document is public.
type denyAll struct{}

func (denyAll) Authorize(context.Context, people.Subject, string, authz.Resource) (authz.Decision, error) {
	return authz.Decision{}, nil
}

// document serves the API of a server with every part (a catalogue, a
// job manager over the fake sandbox, an export service) and returns its
// routes' document as served at /v1/openapi.json.
func document(t *testing.T) []byte {
	t.Helper()
	ctx, dir := context.Background(), t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kr, err := local.Create(filepath.Join(dir, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kr.PublicKey(ctx)
	alog, err := audit.Open(filepath.Join(dir, "audit"), kr, pub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alog.Close() })
	cat, err := datasets.New(db, filepath.Join(dir, "datasets"), kr, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	m, err := jobs.NewManager(jobs.Config{Dir: filepath.Join(dir, "jobs"), InputDir: filepath.Join(dir, "inputs"), PlainDir: t.TempDir(), Keyring: kr,
		UID: os.Getuid(), GID: os.Getgid()},
		db, &sandboxtest.Fake{}, cat, alog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	srv, err := server.New(server.Deps{DB: db, Audit: alog, Keyring: kr, Authz: denyAll{}, Version: "test", Catalog: cat, Jobs: m,
		Exports: &exports.Service{Dir: filepath.Join(dir, "exports"), Jobs: m, Catalog: cat, Keyring: kr}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	resp, err := http.Get(hs.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: got %d %s", resp.StatusCode, body)
	}
	return body
}

func load(t *testing.T, data []byte) (*openapi3.T, error) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(context.Background())
}

// TestOpenAPIValidates: the document passes kin-openapi's validation (a
// maintained validator that generated clients rely on: unique operation
// ids, well-formed schemas and references), holds the job and export
// routes, and the schema of each body accepts the JSON of its api type
// with every field set and with none.
func TestOpenAPIValidates(t *testing.T) {
	doc, err := load(t, document(t))
	if err != nil {
		t.Fatalf("the document does not validate: %v", err)
	}
	for _, tc := range []struct {
		method, path string
		request      any
		response     any
		code         int
	}{
		{"POST", "/v1/jobs", api.JobRequest{}, api.Job{}, 201},
		{"GET", "/v1/jobs", nil, []api.Job{}, 200},
		{"GET", "/v1/images", nil, []api.Image{}, 200},
		{"POST", "/v1/images/{digest}/approve", api.CommentRequest{}, api.Image{}, 200},
		{"POST", "/v1/exports", api.ExportRequest{}, api.Export{}, 201},
		{"POST", "/v1/exports/{id}/request-changes", api.ReviewRequest{}, api.Export{}, 200},
		{"GET", "/v1/applications/{id}", nil, api.Application{}, 200},
		{"GET", "/v1/grants/{id}", nil, api.Grant{}, 200},
		{"POST", "/v1/orgs", api.OrgRequest{}, api.Org{}, 201},
		{"POST", "/v1/people", api.PersonRequest{}, api.PersonCreated{}, 201},
		{"GET", "/v1/people/{id}/tokens", nil, []api.Token{}, 200},
		{"GET", "/v1/whoami", nil, api.Whoami{}, 200},
		{"GET", "/v1/usage", nil, api.UsageReport{}, 200},
		{"PUT", "/v1/orgs/{name}/quota", api.Quota{}, api.Quota{}, 200},
		{"POST", "/v1/audit/purge", api.PurgeRequest{}, api.PurgeResult{}, 200},
		{"GET", "/v1/policy/explain", nil, api.Explanation{}, 200},
		{"GET", "/v1/datasets/{ref}", nil, api.Dataset{}, 200},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			op := doc.Paths.Find(tc.path).GetOperation(tc.method)
			if op == nil {
				t.Fatal("not in the document")
			}
			if tc.request != nil {
				accepts(t, op.RequestBody.Value.Content.Get("application/json").Schema.Value, tc.request)
			}
			accepts(t, op.Responses.Status(tc.code).Value.Content.Get("application/json").Schema.Value, tc.response)
			accepts(t, op.Responses.Default().Value.Content.Get("application/json").Schema.Value, api.ErrorBody{})
		})
	}
}

// accepts checks that schema accepts the JSON of v's type, with every
// field set and with none.
func accepts(t *testing.T, schema *openapi3.Schema, v any) {
	t.Helper()
	for _, full := range []bool{false, true} {
		p := reflect.New(reflect.TypeOf(v))
		if full {
			apitest.Fill(p.Interface())
		}
		data, err := json.Marshal(p.Elem().Interface())
		if err != nil {
			t.Fatal(err)
		}
		var decoded any
		json.Unmarshal(data, &decoded)
		if err := schema.VisitJSON(decoded); err != nil {
			t.Errorf("%T (every field set: %v): the schema refuses its JSON: %v", v, full, err)
		}
	}
}

// TestOpenAPIRefusesDuplicateIDs: the validator refuses the document with
// two operations given one id, naming it; the check above would fail on
// such a document.
func TestOpenAPIRefusesDuplicateIDs(t *testing.T) {
	var raw map[string]any
	if err := json.Unmarshal(document(t), &raw); err != nil {
		t.Fatal(err)
	}
	raw["paths"].(map[string]any)["/v1/jobs"].(map[string]any)["get"].(map[string]any)["operationId"] = "job.show"
	data, _ := json.Marshal(raw)
	if _, err := load(t, data); err == nil || !strings.Contains(err.Error(), "job.show") {
		t.Errorf("operation id job.show twice: got %v, want refused naming it", err)
	}
}
