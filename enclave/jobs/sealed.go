package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/sealedfile"
	sandbox "github.com/enclave-dev/enclave/sandbox-runtime"
)

// Where a job's files are (R-13, DESIGN.md section 5 promise 9):
//
//   - while it runs, its log and, once it ended, its collected outputs are
//     plaintext in PlainDir/ID (log, out/NAME), outside the data directory,
//     in the sandbox's private directory (mode 0700, root only); the
//     container itself sees its inputs and /out (a tmpfs) in its own work
//     area;
//   - when the job ends (finish), the log and each declared output are
//     sealed (enclave/sealedfile: AES-256-GCM in chunks) under the job's own
//     data key into Dir/ID/log and Dir/ID/out/NAME, and PlainDir/ID is
//     removed. The data key is wrapped by the keyring under the object
//     JobKeyObject(ID) and kept in derived_keys; shredding it makes every
//     sealed file of the job, and every copy of them, unreadable.
//
// Nothing of a job rests as plaintext under the data directory.

func (m *Manager) plainArea(id string) string { return filepath.Join(m.cfg.PlainDir, id) }

func (m *Manager) plainLog(id string) string { return filepath.Join(m.plainArea(id), "log") }

func (m *Manager) plainOut(id string) string { return filepath.Join(m.plainArea(id), "out") }

func (m *Manager) sealedLog(id string) string { return filepath.Join(m.cfg.Dir, id, "log") }

func (m *Manager) sealedOut(id, name string) string {
	return filepath.Join(m.cfg.Dir, id, "out", filepath.FromSlash(name))
}

// DataKeys returns the store of derived data keys the manager seals with.
func (m *Manager) DataKeys() *DataKeys { return m.keys }

// sealLocks orders the sealing of a job's files against their shredding.
var sealLocks [64]sync.Mutex

func lockJob(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	mu := &sealLocks[h.Sum32()%uint32(len(sealLocks))]
	mu.Lock()
	return mu.Unlock
}

// openPlainLog opens (creating) the plaintext log of a running job.
func (m *Manager) openPlainLog(id string, truncate bool) (*os.File, error) {
	if err := os.MkdirAll(m.plainArea(id), 0o700); err != nil {
		return nil, err
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if truncate {
		flags = os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	}
	return os.OpenFile(m.plainLog(id), flags, 0o600)
}

// sealJob seals what job j left in its plaintext area (its log, and the
// declared outputs the sandbox collected, ex.Outputs) under the job's data
// key, removes the plaintext, and returns the sealed outputs, the entries
// dropped as undeclared, and a note when the outputs could not be kept.
// A job whose key was shredded (its basis ended while it ran) keeps
// nothing. Whatever happens, no plaintext is left.
func (m *Manager) sealJob(ctx context.Context, j *Job, ex sandbox.Exit) (outs []Output, undeclared int, note string) {
	unlock := lockJob(j.ID)
	defer unlock()
	area := m.plainArea(j.ID)
	defer func() {
		if err := os.RemoveAll(area); err != nil {
			m.cfg.Log.Error("remove the job's plaintext area", "job", j.ID, "err", err)
		}
	}()
	outs = []Output{}
	undeclared = ex.Undeclared
	declared := map[string]bool{}
	for _, n := range j.Declared {
		declared[n] = true
	}
	var files []sandbox.File
	for _, f := range ex.Outputs {
		if !declared[f.Name] {
			// The runtime collects only declared files; should one
			// bring more, it is dropped here all the same.
			undeclared++
			continue
		}
		files = append(files, f)
	}
	_, logErr := os.Lstat(m.plainLog(j.ID))
	if len(files) == 0 && logErr != nil {
		return outs, undeclared, ""
	}
	key, err := m.keys.Create(ctx, JobKeyObject(j.ID), KindJob, j.ID, j.ID)
	if errdefs.IsAlreadyExists(err) {
		key, err = m.keys.Open(ctx, JobKeyObject(j.ID))
	}
	if err != nil {
		if errors.Is(err, ErrShredded) {
			return outs, undeclared, "the job's basis ended while it ran: its log and outputs were destroyed unsealed"
		}
		m.cfg.Log.Error("the job's data key", "job", j.ID, "err", err)
		return outs, undeclared, "the job's log and outputs could not be sealed (" + classOf(err) + ") and were removed"
	}
	defer clear(key)
	if err := os.MkdirAll(filepath.Join(m.cfg.Dir, j.ID, "out"), 0o700); err != nil {
		return outs, undeclared, "the job's directory could not be made; its outputs were removed"
	}
	if logErr == nil {
		if _, _, err := sealFile(m.plainLog(j.ID), m.sealedLog(j.ID), key); err != nil {
			m.cfg.Log.Error("seal the job's log", "job", j.ID, "err", err)
		}
	}
	for _, f := range files {
		size, sum, err := sealFile(filepath.Join(m.plainOut(j.ID), filepath.FromSlash(f.Name)), m.sealedOut(j.ID, f.Name), key)
		if err != nil {
			m.cfg.Log.Error("seal an output", "job", j.ID, "err", err)
			continue
		}
		outs = append(outs, Output{Name: f.Name, Size: size, SHA256: sum})
	}
	return outs, undeclared, ""
}

// sealFile seals the plaintext file src into dst (written whole or not at
// all) and returns the plaintext's size and SHA-256.
func sealFile(src, dst string, key []byte) (int64, string, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, "", err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, "", err
	}
	defer os.Remove(tmp)
	sw, err := sealedfile.NewWriter(out, key)
	if err != nil {
		out.Close()
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(sw, h), in)
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
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// sealedReader is the plaintext of a sealed file.
type sealedReader struct {
	*sealedfile.Reader
	f *os.File
}

func (r sealedReader) Close() error { return r.f.Close() }

func openSealed(path string, key []byte) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := sealedfile.NewReader(f, key)
	if err != nil {
		f.Close()
		return nil, err
	}
	return sealedReader{Reader: r, f: f}, nil
}

// OpenOutput returns the plaintext of one collected output of job j,
// decrypted as it is read (an altered file fails with errdefs.ErrDataLoss
// before any byte of it is returned past the altered chunk). The name must
// be declared and collected, and the job's key not shredded: anything else
// is errdefs.ErrNotFound.
func (m *Manager) OpenOutput(ctx context.Context, j *Job, name string) (io.ReadCloser, error) {
	if !slices.Contains(j.Declared, name) || !slices.ContainsFunc(j.Outputs, func(o Output) bool { return o.Name == name }) {
		return nil, fmt.Errorf("job %q has no output %q: %w", j.ID, name, errdefs.ErrNotFound)
	}
	key, err := m.keys.Open(ctx, JobKeyObject(j.ID))
	if err != nil {
		return nil, fmt.Errorf("outputs of job %q: %w", j.ID, err)
	}
	defer clear(key)
	r, err := openSealed(m.sealedOut(j.ID, name), key)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("job %q has no output %q: %w", j.ID, name, errdefs.ErrNotFound)
	}
	return r, err
}

// openLog returns a job's log: the plaintext one while the job runs, the
// sealed one, decrypted, once it ended.
func (m *Manager) openLog(id string) (io.ReadCloser, error) {
	unlock := lockJob(id)
	f, err := os.Open(m.plainLog(id))
	unlock()
	if err == nil {
		return f, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, err := m.keys.Open(ctx, JobKeyObject(id))
	if err != nil {
		if errors.Is(err, ErrShredded) {
			return nil, fmt.Errorf("the log of job %q was destroyed: %w", id, errdefs.ErrNotFound)
		}
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("job %q has no log yet: %w", id, errdefs.ErrNotFound)
		}
		return nil, err
	}
	defer clear(key)
	r, err := openSealed(m.sealedLog(id), key)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("job %q has no log: %w", id, errdefs.ErrNotFound)
	}
	return r, err
}

// tidyPlain runs at start: the plaintext areas of jobs that are not open
// (queued, initializing or running) are what a daemon that died between a
// job's end and its sealing left: removed (the end of such a job is on
// record; a running job the sandbox lost is sealed as it ends).
func (m *Manager) tidyPlain(open map[string]bool) error {
	ents, err := os.ReadDir(m.cfg.PlainDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if open[e.Name()] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(m.cfg.PlainDir, e.Name())); err != nil {
			return fmt.Errorf("remove a job's plaintext area: %w", err)
		}
	}
	return nil
}

// checkPlainDir refuses a plaintext directory that is missing or lies in
// the jobs directory (under the data directory).
func checkPlainDir(plain, dir string) error {
	if plain == "" || !filepath.IsAbs(plain) {
		return fmt.Errorf("jobs: the plaintext directory must be an absolute path outside the data directory: %w", errdefs.ErrInvalidArgument)
	}
	if rel, err := filepath.Rel(filepath.Dir(dir), plain); err == nil && rel != ".." && !filepath.IsAbs(rel) && !startsWithDotDot(rel) {
		return fmt.Errorf("jobs: the plaintext directory %q is under the data directory: %w", plain, errdefs.ErrInvalidArgument)
	}
	return nil
}

func startsWithDotDot(rel string) bool {
	return len(rel) >= 3 && rel[:3] == ".."+string(filepath.Separator)
}

// DestroyFiles removes the sealed files of job id under dir (the jobs
// directory, DATA/jobs), after its key was shredded, and returns how many
// files and bytes there were. Sealing the job's files waits for it, and
// seals nothing once the key is shredded.
func DestroyFiles(dir, id string) (files int, bytes int64, err error) {
	unlock := lockJob(id)
	defer unlock()
	return RemoveTree(filepath.Join(dir, id))
}

// RemoveTree counts the regular files and bytes under root, then removes
// it and syncs its parent. A missing root is nothing to remove.
func RemoveTree(root string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				files++
				bytes += fi.Size()
			}
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return files, bytes, err
	}
	if err := os.RemoveAll(root); err != nil {
		return files, bytes, err
	}
	if d, err := os.Open(filepath.Dir(root)); err == nil {
		d.Sync()
		d.Close()
	}
	return files, bytes, nil
}

// sealLegacy seals, once, what daemons before sealed outputs left as
// plaintext under the jobs directory: for every ended job without a data
// key whose directory holds files, a key is made and each file that is
// not sealed already is sealed in place. A job whose key was shredded
// (doomed) loses its files instead.
func (m *Manager) sealLegacy(ctx context.Context) error {
	rows, err := m.db.SQL().QueryContext(ctx, `SELECT id FROM jobs WHERE state IN ('complete', 'executor-error', 'system-error', 'canceled')
		AND id NOT IN (SELECT owner FROM derived_keys WHERE kind = ?) ORDER BY id`, KindJob)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if err := SealInPlace(ctx, m.keys, filepath.Join(m.cfg.Dir, id), JobKeyObject(id), KindJob, id, id); err != nil {
			return fmt.Errorf("seal the plaintext an earlier daemon left of job %q: %w", id, err)
		}
	}
	return nil
}

// SealInPlace seals every regular file under dir that is not sealed
// already under the data key of object (made if it has none), each
// replaced whole. When the object's key was shredded the files are
// removed instead. A dir without plaintext files needs no key.
func SealInPlace(ctx context.Context, k *DataKeys, dir, object, kind, owner, job string) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			sealed, err := isSealed(p)
			if err != nil {
				return err
			}
			if !sealed {
				files = append(files, p)
			}
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(files) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	unlock := lockJob(job)
	defer unlock()
	key, err := k.Create(ctx, object, kind, owner, job)
	if errdefs.IsAlreadyExists(err) {
		key, err = k.Open(ctx, object)
	}
	if errors.Is(err, ErrShredded) {
		_, _, err := RemoveTree(dir)
		return err
	}
	if err != nil {
		return err
	}
	defer clear(key)
	for _, p := range files {
		if _, _, err := sealFile(p, p+".sealing", key); err != nil {
			return err
		}
		if err := os.Rename(p+".sealing", p); err != nil {
			return err
		}
	}
	return nil
}

func isSealed(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var head [8]byte
	n, _ := io.ReadFull(f, head[:])
	return n == 8 && string(head[:]) == "ENCSEAL\x00", nil
}
