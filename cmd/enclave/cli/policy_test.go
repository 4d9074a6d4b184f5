package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
)

// fakeDaemon serves body at path on a unix socket and returns the socket.
func fakeDaemon(t *testing.T, path string, body any) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cli")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestPolicyExplainShowsThresholds(t *testing.T) {
	x := api.Explanation{As: "p_op", Action: "export.request",
		Decision:         api.Decision{Allow: true, Reasons: []api.Reason{}, Revision: "sha256:abc"},
		EgressThresholds: map[string]float64{"min_cell": 20, "dominance_k": 0.9, "max_file_bytes": 1 << 30}}
	sock := fakeDaemon(t, "/v1/policy/explain", x)
	getenv := func(k string) string {
		if k == "ENCLAVE_TOKEN" {
			return "t"
		}
		return ""
	}
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Main(append([]string{"policy", "explain", "--addr", sock, "--as", "p_op", "--action", "export.request"}, args...), nil, &out, &errb, getenv); code != ExitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		return out.String()
	}

	table := run()
	var lines []string
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, "egress threshold") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
	}
	want := []string{"egress threshold dominance_k = 0.9", "egress threshold max_file_bytes = 1073741824", "egress threshold min_cell = 20"}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("table: got %q, want %q\n%s", lines, want, table)
	}

	var got api.Explanation
	if err := json.Unmarshal([]byte(run("--json")), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.EgressThresholds, x.EgressThresholds) {
		t.Errorf("--json: got %v, want %v", got.EgressThresholds, x.EgressThresholds)
	}
}
