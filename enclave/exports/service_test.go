package exports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/store"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

type nopAudit struct{}

func (nopAudit) Append(context.Context, audit.Event) (uint64, error) { return 1, nil }

// verdictCheck is a check that gives one verdict, and records the
// plaintext it was shown.
type verdictCheck struct {
	verdict review.Verdict
	saw     map[string][]byte
}

func (c *verdictCheck) Name() string    { return "verdict" }
func (c *verdictCheck) Version() string { return "1" }
func (c *verdictCheck) Run(_ context.Context, rq *review.Request) ([]review.Finding, error) {
	c.saw = map[string][]byte{}
	for _, f := range rq.Files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return nil, err
		}
		c.saw[f.Name] = b
	}
	return []review.Finding{{Check: c.Name(), Verdict: c.verdict, Evidence: "as told"}}, nil
}

var outputs = map[string]string{"counts.csv": "district,n\nDonglin,12\nXiqiao,30\n", "notes.txt": "two districts\n"}

// ranJob runs a job over the fake sandbox that writes outputs, and returns
// an export service over its manager.
func ranJob(t *testing.T, check review.Check) (*Service, *jobs.Job, *store.DB) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kr, err := local.Create(filepath.Join(dir, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	rt := &sandboxtest.Fake{RunFunc: func(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
		ex := sandbox.Exit{Reason: sandbox.ReasonExited}
		if err := os.MkdirAll(spec.OutDir, 0o700); err != nil {
			return ex, err
		}
		for _, n := range spec.Outputs {
			if err := os.WriteFile(filepath.Join(spec.OutDir, n), []byte(outputs[n]), 0o600); err != nil {
				return ex, err
			}
			ex.Outputs = append(ex.Outputs, sandbox.File{Name: n, Size: int64(len(outputs[n]))})
		}
		return ex, nil
	}}
	m, err := jobs.NewManager(jobs.Config{Dir: filepath.Join(dir, "jobs"), InputDir: filepath.Join(dir, "inputs"), UID: os.Getuid(), GID: os.Getgid(),
		MaxRunning: 1, PlainDir: t.TempDir(), Keyring: kr}, db, rt, nil, nopAudit{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	j := m.New(jobs.NewJob{ID: "j-1", Org: "acme", Owner: "p_op", Image: sandboxtest.FakeDigest, Args: []string{"count"},
		Limits: sandbox.DefaultLimits(), Outputs: []string{"counts.csv", "notes.txt"}, Revision: "r1"})
	if err := db.Tx(ctx, func(tx *sql.Tx) error { return m.Insert(ctx, tx, j) }, nil); err != nil {
		t.Fatal(err)
	}
	m.Enqueue(j.ID)
	if j, err = m.Wait(ctx, j.ID); err != nil || j.State != jobs.Complete {
		t.Fatalf("job: %v, %v", j.State, err)
	}
	return &Service{Dir: filepath.Join(dir, "exports"), Jobs: m, Keyring: kr, Checks: []review.Check{check}}, j, db
}

// TestPrepare: a request freezes the named outputs sealed under the
// export's own key, shows the checks their plaintext and removes it after;
// a bad request is refused by class and leaves nothing behind.
func TestPrepare(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		verdict   review.Verdict
		req       Request
		wantErr   string // "" for none
		wantState string
	}{
		{"checks pass", review.VerdictPass, Request{Files: []string{"counts.csv", "notes.txt"}, Purpose: "p"}, "", PendingReview},
		{"a check fails", review.VerdictFail, Request{Files: []string{"counts.csv"}, Purpose: "p"}, "", ChecksFailed},
		{"no files", review.VerdictPass, Request{Purpose: "p"}, "at least one output file", ""},
		{"a file the job did not write", review.VerdictPass, Request{Files: []string{"counts.csv", "rows.csv"}}, "has no output", ""},
		{"a path out of the outputs", review.VerdictPass, Request{Files: []string{"../log"}}, "has no output", ""},
		{"a file named twice", review.VerdictPass, Request{Files: []string{"counts.csv", "counts.csv"}}, "named twice", ""},
		{"a level that is not one", review.VerdictPass, Request{Files: []string{"counts.csv"}, Declared: map[string]string{"counts.csv": "secret"}}, "not a level", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := &verdictCheck{verdict: tc.verdict}
			s, j, _ := ranJob(t, check)
			e, err := s.Prepare(ctx, "x_1", j, "acme", "p_op", tc.req, j.CreatedAt)
			if tc.wantErr != "" {
				if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an invalid-argument error naming %q", err, tc.wantErr)
				}
				if _, err := os.Stat(filepath.Join(s.Dir, "x_1")); !os.IsNotExist(err) {
					t.Errorf("a refused request left its directory: %v", err)
				}
				if _, err := s.Jobs.DataKeys().Open(ctx, jobs.ExportKeyObject("x_1")); err == nil {
					t.Errorf("a refused request left a usable data key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.State != tc.wantState || e.Result.Verdict != tc.verdict || len(e.Files) != len(tc.req.Files) || e.ApprovalsNeeded != 1 {
				t.Fatalf("got state %s verdict %s, %d files, %d approvals; want %s %s, %d, 1", e.State, e.Result.Verdict, len(e.Files),
					e.ApprovalsNeeded, tc.wantState, tc.verdict, len(tc.req.Files))
			}
			for i, f := range e.Files {
				want := outputs[f.Name]
				sum := sha256.Sum256([]byte(want))
				if f.SHA256 != hex.EncodeToString(sum[:]) || f.Size != int64(len(want)) || string(check.saw[f.Name]) != want {
					t.Errorf("file %s: got %d bytes %s, the check saw %q", f.Name, f.Size, f.SHA256, check.saw[f.Name])
				}
				sealed, err := os.ReadFile(s.FilePath("x_1", i))
				if err != nil || bytes.Contains(sealed, []byte("Donglin")) || bytes.Contains(sealed, []byte(want)) {
					t.Errorf("frozen file %s is not sealed at rest (%v)", f.Name, err)
				}
				r, err := s.OpenFile(ctx, "x_1", i)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil || string(got) != want {
					t.Errorf("OpenFile %s: got %q, %v", f.Name, got, err)
				}
			}
			var plain []string
			filepath.Walk(filepath.Join(s.Dir, "x_1"), func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("Donglin")) {
						plain = append(plain, p)
					}
				}
				return nil
			})
			if len(plain) != 0 {
				t.Errorf("plaintext left after the review: %v", plain)
			}
			// Discard removes the frozen files and shreds the key.
			s.Discard("x_1")
			if _, err := os.Stat(filepath.Join(s.Dir, "x_1")); !os.IsNotExist(err) {
				t.Errorf("Discard left the export's directory: %v", err)
			}
			if _, err := s.OpenFile(ctx, "x_1", 0); err == nil {
				t.Errorf("a discarded export's file still opens")
			}
		})
	}
}
