package exports

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/sealedfile"
)

// What an export keeps under DATA/exports/ID, and for how long:
//
//   - files/NNNN: the frozen copy of each requested output, sealed
//     (enclave/sealedfile) under the export's own data key, wrapped by the
//     keyring under jobs.ExportKeyObject(ID) and kept in the derived keys;
//   - release.tar: the signed bundle once released, sealed under the same
//     key (OpenBundle reads it for a download);
//   - review/: plaintext, only while the checks, the previews or the
//     release read it (the frozen files, the inputs' rows for the output
//     contract, earlier releases for the differencing check, the rebuilt
//     canonical files); removed when that step ends, and by Tidy at start
//     after a crash.
//
// Shredding the export's key (the Shredder, when a basis of its job ends
// before the release) leaves every copy of these files unreadable.
const reviewDir = "review"

// freezeTo copies in to sealedPath, sealed under key, and to plainPath as
// plaintext (mode 0400), and returns the size and SHA-256 of the
// plaintext.
func freezeTo(in io.Reader, sealedPath, plainPath string, key []byte) (int64, string, error) {
	sf, err := os.OpenFile(sealedPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o400)
	if err != nil {
		return 0, "", err
	}
	defer sf.Close()
	sw, err := sealedfile.NewWriter(sf, key)
	if err != nil {
		return 0, "", err
	}
	pf, err := os.OpenFile(plainPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o400)
	if err != nil {
		return 0, "", err
	}
	defer pf.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(sw, pf, h), in)
	if err == nil {
		err = sw.Close()
	}
	if err == nil {
		err = sf.Sync()
	}
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), pf.Close()
}

// OpenFile returns the plaintext of the i-th frozen file of export id,
// decrypted as it is read. An export whose key was shredded has none: an
// errdefs.ErrNotFound class error.
func (s *Service) OpenFile(ctx context.Context, id string, i int) (io.ReadCloser, error) {
	return s.openSealed(ctx, id, s.FilePath(id, i))
}

func (s *Service) openSealed(ctx context.Context, id, path string) (io.ReadCloser, error) {
	key, err := s.Jobs.DataKeys().Open(ctx, jobs.ExportKeyObject(id))
	if err != nil {
		return nil, fmt.Errorf("export %q: %w", id, err)
	}
	defer clear(key)
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("export %q: %s: %w", id, filepath.Base(path), errdefs.ErrNotFound)
		}
		return nil, err
	}
	r, err := sealedfile.NewReader(f, key)
	if err != nil {
		f.Close()
		return nil, err
	}
	return readCloser{Reader: r, Closer: f}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// decryptFile writes the plaintext of the i-th frozen file of export id
// to dst (mode 0400), in a private review directory.
func (s *Service) decryptFile(ctx context.Context, id string, i int, dst string) error {
	in, err := s.OpenFile(ctx, id, i)
	if err != nil {
		return err
	}
	defer in.Close()
	return writePlain(in, dst)
}

func writePlain(in io.Reader, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o400)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}

// OpenBundle returns the plaintext of export id's signed bundle as an
// open file that has no name: it is decrypted into the export's review
// directory and unlinked at once, so that it lives only while the caller
// holds it (a download). The caller closes it.
func (s *Service) OpenBundle(ctx context.Context, id string) (*os.File, error) {
	in, err := s.openSealed(ctx, id, s.BundlePath(id))
	if err != nil {
		return nil, err
	}
	defer in.Close()
	// A directory of its own per download (downloads may overlap), named
	// so that Tidy removes it after a crash.
	dir, err := os.MkdirTemp(filepath.Join(s.Dir, id), reviewDir+"-bundle-")
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "bundle-*")
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	os.Remove(f.Name())
	os.Remove(dir)
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// basisAlive fails with errdefs.ErrFailedPrecondition when the outputs of
// job were destroyed with their basis (its data key shredded): nothing
// derived from them is frozen or released after that, even by a request
// recorded while the destruction ran.
func (s *Service) basisAlive(ctx context.Context, job string) error {
	dead, err := s.Jobs.DataKeys().Shredded(ctx, jobs.JobKeyObject(job))
	if err != nil {
		return err
	}
	if dead {
		return fmt.Errorf("the outputs of job %q were destroyed with their basis: %w", job, errdefs.ErrFailedPrecondition)
	}
	return nil
}
