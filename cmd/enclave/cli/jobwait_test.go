package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
)

// fakeJobs is a daemon that knows images, takes one job and ends it in
// state after two looks.
type fakeJobs struct {
	mu     sync.Mutex
	images []api.Image
	state  string
	got    api.JobRequest
	looks  int
}

func (f *fakeJobs) serve(t *testing.T) string {
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
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.URL.Path == "/v1/images":
			reply(w, f.images)
		case r.Method == "POST" && r.URL.Path == "/v1/jobs":
			json.NewDecoder(r.Body).Decode(&f.got)
			reply(w, api.Job{ID: "j-1", State: "queued", Image: f.got.Image})
		case r.URL.Path == "/v1/jobs/j-1" || r.URL.Path == "/v1/jobs/j-1/wait":
			f.looks++
			st := "running"
			if f.looks > 2 {
				st = f.state
			}
			reply(w, api.Job{ID: "j-1", State: st, Image: f.got.Image})
		case r.URL.Path == "/v1/jobs/j-1/logs":
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("line one\n"))
			if f.looks > 1 {
				w.Write([]byte("line two\n"))
			}
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestJobRunImageByNameAndWait(t *testing.T) {
	digest := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	images := []api.Image{
		{Digest: digest("a"), Name: "toolbox", Status: "approved"},
		{Digest: digest("b"), Name: "toolbox", Status: "pending"},
		{Digest: digest("c"), Name: "pendingone", Status: "pending"},
		{Digest: digest("d"), Name: "twice", Status: "approved"},
		{Digest: digest("e"), Name: "twice", Status: "approved"},
	}
	for _, tc := range []struct {
		name      string
		image     string
		state     string
		extra     []string
		wantCode  int
		wantImage string // sent to the daemon
		wantErr   string
		wantOut   []string
	}{
		{"a name, the approved one of two", "toolbox", "complete", nil, ExitOK, digest("a"), "", []string{`"state": "complete"`}},
		{"a digest as it is", digest("f"), "complete", nil, ExitOK, digest("f"), "", nil},
		{"an unknown name", "nosuch", "complete", nil, ExitFailure, "", `no image named "nosuch"`, nil},
		{"an ambiguous name", "twice", "complete", nil, ExitFailure, "", `2 images are named "twice"`, nil},
		{"an unapproved name", "pendingone", "complete", nil, ExitFailure, "", `is pending, not approved`, nil},
		{"wait on a failed job", "toolbox", "executor-error", nil, ExitFailure, digest("a"), "job j-1 did not complete: executor-error", []string{`"state": "executor-error"`}},
		{"follow the log", "toolbox", "complete", []string{"--follow"}, ExitOK, digest("a"), "line one\nline two\n", nil},
		{"follow without wait", "toolbox", "complete", []string{"--follow", "--wait=false"}, ExitUsage, "", "--follow needs --wait", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeJobs{images: images, state: tc.state}
			sock := f.serve(t)
			args := append([]string{"job", "run", "--addr", sock, "--json", "--wait", "--image", tc.image, "--input", "x", "--output", "o.csv"}, tc.extra...)
			args = append(args, "--", "true")
			var out, errb bytes.Buffer
			code := Main(args, nil, &out, &errb, func(k string) string { return map[string]string{"ENCLAVE_TOKEN": "t"}[k] })
			stderr := errb.String()
			var body struct{ Error string }
			if json.Unmarshal(errb.Bytes(), &body) == nil {
				stderr = body.Error
			}
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Fatalf("got exit %d, stderr %q; want %d and %q", code, errb.String(), tc.wantCode, tc.wantErr)
			}
			if f.got.Image != tc.wantImage {
				t.Errorf("the daemon was sent image %q, want %q", f.got.Image, tc.wantImage)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout %q, want %q in it", out.String(), w)
				}
			}
		})
	}
}
