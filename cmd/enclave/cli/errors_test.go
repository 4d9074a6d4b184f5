package cli

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestErrorsWithoutClassSuffix(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("cannot reach the daemon: dial: %w", errdefs.ErrUnavailable), "cannot reach the daemon: dial"},
		{fmt.Errorf("dataset %q: %w", "x", errdefs.ErrNotFound), `dataset "x": not found`},
		{fmt.Errorf("organisation %q: %w", "x", errdefs.ErrAlreadyExists), `organisation "x": already exists`},
		{fmt.Errorf("image is pending: %w", errdefs.ErrFailedPrecondition), "image is pending"},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", errdefs.ErrInvalidArgument)), "a: b"},
		{fmt.Errorf("not found anywhere"), "not found anywhere"},
	} {
		if got := message(tc.err); got != tc.want {
			t.Errorf("message(%q): got %q, want %q", tc.err, got, tc.want)
		}
	}
	// Through Main: the unreachable daemon's error ends without the class.
	code, _, errb := run(t, "whoami")
	if code != ExitFailure || !strings.Contains(errb, "cannot reach the daemon") || strings.Contains(errb, ": unavailable") {
		t.Fatalf("got exit %d, stderr %q; want 1, without the class", code, errb)
	}
}

func TestHTTPSWithoutCACertNamesTheFile(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"person": map[string]any{"id": "p_1", "name": "Zhou Min"}})
	}))
	defer hs.Close()
	getenv := func(k string) string { return map[string]string{"ENCLAVE_TOKEN": "t"}[k] }
	var out, errb bytes.Buffer
	code := Main([]string{"whoami", "--addr", hs.URL}, nil, &out, &errb, getenv)
	if code != ExitFailure || !strings.Contains(errb.String(), "--cacert DATA/tls/cert.pem") {
		t.Fatalf("without --cacert: got exit %d, stderr %q; want 1 naming --cacert DATA/tls/cert.pem", code, errb.String())
	}
	ca := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := Main([]string{"whoami", "--addr", hs.URL, "--cacert", ca}, nil, &out, &errb, getenv); code != ExitOK || !strings.Contains(out.String(), "Zhou Min") {
		t.Fatalf("with --cacert: got exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
