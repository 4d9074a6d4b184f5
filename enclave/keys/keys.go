// Package keys holds the enclave's key material behind one small interface:
// data keys wrapped per object (so one object can be shredded alone),
// keyed-hash secrets for pseudonyms and fingerprints, and the release
// signing key. The local keyring under the data directory is the default;
// a Vault transit implementation lives in a subpackage.
package keys

import (
	"context"
	"crypto/ed25519"
	"time"
)

// Keyring is the enclave's key store. Implementations are safe for
// concurrent use.
//
// Object names are short identifiers chosen by the caller, such as
// "dataset/credit_penalties@3"; they never contain secrets.
type Keyring interface {
	// NewDataKey creates a fresh 32-byte data key for object and returns it
	// in plaintext and wrapped (encrypted under a key-encryption key that
	// belongs to object alone). Only the wrapped form may be stored.
	NewDataKey(ctx context.Context, object string) (plain, wrapped []byte, err error)

	// UnwrapDataKey returns the plaintext of a data key made by NewDataKey.
	// It returns an errdefs.ErrNotFound class error after Shred(object), and
	// an errdefs.ErrDataLoss class error when wrapped was altered.
	UnwrapDataKey(ctx context.Context, object string, wrapped []byte) ([]byte, error)

	// Shred irreversibly destroys the key-encryption key of object, so that
	// every data key wrapped for it can never be unwrapped again. It returns
	// the id of the destroyed key for the destruction record. Shredding an
	// unknown or already shredded object returns errdefs.ErrNotFound.
	Shred(ctx context.Context, object string) (keyID string, err error)

	// Secret returns a stable 32-byte secret for a named purpose (for
	// example "pseudonym", "fingerprint", "id-number"), the same for the
	// life of the keyring. It is used as an HMAC or PRF key and never leaves
	// the daemon.
	Secret(ctx context.Context, purpose string) ([]byte, error)

	// Sign signs msg with the enclave's ed25519 release and checkpoint key.
	Sign(ctx context.Context, msg []byte) ([]byte, error)

	// PublicKey returns the public half of the signing key.
	PublicKey(ctx context.Context) (ed25519.PublicKey, error)

	// Name says which implementation this is ("local" or "vault").
	Name() string
}

// Tombstone records that an object's key was shredded: which object, the
// id of the destroyed key-encryption key and when. It holds no key
// material. A keyring that keeps tombstones refuses, for ever, a key of a
// tombstoned object that comes back (from a backup, a snapshot or a copy
// of the files), so that a restore does not resurrect destroyed data.
type Tombstone struct {
	Object   string    `json:"object"`
	KeyID    string    `json:"key_id"`
	Shredded time.Time `json:"shredded"`
}

// Checker is implemented by keyrings that can tell whether an object has
// a live key-encryption key without unwrapping anything: a restored data
// directory asks it of every object its state holds as live, to find the
// keys destroyed after the backup (a Vault transit key deleted, a local
// KEK tombstoned).
type Checker interface {
	// HasKey reports whether object has a live key-encryption key: false
	// when it was never made or was shredded. Other failures (the
	// keyring unreachable) are errors, never false.
	HasKey(ctx context.Context, object string) (bool, error)
}
