package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
)

// Destruction is what Destroy did, for the destruction record.
type Destruction struct {
	// KeyID is the id of the shredded key-encryption key, from
	// Keyring.Shred; empty when it had already been shredded.
	KeyID string `json:"key_id"`
	// Keyring names the keyring implementation ("local" or "vault").
	Keyring string `json:"keyring"`
	// Technique describes how the data was made unrecoverable.
	Technique string `json:"technique"`
	// Files are the names of the removed files.
	Files []string `json:"files"`
}

// Destroy makes a dataset version unrecoverable: it shreds the version's
// key-encryption key in the keyring (so every copy of the sealed files,
// including backups, is unreadable), then removes the sealed files and the
// directory and syncs the parent directory. A key that was already
// shredded is not an error (a retried destroy completes); any other
// keyring error stops before anything is removed.
func Destroy(ctx context.Context, dir string, kr keys.Keyring, keyObject string) (*Destruction, error) {
	d := &Destruction{Keyring: kr.Name(),
		Technique: "crypto-shredding: the AES-256-GCM data key's wrapping key was destroyed in the keyring; sealed files removed"}
	id, err := kr.Shred(ctx, keyObject)
	switch {
	case err == nil:
		d.KeyID = id
	case errdefs.IsNotFound(err):
	default:
		return nil, fmt.Errorf("shred key %q: %w", keyObject, err)
	}
	for _, name := range []string{DataFile, FingerprintsFile} {
		err := os.Remove(filepath.Join(dir, name))
		if err == nil {
			d.Files = append(d.Files, name)
		} else if !errors.Is(err, os.ErrNotExist) {
			return d, fmt.Errorf("remove %q: %w", name, errClass(err))
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return d, fmt.Errorf("remove dataset directory: %w", errClass(err))
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return d, err
	}
	return d, nil
}
