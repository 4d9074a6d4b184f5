package jobs

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/store"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

func testKeyring(t *testing.T) keys.Keyring {
	t.Helper()
	kr, err := local.Create(filepath.Join(t.TempDir(), "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// readLog reads a job's log as the API does.
func readLog(t *testing.T, m *Manager, id string) []byte {
	t.Helper()
	r, err := m.Logs(id)
	if err != nil {
		t.Fatalf("log of %s: %v", id, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("log of %s: %v", id, err)
	}
	return b
}

const secretValue = "110101199003077777"

// writingRun is a runtime that logs and writes every declared output with
// a value that must never rest as plaintext under the data directory.
func writingRun(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
	io.WriteString(logs, "row "+secretValue+"\n")
	if err := os.MkdirAll(spec.OutDir, 0o700); err != nil {
		return sandbox.Exit{}, err
	}
	ex := sandbox.Exit{Reason: sandbox.ReasonExited}
	for _, n := range spec.Outputs {
		data := []byte("ARROW1 " + secretValue + " of " + n)
		if err := os.WriteFile(filepath.Join(spec.OutDir, n), data, 0o600); err != nil {
			return sandbox.Exit{}, err
		}
		ex.Outputs = append(ex.Outputs, sandbox.File{Name: n, Size: int64(len(data))})
	}
	return ex, nil
}

// plaintextUnder returns the files under root that hold needle or that do
// not start as a sealed file does.
func plaintextUnder(t *testing.T, root, needle string) []string {
	t.Helper()
	var bad []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(needle)) || !bytes.HasPrefix(b, []byte("ENCSEAL\x00")) {
			bad = append(bad, p)
		}
		return nil
	})
	return bad
}

// TestOutputsRestSealed: after a job, its log and outputs under the jobs
// directory are sealed files holding no value the job wrote, its
// plaintext area is gone, and the outputs and the log read back through
// the manager; a tampered output fails as data loss.
func TestOutputsRestSealed(t *testing.T) {
	m, _ := newManager(t, &sandboxtest.Fake{RunFunc: writingRun})
	j, err := submit(t, m, "j-sealed", []string{"counts.arrow", "note.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if j.State != Complete || len(j.Outputs) != 2 {
		t.Fatalf("job: got %s with %d outputs, want complete with 2", j.State, len(j.Outputs))
	}
	if bad := plaintextUnder(t, m.cfg.Dir, secretValue); len(bad) > 0 {
		t.Fatalf("plaintext under the jobs directory: %v", bad)
	}
	if ents, err := os.ReadDir(m.cfg.PlainDir); err != nil || len(ents) != 0 {
		t.Fatalf("the plaintext directory after the job: %d entries, %v; want none", len(ents), err)
	}
	r, err := m.OpenOutput(context.Background(), j, "note.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "ARROW1 "+secretValue+" of note.txt" {
		t.Fatalf("output read back: got %q", b)
	}
	if got := readLog(t, m, j.ID); string(got) != "row "+secretValue+"\n" {
		t.Fatalf("log read back: got %q", got)
	}
	path := m.sealedOut(j.ID, "counts.arrow")
	data, _ := os.ReadFile(path)
	data[len(data)-3] ^= 1
	os.WriteFile(path, data, 0o600)
	r, err = m.OpenOutput(context.Background(), j, "counts.arrow")
	if err == nil {
		_, err = io.ReadAll(r)
		r.Close()
	}
	if !errdefs.IsDataLoss(err) {
		t.Fatalf("tampered output: got %v, want data loss", err)
	}
}

// TestShredBeforeSeal: a job whose key is shredded while it runs (its
// basis ended) keeps nothing: no sealed file, no plaintext, a note in its
// message; and no key can be made for it afterwards.
func TestShredBeforeSeal(t *testing.T) {
	var m *Manager
	rt := &sandboxtest.Fake{RunFunc: func(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
		if _, err := m.DataKeys().Shred(ctx, JobKeyObject(spec.ID), KindJob, spec.ID, spec.ID); err != nil {
			return sandbox.Exit{}, err
		}
		return writingRun(ctx, spec, logs)
	}}
	m, _ = newManager(t, rt)
	j, err := submit(t, m, "j-doomed", []string{"counts.arrow"})
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Outputs) != 0 || !strings.Contains(j.Message, "destroyed unsealed") {
		t.Fatalf("job: got outputs %+v, message %q; want none and the note", j.Outputs, j.Message)
	}
	for _, dir := range []string{filepath.Join(m.cfg.Dir, j.ID), m.plainArea(j.ID)} {
		if files := countFiles(t, dir); files != 0 {
			t.Errorf("%s holds %d files after the job, want none", dir, files)
		}
	}
	if _, err := m.Logs(j.ID); !errdefs.IsNotFound(err) {
		t.Errorf("log of a shredded job: got %v, want not found", err)
	}
	if _, err := m.DataKeys().Create(context.Background(), JobKeyObject(j.ID), KindJob, j.ID, j.ID); !errors.Is(err, ErrShredded) {
		t.Errorf("a key for a shredded job: got %v, want ErrShredded", err)
	}
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestDataKeysShred: a shredded key opens no more, in the state or in the
// keyring (the wrapped form kept elsewhere, as in a backup of the state,
// does not unwrap), and a second shred is a no-op returning the same id.
func TestDataKeysShred(t *testing.T) {
	m, _ := newManager(t, &sandboxtest.Fake{})
	ctx := context.Background()
	k := m.DataKeys()
	plain, err := k.Create(ctx, "export/x_1", KindExport, "x_1", "j-1")
	if err != nil || len(plain) != 32 {
		t.Fatalf("create: %v", err)
	}
	if _, err := k.Create(ctx, "export/x_1", KindExport, "x_1", "j-1"); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second create: got %v, want already exists", err)
	}
	var wrapped []byte
	m.DB().QueryRowContext(ctx, `SELECT wrapped FROM derived_keys WHERE object = ?`, "export/x_1").Scan(&wrapped)
	got, err := k.Open(ctx, "export/x_1")
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %v", err)
	}
	id, err := k.Shred(ctx, "export/x_1", KindExport, "x_1", "j-1")
	if err != nil || !strings.HasPrefix(id, "kek-") {
		t.Fatalf("shred: %q, %v", id, err)
	}
	if _, err := k.Open(ctx, "export/x_1"); !errors.Is(err, ErrShredded) {
		t.Fatalf("open after shred: got %v, want ErrShredded", err)
	}
	if _, err := k.Keyring().UnwrapDataKey(ctx, "export/x_1", wrapped); !errdefs.IsNotFound(err) {
		t.Fatalf("unwrap a kept copy after shred: got %v, want not found", err)
	}
	if id2, err := k.Shred(ctx, "export/x_1", KindExport, "x_1", "j-1"); err != nil || id2 != id {
		t.Fatalf("second shred: %q, %v; want %q", id2, err, id)
	}
}

// TestLineageRecorded: a recorded job names every dataset version it
// reads, with the grant, in the lineage.
func TestLineageRecorded(t *testing.T) {
	m, _ := newManager(t, &sandboxtest.Fake{})
	ctx := context.Background()
	j := m.New(NewJob{ID: "j-lin", Org: "acme", Owner: "p_op", Image: sandboxtest.FakeDigest, Args: []string{"job"},
		Inputs: []Input{{Dataset: "penalties", Version: 2}, {Dataset: "registry", Version: 1}}, Grants: map[string]string{"penalties": "g_1", "registry": "g_2"},
		Limits: sandbox.DefaultLimits(), Revision: "r1"})
	if err := m.db.Tx(ctx, func(tx *sql.Tx) error { return m.Insert(ctx, tx, j) }, nil); err != nil {
		t.Fatal(err)
	}
	ls, err := JobLineage(ctx, m.DB(), "j-lin")
	if err != nil || len(ls) != 2 || ls[0] != (Lineage{Job: "j-lin", Dataset: "penalties", Version: 2, Grant: "g_1", Org: "acme"}) ||
		ls[1] != (Lineage{Job: "j-lin", Dataset: "registry", Version: 1, Grant: "g_2", Org: "acme"}) {
		t.Fatalf("lineage: got %+v, %v", ls, err)
	}
	if ls, _ := LineageOfVersion(ctx, m.DB(), "penalties", 2); len(ls) != 1 || ls[0].Job != "j-lin" {
		t.Errorf("jobs of penalties@2: got %+v", ls)
	}
	if ls, _ := LineageOfVersion(ctx, m.DB(), "penalties", 1); len(ls) != 0 {
		t.Errorf("jobs of penalties@1: got %+v, want none", ls)
	}
	if ls, _ := LineageOfGrant(ctx, m.DB(), "g_2"); len(ls) != 1 || ls[0].Dataset != "registry" {
		t.Errorf("jobs of g_2: got %+v", ls)
	}
}

// TestPlainDirOutsideData: the plaintext directory may not be missing or
// lie under the data directory.
func TestPlainDirOutsideData(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		plain string
		ok    bool
	}{
		{"", false},
		{"relative/plain", false},
		{filepath.Join(data, "plain"), false},
		{filepath.Join(data, "jobs", "x"), false},
		{data, false},
		{filepath.Join(data+"-sandbox", "plain"), true},
	} {
		err := checkPlainDir(tc.plain, filepath.Join(data, "jobs"))
		if tc.ok != (err == nil) || (err != nil && !errdefs.IsInvalidArgument(err)) {
			t.Errorf("checkPlainDir(%q): got %v, want ok=%v", tc.plain, err, tc.ok)
		}
	}
}

// TestRecoverSealsLegacyPlaintext: outputs and a log an earlier daemon
// kept as plaintext under the jobs directory are sealed at start and read
// back through the manager; nothing of them stays plaintext.
func TestRecoverSealsLegacyPlaintext(t *testing.T) {
	d := newDaemon(t)
	m1 := d.start(t, &sandboxtest.Fake{RunFunc: writingRun}, 1)
	record(t, m1, "j-old", []string{"counts.arrow"}, sandbox.DefaultLimits())
	j, err := m1.Wait(context.Background(), "j-old")
	if err != nil || len(j.Outputs) != 1 {
		t.Fatalf("job: %+v, %v", j, err)
	}
	m1.Close()
	// Make it look as an earlier daemon left it: plaintext, no data key.
	plain := []byte("ARROW1 " + secretValue + " of counts.arrow")
	os.WriteFile(filepath.Join(d.dir, "jobs", "j-old", "out", "counts.arrow"), plain, 0o600)
	os.WriteFile(filepath.Join(d.dir, "jobs", "j-old", "log"), []byte("row "+secretValue+"\n"), 0o600)
	if _, err := d.db.SQL().Exec(`DELETE FROM derived_keys WHERE object = ?`, JobKeyObject("j-old")); err != nil {
		t.Fatal(err)
	}
	m2 := d.start(t, &sandboxtest.Fake{}, 1)
	defer m2.Close()
	if bad := plaintextUnder(t, filepath.Join(d.dir, "jobs"), secretValue); len(bad) > 0 {
		t.Fatalf("plaintext after the start: %v", bad)
	}
	r, err := m2.OpenOutput(context.Background(), j, "counts.arrow")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(b, plain) {
		t.Fatalf("the sealed legacy output reads back %q", b)
	}
	if got := readLog(t, m2, "j-old"); string(got) != "row "+secretValue+"\n" {
		t.Fatalf("the sealed legacy log reads back %q", got)
	}
}

// failingKeyring makes no data key: the keyring is unreachable.
type failingKeyring struct{ keys.Keyring }

func (failingKeyring) NewDataKey(context.Context, string) ([]byte, []byte, error) {
	return nil, nil, errdefs.ErrUnavailable
}

// TestSealFailureKeepsNoPlaintext: when a job's outputs cannot be sealed
// (the keyring is unreachable at its end), they are removed, not kept as
// plaintext anywhere, and the job says so; an output sealed under another
// job's key does not open.
func TestSealFailureKeepsNoPlaintext(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	plain := t.TempDir()
	m, err := NewManager(Config{Dir: filepath.Join(dir, "jobs"), InputDir: filepath.Join(dir, "inputs"), PlainDir: plain,
		Keyring: failingKeyring{testKeyring(t)}, UID: os.Getuid(), GID: os.Getgid(), MaxRunning: 1}, db, &sandboxtest.Fake{RunFunc: writingRun}, nil, &auditLog{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	j, err := submit(t, m, "j-nokey", []string{"counts.arrow"})
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Outputs) != 0 || !strings.Contains(j.Message, "could not be sealed") {
		t.Fatalf("job: got outputs %+v, message %q; want none and the reason", j.Outputs, j.Message)
	}
	if n := countFiles(t, plain) + countFiles(t, filepath.Join(dir, "jobs")); n != 0 {
		t.Fatalf("%d files left after a failed seal, want none", n)
	}

	// Another job's sealed output copied over this one's does not open.
	m2, _ := newManager(t, &sandboxtest.Fake{RunFunc: writingRun})
	a, _ := submit(t, m2, "j-a", []string{"counts.arrow"})
	b, _ := submit(t, m2, "j-b", []string{"counts.arrow"})
	data, _ := os.ReadFile(m2.sealedOut(a.ID, "counts.arrow"))
	os.WriteFile(m2.sealedOut(b.ID, "counts.arrow"), data, 0o600)
	r, err := m2.OpenOutput(ctx, b, "counts.arrow")
	if err == nil {
		_, err = io.ReadAll(r)
		r.Close()
	}
	if !errdefs.IsDataLoss(err) {
		t.Fatalf("another job's sealed output: got %v, want data loss", err)
	}
}
