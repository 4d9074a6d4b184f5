package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
)

// Tombstones: Shred writes tombstones/<h>.<KEK id>.tomb (h as for the KEK
// file) before it destroys the KEK: the object, the KEK's id and the
// time, no key material. A KEK file that a tombstone names (its object and
// id) is refused as shredded, and removed, wherever it came from; a new
// KEK of the same object has a new id and is not affected. Bury writes
// tombstones into a keyring directory that is not open (a restore),
// destroying the KEKs they name.
const (
	tombstonesName = "tombstones"
	tombSuffix     = ".tomb"
	tombFormat     = "enclave-local-tombstone-v1"
)

type tombFile struct {
	Format   string    `json:"format"`
	Object   string    `json:"object"`
	KeyID    string    `json:"key_id"`
	Shredded time.Time `json:"shredded"`
}

func tombName(object, keyID string) string { return objectHash(object) + "." + keyID + tombSuffix }

func tombPath(dir, object, keyID string) string {
	return filepath.Join(dir, tombstonesName, tombName(object, keyID))
}

// tombstoned reports whether dir has a tombstone of object's KEK keyID.
func tombstoned(dir, object, keyID string) (bool, error) {
	_, err := os.Lstat(tombPath(dir, object, keyID))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, classify(err)
}

// writeTombstone records t in dir (idempotent).
func writeTombstone(dir string, t keys.Tombstone) error {
	if err := keys.ValidObject(t.Object); err != nil {
		return err
	}
	if t.KeyID != "kek-unreadable" && !validKEKID(t.KeyID) {
		return fmt.Errorf("tombstone of object %q names no key-encryption key id: %w", t.Object, errdefs.ErrInvalidArgument)
	}
	tdir := filepath.Join(dir, tombstonesName)
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		return classify(err)
	}
	data, err := json.Marshal(tombFile{Format: tombFormat, Object: t.Object, KeyID: t.KeyID, Shredded: t.Shredded.UTC()})
	if err != nil {
		return err
	}
	path := tombPath(dir, t.Object, t.KeyID)
	if err := writeFileAtomic(tdir, filepath.Base(path), data, false); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("write the tombstone of object %q: %w", t.Object, classify(err))
	}
	return nil
}

// ReadTombstones returns the tombstones of the keyring directory dir,
// sorted by object. A keyring without any has none. A tombstone file that
// does not parse, or that is filed under another object's name, is an
// errdefs.ErrDataLoss class error.
func ReadTombstones(dir string) ([]keys.Tombstone, error) {
	ents, err := os.ReadDir(filepath.Join(dir, tombstonesName))
	if errors.Is(err, fs.ErrNotExist) {
		return []keys.Tombstone{}, nil
	}
	if err != nil {
		return nil, classify(err)
	}
	out := []keys.Tombstone{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), tombSuffix) {
			continue
		}
		data, err := readLimited(filepath.Join(dir, tombstonesName, e.Name()))
		if err != nil {
			return nil, err
		}
		t, err := parseTombstone(data, e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Object < out[j].Object })
	return out, nil
}

// Bury writes the tombstones ts into the keyring directory dir, which no
// Keyring has open (a restore writes it), and destroys every KEK they
// name (overwritten, synced, removed). It returns the objects whose KEK it
// destroyed.
func Bury(dir string, ts []keys.Tombstone) ([]string, error) {
	var destroyed []string
	for _, t := range ts {
		if err := writeTombstone(dir, t); err != nil {
			return destroyed, err
		}
		path := filepath.Join(dir, objectsName, objectHash(t.Object)+kekSuffix)
		data, err := readLimited(path)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return destroyed, fmt.Errorf("key-encryption key of object %q: %w", t.Object, err)
		}
		if f, err := parseKEK(data, t.Object); err == nil && f.ID != t.KeyID {
			continue // a later KEK of the same object
		}
		if err := overwrite(path); err != nil {
			return destroyed, fmt.Errorf("destroy the key-encryption key of object %q: %w", t.Object, classify(err))
		}
		if err := os.Remove(path); err != nil {
			return destroyed, fmt.Errorf("destroy the key-encryption key of object %q: %w", t.Object, classify(err))
		}
		destroyed = append(destroyed, t.Object)
	}
	if len(destroyed) > 0 {
		if err := syncDir(filepath.Join(dir, objectsName)); err != nil {
			return destroyed, classify(err)
		}
	}
	return destroyed, nil
}

// Tombstones returns the keyring's tombstones.
func (k *Keyring) Tombstones() ([]keys.Tombstone, error) { return ReadTombstones(k.dir) }

// parseTombstone reads the tombstone file called name: it must be of the
// format, name a valid object and key id, and be filed under the name
// they make. Anything else is an errdefs.ErrDataLoss class error that
// quotes nothing of the file.
func parseTombstone(data []byte, name string) (keys.Tombstone, error) {
	var f tombFile
	if err := decodeStrict(data, &f); err != nil || f.Format != tombFormat || keys.ValidObject(f.Object) != nil ||
		(f.KeyID != "kek-unreadable" && !validKEKID(f.KeyID)) || f.Shredded.IsZero() || tombName(f.Object, f.KeyID) != name {
		return keys.Tombstone{}, fmt.Errorf("tombstone %q is malformed: %w", name, errdefs.ErrDataLoss)
	}
	return keys.Tombstone{Object: f.Object, KeyID: f.KeyID, Shredded: f.Shredded}, nil
}

var _ keys.Checker = (*Keyring)(nil)

// HasKey reports whether object has a KEK that no tombstone names.
func (k *Keyring) HasKey(ctx context.Context, object string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := keys.ValidObject(object); err != nil {
		return false, err
	}
	k.mu.RLock()
	_, _, err := k.loadKEK(object)
	k.mu.RUnlock()
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}
