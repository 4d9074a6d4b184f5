package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
)

// TestAuditPaging (issue 21): a full page of GET /v1/audit names the next
// one in X-Next-Cursor; following the cursors, oldest or newest first,
// reads every entry once and ends on a page without a cursor. A bad cursor
// is refused naming the parameter.
func TestAuditPaging(t *testing.T) {
	w := newWorld(t)
	bureau := w.person("Sun Hao", "platform", "bureau")
	get := func(query string) ([]api.AuditEvent, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", w.http.URL+"/v1/audit"+query, nil)
		req.Header.Set("Authorization", "Bearer "+bureau.Token)
		resp, err := w.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET /v1/audit%s: status %d", query, resp.StatusCode)
		}
		var out []api.AuditEvent
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out, resp.Header.Get(api.AuditCursorHeader)
	}
	all, next := get("?action=person.add")
	if len(all) < 5 || next != "" {
		t.Fatalf("without a limit: got %d entries and cursor %q, want every person.add (5 or more) and no cursor", len(all), next)
	}
	var want []uint64
	for _, e := range all {
		want = append(want, e.Index)
	}
	for _, order := range []string{"oldest", "newest"} {
		t.Run(order, func(t *testing.T) {
			exp := slices.Clone(want)
			if order == "newest" {
				slices.Reverse(exp)
			}
			var got []uint64
			cursor, pages := "", 0
			for {
				q := "?action=person.add&limit=2&order=" + order
				if cursor != "" {
					q += "&cursor=" + cursor
				}
				page, next := get(q)
				pages++
				for _, e := range page {
					got = append(got, e.Index)
				}
				if next == "" {
					break
				}
				if len(page) != 2 || pages > 50 {
					t.Fatalf("page %d: %d entries with cursor %q", pages, len(page), next)
				}
				cursor = next
			}
			if !slices.Equal(got, exp) {
				t.Fatalf("paged: got %v, want %v", got, exp)
			}
		})
	}
	for _, bad := range []string{"0", "x", "-1"} {
		code, body := w.do(bureau.Token, "GET", "/v1/audit?cursor="+bad, nil)
		if code != http.StatusBadRequest || !strings.Contains(string(body), `\"cursor\"`) {
			t.Fatalf("cursor=%s: got %d %s, want 400 naming the cursor", bad, code, body)
		}
	}
	// An actor by name is the one person of that name, and each entry
	// names its actor beside the id.
	if code, body := w.do(w.operator.Token, "GET", "/v1/whoami", nil); code != http.StatusOK {
		t.Fatalf("operator whoami: %d %s", code, body)
	}
	byID, _ := get("?actor=" + w.operator.ID)
	byName, _ := get("?actor=" + url.QueryEscape("Wang Lei"))
	if len(byID) == 0 || len(byName) != len(byID) || byName[0].Actor != w.operator.ID || byName[0].ActorName != "Wang Lei" {
		t.Fatalf("actor by name: got %+v, want the %d entries of %s named Wang Lei", byName, len(byID), w.operator.ID)
	}
	w.person("Wang Lei", "security", "officer")
	for _, name := range []string{"Nobody Here", "Wang Lei"} {
		code, body := w.do(bureau.Token, "GET", "/v1/audit?actor="+url.QueryEscape(name), nil)
		if code != http.StatusBadRequest || !strings.Contains(string(body), "actor") {
			t.Fatalf("actor=%s: got %d %s, want 400 naming the parameter", name, code, body)
		}
	}
}
