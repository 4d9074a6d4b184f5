package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
)

// auditDaemon answers GET /v1/audit over entries 1..n, newest first, as
// the server pages them: a full page names the next in X-Next-Cursor.
func auditDaemon(t *testing.T, n uint64, queries *[]string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*queries = append(*queries, r.URL.RawQuery)
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		from := n
		if c := q.Get("cursor"); c != "" {
			from, _ = strconv.ParseUint(c, 10, 64)
		}
		out := []api.AuditEvent{}
		for i := from; i >= 1 && (limit == 0 || len(out) < limit); i-- {
			out = append(out, api.AuditEvent{Index: i, Time: time.Unix(1e9, 0), Actor: "p_4c52", ActorName: "Li Wei", Action: "job.run", Outcome: "ok"})
		}
		if limit > 0 && len(out) == limit && out[len(out)-1].Index > 1 {
			w.Header().Set(api.AuditCursorHeader, strconv.FormatUint(out[len(out)-1].Index-1, 10))
		}
		json.NewEncoder(w).Encode(out)
	}))
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	return sock
}

// TestAuditListPaging (issue 21): audit list shows one page of --limit
// entries and says on stderr how to get the next; --cursor starts there;
// --all follows every page; the actor appears by name with the id.
func TestAuditListPaging(t *testing.T) {
	var queries []string
	sock := auditDaemon(t, 5, &queries)
	env := map[string]string{"ENCLAVE_ADDR": sock, "ENCLAVE_TOKEN": "x", "HOME": t.TempDir()}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"audit", "list"}, args...), strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
		return code, out.String(), errb.String()
	}
	rows := func(out string) int { return strings.Count(out, "job.run") }

	code, out, errb := run("--limit", "2")
	if code != ExitOK || rows(out) != 2 || !strings.Contains(errb, "--cursor 3 (with the same filters) lists the next page, --all lists them all") {
		t.Fatalf("first page: exit %d, %d rows, stderr %q", code, rows(out), errb)
	}
	if !strings.Contains(out, "Li Wei (p_4c52)") {
		t.Errorf("the actor by name: got\n%s", out)
	}
	code, out, errb = run("--limit", "2", "--cursor", "1")
	if code != ExitOK || rows(out) != 1 || errb != "" {
		t.Fatalf("last page: exit %d, %d rows, stderr %q; want one row and no note", code, rows(out), errb)
	}
	queries = nil
	code, out, errb = run("--limit", "2", "--all", "--action", "job.run")
	if code != ExitOK || rows(out) != 5 || errb != "" || len(queries) != 3 || !strings.Contains(queries[2], "cursor=1") {
		t.Fatalf("--all: exit %d, %d rows, stderr %q, queries %q; want five rows in three pages", code, rows(out), errb, queries)
	}
	code, out, _ = run("--json", "--limit", "0")
	var es []api.AuditEvent
	if code != ExitOK || json.Unmarshal([]byte(out), &es) != nil || len(es) != 5 || es[0].ActorName != "Li Wei" {
		t.Fatalf("--json --limit 0: exit %d, %s", code, out)
	}
	if code, _, errb = run("--limit", "x"); code != ExitUsage || !strings.Contains(errb, "--limit") {
		t.Errorf("bad --limit: exit %d, stderr %q", code, errb)
	}
}
