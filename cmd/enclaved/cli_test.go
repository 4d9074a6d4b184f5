package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/enclave-dev/enclave/cmd/enclave/cli"
)

// TestCLIAgainstDaemon drives the enclave command line against a real
// daemon: exit codes, JSON output, tokens from the environment and from
// the config file.
func TestCLIAgainstDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	ctx := context.Background()
	cfg := Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	res, err := initDataDir(ctx, cfg, "platform", "admin")
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg.DataDir)
	defer func() { d.Process.Signal(syscall.SIGTERM); d.Wait() }()
	sock := filepath.Join(cfg.DataDir, "enclaved.sock")

	run := func(token string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		env := map[string]string{"ENCLAVE_ADDR": sock, "ENCLAVE_TOKEN": token, "HOME": t.TempDir()}
		code := cli.Main(args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
		return code, out.String(), errb.String()
	}
	code, out, errs := run(res.AdminToken, "person", "add", "Zhou Min", "--org", "platform", "--role", "authority", "--json")
	if code != 0 {
		t.Fatalf("person add: exit %d: %s", code, errs)
	}
	var created struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ID == "" || created.Token == "" {
		t.Fatalf("person add --json: got %q, want an object with id and token", out)
	}
	auth := created.Token
	run(res.AdminToken, "person", "add", "Wang Lei", "--org", "platform", "--role", "operator", "--json")

	for _, tc := range []struct {
		name  string
		token string
		args  []string
		code  int
		want  string // in stdout or stderr
	}{
		{"whoami", auth, []string{"whoami"}, cli.ExitOK, "Zhou Min"},
		{"flags after arguments", auth, []string{"org", "add", "acme", "--type", "company", "--licence-until", "2027-06-30", "--json"}, cli.ExitOK, `"id": "acme"`},
		{"flags before arguments", auth, []string{"org", "add", "--type", "company", "--licence-until", "2027-06-30", "beta"}, cli.ExitOK, "beta"},
		{"duplicate is a failure", auth, []string{"org", "add", "acme", "--type", "company", "--licence-until", "2027-06-30"}, cli.ExitFailure, "already exists"},
		{"bad input is a failure", auth, []string{"org", "add", "gamma", "--type", "company", "--licence-until", "2030-01-01"}, cli.ExitFailure, "longer than 2 years"},
		{"missing flag is usage", auth, []string{"org", "add", "delta"}, cli.ExitUsage, "--type"},
		{"extra argument is usage", auth, []string{"whoami", "extra"}, cli.ExitUsage, "no arguments"},
		{"unknown flag is usage", auth, []string{"whoami", "--colour"}, cli.ExitUsage, "colour"},
		{"unknown command is usage", auth, []string{"frobnicate"}, cli.ExitUsage, "unknown command"},
		{"no token is denied", "", []string{"whoami"}, cli.ExitDenied, "bearer token"},
		{"bad token is denied", "enc_nope", []string{"whoami"}, cli.ExitDenied, "unknown, expired or revoked"},
		{"wrong role is denied", auth, []string{"person", "list"}, cli.ExitDenied, "person.list"},
		{"json error", auth, []string{"person", "list", "--json"}, cli.ExitDenied, `"class": "permission-denied"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(tc.token, tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Fatalf("got exit %d, output %q %q; want exit %d containing %q", code, out, errs, tc.code, tc.want)
			}
		})
	}

	// The token may come from the config file instead of the environment.
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".config", "enclave"), 0o700)
	conf, _ := json.Marshal(map[string]string{"addr": sock, "token": auth})
	os.WriteFile(filepath.Join(home, ".config", "enclave", "config.json"), conf, 0o600)
	var o, e bytes.Buffer
	code = cli.Main([]string{"whoami", "--json"}, strings.NewReader(""), &o, &e, func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	})
	if code != 0 || !strings.Contains(o.String(), "Zhou Min") {
		t.Fatalf("token from config file: exit %d %q %q", code, o.String(), e.String())
	}
}
