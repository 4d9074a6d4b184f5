package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/cmd/enclave/cli"
	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/synth"
)

// TestObjectionsAgainstDaemon drives the objection verbs against a real
// daemon (issue 20 item 4): an operator files one about a dataset of the
// catalogue, an unknown dataset is "not found or not yours", another
// organisation's custodian may not answer, the dataset's custodian answers
// naming an existing version (a missing one is refused), the bureau lists
// every objection and the overdue ones, and /metrics counts them.
func TestObjectionsAgainstDaemon(t *testing.T) {
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
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	admin, _ := client.New(sock, res.AdminToken)
	tokens := map[string]string{}
	as := func(name, org, role string) *client.Client {
		t.Helper()
		p, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: name, Org: org, Roles: []string{role}}))
		must(err)
		tokens[name] = p.Token
		c, _ := client.New(sock, p.Token)
		return c
	}
	authority := as("Zhou Min", "platform", "authority")
	until := time.Now().AddDate(1, 0, 0).Format("2006-01-02")
	for _, o := range []api.OrgRequest{{Name: "credit-centre", Type: "agency"}, {Name: "acme", Type: "company"}, {Name: "rival-centre", Type: "agency"}} {
		o.LicenceUntil = until
		_, err := authority.AddOrg(ctx, licensed(o))
		must(err)
	}
	custodian := as("Li Na", "credit-centre", "custodian")
	as("Wang Lei", "acme", "operator")
	as("Qian Yi", "rival-centre", "custodian")
	as("Sun Hao", "platform", "bureau")
	var csv bytes.Buffer
	must(synth.WriteCSV(&csv, 5, 50))
	_, err = custodian.ImportDataset(ctx, "credit_penalties", []byte(synth.Spec("credit_penalties")), bytes.NewReader(csv.Bytes()), nil, nil)
	must(err)

	run := func(who string, args ...string) (int, string) {
		var out, errb bytes.Buffer
		env := map[string]string{"ENCLAVE_ADDR": sock, "ENCLAVE_TOKEN": tokens[who], "HOME": t.TempDir()}
		code := cli.Main(args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
		return code, out.String() + errb.String()
	}
	code, out := run("Wang Lei", "objection", "file", "--dataset", "credit_penalties", "--text", "row 7's fine was annulled", "--json")
	var o api.Objection
	if code != cli.ExitOK || json.Unmarshal([]byte(out), &o) != nil || o.ID == "" || o.Org != "credit-centre" || o.State != "open" {
		t.Fatalf("file: exit %d %s", code, out)
	}
	if days := o.DueAt.Sub(o.FiledAt); days < 5*24*time.Hour || days > 10*24*time.Hour {
		t.Fatalf("due %s for filed %s", o.DueAt, o.FiledAt)
	}
	for _, tc := range []struct {
		who  string
		args []string
		code int
		want string
	}{
		{"Wang Lei", []string{"objection", "file", "--dataset", "no_such", "--text", "x"}, cli.ExitFailure, "not found or not yours"},
		{"Qian Yi", []string{"objection", "answer", o.ID, "--text", "not ours"}, cli.ExitDenied, "not found or not yours"},
		{"Qian Yi", []string{"objection", "show", o.ID}, cli.ExitFailure, "not found or not yours"},
		{"Li Na", []string{"objection", "answer", o.ID, "--text", "fixed", "--corrected-version", "9"}, cli.ExitFailure, "has no version 9"},
		{"Sun Hao", []string{"objection", "list", "--overdue"}, cli.ExitOK, "DUE"},
		{"Sun Hao", []string{"objection", "list"}, cli.ExitOK, o.ID},
		{"Li Na", []string{"objection", "answer", o.ID, "--text", "corrected in version 1", "--corrected-version", "1"}, cli.ExitOK, "credit_penalties@1"},
		{"Wang Lei", []string{"objection", "show", o.ID}, cli.ExitOK, "corrected in version 1"},
	} {
		code, out := run(tc.who, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Fatalf("%s %v: exit %d %s; want exit %d with %q", tc.who, tc.args, code, out, tc.code, tc.want)
		}
		if tc.args[1] == "list" && strings.Contains(tc.args[len(tc.args)-1], "overdue") && strings.Contains(out, o.ID) {
			t.Fatalf("a fresh objection is overdue: %s", out)
		}
	}
	// /metrics counts it answered.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	req, _ := http.NewRequest("GET", "http://enclaved/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+tokens["Sun Hao"])
	resp, err := hc.Do(req)
	must(err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`enclave_objections{state="answered"} 1`, `enclave_objections{state="open"} 0`, `enclave_objections{state="overdue"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
