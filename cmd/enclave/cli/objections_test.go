package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
)

// objectionDaemon answers every request with o and records what it was
// asked: "METHOD PATH?QUERY BODY"; take returns and forgets the record.
func objectionDaemon(t *testing.T, o any) (sock string, take func() []string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "cli")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock = filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+string(b)))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(o)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock, func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}
}

func tokenEnv(k string) string {
	if k == "ENCLAVE_TOKEN" {
		return "t"
	}
	return ""
}

// TestObjectionVerbs: each verb sends its request, and the table shows the
// objection; bad lines are usage errors that reach no daemon.
func TestObjectionVerbs(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	due := time.Date(2026, 12, 12, 0, 0, 0, 0, time.UTC)
	o := api.Objection{ID: "obj_1", Dataset: "penalties", Org: "credit-centre", Text: "row 2 was annulled", FiledBy: "p_1", FilerOrg: "acme",
		FiledAt: at, DueAt: due, State: "answered", Answer: "removed", AnsweredBy: "p_cust", AnsweredAt: &at, CorrectedVersion: 2}
	sock, take := objectionDaemon(t, o)
	for _, c := range []struct {
		args []string
		req  string
	}{
		{[]string{"objection", "file", "--dataset", "penalties", "--text", "row 2 was annulled"},
			`POST /v1/objections {"dataset":"penalties","text":"row 2 was annulled"}`},
		{[]string{"objection", "answer", "obj_1", "--text", "removed", "--corrected-version", "2"},
			`POST /v1/objections/obj_1/answer {"text":"removed","corrected_version":2}`},
		{[]string{"objection", "answer", "obj_1", "--text", "no change"}, `POST /v1/objections/obj_1/answer {"text":"no change"}`},
		{[]string{"objection", "show", "obj_1"}, `GET /v1/objections/obj_1`},
	} {
		var out, errb bytes.Buffer
		if code := Main(append(c.args, "--addr", sock), nil, &out, &errb, tokenEnv); code != ExitOK {
			t.Fatalf("%v: exit %d: %s", c.args, code, errb.String())
		}
		if seen := take(); len(seen) != 1 || seen[0] != c.req {
			t.Errorf("%v sent %q, want %q", c.args, seen, c.req)
		}
		for _, want := range []string{"obj_1", "penalties", "credit-centre", "p_1 (acme)", "2026-12-12T00:00:00Z", "row 2 was annulled", "removed", "penalties@2"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, want, out.String())
			}
		}
	}
	list, takeList := objectionDaemon(t, []api.Objection{o})
	for _, c := range []struct {
		args []string
		req  string
	}{
		{[]string{"objection", "list"}, "GET /v1/objections"},
		{[]string{"objection", "list", "--overdue"}, "GET /v1/objections?overdue=true"},
	} {
		var out, errb bytes.Buffer
		if code := Main(append(c.args, "--addr", list), nil, &out, &errb, tokenEnv); code != ExitOK {
			t.Fatalf("%v: exit %d: %s", c.args, code, errb.String())
		}
		if seen := takeList(); len(seen) != 1 || seen[0] != c.req || !strings.Contains(out.String(), "obj_1") || !strings.Contains(out.String(), "DUE") {
			t.Errorf("%v sent %q, want %q; output:\n%s", c.args, seen, c.req, out.String())
		}
	}
	for _, args := range [][]string{
		{"objection", "file", "--text", "x"},
		{"objection", "file", "--dataset", "penalties"},
		{"objection", "file", "--dataset", "penalties", "--text", "  "},
		{"objection", "answer", "obj_1"},
		{"objection", "answer", "--text", "x"},
		{"objection", "answer", "obj_1", "--text", "x", "--corrected-version", "two"},
		{"objection", "answer", "obj_1", "--text", "x", "--corrected-version", "0"},
		{"objection", "show"},
	} {
		var out, errb bytes.Buffer
		code := Main(append(args, "--addr", "/nonexistent/enclaved.sock"), nil, &out, &errb, tokenEnv)
		if code != ExitUsage || strings.Contains(errb.String(), "nonexistent") {
			t.Errorf("%v: got exit %d (%s), want a usage error before any connection", args, code, errb.String())
		}
	}
}
