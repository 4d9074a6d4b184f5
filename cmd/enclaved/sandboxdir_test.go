package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
)

// TestJobsRunUnderAPrivateParent puts the data directory under a parent
// only root may search (mktemp -d makes it 0700, like /root): the jobs'
// remapped user cannot reach a sandbox beside it, so enclaved keeps the
// sandbox where that user can, and a job reading its input and writing an
// output completes, against the real containerd.
func TestJobsRunUnderAPrivateParent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	jd := startJobDaemon(t, ctx, jobDaemonOpts{prefix: "enclave-private-", private: true})
	if fi, err := os.Stat(jd.base); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("mktemp directory: got %v (%v), want mode 0700", fi.Mode(), err)
	}
	if strings.HasPrefix(jd.cfg.SandboxDir, jd.base+"/") {
		t.Fatalf("sandbox directory: got %q, under the private %q", jd.cfg.SandboxDir, jd.base)
	}
	runOneJob(t, ctx, jd.cfg.DataDir, jd.adminToken, jd.imgs["toolbox"], filepath.Join(jd.base, "penalties.csv"))
}

// runOneJob walks a daemon serving dataDir from its first admin to one
// finished job: organisations and people, a dataset, an approved
// application, the toolbox image approved by an officer, and a job that
// reads its input and writes a declared output. It fails t unless the job
// completes with that output. csv is a scratch path for the dataset.
func runOneJob(t *testing.T, ctx context.Context, dataDir, adminToken, toolbox, csv string) {
	t.Helper()
	w := newJobWorld(t, ctx, filepath.Join(dataDir, "enclaved.sock"), adminToken, toolbox, csv)
	operator, officer := w.operator, w.officer
	j, err := operator.RunJob(ctx, api.JobRequest{Image: w.image, Inputs: []string{"credit_penalties"}, Outputs: []string{"size.txt"},
		Args: []string{"sh", "-c", "wc -c < /in/credit_penalties/data.arrow > /out/size.txt"}, Timeout: "1m"})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = operator.WaitJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if j.State != "complete" || len(j.Outputs) != 1 || j.Outputs[0].Name != "size.txt" {
		seen, _ := officer.ShowJob(ctx, j.ID)
		t.Fatalf("job: got state %q, outputs %+v (reason %q, %q); want complete with size.txt", j.State, j.Outputs, seen.Reason, seen.Message)
	}
}

func TestDefaultSandboxDir(t *testing.T) {
	base, err := os.MkdirTemp("", "enclave-sbx-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o755)
	mk := func(p string, mode os.FileMode) string {
		t.Helper()
		p = filepath.Join(base, p)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open, private, traversable := mk("open", 0o755), mk("private", 0o700), mk("traversable", 0o711)
	if err := os.Symlink(mk("private/real", 0o755), filepath.Join(open, "link")); err != nil {
		t.Fatal(err)
	}
	hashed := func(data string) func(string) bool {
		return func(got string) bool {
			return filepath.Dir(got) == sandboxesDir && got == defaultSandboxDir(data) && len(filepath.Base(got)) == 16
		}
	}
	for _, tc := range []struct {
		name string
		data string
		ok   func(got string) bool
	}{
		{"an open parent keeps it beside", filepath.Join(open, "data"), func(got string) bool { return got == filepath.Join(open, "data-sandbox") }},
		{"a parent others may only search keeps it beside", filepath.Join(traversable, "data"), func(got string) bool { return got == filepath.Join(traversable, "data-sandbox") }},
		{"a private parent moves it", filepath.Join(private, "data"), hashed(filepath.Join(private, "data"))},
		{"a private grandparent moves it", filepath.Join(private, "real", "data"), hashed(filepath.Join(private, "real", "data"))},
		{"a link into a private directory moves it", filepath.Join(open, "link", "data"), hashed(filepath.Join(open, "link", "data"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := defaultSandboxDir(tc.data); !tc.ok(got) {
				t.Fatalf("got %q", got)
			}
		})
	}
	if a, b := defaultSandboxDir(filepath.Join(private, "a")), defaultSandboxDir(filepath.Join(private, "b")); a == b {
		t.Fatalf("two data directories share the sandbox directory %q", a)
	}
}

func TestPrepareSandboxDir(t *testing.T) {
	base, err := os.MkdirTemp("", "enclave-sbx-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o755)

	// Missing directories are made 0711 whatever the umask.
	old := syscall.Umask(0o077)
	dir := filepath.Join(base, "a", "b", "sandbox")
	err = prepareSandboxDir(dir)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b"), dir} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o711 {
			t.Errorf("%s: got mode %v (%v), want 0711", d, fi.Mode().Perm(), err)
		}
	}

	// A sandbox directory under a private one is refused, naming it and
	// the fix.
	private := filepath.Join(base, "private")
	os.Mkdir(private, 0o700)
	err = prepareSandboxDir(filepath.Join(private, "sandbox"))
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), strconv.Quote(private)) || !strings.Contains(err.Error(), "--sandbox-dir") {
		t.Fatalf("under a private directory: got %v, want failed-precondition naming %q and --sandbox-dir", err, private)
	}
	if err := prepareSandboxDir("relative/sandbox"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("a relative directory: got %v, want invalid-argument", err)
	}

	// The owner and group bits count for the jobs' own user and group.
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	for _, tc := range []struct {
		name     string
		uid, gid int
		mode     os.FileMode
		ok       bool
	}{
		{"owned by the jobs' user", jobUID, 0, 0o700, true},
		{"owned by the jobs' user without search", jobUID, 0, 0o601, false},
		{"group of the jobs", 0, jobGID, 0o750, true},
		{"group of the jobs without search", 0, jobGID, 0o705, false},
		{"others", 0, 0, 0o701, true},
		{"nobody", 0, 0, 0o770, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := os.MkdirTemp(base, "own-")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(d, tc.uid, tc.gid); err != nil {
				t.Fatal(err)
			}
			os.Chmod(d, tc.mode)
			if err := searchable(filepath.Join(d, "sandbox"), jobUID, jobGID); (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestRunRefusesAnUnreachableSandboxDir: enclaved run with --sandbox-dir
// under a private directory stops at start, naming the directory and the
// fix, before any containerd is started.
func TestRunRefusesAnUnreachableSandboxDir(t *testing.T) {
	ctx := context.Background()
	base, err := os.MkdirTemp("", "enclave-sbx-") // 0700
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	cfg := Default()
	cfg.DataDir = filepath.Join(base, "data")
	cfg.SandboxDir = filepath.Join(base, "sandbox")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := initDataDir(ctx, cfg, testAdmin("platform")); err != nil {
		t.Fatal(err)
	}
	err = serve(ctx, cfg, slog.New(slog.DiscardHandler))
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), strconv.Quote(base)) || !strings.Contains(err.Error(), "--sandbox-dir") {
		t.Fatalf("got %v, want failed-precondition naming %q and --sandbox-dir", err, base)
	}
	if _, err := os.Stat(filepath.Join(cfg.SandboxDir, "containerd")); err == nil {
		t.Fatal("a containerd directory was made in the refused sandbox directory")
	}
}
