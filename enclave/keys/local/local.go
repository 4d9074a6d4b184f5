// Package local is the default keyring of the enclave: its key material
// lives in files under the daemon's data directory.
//
// A keyring directory (mode 0700) holds keyring.json (mode 0600) with an
// ed25519 signing key, an AES-256 master key and a secrets seed, and one
// file per object under objects/ holding that object's own AES-256
// key-encryption key (KEK), itself wrapped under the master key. Data keys
// are wrapped with AES-256-GCM under the object's KEK with the object name
// as associated data, so a wrapped key copied to another object does not
// unwrap. Shred overwrites, syncs and removes the object's KEK file, which
// leaves every data key wrapped for it undecryptable.
//
// Every file is written atomically (temporary file, fsync, rename or link,
// fsync of the directory). A Keyring is safe for concurrent use by the
// goroutines of one process; two processes must not open the same
// directory at once (the daemon holds the data directory's lock).
//
// Shredding here is only as final as the file system and the disk make
// file deletion: a copy-on-write file system, a snapshot or a backup of the
// directory may keep the old KEK file, and whoever also has keyring.json
// can then unwrap. Deployments that need stronger destruction use the
// Vault transit keyring (package vault).
package local

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
)

const (
	nonceSize = 12
	tagSize   = 16

	// wrappedVersion is the first byte of a wrapped data key.
	wrappedVersion = 1
	// WrappedSize is the length of a wrapped data key: a version byte, a
	// GCM nonce, the 32-byte key and the GCM tag.
	WrappedSize = 1 + nonceSize + keySize + tagSize

	dekAD    = "enclave-local-dek-v1\x00"
	kekAD    = "enclave-local-kek-v1\x00"
	secretAD = "enclave-local-secret-v1\x00"
)

// Keyring is the local file keyring. Create or Open one; the zero value is
// not usable.
type Keyring struct {
	dir        string
	signing    ed25519.PrivateKey
	public     ed25519.PublicKey
	master     cipher.AEAD
	secretSeed []byte

	// mu orders KEK file creation and shredding (write lock) against
	// reads of KEK files (read lock).
	mu sync.RWMutex
}

var _ keys.Keyring = (*Keyring)(nil)

// Create makes a new keyring in dir, creating dir (mode 0700) if needed:
// fresh random signing key, master key and secrets seed, written to a file
// of mode 0600. If dir already holds a keyring it returns an
// errdefs.ErrAlreadyExists class error and changes nothing.
func Create(dir string) (*Keyring, error) {
	root := filepath.Join(dir, rootName)
	if _, err := os.Lstat(root); err == nil {
		return nil, fmt.Errorf("keyring in %q: %w", dir, errdefs.ErrAlreadyExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("look for keyring in %q: %w", dir, classify(err))
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create keyring directory %q: %w", dir, classify(err))
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("set mode of keyring directory %q: %w", dir, classify(err))
	}
	objects := filepath.Join(dir, objectsName)
	if err := os.Mkdir(objects, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create directory %q: %w", objects, classify(err))
	}

	_, signing, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", errdefs.ErrInternal)
	}
	m := &material{
		created:    time.Now().UTC(),
		signing:    signing,
		master:     randomKey(),
		secretSeed: randomKey(),
	}
	data, err := encodeRoot(m)
	if err != nil {
		return nil, err
	}
	// Link, not rename: a concurrent Create of the same directory loses
	// with ErrAlreadyExists instead of replacing the winner's keys.
	if err := writeFileAtomic(dir, rootName, data, false); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("keyring in %q: %w", dir, errdefs.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("write keyring in %q: %w", dir, classify(err))
	}
	return newKeyring(dir, m)
}

// Open opens the keyring that Create made in dir. A missing keyring returns
// an errdefs.ErrNotFound class error; a keyring file readable by group or
// others an errdefs.ErrFailedPrecondition one; a corrupted file an
// errdefs.ErrDataLoss one.
func Open(dir string) (*Keyring, error) {
	root := filepath.Join(dir, rootName)
	fi, err := os.Lstat(root)
	if err != nil {
		return nil, fmt.Errorf("open keyring in %q: %w", dir, classify(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keyring file %q is not a regular file: %w", root, errdefs.ErrFailedPrecondition)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyring file %q has mode %04o, want 0600: %w", root, fi.Mode().Perm(), errdefs.ErrFailedPrecondition)
	}
	data, err := readLimited(root)
	if err != nil {
		return nil, fmt.Errorf("read keyring in %q: %w", dir, err)
	}
	m, err := parseRoot(data)
	if err != nil {
		return nil, fmt.Errorf("keyring in %q: %w", dir, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, objectsName)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("keyring in %q has no %q directory: %w", dir, objectsName, errdefs.ErrDataLoss)
	}
	return newKeyring(dir, m)
}

func newKeyring(dir string, m *material) (*Keyring, error) {
	master, err := newGCM(m.master)
	if err != nil {
		return nil, err
	}
	return &Keyring{
		dir:        dir,
		signing:    m.signing,
		public:     m.signing.Public().(ed25519.PublicKey),
		master:     master,
		secretSeed: m.secretSeed,
	}, nil
}

// Name returns "local".
func (k *Keyring) Name() string { return "local" }

// Dir returns the keyring's directory.
func (k *Keyring) Dir() string { return k.dir }

// NewDataKey returns a fresh random 32-byte data key and its wrapped form
// (WrappedSize bytes). The object's KEK is created on first use.
func (k *Keyring) NewDataKey(ctx context.Context, object string) (plain, wrapped []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := keys.ValidObject(object); err != nil {
		return nil, nil, err
	}
	kek, err := k.kekForNew(object)
	if err != nil {
		return nil, nil, err
	}
	plain = randomKey()
	wrapped = make([]byte, 1+nonceSize, WrappedSize)
	wrapped[0] = wrappedVersion
	rand.Read(wrapped[1 : 1+nonceSize])
	wrapped = kek.Seal(wrapped, wrapped[1:1+nonceSize], plain, []byte(dekAD+object))
	return plain, wrapped, nil
}

// UnwrapDataKey returns the plaintext data key of wrapped. It returns an
// errdefs.ErrNotFound class error when object has no KEK (never created or
// shredded) and an errdefs.ErrDataLoss one when wrapped was altered or was
// made for another object.
func (k *Keyring) UnwrapDataKey(ctx context.Context, object string, wrapped []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := keys.ValidObject(object); err != nil {
		return nil, err
	}
	if len(wrapped) != WrappedSize || wrapped[0] != wrappedVersion {
		return nil, fmt.Errorf("wrapped data key of object %q is malformed: %w", object, errdefs.ErrDataLoss)
	}
	k.mu.RLock()
	kek, _, err := k.loadKEK(object)
	k.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	plain, err := kek.Open(nil, wrapped[1:1+nonceSize], wrapped[1+nonceSize:], []byte(dekAD+object))
	if err != nil {
		return nil, fmt.Errorf("wrapped data key of object %q does not authenticate: %w", object, errdefs.ErrDataLoss)
	}
	return plain, nil
}

// Shred destroys the KEK of object: its file is overwritten with random
// bytes, synced, removed, and the directory synced. It returns the KEK's id
// ("kek-" and 32 hex digits), or an errdefs.ErrNotFound class error when
// object has no KEK.
func (k *Keyring) Shred(ctx context.Context, object string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := keys.ValidObject(object); err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()

	path := k.kekPath(object)
	data, err := readLimited(path)
	if err != nil {
		return "", fmt.Errorf("key-encryption key of object %q: %w", object, err)
	}
	// A corrupted file is shredded all the same; its id is then unknown.
	id := "kek-unreadable"
	if f, err := parseKEK(data, object); err == nil {
		id = f.ID
	}
	// The tombstone first: a KEK of this object that comes back (a
	// restored backup, a copy) is refused for ever (tombstones.go).
	if err := writeTombstone(k.dir, keys.Tombstone{Object: object, KeyID: id, Shredded: time.Now().UTC()}); err != nil {
		return "", err
	}
	if err := overwrite(path); err != nil {
		return "", fmt.Errorf("overwrite key-encryption key of object %q: %w", object, classify(err))
	}
	if err := os.Remove(path); err != nil {
		return "", fmt.Errorf("remove key-encryption key of object %q: %w", object, classify(err))
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return "", fmt.Errorf("sync keyring directory: %w", classify(err))
	}
	return id, nil
}

// Secret returns HKDF-SHA256 of the keyring's secrets seed with the
// purpose as info: 32 bytes, the same for the life of the keyring and
// unrelated between purposes.
func (k *Keyring) Secret(ctx context.Context, purpose string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := keys.ValidPurpose(purpose); err != nil {
		return nil, err
	}
	s, err := hkdf.Key(sha256.New, k.secretSeed, nil, secretAD+purpose, keySize)
	if err != nil {
		return nil, fmt.Errorf("derive secret for purpose %q: %w", purpose, errdefs.ErrInternal)
	}
	return s, nil
}

// Sign returns the ed25519 signature of msg.
func (k *Keyring) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ed25519.Sign(k.signing, msg), nil
}

// HoldsKey reports whether pub is the public half of the signing key, which
// never changes while the keyring is open (audit.KeyHolder).
func (k *Keyring) HoldsKey(pub ed25519.PublicKey) bool {
	return k.public.Equal(pub) // the signing key's public half, derived when it was loaded
}

// PublicKey returns the public half of the signing key.
func (k *Keyring) PublicKey(ctx context.Context) (ed25519.PublicKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return append(ed25519.PublicKey(nil), k.public...), nil
}

func (k *Keyring) kekPath(object string) string {
	return filepath.Join(k.dir, objectsName, objectHash(object)+kekSuffix)
}

// objectHash names an object's files: hex SHA-256 of its name.
func objectHash(object string) string {
	sum := sha256.Sum256([]byte(object))
	return hex.EncodeToString(sum[:])
}

// kekForNew returns the KEK of object, creating it when missing.
func (k *Keyring) kekForNew(object string) (cipher.AEAD, error) {
	k.mu.RLock()
	kek, _, err := k.loadKEK(object)
	k.mu.RUnlock()
	if err == nil || !errdefs.IsNotFound(err) {
		return kek, err
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	// Another goroutine may have created it meanwhile.
	if kek, _, err := k.loadKEK(object); err == nil || !errdefs.IsNotFound(err) {
		return kek, err
	}

	raw := randomKey()
	idBytes := make([]byte, 16)
	rand.Read(idBytes)
	f := &kekFile{
		Format:  kekFormat,
		Object:  object,
		ID:      kekIDPrefix + hex.EncodeToString(idBytes),
		Created: time.Now().UTC(),
	}
	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	f.Wrapped = k.master.Seal(nonce, nonce, raw, []byte(kekAD+f.ID+"\x00"+object))
	data, err := encodeKEK(f)
	if err != nil {
		return nil, err
	}
	path := k.kekPath(object)
	if err := writeFileAtomic(filepath.Dir(path), filepath.Base(path), data, false); err != nil {
		return nil, fmt.Errorf("write key-encryption key of object %q: %w", object, classify(err))
	}
	return newGCM(raw)
}

// loadKEK reads and unwraps the KEK of object. The caller holds k.mu.
func (k *Keyring) loadKEK(object string) (cipher.AEAD, string, error) {
	data, err := readLimited(k.kekPath(object))
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, "", fmt.Errorf("key-encryption key of object %q (never created or shredded): %w", object, errdefs.ErrNotFound)
		}
		return nil, "", fmt.Errorf("key-encryption key of object %q: %w", object, err)
	}
	f, err := parseKEK(data, object)
	if err != nil {
		return nil, "", err
	}
	if dead, err := tombstoned(k.dir, object, f.ID); err != nil {
		return nil, "", err
	} else if dead {
		// A KEK that came back from a copy made before its shred is
		// destroyed again (best effort: the tombstone refuses it anyway).
		if path := k.kekPath(object); overwrite(path) == nil {
			os.Remove(path)
		}
		return nil, "", fmt.Errorf("key-encryption key of object %q was shredded (tombstoned): %w", object, errdefs.ErrNotFound)
	}
	raw, err := k.master.Open(nil, f.Wrapped[:nonceSize], f.Wrapped[nonceSize:], []byte(kekAD+f.ID+"\x00"+object))
	if err != nil {
		return nil, "", fmt.Errorf("key-encryption key of object %q does not authenticate: %w", object, errdefs.ErrDataLoss)
	}
	kek, err := newGCM(raw)
	return kek, f.ID, err
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("AES key of %d bytes: %w", len(key), errdefs.ErrInternal)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("AES-GCM: %w", errdefs.ErrInternal)
	}
	return gcm, nil
}

func randomKey() []byte {
	b := make([]byte, keySize)
	rand.Read(b)
	return b
}
