// Package backup takes a consistent copy of a data directory while the
// daemon serves, and restores it onto a fresh data directory. The
// state database is copied with SQLite's VACUUM INTO (a transactionally
// consistent snapshot), then the audit log (so it holds at least every
// entry the snapshot's changes recorded), the datasets, job outputs and
// exports; the local keyring is sealed under a passphrase (scrypt and
// AES-256-GCM) so that a backup alone never holds usable keys. A manifest
// lists every file with its SHA-256, and a restore checks them all before
// it writes anything.
//
// A restore does not resurrect what was destroyed (DESIGN.md section 5,
// promise 9). Keys shredded before the backup are not in it. Keys shredded
// after it are: so every shred leaves a tombstone in the live keyring
// (keys/local), each backup carries its keyring's tombstones
// (tombstones.json, plaintext: object names and key ids, no key material),
// and Restore must be shown the tombstones of everything destroyed since
// the backup (Tombstones: from the live data directory or its keyring, a
// newer backup, or a tombstones file; or None, said explicitly): it
// destroys every key-encryption key they name before the restored
// keyring is ever opened, and keeps the tombstones, so the restored
// daemon refuses such a key wherever it comes from and, at start, marks
// what it held of those objects destroyed (exports.ApplyTombstones).
package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/crypto/scrypt"

	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver
)

// Names in a data directory and in a backup.
const (
	stateFile    = "state.db"
	keyringDir   = "keyring"
	choiceFile   = "keyring.json"
	sealedKeys   = "keyring.sealed"
	manifestFile = "MANIFEST.json"
	// TombstonesFile is the list of the keyring's tombstones in a backup.
	TombstonesFile = "tombstones.json"
)

// copied are the trees copied as they are.
var copied = []string{"audit", "datasets", "jobs", "exports", "tls"}

// MinPassphrase is the shortest passphrase accepted.
const MinPassphrase = 12

// Manifest describes a backup.
type Manifest struct {
	Version int               `json:"version"`
	Taken   time.Time         `json:"taken"`
	Files   map[string]string `json:"files"` // relative path -> sha256
}

func checkPassphrase(p string) error {
	if len(p) < MinPassphrase {
		return fmt.Errorf("the backup passphrase must have at least %d characters: %w", MinPassphrase, errdefs.ErrInvalidArgument)
	}
	return nil
}

func emptyOrMissing(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%q is not empty: %w", dir, errdefs.ErrAlreadyExists)
	}
	return nil
}

// Backup copies the data directory dataDir into dst (new or empty).
func Backup(ctx context.Context, dataDir, dst, passphrase string) (*Manifest, error) {
	if err := checkPassphrase(passphrase); err != nil {
		return nil, err
	}
	if err := emptyOrMissing(dst); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return nil, err
	}
	// 1. The state, as one consistent snapshot.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, stateFile)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, filepath.Join(dst, stateFile))
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("snapshot the state: %w", err)
	}
	// 2. The trees; the audit log after the snapshot, so it is never
	// shorter than what the snapshot's changes recorded.
	for _, d := range copied {
		if err := copyTree(filepath.Join(dataDir, d), filepath.Join(dst, d)); err != nil {
			return nil, fmt.Errorf("copy %s: %w", d, err)
		}
	}
	if err := copyFile(filepath.Join(dataDir, choiceFile), filepath.Join(dst, choiceFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	// 3. The local keyring, sealed.
	if _, err := os.Stat(filepath.Join(dataDir, keyringDir)); err == nil {
		var tb bytes.Buffer
		if err := tarTree(&tb, filepath.Join(dataDir, keyringDir)); err != nil {
			return nil, fmt.Errorf("read the keyring: %w", err)
		}
		sealed, err := seal(tb.Bytes(), passphrase)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dst, sealedKeys), sealed, 0o600); err != nil {
			return nil, err
		}
		ts, err := local.ReadTombstones(filepath.Join(dataDir, keyringDir))
		if err != nil {
			return nil, fmt.Errorf("read the keyring's tombstones: %w", err)
		}
		data, _ := json.MarshalIndent(ts, "", "  ")
		if err := os.WriteFile(filepath.Join(dst, TombstonesFile), data, 0o600); err != nil {
			return nil, err
		}
	}
	m := &Manifest{Version: 1, Taken: time.Now().UTC(), Files: map[string]string{}}
	if err := hashTree(dst, m.Files); err != nil {
		return nil, err
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dst, manifestFile), data, 0o600); err != nil {
		return nil, err
	}
	return m, nil
}

// Tombstones are what a restore is shown of the keys shredded since the
// backup was taken.
type Tombstones struct {
	// List are the tombstones (LoadTombstones).
	List []keys.Tombstone
	// None says, explicitly, that there are none to show: the live keyring
	// is lost and no newer backup exists. Whatever was destroyed after the
	// backup then comes back with it.
	None bool
}

// Restore checks the backup in src against its manifest, unseals the
// keyring with the passphrase, destroys in it every key-encryption key
// that a tombstone names (keeping the tombstones), and writes a new data
// directory dataDir (new or empty, mode 0700). A backup that holds a local
// keyring is refused, changing nothing, unless tombstones has a List or
// says None. On any error nothing is left in dataDir.
func Restore(ctx context.Context, src, dataDir, passphrase string, tombstones Tombstones) (err error) {
	if err := emptyOrMissing(dataDir); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(src, sealedKeys)); err == nil && tombstones.List == nil && !tombstones.None {
		return fmt.Errorf("the backup holds the keyring as it was when the backup was taken: show the restore the tombstones of what was destroyed since "+
			"(--tombstones FROM: the live data directory or its keyring, a newer backup, or a tombstones file), or --tombstones none if there is none to show: %w",
			errdefs.ErrInvalidArgument)
	}
	data, err := os.ReadFile(filepath.Join(src, manifestFile))
	if err != nil {
		return fmt.Errorf("backup manifest: %w", errdefs.ErrNotFound)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil || m.Version != 1 {
		return fmt.Errorf("backup manifest is malformed: %w", errdefs.ErrDataLoss)
	}
	have := map[string]string{}
	if err := hashTree(src, have); err != nil {
		return err
	}
	delete(have, manifestFile)
	for name, sum := range m.Files {
		if have[name] != sum {
			return fmt.Errorf("backup file %q is missing or changed: %w", name, errdefs.ErrDataLoss)
		}
	}
	for name := range have {
		if _, ok := m.Files[name]; !ok {
			return fmt.Errorf("backup file %q is not in the manifest: %w", name, errdefs.ErrDataLoss)
		}
	}
	var keyTar []byte
	if sealed, err := os.ReadFile(filepath.Join(src, sealedKeys)); err == nil {
		if keyTar, err = unseal(sealed, passphrase); err != nil {
			return err
		}
	}
	stage := dataDir + ".restore"
	os.RemoveAll(stage)
	if err := os.MkdirAll(stage, 0o700); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(stage)
		}
	}()
	for name := range m.Files {
		if name == sealedKeys {
			continue
		}
		if err := copyFile(filepath.Join(src, name), filepath.Join(stage, name)); err != nil {
			return err
		}
	}
	if keyTar != nil {
		if err := untar(bytes.NewReader(keyTar), filepath.Join(stage, keyringDir)); err != nil {
			return err
		}
		if _, err := local.Bury(filepath.Join(stage, keyringDir), tombstones.List); err != nil {
			return fmt.Errorf("apply the tombstones to the restored keyring: %w", err)
		}
	}
	// The daemon's first start checks every key its state holds as live
	// against the keyring (what a Vault deleted after the backup is gone
	// there) and then removes this mark.
	mark, _ := json.Marshal(Restored{From: src, Taken: m.Taken, Restored: time.Now().UTC(), Tombstones: len(tombstones.List), None: tombstones.None})
	if err := os.WriteFile(filepath.Join(stage, RestoredFile), mark, 0o600); err != nil {
		return err
	}
	os.Remove(dataDir)
	return os.Rename(stage, dataDir)
}

// RestoredFile marks a data directory written by Restore until its
// daemon's first start has checked its keys.
const RestoredFile = "RESTORED.json"

// Restored is what RestoredFile says.
type Restored struct {
	From       string    `json:"from"`
	Taken      time.Time `json:"taken"`
	Restored   time.Time `json:"restored"`
	Tombstones int       `json:"tombstones"`
	None       bool      `json:"no_tombstones,omitempty"`
}

func seal(plain []byte, passphrase string) ([]byte, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	key, err := scrypt.Key([]byte(passphrase), salt, 1<<15, 8, 1, 32)
	if err != nil {
		return nil, err
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	out := append([]byte("enclave-keyring-backup-v1\n"), salt...)
	out = append(out, nonce...)
	return gcm.Seal(out, nonce, plain, []byte("enclave-keyring-backup-v1")), nil
}

func unseal(sealed []byte, passphrase string) ([]byte, error) {
	const magic = "enclave-keyring-backup-v1\n"
	if !bytes.HasPrefix(sealed, []byte(magic)) || len(sealed) < len(magic)+16+12+16 {
		return nil, fmt.Errorf("the sealed keyring is malformed: %w", errdefs.ErrDataLoss)
	}
	rest := sealed[len(magic):]
	salt, nonce, ct := rest[:16], rest[16:28], rest[28:]
	key, err := scrypt.Key([]byte(passphrase), salt, 1<<15, 8, 1, 32)
	if err != nil {
		return nil, err
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, nonce, ct, []byte(strings.TrimSuffix(magic, "\n")))
	if err != nil {
		return nil, fmt.Errorf("the passphrase does not open the sealed keyring, or it was changed: %w", errdefs.ErrPermissionDenied)
	}
	return plain, nil
}

// copyTree copies regular files and directories under src to dst, keeping
// modes; a missing src is nothing to copy. Lock and staging files are left.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) && p == src {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.Name() == "LOCK" || d.Name() == ".staging" || strings.HasSuffix(d.Name(), ".tmp") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fi.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, fi.Mode().Perm())
}

func hashTree(root string, out map[string]string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == manifestFile {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		out[filepath.ToSlash(rel)] = hex.EncodeToString(h.Sum(nil))
		return err
	})
}

func tarTree(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	sort.Strings(files)
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, _ := os.Stat(p)
		rel, _ := filepath.Rel(root, p)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: int64(fi.Mode().Perm()), Size: int64(len(data))}); err != nil {
			return err
		}
		tw.Write(data)
	}
	return tw.Close()
}

func untar(r io.Reader, dst string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg || strings.Contains(h.Name, "..") || strings.HasPrefix(h.Name, "/") {
			return fmt.Errorf("sealed keyring entry %q is unsafe: %w", h.Name, errdefs.ErrDataLoss)
		}
		p := filepath.Join(dst, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, data, os.FileMode(h.Mode)&0o600); err != nil {
			return err
		}
	}
}
