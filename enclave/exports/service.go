package exports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/containerd/errdefs"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/checks"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/checker"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/release"
	"github.com/enclave-dev/enclave/enclave/sealedfile"
)

// Service freezes candidate files, runs the checks and builds release
// bundles. It is safe for concurrent use.
type Service struct {
	Dir     string // DATA/exports
	Jobs    *jobs.Manager
	Catalog *datasets.Catalog
	Keyring keys.Keyring
	Checks  []review.Check
	Params  review.Params
	// Runner runs the checks, the previews, the rebuild of released files
	// and the filter of job logs (everything that parses what a job wrote)
	// in a check process with limits (enclave/checker), whose crash fails
	// the check closed instead of ending the daemon. Nil runs them in this
	// process; only tests do that.
	Runner *checker.Runner
	// CheckSet names Checks among the check sets of the runner's child
	// (ChildOps); empty is DefaultCheckSet.
	CheckSet string
}

// Request is what an operator asks to take out.
type Request struct {
	Files    []string
	Purpose  string
	Scenario string
	Declared map[string]string
}

var levelRank = map[string]int{"general-1": 1, "general-2": 2, "general-3": 3, "general-4": 4, "important": 5}

// Prepare freezes the requested outputs of job j under a new export id and
// runs every check over them. The export is returned for the caller to
// record; on error nothing is left behind.
func (s *Service) Prepare(ctx context.Context, id string, j *jobs.Job, org, requester string, req Request, now time.Time) (_ *Export, err error) {
	if len(req.Files) == 0 {
		return nil, fmt.Errorf("an export names at least one output file: %w", errdefs.ErrInvalidArgument)
	}
	for name, lvl := range req.Declared {
		if _, ok := levelRank[lvl]; !ok {
			return nil, fmt.Errorf("declared level %q of %q is not a level: %w", lvl, name, errdefs.ErrInvalidArgument)
		}
	}
	dir := filepath.Join(s.Dir, id)
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o700); err != nil {
		return nil, err
	}
	// The frozen files rest sealed under the export's own data key
	// (staging.go); the checks read their plaintext in the private review
	// directory, removed when the review is over.
	keys := s.Jobs.DataKeys()
	dkey, err := keys.Create(ctx, jobs.ExportKeyObject(id), jobs.KindExport, id, j.ID)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("export %q: %w", id, err)
	}
	defer clear(dkey)
	defer func() {
		if err != nil {
			s.Discard(id)
		}
	}()
	plainDir := filepath.Join(dir, reviewDir)
	if err := os.MkdirAll(filepath.Join(plainDir, "files"), 0o700); err != nil {
		return nil, err
	}
	defer os.RemoveAll(plainDir)
	e := &Export{ID: id, Job: j.ID, Org: org, Requester: requester, Purpose: req.Purpose, Scenario: req.Scenario, Declared: req.Declared,
		Level: j.MaxLevel(), State: PendingReview, Reviews: []Review{}, CreatedAt: now.UTC()}
	rq := &review.Request{Params: s.Params, DeclaredLevels: req.Declared}
	seen := map[string]bool{}
	for _, name := range req.Files {
		if seen[name] {
			return nil, fmt.Errorf("file %q named twice: %w", name, errdefs.ErrInvalidArgument)
		}
		seen[name] = true
		f, path, err := s.freeze(ctx, j, name, dir, len(e.Files), dkey)
		if err != nil {
			return nil, err
		}
		e.Files = append(e.Files, f)
		rq.Files = append(rq.Files, review.File{Name: f.Name, Path: path, SHA256: f.SHA256})
	}
	// The job's manifest declares the marks of its non-Arrow outputs.
	if !seen[review.ManifestName] {
		if f, path, err := s.freeze(ctx, j, review.ManifestName, dir, len(e.Files), dkey); err == nil {
			rq.Manifest = &review.File{Name: f.Name, Path: path, SHA256: f.SHA256}
		}
	} else {
		for _, f := range rq.Files {
			if f.Name == review.ManifestName {
				m := f
				rq.Manifest = &m
			}
		}
	}
	key, err := s.Keyring.Secret(ctx, "fingerprint")
	if err != nil {
		return nil, err
	}
	if rq.Hasher, err = fingerprint.NewHasher(key); err != nil {
		return nil, err
	}
	// The output contract reads the inputs' rows to trace every cell of
	// an output table to its group of records: they are decrypted into the
	// export's private directory for the review and removed after it.
	plain := filepath.Join(plainDir, "inputs")
	if err := os.Mkdir(plain, 0o700); err != nil {
		return nil, err
	}
	for i, in := range j.Inputs {
		v, err := s.Catalog.Get(ctx, nil, in.Dataset, in.Version)
		if err != nil {
			return nil, err
		}
		ri := review.Input{Dataset: v.Name, Version: v.Version, Level: v.Level, Market: v.Market, HasPI: v.HasPI(), Marks: v.Marks, Rows: v.Rows}
		if v.State != datasets.Destroyed {
			// An error opening the index fails closed: the check that
			// needs it cannot pass without it.
			if ri.Fingerprints, err = s.Catalog.Fingerprints(ctx, v); err != nil {
				return nil, fmt.Errorf("fingerprints of %s: %w", v.ID(), err)
			}
		}
		if v.Readable() == nil {
			// A sealed or destroyed version is not read: its rows stay
			// closed and tables traced to it fail the contract.
			ri.Path = filepath.Join(plain, fmt.Sprintf("%04d.arrow", i))
			if err := s.Catalog.Decrypt(ctx, v, ri.Path); err != nil {
				return nil, fmt.Errorf("rows of %s for the output contract: %w", v.ID(), err)
			}
		}
		rq.Inputs = append(rq.Inputs, ri)
		if in.Market == "authorized" && e.ApprovalsNeeded < 2 {
			e.ApprovalsNeeded = 2
		}
	}
	prev, err := s.previous(ctx, j, plainDir)
	if err != nil {
		return nil, err
	}
	rq.Previous = prev
	if s.Runner != nil {
		set := s.CheckSet
		if set == "" {
			set = DefaultCheckSet
		}
		e.Result = s.Runner.Review(ctx, set, s.Checks, rq, key)
	} else {
		e.Result = review.Run(ctx, rq, s.Checks...)
	}
	e.Previews = s.previews(ctx, rq.Files)
	// The job's outputs may have been destroyed with their basis while the
	// review ran: the request is then refused, its files discarded.
	if err := s.basisAlive(ctx, j.ID); err != nil {
		return nil, err
	}
	if e.Result.Verdict == review.VerdictFail {
		e.State = ChecksFailed
	}
	// Outputs at general-3 or above, or from authorization-required data,
	// need two distinct officers.
	if e.ApprovalsNeeded < 1 {
		e.ApprovalsNeeded = 1
	}
	if levelRank[e.Level] >= 3 {
		e.ApprovalsNeeded = 2
	}
	return e, nil
}

// freeze copies one output of j, decrypted from the job's sealed file,
// into the export's directory as its i-th frozen file, sealed under key,
// and into the private review directory as plaintext for the checks; it
// returns the file and the path of the plaintext copy.
func (s *Service) freeze(ctx context.Context, j *jobs.Job, name, dir string, i int, key []byte) (File, string, error) {
	in, err := s.Jobs.OpenOutput(ctx, j, name)
	if errdefs.IsNotFound(err) {
		return File{}, "", fmt.Errorf("job %q has no output %q (or its outputs were destroyed): %w", j.ID, name, errdefs.ErrInvalidArgument)
	}
	if err != nil {
		return File{}, "", err
	}
	defer in.Close()
	plain := filepath.Join(dir, reviewDir, "files", fmt.Sprintf("%04d", i))
	n, sum, err := freezeTo(in, s.FilePath(filepath.Base(dir), i), plain, key)
	if err != nil {
		return File{}, "", err
	}
	// The sealed file must be the output the job wrote: the hash recorded
	// at its end binds the file to its name (two outputs of one job share
	// a key, so a swap would otherwise decrypt).
	for _, o := range j.Outputs {
		if o.Name == name && o.SHA256 != sum {
			return File{}, "", fmt.Errorf("output %q of job %q does not match the hash recorded when it was collected: %w", name, j.ID, errdefs.ErrDataLoss)
		}
	}
	return File{Name: name, Size: n, SHA256: sum}, plain, nil
}

// FilePath returns where the frozen copy of the i-th file of export id is
// (sealed: OpenFile reads it).
func (s *Service) FilePath(id string, i int) string {
	return filepath.Join(s.Dir, id, "files", fmt.Sprintf("%04d", i))
}

// previous returns the files already released from jobs that read under
// any of the same grants, for the differencing check.
func (s *Service) previous(ctx context.Context, j *jobs.Job, plainDir string) ([]review.PreviousRelease, error) {
	mine := map[string]bool{}
	for _, g := range j.Grants {
		mine[g] = true
	}
	released, err := List(ctx, s.Jobs.DB(), j.Org, true)
	if err != nil {
		return nil, err
	}
	var out []review.PreviousRelease
	for _, e := range released {
		pj, err := jobs.Get(ctx, s.Jobs.DB(), e.Job)
		if err != nil {
			continue
		}
		shared := false
		for _, g := range pj.Grants {
			shared = shared || mine[g]
		}
		if !shared {
			continue
		}
		for i, f := range e.Files {
			path := filepath.Join(plainDir, "previous", fmt.Sprintf("%s-%04d", e.ID, i))
			if err := s.decryptFile(ctx, e.ID, i, path); err != nil {
				return nil, fmt.Errorf("released file %d of %q for the differencing check: %w", i, e.ID, err)
			}
			out = append(out, review.PreviousRelease{Release: e.ID, File: review.File{Name: f.Name, Path: path, SHA256: f.SHA256}})
		}
	}
	return out, nil
}

// Discard removes the frozen files of an export that was not recorded and
// shreds its key.
func (s *Service) Discard(id string) {
	os.RemoveAll(filepath.Join(s.Dir, id))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.Jobs.DataKeys().Shred(ctx, jobs.ExportKeyObject(id), jobs.KindExport, id, "")
}

// BundlePath is where the release bundle of export id is kept.
func (s *Service) BundlePath(id string) string { return filepath.Join(s.Dir, id, "release.tar") }

// Release writes the signed bundle of an approved export and returns its
// SHA-256.
func (s *Service) Release(ctx context.Context, e *Export, j *jobs.Job, pred release.Predicate) (string, error) {
	if err := s.basisAlive(ctx, e.Job); err != nil {
		return "", err
	}
	pub, err := s.Keyring.PublicKey(ctx)
	if err != nil {
		return "", err
	}
	var srcs []release.Source
	// The frozen files are decrypted into the private review directory for
	// the rebuild and the bundle; it is removed when the bundle is written.
	plainDir := filepath.Join(s.Dir, e.ID, reviewDir)
	if err := os.RemoveAll(plainDir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(plainDir, "files"), 0o700); err != nil {
		return "", err
	}
	defer os.RemoveAll(plainDir)
	canon := filepath.Join(plainDir, "canonical")
	if err := os.Mkdir(canon, 0o700); err != nil {
		return "", err
	}
	for i, f := range e.Files {
		path := filepath.Join(plainDir, "files", fmt.Sprintf("%04d", i))
		if err := s.decryptFile(ctx, e.ID, i, path); err != nil {
			return "", fmt.Errorf("frozen file %d of export %q: %w", i, e.ID, err)
		}
		rf := release.File{Name: f.Name, SHA256: f.SHA256, Size: f.Size}
		// A table leaves rebuilt from the values the checks read, so that
		// nothing a writer hid where readers do not look goes with it. A
		// table of types that cannot be rebuilt (which the contract fails,
		// so only an officers' override releases it) leaves as it is.
		dst := filepath.Join(canon, fmt.Sprintf("%04d", i))
		out, err := s.releaseFile(ctx, releaseFileRequest{Src: path, Name: f.Name, Dst: dst})
		if err != nil {
			return "", fmt.Errorf("release file %d of export %q: %w", i, e.ID, err)
		}
		if out.Rebuilt {
			path, rf.SHA256, rf.Size = dst, out.SHA256, out.Size
		}
		rf.Marks, rf.Fields, rf.Level = out.Marks, out.Fields, out.Level
		pred.Files = append(pred.Files, rf)
		srcs = append(srcs, release.Source{Name: f.Name, Path: path})
	}
	tmp := s.BundlePath(e.ID) + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	// The bundle rests sealed under the export's key too (OpenBundle).
	key, err := s.Jobs.DataKeys().Open(ctx, jobs.ExportKeyObject(e.ID))
	if err != nil {
		out.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("export %q: %w", e.ID, err)
	}
	defer clear(key)
	sw, err := sealedfile.NewWriter(out, key)
	h := sha256.New()
	if err == nil {
		err = release.Write(io.MultiWriter(sw, h), pred, srcs, pub, func(m []byte) ([]byte, error) { return s.Keyring.Sign(ctx, m) })
	}
	if err == nil {
		err = sw.Close()
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.BundlePath(e.ID))
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// arrowMarks reads the schema marks of an Arrow IPC file, for the
// attestation; other files have none here (their marks are in the
// manifest the checks read).
func arrowMarks(path string) (marks, fields map[string]string, level string) {
	if checks.GuardArrowFile(path) != nil {
		return nil, nil, ""
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) > 1<<30 {
		return nil, nil, ""
	}
	r, err := ipc.NewFileReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, ""
	}
	defer r.Close()
	sc := r.Schema()
	marks = map[string]string{}
	md := sc.Metadata()
	for i, k := range md.Keys() {
		marks[k] = md.Values()[i]
	}
	fields = map[string]string{}
	for _, f := range sc.Fields() {
		if i := f.Metadata.FindKey("enclave.level"); i >= 0 {
			fields[f.Name] = f.Metadata.Values()[i]
		}
	}
	return marks, fields, marks["enclave.level"]
}

// WithheldLines returns the 0-based numbers of the lines of data, the log
// of job j, that an operator may not read: lines that hold a value of the
// dataset versions the job read (the fingerprint scan) and lines the
// egress text rule withholds (checks.LogFilter). The scan runs in a check
// process when there is a runner. An error means the log cannot be
// checked, and the caller withholds all of it.
func (s *Service) WithheldLines(ctx context.Context, j *jobs.Job, data []byte) (map[int]bool, error) {
	key, err := s.Keyring.Secret(ctx, "fingerprint")
	if err != nil {
		return nil, err
	}
	h, err := fingerprint.NewHasher(key)
	if err != nil {
		return nil, err
	}
	var sets []*fingerprint.Set
	for _, in := range j.Inputs {
		v, err := s.Catalog.Get(ctx, nil, in.Dataset, in.Version)
		if err != nil {
			return nil, err
		}
		if v.State == datasets.Destroyed {
			continue
		}
		set, err := s.Catalog.Fingerprints(ctx, v)
		if err != nil {
			return nil, err
		}
		sets = append(sets, set)
	}
	var lines []int
	if s.Runner == nil {
		lines, err = filterLog(ctx, h, sets, s.Params, data)
	} else {
		if data == nil {
			data = []byte{}
		}
		err = s.Runner.Call(ctx, checker.Request{Op: opLogFilter, Payload: s.Params, Secret: key, Sets: sets, Blob: data}, &lines)
	}
	if err != nil {
		return nil, err
	}
	out := make(map[int]bool, len(lines))
	for _, n := range lines {
		out[n] = true
	}
	return out, nil
}
