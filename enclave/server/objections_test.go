package server

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/objections"
)

// TestObjections (issue 20 item 4): anyone with a token files an
// objection about a dataset they see, with the due time at the end of the
// fifth working day; an unknown dataset and another organisation's upload
// are "not found or not yours"; only the custodian organisation answers,
// naming an existing version; another organisation neither sees nor
// answers it; the bureau lists the overdue ones; the audit entries never
// carry the text.
func TestObjections(t *testing.T) {
	w := newWorld(t) // Monday 2026-11-23 09:00 UTC
	spec := strings.Replace(testSpec, "name: penalties", "name: acme_own", 1)
	if l := w.postImport("/v1/uploads", w.operator.Token, "", spec, testCSV); l.line.Dataset == nil {
		t.Fatalf("upload: %d %s", l.code, l.body)
	}
	bureau := w.member("Sun Li", "platform", "bureau")
	rival := w.member("Zhao Yu", "acme", "custodian") // neither files nor answers o
	const words = "the penalty of row 2 was annulled in court"

	var o api.Objection
	w.mustDo(w.officer.Token, "POST", "/v1/objections", api.ObjectionRequest{Dataset: "penalties", Text: words}, &o)
	if o.Org != "credit-centre" || o.FilerOrg != "security" || o.State != "open" || o.Text != words ||
		!o.DueAt.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("filed %+v", o)
	}
	// Unknown, invisible (another organisation's upload), empty text.
	for _, c := range []struct {
		req  api.ObjectionRequest
		code int
		want string
	}{
		{api.ObjectionRequest{Dataset: "nope", Text: "x"}, 404, "not found or not yours"},
		{api.ObjectionRequest{Dataset: "acme_own", Text: "x"}, 404, "not found or not yours"},
		{api.ObjectionRequest{Dataset: "penalties", Text: "  "}, 400, "text is required"},
		{api.ObjectionRequest{Dataset: "", Text: "x"}, 400, "names a dataset"},
	} {
		code, body := w.do(w.custodian.Token, "POST", "/v1/objections", c.req)
		if code != c.code || !strings.Contains(string(body), c.want) {
			t.Fatalf("%+v: got %d %s, want %d %q", c.req, code, body, c.code, c.want)
		}
	}
	// The uploading organisation sees its upload and may object to it.
	w.mustDo(w.operator.Token, "POST", "/v1/objections", api.ObjectionRequest{Dataset: "acme_own", Text: "mine"}, nil)

	// Another organisation neither reads nor answers it, and does not list it.
	if code, body := w.do(rival.Token, "GET", "/v1/objections/"+o.ID, nil); code != 404 || !strings.Contains(string(body), "not found or not yours") {
		t.Fatalf("rival show: %d %s", code, body)
	}
	if code, body := w.do(rival.Token, "POST", "/v1/objections/"+o.ID+"/answer", api.ObjectionAnswerRequest{Text: "no"}); code != 404 && code != 403 || !strings.Contains(string(body), "not found or not yours") {
		t.Fatalf("rival answer: %d %s", code, body)
	}
	var list []api.Objection
	w.mustDo(rival.Token, "GET", "/v1/objections", nil, &list)
	if len(list) != 1 || list[0].Dataset != "acme_own" {
		t.Fatalf("rival lists %+v, want acme's own objection only", list)
	}
	// The filer reads it but may not answer it.
	w.mustDo(w.officer.Token, "GET", "/v1/objections/"+o.ID, nil, &o)
	if code, _ := w.do(w.officer.Token, "POST", "/v1/objections/"+o.ID+"/answer", api.ObjectionAnswerRequest{Text: "self"}); code != 404 && code != 403 {
		t.Fatalf("the filer answered: %d", code)
	}

	// Past the due time it is overdue in the bureau's view.
	w.advance(8*24*time.Hour - 9*time.Hour) // Tuesday 2026-12-01 00:00
	w.mustDo(bureau.Token, "GET", "/v1/objections?overdue=true", nil, &list)
	if len(list) != 2 || list[0].State != "overdue" || list[1].State != "overdue" || list[0].ID != o.ID && list[1].ID != o.ID {
		t.Fatalf("bureau overdue: %+v", list)
	}
	if code, _ := w.do(bureau.Token, "GET", "/v1/objections?overdue=maybe", nil); code != 400 {
		t.Fatalf("overdue=maybe: %d", code)
	}
	// A corrected version that does not exist is refused and changes nothing.
	code, body := w.do(w.custodian.Token, "POST", "/v1/objections/"+o.ID+"/answer", api.ObjectionAnswerRequest{Text: "fixed", CorrectedVersion: 7})
	if code != 404 || !strings.Contains(string(body), "has no version 7") {
		t.Fatalf("missing corrected version: %d %s", code, body)
	}
	w.mustDo(w.custodian.Token, "POST", "/v1/objections/"+o.ID+"/answer", api.ObjectionAnswerRequest{Text: "row 2 removed", CorrectedVersion: 1}, &o)
	if o.State != "answered" || o.CorrectedVersion != 1 || o.Answer != "row 2 removed" {
		t.Fatalf("answered %+v", o)
	}
	w.mustDo(bureau.Token, "GET", "/v1/objections?overdue=true", nil, &list)
	if len(list) != 1 || list[0].Dataset != "acme_own" {
		t.Fatalf("overdue after the answer: %+v", list)
	}
	w.mustDo(bureau.Token, "GET", "/v1/objections", nil, &list)
	if len(list) != 2 {
		t.Fatalf("the bureau lists %d objections, want 2", len(list))
	}
	// Audit entries for filing and answering, never the words.
	for _, a := range []string{"objection.file", "objection.answer"} {
		es := w.entries(a)
		ok := 0
		for _, e := range es {
			if e.Event.Outcome == "ok" {
				ok++
			}
			for _, d := range e.Event.Details {
				if strings.Contains(d, "annulled") || strings.Contains(d, "row 2 removed") {
					t.Fatalf("%s entry carries the text", a)
				}
			}
			if strings.Contains(e.Event.Reason, "annulled") || strings.Contains(e.Event.Reason, "row 2") {
				t.Fatalf("%s entry carries the text", a)
			}
		}
		if ok == 0 {
			t.Fatalf("no %s entry", a)
		}
	}
}

// FuzzObjectionBody: the bodies of POST /v1/objections and of an answer
// decode strictly, and their text is checked, with errors of class
// invalid argument only that never quote the text; an accepted text is
// trimmed, bounded and free of control characters but newlines and tabs.
func FuzzObjectionBody(f *testing.F) {
	for _, s := range []string{
		`{"dataset":"penalties","text":"row 2 is wrong"}`, `{"text":"fixed","corrected_version":2}`, `{"text":"\u0000"}`,
		`{"text":"  "}`, `{"corrected_version":"2"}`, `{"dataset":1}`, `{"text":"a","extra":1}`, `{}`, "\xff", `{"text":"x"} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var file api.ObjectionRequest
		var answer api.ObjectionAnswerRequest
		for _, v := range []any{&file, &answer} {
			if err := decodeJSON(bytes.NewReader(data), v); err != nil && !errdefs.IsInvalidArgument(err) {
				t.Fatalf("decode error of class other than invalid argument: %v", err)
			}
		}
		for _, text := range []string{file.Text, answer.Text} {
			got, err := objections.CheckText("the text", text)
			if err != nil {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("text error of class other than invalid argument: %v", err)
				}
				// The message is one of the fixed ones: it never depends on
				// (never quotes) the text.
				fixed := false
				for _, bad := range []string{"", "\xff", "a\x00"} {
					_, e := objections.CheckText("the text", bad)
					fixed = fixed || e.Error() == err.Error()
				}
				if !fixed {
					t.Fatalf("the error depends on the text: %v", err)
				}
				continue
			}
			if got == "" || len(got) > objections.MaxText || got != strings.TrimSpace(got) || !utf8.ValidString(got) ||
				strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }) {
				t.Fatalf("accepted text %q", got)
			}
		}
	})
}
