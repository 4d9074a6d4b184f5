package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra/doc"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"ENCLAVE_ADDR": filepath.Join(t.TempDir(), "none.sock"), "ENCLAVE_TOKEN": "x", "HOME": t.TempDir()}
	code = Main(args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestNounAndVerbHelp(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"help noun", []string{"help", "job"}, []string{"usage: enclave job VERB", "  run -- CMD...", "  wait ID", "examples:", "enclave job run --wait --image groupcount"}},
		{"noun --help", []string{"job", "--help"}, []string{"usage: enclave job VERB", "  logs ID"}},
		{"noun -h", []string{"dataset", "-h"}, []string{"usage: enclave dataset VERB", "  import FILE"}},
		{"verb --help", []string{"job", "run", "--help"}, []string{"usage: enclave job run", "--image string", "--wait", "global flags:", "--addr string", "examples:"}},
		{"help noun verb", []string{"help", "dataset", "import"}, []string{"usage: enclave dataset import FILE", "--spec", "examples:"}},
		{"global flag before help", []string{"--json", "help", "org"}, []string{"usage: enclave org VERB", "  add NAME"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errb := run(t, tc.args...)
			if code != ExitOK {
				t.Fatalf("got exit %d (stderr %q), want 0", code, errb)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("got help\n%s\nwant %q in it", out, w)
				}
			}
		})
	}
}

func TestVersionAndCompletion(t *testing.T) {
	old := Version
	Version = "v9.9.9-test"
	defer func() { Version = old }()
	if code, out, _ := run(t, "--version"); code != ExitOK || out != "enclave version v9.9.9-test\n" {
		t.Errorf("--version: got exit %d, %q", code, out)
	}
	for shell, want := range map[string]string{"bash": "complete -o default -F __start_enclave enclave", "zsh": "#compdef enclave", "fish": "complete -c enclave"} {
		code, out, errb := run(t, "completion", shell)
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("completion %s: got exit %d, stderr %q, want a script with %q", shell, code, errb, want)
		}
	}
	// The script's requests: the verbs of a noun, and of a prefix.
	code, out, _ := run(t, "__complete", "job", "")
	if code != ExitOK || !strings.Contains(out, "run\t") || !strings.Contains(out, "wait\t") {
		t.Errorf("__complete job: got exit %d, %q; want its verbs", code, out)
	}
	code, out, _ = run(t, "__complete", "dat")
	if code != ExitOK || !strings.Contains(out, "dataset") || strings.Contains(out, "job") {
		t.Errorf("__complete dat: got exit %d, %q; want dataset only", code, out)
	}
	code, out, _ = run(t, "__complete", "job", "run", "--ima")
	if code != ExitOK || !strings.Contains(out, "--image") {
		t.Errorf("__complete job run --ima: got exit %d, %q; want --image", code, out)
	}
	if code, _, errb := run(t, "completion", "tcsh"); code != ExitUsage {
		t.Errorf("completion tcsh: got exit %d (%q), want 2", code, errb)
	}
}

func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if err := doc.GenManTree(Root(), &doc.GenManHeader{Title: "ENCLAVE", Section: "1"}, dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "enclave-job-run.1"))
	if err != nil {
		t.Fatalf("no page for job run: %v", err)
	}
	if !strings.Contains(string(page), "image") || !strings.Contains(string(page), "EXAMPLE") {
		t.Errorf("the job run page lacks its flags or examples:\n%s", page)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want int
		line string // in stderr
	}{
		{"unknown flag after the verb", []string{"job", "list", "--colour"}, ExitUsage, "unknown flag: --colour"},
		{"too many arguments", []string{"job", "show", "a", "b"}, ExitUsage, "job show takes ID"},
		{"missing argument", []string{"dataset", "show"}, ExitUsage, "dataset show takes NAME[@V]"},
		{"bad output format", []string{"job", "list", "-o", "xml"}, ExitUsage, `-o "xml": the output format is table, json or yaml`},
		{"a typo in a noun", []string{"jbo", "list"}, ExitUsage, `did you mean "enclave job list"`},
		{"a typo in a verb", []string{"job", "lsit"}, ExitUsage, `did you mean "enclave job list"`},
		{"no daemon", []string{"job", "list"}, ExitFailure, "cannot reach the daemon"},
		{"a global flag between noun and verb", []string{"job", "--addr", "/nonexistent/d.sock", "list"}, ExitFailure, "/nonexistent/d.sock"},
		{"a bad format between noun and verb", []string{"job", "-o", "xml", "list"}, ExitUsage, `-o "xml"`},
		{"no daemon, json", []string{"-o", "json", "job", "list"}, ExitFailure, `"exit": 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errb := run(t, tc.args...)
			if code != tc.want || !strings.Contains(errb, tc.line) {
				t.Fatalf("got exit %d, stderr %q; want %d and %q", code, errb, tc.want, tc.line)
			}
		})
	}
}
