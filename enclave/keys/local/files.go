package local

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
)

// writeFileAtomic writes data to dir/name with mode 0600: a temporary file
// in dir is written and synced, then linked to name (replace false: fails
// with fs.ErrExist if name exists) or renamed over it (replace true), and
// dir is synced. Readers see either no file or the whole file.
func writeFileAtomic(dir, name string, data []byte, replace bool) (err error) {
	tmp, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		// After a link the temporary name is still there; after a rename
		// it is gone and Remove fails harmlessly.
		os.Remove(tmpName)
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	err = tmp.Close()
	tmp = nil
	if err != nil {
		return err
	}
	final := filepath.Join(dir, name)
	if replace {
		err = os.Rename(tmpName, final)
	} else {
		err = os.Link(tmpName, final)
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// readLimited reads a keyring file of at most maxFileSize bytes. A missing
// file returns an errdefs.ErrNotFound class error, a larger one an
// errdefs.ErrDataLoss one.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, classify(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, classify(err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("file larger than %d bytes: %w", maxFileSize, errdefs.ErrDataLoss)
	}
	return data, nil
}

// overwrite replaces the content of path in place with random bytes of
// the same length and syncs it to disk.
func overwrite(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	junk := make([]byte, fi.Size())
	rand.Read(junk)
	if _, err := f.WriteAt(junk, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// classify turns a file system error into an errdefs class. The path is
// left out: callers name the object or directory themselves.
func classify(err error) error {
	var class error
	switch {
	case errors.Is(err, fs.ErrNotExist):
		class = errdefs.ErrNotFound
	case errors.Is(err, fs.ErrExist):
		class = errdefs.ErrAlreadyExists
	case errors.Is(err, fs.ErrPermission):
		class = errdefs.ErrPermissionDenied
	default:
		class = errdefs.ErrUnavailable
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v: %w", pe.Op, pe.Err, class)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %v: %w", le.Op, le.Err, class)
	}
	return fmt.Errorf("%v: %w", err, class)
}
