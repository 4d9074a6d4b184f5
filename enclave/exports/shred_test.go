package exports

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/release"
	"github.com/enclave-dev/enclave/enclave/store"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

type memAudit struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (a *memAudit) Append(_ context.Context, ev audit.Event) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evs = append(a.evs, ev)
	return uint64(len(a.evs)), nil
}

func (a *memAudit) actions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, ev := range a.evs {
		out = append(out, ev.Action+" "+ev.Objects[0])
	}
	return out
}

type cancels struct{ ids []string }

func (c *cancels) Cancel(_ context.Context, id, why string) error {
	c.ids = append(c.ids, id)
	return nil
}

// shredWorld is a state with jobs that ran (their outputs sealed), their
// lineage, and exports: each piece the Shredder must reach or leave.
type shredWorld struct {
	db       *store.DB
	m        *jobs.Manager
	s        *Shredder
	a        *memAudit
	c        *cancels
	jobsDir  string
	exports  string
	released string // a released export of j-a
}

func newShredWorld(t *testing.T) *shredWorld {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	w := &shredWorld{db: openDB(t), a: &memAudit{}, c: &cancels{}, jobsDir: filepath.Join(dir, "jobs"), exports: filepath.Join(dir, "exports")}
	kr, err := local.Create(filepath.Join(dir, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	rt := &sandboxtest.Fake{RunFunc: func(ctx context.Context, spec sandbox.Spec, logs io.Writer) (sandbox.Exit, error) {
		io.WriteString(logs, "log\n")
		os.MkdirAll(spec.OutDir, 0o700)
		os.WriteFile(filepath.Join(spec.OutDir, "out.csv"), []byte("a,b\n"), 0o600)
		return sandbox.Exit{Reason: sandbox.ReasonExited, Outputs: []sandbox.File{{Name: "out.csv", Size: 4}}}, nil
	}}
	w.m, err = jobs.NewManager(jobs.Config{Dir: w.jobsDir, InputDir: filepath.Join(dir, "inputs"), PlainDir: t.TempDir(), Keyring: kr,
		UID: os.Getuid(), GID: os.Getgid(), MaxRunning: 1}, w.db, rt, nil, w.a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.m.Close)
	run := func(id, org string) {
		j := w.m.New(jobs.NewJob{ID: id, Org: org, Owner: "p_op", Image: sandboxtest.FakeDigest, Args: []string{"job"}, Limits: sandbox.DefaultLimits(),
			Outputs: []string{"out.csv"}, Revision: "r1"})
		if err := w.db.Tx(ctx, func(tx *sql.Tx) error { return w.m.Insert(ctx, tx, j) }, nil); err != nil {
			t.Fatal(err)
		}
		w.m.Enqueue(id)
		if j, err := w.m.Wait(ctx, id); err != nil || len(j.Outputs) != 1 {
			t.Fatalf("job %s: %+v, %v", id, j, err)
		}
	}
	run("j-a", "acme")
	run("j-b", "acme")
	run("j-c", "beta")
	// j-q is queued and never runs: the Shredder stops it.
	jq := w.m.New(jobs.NewJob{ID: "j-q", Org: "acme", Owner: "p_op", Image: sandboxtest.FakeDigest, Args: []string{"job"}, Limits: sandbox.DefaultLimits(),
		Revision: "r1"})
	if err := w.db.Tx(ctx, func(tx *sql.Tx) error { return w.m.Insert(ctx, tx, jq) }, nil); err != nil {
		t.Fatal(err)
	}
	for _, l := range []jobs.Lineage{{Job: "j-a", Dataset: "penalties", Version: 1, Grant: "g1", Org: "acme"},
		{Job: "j-q", Dataset: "penalties", Version: 1, Grant: "g1", Org: "acme"},
		{Job: "j-b", Dataset: "registry", Version: 1, Grant: "g2", Org: "acme"},
		{Job: "j-c", Dataset: "penalties", Version: 2, Grant: "g3", Org: "beta"}} {
		if _, err := w.db.SQL().Exec(`INSERT INTO job_lineage(job, dataset, version, grant_id, org) VALUES (?, ?, ?, ?, ?)`,
			l.Job, l.Dataset, l.Version, l.Grant, l.Org); err != nil {
			t.Fatal(err)
		}
	}
	svc := &Service{Dir: w.exports, Jobs: w.m}
	for _, x := range []struct{ id, job, state string }{{"x_1", "j-a", PendingReview}, {"x_2", "j-a", Released}, {"x_3", "j-b", ChecksFailed}} {
		j, _ := jobs.Get(ctx, w.db.SQL(), x.job)
		dir := filepath.Join(w.exports, x.id)
		os.MkdirAll(filepath.Join(dir, "files"), 0o700)
		os.MkdirAll(filepath.Join(dir, reviewDir, "files"), 0o700)
		key, err := w.m.DataKeys().Create(ctx, jobs.ExportKeyObject(x.id), jobs.KindExport, x.id, x.job)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.freeze(ctx, j, "out.csv", dir, 0, key); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(filepath.Join(dir, reviewDir))
		e := &Export{ID: x.id, Job: x.job, Org: j.Org, Requester: "p_op", Purpose: "p", Scenario: "s", Files: []File{{Name: "out.csv"}},
			Level: "general-2", State: x.state, Result: review.Result{}, ApprovalsNeeded: 1, Previews: []Preview{}, CreatedAt: t0}
		if err := Insert(ctx, w.db.SQL(), e); err != nil {
			t.Fatal(err)
		}
	}
	w.released = "x_2"
	w.s = &Shredder{DB: w.db, Keys: w.m.DataKeys(), JobsDir: w.jobsDir, ExportsDir: w.exports, Audit: w.a, Jobs: w.c}
	return w
}

func objectsOf(ds []jobs.Destruction) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Object)
	}
	sort.Strings(out)
	return out
}

// TestShredderDatasetDestroyed: the jobs that read the destroyed version
// (and no other) lose their sealed files and keys, their unreleased
// exports too (state destroyed); a released export keeps its files and
// key; a queued job is stopped; each destruction is recorded and audited
// before it takes effect; a second call destroys nothing more.
func TestShredderDatasetDestroyed(t *testing.T) {
	w := newShredWorld(t)
	ctx := context.Background()
	var logged bytes.Buffer
	w.s.Log = slog.New(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ds, err := w.s.DatasetDestroyed(ctx, "penalties", 1, "p_cust", "term ended")
	if err != nil {
		t.Fatal(err)
	}
	// The daemon's log is read outside the review: it names what was
	// destroyed, never how many files a job had left.
	if n := strings.Count(logged.String(), `"msg":"destroyed"`); n != len(ds) {
		t.Errorf("%d destruction lines logged for %d destructions:\n%s", n, len(ds), logged.String())
	}
	if strings.Contains(logged.String(), `"files"`) {
		t.Errorf("the log counts a job's files:\n%s", logged.String())
	}
	if got, want := objectsOf(ds), []string{"export:x_1", "job:j-a", "job:j-q"}; !slices.Equal(got, want) {
		t.Fatalf("destroyed: got %v, want %v", got, want)
	}
	if !slices.Equal(w.c.ids, []string{"j-q"}) {
		t.Errorf("stopped: got %v, want the queued j-q", w.c.ids)
	}
	for _, d := range ds {
		if d.Cause != "dataset:penalties@1" || d.Actor != "p_cust" || d.Reason != "term ended" || d.Keyring != "local" ||
			!strings.Contains(d.Technique, "crypto-shredding") || d.Process == "" || d.Time.IsZero() {
			t.Errorf("record: got %+v", d)
		}
	}
	if d := ds[slices.IndexFunc(ds, func(d jobs.Destruction) bool { return d.Object == "job:j-a" })]; d.Files != 2 || !strings.HasPrefix(d.KeyID, "kek-") {
		t.Errorf("the job's record: %d files, key %q; want its log and output and the destroyed key's id", d.Files, d.KeyID)
	}
	if _, err := os.Stat(filepath.Join(w.jobsDir, "j-a")); !os.IsNotExist(err) {
		t.Errorf("j-a's files: %v, want gone", err)
	}
	if _, err := os.Stat(filepath.Join(w.exports, "x_1")); !os.IsNotExist(err) {
		t.Errorf("x_1's files: %v, want gone", err)
	}
	j, _ := jobs.Get(ctx, w.db.SQL(), "j-a")
	if _, err := w.m.OpenOutput(ctx, j, "out.csv"); !errdefs.IsNotFound(err) {
		t.Errorf("an output of j-a: got %v, want not found", err)
	}
	if e, _ := Get(ctx, w.db.SQL(), "x_1"); e.State != Destroyed {
		t.Errorf("x_1: got %s, want destroyed", e.State)
	}
	if _, _, err := Decide(ctx, w.db.SQL(), "x_1", Review{Person: "p_off", Decision: Approve, Time: t0}); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("approving a destroyed export: got %v, want failed precondition", err)
	}
	svc := &Service{Dir: w.exports, Jobs: w.m}
	if r, err := svc.OpenFile(ctx, w.released, 0); err != nil {
		t.Errorf("the released export's file: %v, want it kept", err)
	} else {
		r.Close()
	}
	if e, _ := Get(ctx, w.db.SQL(), w.released); e.State != Released {
		t.Errorf("the released export: got %s", e.State)
	}
	for _, id := range []string{"j-b", "j-c"} {
		j, _ := jobs.Get(ctx, w.db.SQL(), id)
		if r, err := w.m.OpenOutput(ctx, j, "out.csv"); err != nil {
			t.Errorf("%s, which did not read penalties@1: %v", id, err)
		} else {
			r.Close()
		}
	}
	got := w.a.actions()
	if i, k := slices.Index(got, "derived.destroy job:j-a"), slices.Index(got, "derived.destruction job:j-a"); i < 0 || k < i {
		t.Errorf("audit: got %v, want the intent before the destruction", got)
	}
	reg, err := jobs.Destructions(ctx, w.db.SQL(), "")
	if err != nil || len(reg) != 3 {
		t.Fatalf("register: got %d, %v; want 3", len(reg), err)
	}
	again, err := w.s.DatasetDestroyed(ctx, "penalties", 1, "p_cust", "again")
	if err != nil || len(again) != 0 {
		t.Fatalf("second call: got %v, %v; want nothing", objectsOf(again), err)
	}
	if reg, _ := jobs.Destructions(ctx, w.db.SQL(), ""); len(reg) != 3 {
		t.Errorf("register after the second call: %d records, want 3", len(reg))
	}
}

// TestShredderGrantAndOrg: an ended grant reaches the jobs that read
// under it; a revoked organisation reaches all its jobs, and nothing of
// another organisation.
func TestShredderGrantAndOrg(t *testing.T) {
	w := newShredWorld(t)
	ctx := context.Background()
	ds, err := w.s.GrantEnded(ctx, "g2", "", "the term ended")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := objectsOf(ds), []string{"export:x_3", "job:j-b"}; !slices.Equal(got, want) {
		t.Fatalf("grant g2: got %v, want %v", got, want)
	}
	if ds[0].Actor != "system" || ds[0].Cause != "grant:g2" {
		t.Errorf("record: got %+v, want actor system and cause grant:g2", ds[0])
	}
	ds, err = w.s.OrgRevoked(ctx, "beta", "p_auth", "licence revoked")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := objectsOf(ds), []string{"job:j-c"}; !slices.Equal(got, want) {
		t.Fatalf("organisation beta: got %v, want %v", got, want)
	}
	j, _ := jobs.Get(ctx, w.db.SQL(), "j-a")
	if r, err := w.m.OpenOutput(ctx, j, "out.csv"); err != nil {
		t.Errorf("j-a, of neither basis: %v", err)
	} else {
		r.Close()
	}
	ds, _ = w.s.OrgRevoked(ctx, "acme", "p_auth", "licence revoked")
	if got, want := objectsOf(ds), []string{"export:x_1", "job:j-a", "job:j-q"}; !slices.Equal(got, want) {
		t.Fatalf("organisation acme: got %v, want %v (j-b and x_3 already destroyed)", got, want)
	}
}

// TestApplyTombstones: a job and an export whose keys are tombstoned (as a
// restore leaves them) are destroyed with cause restore; the others stay.
func TestApplyTombstones(t *testing.T) {
	w := newShredWorld(t)
	ctx := context.Background()
	dead := map[string]bool{jobs.JobKeyObject("j-b"): true, jobs.ExportKeyObject("x_1"): true}
	versions, ds, err := w.s.ApplyTombstones(ctx, nil, func(o string) (bool, error) { return dead[o], nil })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := objectsOf(ds), []string{"export:x_1", "export:x_3", "job:j-b"}; len(versions) != 0 || !slices.Equal(got, want) {
		t.Fatalf("got versions %v, objects %v; want none and %v", versions, got, want)
	}
	for _, d := range ds {
		if d.Cause != "restore" || d.Reason != RestoreReason {
			t.Errorf("record: got %+v, want cause restore", d)
		}
	}
}

// TestTidySealsLegacyPlaintext: a bundle an earlier daemon kept as
// plaintext is sealed at start and still downloads as it was.
func TestTidySealsLegacyPlaintext(t *testing.T) {
	w := newShredWorld(t)
	ctx := context.Background()
	svc := &Service{Dir: w.exports, Jobs: w.m}
	bundle := []byte("ARROW1 a released bundle")
	if err := os.WriteFile(svc.BundlePath(w.released), bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Tidy(ctx); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(svc.BundlePath(w.released))
	if !strings.HasPrefix(string(data), "ENCSEAL\x00") {
		t.Fatalf("the legacy bundle after Tidy is not sealed")
	}
	f, err := svc.OpenBundle(ctx, w.released)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != string(bundle) {
		t.Fatalf("the bundle reads back %q", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(w.exports, w.released)); slices.ContainsFunc(ents, func(e os.DirEntry) bool { return e.Name() == reviewDir }) {
		t.Errorf("OpenBundle left its review directory")
	}
}

// TestOrphanExport: an export request recorded while its job's outputs
// were being destroyed (its job's key already shredded) is refused a
// release and destroyed by Orphans.
func TestOrphanExport(t *testing.T) {
	w := newShredWorld(t)
	ctx := context.Background()
	if _, err := w.s.DatasetDestroyed(ctx, "penalties", 1, "p_cust", "term ended"); err != nil {
		t.Fatal(err)
	}
	// The race: x_9 of j-a recorded after j-a's destruction.
	os.MkdirAll(filepath.Join(w.exports, "x_9", "files"), 0o700)
	os.WriteFile(filepath.Join(w.exports, "x_9", "files", "0000"), []byte("sealed?"), 0o600)
	e := &Export{ID: "x_9", Job: "j-a", Org: "acme", Requester: "p_op", Purpose: "p", Scenario: "s", Files: []File{{Name: "out.csv"}},
		Level: "general-2", State: PendingReview, Result: review.Result{}, ApprovalsNeeded: 1, Previews: []Preview{}, CreatedAt: t0}
	if err := Insert(ctx, w.db.SQL(), e); err != nil {
		t.Fatal(err)
	}
	svc := &Service{Dir: w.exports, Jobs: w.m}
	j, _ := jobs.Get(ctx, w.db.SQL(), "j-a")
	if _, err := svc.Release(ctx, e, j, release.Predicate{}); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("release of an export of destroyed outputs: got %v, want failed precondition", err)
	}
	ds, err := w.s.Orphans(ctx)
	if err != nil || len(ds) != 1 || ds[0].Object != "export:x_9" || ds[0].Cause != "job:j-a" {
		t.Fatalf("orphans: got %+v, %v; want export:x_9", ds, err)
	}
	if _, err := os.Stat(filepath.Join(w.exports, "x_9")); !os.IsNotExist(err) {
		t.Errorf("x_9's files: %v, want gone", err)
	}
	if ds, err := w.s.Orphans(ctx); err != nil || len(ds) != 0 {
		t.Errorf("second pass: got %+v, %v; want nothing", ds, err)
	}
}

// TestFreezeChecksTheRecordedHash: a sealed output that decrypts but is
// not the file collected under its name (two outputs of a job share a
// key) is refused as data loss when it is frozen.
func TestFreezeChecksTheRecordedHash(t *testing.T) {
	w := newShredWorld(t)
	ctx := context.Background()
	j, _ := jobs.Get(ctx, w.db.SQL(), "j-b")
	svc := &Service{Dir: w.exports, Jobs: w.m}
	key := make([]byte, 32)
	dir := filepath.Join(w.exports, "x_new")
	os.MkdirAll(filepath.Join(dir, "files"), 0o700)
	os.MkdirAll(filepath.Join(dir, reviewDir, "files"), 0o700)
	if _, _, err := svc.freeze(ctx, j, "out.csv", dir, 0, key); err != nil {
		t.Fatalf("freeze of the output as collected: %v", err)
	}
	j.Outputs[0].SHA256 = strings.Repeat("0", 64) // as if another file were under its name
	os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "files"), 0o700)
	os.MkdirAll(filepath.Join(dir, reviewDir, "files"), 0o700)
	if _, _, err := svc.freeze(ctx, j, "out.csv", dir, 0, key); !errdefs.IsDataLoss(err) {
		t.Fatalf("freeze of a file that is not the one collected: got %v, want data loss", err)
	}
}

// TestOpenBundleConcurrent: downloads that overlap each read the whole
// bundle, and leave no decrypted copy behind.
func TestOpenBundleConcurrent(t *testing.T) {
	w := newShredWorld(t)
	ctx := context.Background()
	svc := &Service{Dir: w.exports, Jobs: w.m}
	bundle := []byte("ARROW1 a released bundle")
	os.WriteFile(svc.BundlePath(w.released), bundle, 0o600)
	if _, err := svc.Tidy(ctx); err != nil { // seals it
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := svc.OpenBundle(ctx, w.released)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			if got, _ := io.ReadAll(f); string(got) != string(bundle) {
				errs <- errdefs.ErrDataLoss
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a concurrent download: %v", err)
	}
	if n := countFilesUnder(t, filepath.Join(w.exports, w.released)); n != 2 {
		t.Errorf("the export's directory holds %d files after the downloads, want its frozen file and its bundle", n)
	}
}

func countFilesUnder(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}
