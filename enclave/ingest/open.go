package ingest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/sealedfile"
)

// openSealed unwraps the data key and opens a sealed file of a dataset
// version directory. A shredded key is errdefs.ErrNotFound; a missing file
// is errdefs.ErrNotFound; tampering shows as errdefs.ErrDataLoss on read.
func openSealed(ctx context.Context, dir, name string, kr keys.Keyring, keyObject string, wrapped []byte) (*sealedfile.Reader, *os.File, error) {
	key, err := kr.UnwrapDataKey(ctx, keyObject, wrapped)
	if err != nil {
		return nil, nil, fmt.Errorf("data key for %q: %w", keyObject, err)
	}
	defer clear(key)
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, nil, fmt.Errorf("open %q: %w", name, errClass(err))
	}
	r, err := sealedfile.NewReader(bufio.NewReaderSize(f, 1<<20), key)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open %q: %w", name, err)
	}
	return r, f, nil
}

// DecryptOptions are optional checks of Decrypt.
type DecryptOptions struct {
	// DataSHA256, when set, must equal the hex SHA-256 of the plaintext
	// (Result.DataSHA256); a mismatch is errdefs.ErrDataLoss.
	DataSHA256 string
}

// Decrypt writes the plaintext Arrow IPC file of the dataset version in
// dir to dst (conventionally INPUTAREA/NAME/data.arrow), for a job's
// private read-only input area. It writes a temporary file next to dst,
// fsyncs it, makes it read-only (0400) and renames it into place, so dst
// either holds the whole authenticated plaintext or does not exist. dst
// must not exist yet (errdefs.ErrAlreadyExists).
func Decrypt(ctx context.Context, dir string, kr keys.Keyring, keyObject string, wrapped []byte, dst string, opts ...DecryptOptions) (err error) {
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("decrypt target %q: %w", filepath.Base(dst), errdefs.ErrAlreadyExists)
	}
	r, f, err := openSealed(ctx, dir, DataFile, kr, keyObject, wrapped)
	if err != nil {
		return err
	}
	defer f.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".decrypt-*")
	if err != nil {
		return fmt.Errorf("create decrypt target: %w", errClass(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	w := io.MultiWriter(tmp, h)
	if err := copyAhead(ctx, w, r); err != nil {
		return err
	}
	for _, o := range opts {
		if o.DataSHA256 != "" && o.DataSHA256 != hex.EncodeToString(h.Sum(nil)) {
			return fmt.Errorf("decrypted %q does not match its recorded hash: %w", DataFile, errdefs.ErrDataLoss)
		}
	}
	if err := tmp.Chmod(0o400); err != nil {
		return fmt.Errorf("chmod decrypt target: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync decrypt target: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close decrypt target: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("publish decrypt target: %w", err)
	}
	return syncDir(filepath.Dir(dst))
}

// OpenFingerprints decrypts and reads the fingerprint index of the
// dataset version in dir, for the egress checks.
func OpenFingerprints(ctx context.Context, dir string, kr keys.Keyring, keyObject string, wrapped []byte) (*fingerprint.Set, error) {
	r, f, err := openSealed(ctx, dir, FingerprintsFile, kr, keyObject, wrapped)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	set, err := fingerprint.ReadSet(r)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", FingerprintsFile, err)
	}
	return set, nil
}

// copyAhead copies r to w with a goroutine that reads (decrypts) up to
// two buffers ahead of the writes (hash and file), so that decryption
// overlaps them.
func copyAhead(ctx context.Context, w io.Writer, r io.Reader) error {
	type chunk struct {
		b   []byte
		err error
	}
	const bufSize, depth = 1 << 20, 2
	free := make(chan []byte, depth+1)
	for range depth + 1 {
		free <- make([]byte, bufSize)
	}
	full := make(chan chunk, depth)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(full)
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			n, err := io.ReadFull(r, buf)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			select {
			case full <- chunk{buf[:n], err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range full {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(c.b) > 0 {
			if _, err := w.Write(c.b); err != nil {
				return fmt.Errorf("write decrypt target: %w", err)
			}
		}
		switch {
		case c.err == io.EOF:
			return nil
		case c.err != nil:
			return fmt.Errorf("decrypt %q: %w", DataFile, c.err)
		}
		free <- c.b[:cap(c.b)]
	}
	return ctx.Err()
}
