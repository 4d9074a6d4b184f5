package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
)

func TestGlobalFlagsBeforeTheNoun(t *testing.T) {
	sock := fakeDaemon(t, "/v1/whoami", map[string]any{"person": map[string]any{"id": "p_1", "name": "Zhou Min"}, "token_id": "tok_1"})
	getenv := func(k string) string {
		if k == "ENCLAVE_TOKEN" {
			return "t"
		}
		return "" // no ENCLAVE_ADDR, no config file: only --addr finds the daemon
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantJSON bool
	}{
		{"after the verb", []string{"whoami", "--addr", sock}, false},
		{"before the noun", []string{"--addr", sock, "whoami"}, false},
		{"before the noun with =", []string{"--addr=" + sock, "whoami"}, false},
		{"single dash", []string{"-addr", sock, "whoami"}, false},
		{"json before the noun", []string{"--json", "--addr", sock, "whoami"}, true},
		{"json after, addr before", []string{"--addr", sock, "whoami", "--json"}, true},
		{"after the verb wins", []string{"--addr", "/nonexistent/enclaved.sock", "whoami", "--addr", sock}, false},
		{"json before, false after", []string{"--json", "--addr", sock, "whoami", "--json=false"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Main(tc.args, nil, &out, &errb, getenv); code != ExitOK {
				t.Fatalf("got exit %d (%s), want 0", code, errb.String())
			}
			var w api.Whoami
			isJSON := json.Unmarshal(out.Bytes(), &w) == nil
			if isJSON != tc.wantJSON || !strings.Contains(out.String(), "Zhou Min") {
				t.Fatalf("got output %q (JSON %v), want Zhou Min as JSON %v", out.String(), isJSON, tc.wantJSON)
			}
		})
	}
}

func TestUnknownCommandOneLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // the whole line
	}{
		{"close to a noun and verb", []string{"jobs", "list"},
			`enclave: unknown command "jobs list"; did you mean "enclave job list"? (enclave help lists the commands)`},
		{"a typo in the verb, with arguments and flags", []string{"dataset", "improt", "x.csv", "--spec", "s.yaml"},
			`enclave: unknown command "dataset improt"; did you mean "enclave dataset import"? (enclave help lists the commands)`},
		{"a prefix", []string{"vers"},
			`enclave: unknown command "vers"; did you mean "enclave version"? (enclave help lists the commands)`},
		{"after global flags", []string{"--json", "--addr", "/x.sock", "whoam"},
			`enclave: unknown command "whoam"; did you mean "enclave whoami"? (enclave help lists the commands)`},
		{"a noun without its verb", []string{"job"},
			`enclave: "job" needs a verb; did you mean "enclave job list"? (its verbs: cancel, halt, list, logs, outputs, run, show, wait)`},
		{"a noun without list", []string{"keys"},
			`enclave: "keys" needs a verb; did you mean "enclave keys public"? (its verbs: public)`},
		{"nothing near still names the closest", []string{"frobnicate"},
			`enclave: unknown command "frobnicate"; did you mean "enclave ` + closest([]string{"frobnicate"}).path + `"? (enclave help lists the commands)`},
		{"help for an unknown command", []string{"help", "jbo", "run"},
			`enclave: unknown command "jbo run"; did you mean "enclave job run"? (enclave help lists the commands)`},
		{"help with only a flag", []string{"help", "--json"},
			`enclave: unknown command "--json" (enclave help lists the commands)`},
		{"an unknown flag before the noun", []string{"--colour", "whoami"},
			`enclave: flag provided but not defined: -colour before the command (only --addr, --json, --cacert and -o go there; enclave help lists the commands)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(tc.args, nil, &out, &errb, func(string) string { return "" })
			if code != ExitUsage || out.Len() != 0 || errb.String() != tc.want+"\n" {
				t.Fatalf("got exit %d, stdout %q, stderr %q; want exit 2 and the one line %q", code, out.String(), errb.String(), tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", nil, "usage: enclave [--addr A] [--json] [--cacert F] NOUN VERB"},
		{"help", []string{"help"}, "  whoami "},
		{"-h", []string{"-h"}, "  job run "},
		{"--help after a global flag", []string{"--json", "--help"}, "  job run "},
		{"help for a command", []string{"help", "job", "run"}, "usage: enclave job run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Main(tc.args, nil, &out, &errb, func(string) string { return "" }); code != ExitOK || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("got exit %d, stdout %q, stderr %q; want exit 0 and %q", code, out.String(), errb.String(), tc.want)
			}
		})
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"", "abc", 3}, {"job list", "jobs list", 1}, {"improt", "import", 2}, {"kitten", "sitting", 3}} {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q): got %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
