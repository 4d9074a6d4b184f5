package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoginAndConfigSet(t *testing.T) {
	sock := fakeDaemon(t, "/v1/whoami", map[string]any{"person": map[string]any{"id": "p_1", "name": "Zhou Min"}, "token_id": "tok_1"})
	cfgPath := filepath.Join(t.TempDir(), "sub", "config.json")
	env := map[string]string{"ENCLAVE_CONFIG": cfgPath}
	getenv := func(k string) string { return env[k] }
	const token = "secret-token-value-123"
	main := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(args, strings.NewReader(stdin), &out, &errb, getenv)
		return code, out.String(), errb.String()
	}
	readCfg := func() (config, os.FileInfo) {
		t.Helper()
		b, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatalf("config file: %v", err)
		}
		fi, _ := os.Stat(cfgPath)
		var c config
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		return c, fi
	}

	// A daemon that is not there: nothing is written.
	if code, _, errb := main(token+"\n", "login", "--addr", filepath.Join(t.TempDir(), "none.sock")); code != ExitFailure || strings.Contains(errb, token) {
		t.Fatalf("login to no daemon: got exit %d, stderr %q", code, errb)
	}
	if _, err := os.Stat(cfgPath); !os.IsNotExist(err) {
		t.Fatalf("a failed login wrote the config file: %v", err)
	}

	code, out, errb := main(token+"\n", "login", "--addr", sock)
	if code != ExitOK || !strings.Contains(errb, "logged in as Zhou Min") || strings.Contains(out+errb, token) {
		t.Fatalf("login: got exit %d, stdout %q, stderr %q", code, out, errb)
	}
	c, fi := readCfg()
	if c.Addr != sock || c.Token != token || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config after login: got %+v mode %v", c, fi.Mode())
	}
	// The next command finds the daemon and the token in the file.
	if code, out, errb := main("", "whoami"); code != ExitOK || !strings.Contains(out, "Zhou Min") {
		t.Fatalf("whoami from the config file: got exit %d, %q %q", code, out, errb)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not an address", []string{"config", "set", "addr", "enclave.example"}, "addr is a unix socket path"},
		{"unknown key", []string{"config", "set", "colour", "red"}, `unknown key "colour"`},
		{"missing cacert", []string{"config", "set", "cacert", "/nonexistent/cert.pem"}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errb := main("", tc.args...)
			if code != ExitUsage || !strings.Contains(errb, tc.want) {
				t.Fatalf("got exit %d, stderr %q; want 2 and %q", code, errb, tc.want)
			}
			if now, _ := readCfg(); now != c {
				t.Fatalf("a refused config set changed the file: %+v", now)
			}
		})
	}
	if code, _, errb := main("other-token\n", "config", "set", "token", "-"); code != ExitOK {
		t.Fatalf("config set token -: exit %d %q", code, errb)
	}
	if now, _ := readCfg(); now.Token != "other-token" || now.Addr != sock {
		t.Fatalf("config set token: got %+v", now)
	}
	code, out, _ = main("", "config", "show")
	if code != ExitOK || strings.Contains(out, "other-token") || !strings.Contains(out, "set") || !strings.Contains(out, cfgPath) {
		t.Fatalf("config show: got exit %d, %q; want the path and the token only as set", code, out)
	}
}
