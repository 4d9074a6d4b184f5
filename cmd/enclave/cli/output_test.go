package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/enclave-dev/enclave/enclave/api"
)

func TestOutputFormats(t *testing.T) {
	sock := fakeDaemon(t, "/v1/whoami", map[string]any{"person": map[string]any{"id": "p_1", "name": "Zhou Min"}, "token_id": "tok_1"})
	getenv := func(k string) string {
		if k == "ENCLAVE_TOKEN" {
			return "t"
		}
		return ""
	}
	for _, tc := range []struct {
		name   string
		args   []string
		format string
	}{
		{"table by default", []string{"whoami"}, "table"},
		{"-o table", []string{"whoami", "-o", "table"}, "table"},
		{"-o json", []string{"whoami", "-o", "json"}, "json"},
		{"--output=json before the noun", []string{"--output=json", "whoami"}, "json"},
		{"--json is -o json", []string{"whoami", "--json"}, "json"},
		{"-o yaml", []string{"-o", "yaml", "whoami"}, "yaml"},
		{"-o yaml after --json", []string{"--json", "whoami", "-o", "yaml"}, "yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"--addr", sock}, tc.args...)
			if code := Main(args, nil, &out, &errb, getenv); code != ExitOK {
				t.Fatalf("got exit %d (%s), want 0", code, errb.String())
			}
			s := out.String()
			var m map[string]any
			isJSON := json.Unmarshal(out.Bytes(), &m) == nil
			isYAML := !isJSON && yaml.Unmarshal(out.Bytes(), &m) == nil && strings.Contains(s, "name: Zhou Min")
			got := "table"
			if isJSON {
				got = "json"
			} else if isYAML {
				got = "yaml"
			}
			if got != tc.format || !strings.Contains(s, "Zhou Min") {
				t.Fatalf("got %s output %q, want %s", got, s, tc.format)
			}
			if strings.Contains(s, "\x1b[") || strings.Contains(errb.String(), "\x1b[") {
				t.Fatalf("colour written to a pipe: %q %q", s, errb.String())
			}
		})
	}
}

func TestProgressBarErasedWhenDone(t *testing.T) {
	var buf bytes.Buffer
	p := &progressBar{w: &buf, total: 100, on: true}
	p.update("import", 100, 7)
	if !strings.Contains(buf.String(), "100%") {
		t.Fatalf("got %q, want a drawn bar", buf.String())
	}
	p.done()
	if !strings.HasSuffix(buf.String(), eraseLine) {
		t.Fatalf("got %q, want the bar erased at the end", buf.String())
	}
	// Not on a terminal (a buffer): nothing at all.
	var pipe bytes.Buffer
	q := newProgressBar(&pipe, 100, true)
	q.update("import", 50, 0)
	q.done()
	if pipe.Len() != 0 {
		t.Fatalf("got %q on a pipe, want nothing", pipe.String())
	}
}

func TestPaint(t *testing.T) {
	if got := paint(false, "31", "x"); got != "x" {
		t.Errorf("paint off: got %q", got)
	}
	if got := paint(true, "31", "x"); got != "\x1b[31mx\x1b[0m" {
		t.Errorf("paint on: got %q", got)
	}
	e := &env{getenv: func(string) string { return "" }}
	if e.colourTo(&bytes.Buffer{}) {
		t.Error("colour to a buffer, want none")
	}
}

// TestAuditListNoteFollowsTheCursor: the note about more entries follows
// the daemon's next-page cursor (issue 21), not a guess from a full page: a
// page without X-Next-Cursor has no note. TestAuditListPaging has pages with one.
func TestAuditListNoteFollowsTheCursor(t *testing.T) {
	sock := fakeDaemon(t, "/v1/audit", []map[string]any{{"index": 1, "action": "a"}, {"index": 2, "action": "b"}})
	getenv := func(k string) string { return map[string]string{"ENCLAVE_TOKEN": "t"}[k] }
	for _, limit := range []string{"2", "3", "0"} {
		var out, errb bytes.Buffer
		if code := Main([]string{"audit", "list", "--addr", sock, "--limit", limit}, nil, &out, &errb, getenv); code != ExitOK {
			t.Fatalf("--limit %s: exit %d (%s)", limit, code, errb.String())
		}
		if strings.Contains(errb.String(), "more entries") || strings.Count(out.String(), "\n") != 3 {
			t.Errorf("--limit %s, no cursor: got stdout %q, stderr %q; want both entries and no note", limit, out.String(), errb.String())
		}
	}
}

func TestOutputFormatBesideTheCommandsOwnOutputFlags(t *testing.T) {
	img := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		// job run's --output declares outputs; -o is still the format.
		{"job run -o xml", []string{"job", "run", "-o", "xml", "--image", img, "--input", "x", "--output", "a.csv", "--", "true"}, ExitUsage, `-o "xml"`},
		{"-o yaml before job run", []string{"-o", "yaml", "job", "run", "--image", img, "--input", "x", "--output", "a.csv", "--", "true"}, ExitFailure, "cannot reach the daemon"},
		// export download's -o is the file; --output the format.
		{"export download --output xml", []string{"export", "download", "x", "-o", "f.tar", "--output", "xml"}, ExitUsage, `-o "xml"`},
		{"export download -o FILE", []string{"export", "download", "x", "-o", "f.tar"}, ExitFailure, "cannot reach the daemon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errb := run(t, tc.args...)
			if code != tc.code || !strings.Contains(errb, tc.want) {
				t.Fatalf("got exit %d, stderr %q; want %d and %q", code, errb, tc.code, tc.want)
			}
		})
	}
}

func TestExportTableNamesPeople(t *testing.T) {
	x := api.Export{ID: "x-1", Requester: "p_1", RequesterName: "Wang Lei", Org: "acme",
		Reviews: []api.ExportReview{{Decision: "approve", Person: "p_2", PersonName: "Chen Jing", Org: "security-office"}, {Decision: "approve", Person: "p_3", Org: "security-office"}}}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 2, 4, 2, ' ', 0)
	exportTable(tw, x)
	tw.Flush()
	got := strings.Join(strings.Fields(buf.String()), " ")
	for _, w := range []string{"requested by Wang Lei (p_1)", "approve by Chen Jing (p_2) of security-office", "approve by p_3 of security-office"} {
		if !strings.Contains(got, w) {
			t.Errorf("got %q, want %q in it", got, w)
		}
	}
}
