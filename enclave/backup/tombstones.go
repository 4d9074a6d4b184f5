package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/keys/local"
)

// MaxTombstonesFile bounds a tombstones file a restore reads.
const MaxTombstonesFile = 64 << 20

var keyIDRE = regexp.MustCompile(`^kek-(unreadable|[0-9a-f]{32})$`)

// ParseTombstones reads a tombstones file: a JSON array of tombstones
// (keys.Tombstone), as a backup's tombstones.json holds. Anything else
// (unknown fields, trailing data, an invalid object name or key id, a
// missing time) is an errdefs.ErrInvalidArgument class error that quotes
// nothing of the input.
func ParseTombstones(data []byte) ([]keys.Tombstone, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var ts []keys.Tombstone
	if err := dec.Decode(&ts); err != nil {
		return nil, fmt.Errorf("tombstones file is not a JSON array of tombstones: %w", errdefs.ErrInvalidArgument)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("tombstones file has data after its array: %w", errdefs.ErrInvalidArgument)
	}
	if ts == nil {
		ts = []keys.Tombstone{}
	}
	for i, t := range ts {
		if err := keys.ValidObject(t.Object); err != nil {
			return nil, fmt.Errorf("tombstone %d: %w", i, err)
		}
		if !keyIDRE.MatchString(t.KeyID) {
			return nil, fmt.Errorf("tombstone %d of object %q names no key-encryption key id: %w", i, t.Object, errdefs.ErrInvalidArgument)
		}
		if t.Shredded.IsZero() {
			return nil, fmt.Errorf("tombstone %d of object %q has no time: %w", i, t.Object, errdefs.ErrInvalidArgument)
		}
	}
	return ts, nil
}

// LoadTombstones reads tombstones from from: a data directory (its
// keyring's), a local keyring directory, a backup directory (its
// tombstones.json) or a tombstones file. Anything else is an
// errdefs.ErrInvalidArgument class error naming from.
func LoadTombstones(from string) ([]keys.Tombstone, error) {
	fi, err := os.Stat(from)
	if err != nil {
		return nil, fmt.Errorf("tombstones from %q: %w", from, errdefs.ErrNotFound)
	}
	if !fi.IsDir() {
		return readTombstonesFile(from)
	}
	exists := func(p string) bool { _, err := os.Stat(filepath.Join(from, p)); return err == nil }
	switch {
	case exists(filepath.Join(keyringDir, "keyring.json")):
		return local.ReadTombstones(filepath.Join(from, keyringDir))
	case exists("keyring.json") && exists("objects"):
		return local.ReadTombstones(from)
	case exists(TombstonesFile):
		return readTombstonesFile(filepath.Join(from, TombstonesFile))
	}
	return nil, fmt.Errorf("%q is not a data directory, a local keyring, a backup or a tombstones file: %w", from, errdefs.ErrInvalidArgument)
}

func readTombstonesFile(path string) ([]keys.Tombstone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tombstones file %q: %w", path, errdefs.ErrNotFound)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxTombstonesFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxTombstonesFile {
		return nil, fmt.Errorf("tombstones file %q is larger than %d bytes: %w", path, MaxTombstonesFile, errdefs.ErrInvalidArgument)
	}
	ts, err := ParseTombstones(data)
	if err != nil {
		return nil, fmt.Errorf("tombstones file %q: %w", path, err)
	}
	return ts, nil
}

// MergeTombstones joins lists of tombstones, each (object, key id) once,
// sorted by object.
func MergeTombstones(lists ...[]keys.Tombstone) []keys.Tombstone {
	seen := map[[2]string]bool{}
	out := []keys.Tombstone{}
	for _, l := range lists {
		for _, t := range l {
			k := [2]string{t.Object, t.KeyID}
			if !seen[k] {
				seen[k] = true
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Object != out[j].Object {
			return out[i].Object < out[j].Object
		}
		return out[i].KeyID < out[j].KeyID
	})
	return out
}
