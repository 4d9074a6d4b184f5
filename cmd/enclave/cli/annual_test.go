package cli

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestReportAnnualFormats: report annual asks the daemon for the format
// and year given and writes what it serves to --output (or -o, the old
// flag); a bad format is refused before any request (issue 20 item 5).
func TestReportAnnualFormats(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var queries []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/reports/annual" {
			http.NotFound(w, r)
			return
		}
		queries = append(queries, r.URL.RawQuery)
		if r.URL.Query().Get("format") == "pdf" {
			w.Header().Set("Content-Type", "application/pdf")
			w.Write([]byte("%PDF-1.3 served"))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<!DOCTYPE html>served"))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	getenv := func(k string) string {
		if k == "ENCLAVE_TOKEN" {
			return "t"
		}
		return ""
	}
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"report", "annual", "--addr", sock}, args...), nil, &out, &errb, getenv)
		return code, errb.String()
	}
	pdf := filepath.Join(dir, "annual.pdf")
	if code, msg := run("--format", "pdf", "--year", "2026", "--org", "acme", "--output", pdf); code != ExitOK {
		t.Fatalf("report annual --format pdf: exit %d: %s", code, msg)
	}
	if b, err := os.ReadFile(pdf); err != nil || string(b) != "%PDF-1.3 served" {
		t.Errorf("the PDF file holds %q (%v), want what the daemon served", b, err)
	}
	html := filepath.Join(dir, "annual.html")
	if code, msg := run("--year", "2026", "-o", html); code != ExitOK {
		t.Fatalf("report annual -o: exit %d: %s", code, msg)
	}
	if b, _ := os.ReadFile(html); string(b) != "<!DOCTYPE html>served" {
		t.Errorf("the HTML file holds %q, want what the daemon served", b)
	}
	if code, _ := run("--format", "pdf", "--year", "2026", "--output", pdf); code == ExitOK {
		t.Errorf("report annual overwrote an existing file")
	}
	if code, _ := run("--format", "docx", "--year", "2026", "--output", filepath.Join(dir, "x")); code == ExitOK {
		t.Errorf("report annual --format docx: exit 0, want a usage error")
	}
	want := []string{"format=pdf&org=acme&year=2026", "format=html&year=2026", "format=pdf&year=2026"}
	if len(queries) != len(want) {
		t.Fatalf("queries %q, want %q", queries, want)
	}
	for i := range want {
		if queries[i] != want[i] {
			t.Errorf("query %d: got %q, want %q", i, queries[i], want[i])
		}
	}
}
