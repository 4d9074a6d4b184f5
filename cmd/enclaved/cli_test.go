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
	"time"

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
	res, err := initDataDir(ctx, cfg, testAdmin("platform"))
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
	agreement := []string{"--agreement-until", "2029-12-31", "--agreement-liability", "NDA-2026-07, liability per its article 5"}
	code, out, errs := run(res.AdminToken, append([]string{"person", "add", "Zhou Min", "--org", "platform", "--role", "authority",
		"--id-number", nextIDNumber(), "--json"}, agreement...)...)
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
	run(res.AdminToken, append([]string{"person", "add", "Wang Lei", "--org", "platform", "--role", "operator", "--id-number", nextIDNumber(), "--json"}, agreement...)...)
	// An organisation's licence application: its code and what 001 art. 11 asks.
	app := func(uscc string) []string {
		return []string{"--uscc", uscc, "--business-scope", "credit risk statistics", "--security-lead", "Qian Yi",
			"--principal", "Zhao Er", "--data-disposal", "destroy every copy within 30 days"}
	}
	acme, beta := nextUSCC(), nextUSCC()
	late := time.Now().AddDate(0, 1, 0).Format("2006-01-02")

	for _, tc := range []struct {
		name  string
		token string
		args  []string
		code  int
		want  string // in stdout or stderr
	}{
		{"whoami", auth, []string{"whoami"}, cli.ExitOK, "Zhou Min"},
		{"whoami shows the agreement", auth, []string{"whoami"}, cli.ExitOK, "..2029-12-31"},
		{"flags after arguments", auth, append([]string{"org", "add", "acme", "--type", "company", "--licence-until", "2027-06-30", "--json"}, app(acme)...), cli.ExitOK, `"id": "acme"`},
		{"flags before arguments", auth, append(append([]string{"org", "add", "--type", "company", "--licence-until", late}, app(beta)...), "beta"), cli.ExitOK, "beta"},
		{"duplicate is a failure", auth, append([]string{"org", "add", "acme", "--type", "company", "--licence-until", "2027-06-30"}, app(nextUSCC())...), cli.ExitFailure, "already exists"},
		{"a held code is a failure", auth, append([]string{"org", "add", "acme-2", "--type", "company", "--licence-until", "2027-06-30"}, app(acme)...), cli.ExitFailure, `already held by organisation "acme"`},
		{"bad code is a failure", auth, append([]string{"org", "add", "epsilon", "--type", "company", "--licence-until", "2027-06-30"}, app(acme[:17]+otherCheck(acme[17]))...), cli.ExitFailure, "check character"},
		{"bad input is a failure", auth, append([]string{"org", "add", "gamma", "--type", "company", "--licence-until", "2030-01-01"}, app(nextUSCC())...), cli.ExitFailure, "longer than 2 years"},
		{"missing flag is usage", auth, []string{"org", "add", "delta"}, cli.ExitUsage, "--type"},
		{"missing code is usage", auth, []string{"org", "add", "delta", "--type", "company", "--licence-until", "2027-06-30"}, cli.ExitUsage, "--uscc"},
		{"org show", auth, []string{"org", "show", "acme"}, cli.ExitOK, "term (licence)"},
		{"org list shows the code", auth, []string{"org", "list"}, cli.ExitOK, acme},
		{"renewal early is denied", auth, []string{"org", "renew", "acme", "--licence-until", "2029-06-30"}, cli.ExitDenied, "licence.renewal_window"},
		{"renewal in the last months", auth, []string{"org", "renew", "beta", "--licence-until", time.Now().AddDate(2, 0, 0).Format("2006-01-02")}, cli.ExitOK, "term (renewal)"},
		{"missing id number is usage", res.AdminToken, []string{"person", "add", "Li Si", "--org", "platform", "--role", "bureau"}, cli.ExitUsage, "--id-number"},
		{"missing agreement is a failure", res.AdminToken, []string{"person", "add", "Li Si", "--org", "platform", "--role", "bureau", "--id-number", nextIDNumber()}, cli.ExitFailure, "confidentiality agreement"},
		{"blacklist", auth, []string{"org", "blacklist", "beta", "--reason", "forged application"}, cli.ExitOK, "blacklisted"},
		{"a blacklisted code under a new name is denied", auth, append([]string{"org", "add", "beta-2", "--type", "company", "--licence-until", "2027-06-30"}, app(beta)...), cli.ExitDenied, "licence.uscc_blacklisted"},
		{"person list shows the term", res.AdminToken, []string{"person", "list"}, cli.ExitOK, time.Now().UTC().Format("2006-01-02") + "..2029-12-31"},
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
