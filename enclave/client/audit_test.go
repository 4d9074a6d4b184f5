package client

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
)

// pagedAudit is a fake daemon of GET /v1/audit over entries 1..n, oldest
// first: a full page names the next one in X-Next-Cursor, as the server does.
type pagedAudit struct {
	n       uint64
	queries []string
}

func (d *pagedAudit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.queries = append(d.queries, r.URL.RawQuery)
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	from := uint64(1)
	if c := q.Get("cursor"); c != "" {
		from, _ = strconv.ParseUint(c, 10, 64)
	}
	out := []api.AuditEvent{}
	for i := from; i <= d.n && (limit == 0 || len(out) < limit); i++ {
		out = append(out, api.AuditEvent{Index: i, Action: "job.run"})
	}
	if limit > 0 && len(out) == limit {
		w.Header().Set(api.AuditCursorHeader, strconv.FormatUint(out[len(out)-1].Index+1, 10))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// TestAuditPaging (issue 21): AuditPage sends the cursor and returns the
// next page's from the header; AuditAll follows them to the end.
func TestAuditPaging(t *testing.T) {
	ctx := context.Background()
	d := &pagedAudit{n: 5}
	c := overUnix(t, d, "tok")
	page, next, err := c.AuditPage(ctx, AuditFilter{Action: "job.run", Limit: "2", Cursor: "3"})
	if err != nil || len(page) != 2 || page[0].Index != 3 || next != "5" {
		t.Fatalf("page from 3: got %+v, next %q, %v; want entries 3 and 4 and next 5", page, next, err)
	}
	if d.queries[0] != "action=job.run&cursor=3&limit=2" {
		t.Errorf("query: got %q", d.queries[0])
	}
	page, next, err = c.AuditPage(ctx, AuditFilter{Limit: "2", Cursor: next})
	if err != nil || len(page) != 1 || page[0].Index != 5 || next != "" {
		t.Fatalf("last page: got %+v, next %q, %v; want entry 5 and no cursor", page, next, err)
	}
	d.queries = nil
	all, err := c.AuditAll(ctx, AuditFilter{Limit: "2"})
	if err != nil || len(all) != 5 || all[0].Index != 1 || all[4].Index != 5 {
		t.Fatalf("all: got %+v, %v; want entries 1..5", all, err)
	}
	if len(d.queries) != 3 || d.queries[2] != "cursor=5&limit=2" {
		t.Errorf("all: got queries %q, want three pages", d.queries)
	}
}
