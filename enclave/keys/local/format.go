package local

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// On-disk layout under the keyring directory (mode 0700):
//
//	keyring.json          the root material (mode 0600), see rootFile
//	objects/              one file per object (mode 0700 directory)
//	objects/<h>.kek       the object's KEK wrapped under the master key,
//	                      h = hex SHA-256 of the object name (mode 0600)
//
// Every file is JSON with a format tag; []byte fields are standard base64.
const (
	rootName    = "keyring.json"
	objectsName = "objects"
	kekSuffix   = ".kek"

	rootFormat = "enclave-local-keyring-v1"
	kekFormat  = "enclave-local-kek-v1"

	// maxFileSize bounds what is read from any keyring file; the real
	// files are a few hundred bytes.
	maxFileSize = 64 << 10

	keySize = 32 // AES-256 master key, KEK, data key, secret seed
)

// rootFile is the content of keyring.json.
type rootFile struct {
	Format  string    `json:"format"`
	Created time.Time `json:"created"`
	// SigningSeed is the 32-byte ed25519 seed (RFC 8032 private key).
	SigningSeed []byte `json:"signing_seed"`
	// MasterKey is the AES-256 key that wraps every object's KEK.
	MasterKey []byte `json:"master_key"`
	// SecretSeed is the HKDF input keying material of Secret.
	SecretSeed []byte `json:"secret_seed"`
	// Check is the hex SHA-256 of the format tag and the three keys; it
	// catches a corrupted file before any key from it is used.
	Check string `json:"check"`
}

// material is the parsed, checked root of a keyring.
type material struct {
	created    time.Time
	signing    ed25519.PrivateKey
	master     []byte
	secretSeed []byte
}

func rootCheck(signingSeed, master, secretSeed []byte) string {
	h := sha256.New()
	h.Write([]byte(rootFormat))
	h.Write([]byte{0})
	h.Write(signingSeed)
	h.Write(master)
	h.Write(secretSeed)
	return hex.EncodeToString(h.Sum(nil))
}

func encodeRoot(m *material) ([]byte, error) {
	seed := m.signing.Seed()
	f := rootFile{
		Format:      rootFormat,
		Created:     m.created.UTC(),
		SigningSeed: seed,
		MasterKey:   m.master,
		SecretSeed:  m.secretSeed,
		Check:       rootCheck(seed, m.master, m.secretSeed),
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode keyring file: %w", errdefs.ErrInternal)
	}
	return append(b, '\n'), nil
}

// parseRoot decodes and checks the content of keyring.json. Malformed or
// corrupted content returns an errdefs.ErrDataLoss class error, an unknown
// format an errdefs.ErrNotImplemented one. It never panics, whatever data
// holds, and its errors never contain key bytes.
func parseRoot(data []byte) (*material, error) {
	var f rootFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("keyring file %q: %w", rootName, err)
	}
	if f.Format != rootFormat {
		if strings.HasPrefix(f.Format, "enclave-local-keyring-") {
			return nil, fmt.Errorf("keyring file %q has an unsupported format version: %w", rootName, errdefs.ErrNotImplemented)
		}
		return nil, fmt.Errorf("keyring file %q has no keyring format tag: %w", rootName, errdefs.ErrDataLoss)
	}
	for _, k := range []struct {
		name string
		b    []byte
	}{{"signing_seed", f.SigningSeed}, {"master_key", f.MasterKey}, {"secret_seed", f.SecretSeed}} {
		if len(k.b) != keySize {
			return nil, fmt.Errorf("keyring file %q field %q has %d bytes, want %d: %w", rootName, k.name, len(k.b), keySize, errdefs.ErrDataLoss)
		}
	}
	want := rootCheck(f.SigningSeed, f.MasterKey, f.SecretSeed)
	if subtle.ConstantTimeCompare([]byte(want), []byte(f.Check)) != 1 {
		return nil, fmt.Errorf("keyring file %q fails its checksum: %w", rootName, errdefs.ErrDataLoss)
	}
	return &material{
		created:    f.Created,
		signing:    ed25519.NewKeyFromSeed(f.SigningSeed),
		master:     f.MasterKey,
		secretSeed: f.SecretSeed,
	}, nil
}

// kekFile is the content of objects/<h>.kek.
type kekFile struct {
	Format  string    `json:"format"`
	Object  string    `json:"object"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	// Wrapped is nonce || AES-256-GCM(master, KEK) with kekAD(ID, Object)
	// as associated data.
	Wrapped []byte `json:"wrapped"`
}

func encodeKEK(f *kekFile) ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode key-encryption key file: %w", errdefs.ErrInternal)
	}
	return append(b, '\n'), nil
}

// parseKEK decodes an object's KEK file and checks that it belongs to
// object. It does not unwrap the key. Errors are errdefs.ErrDataLoss class.
func parseKEK(data []byte, object string) (*kekFile, error) {
	var f kekFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("key-encryption key of object %q: %w", object, err)
	}
	if f.Format != kekFormat {
		return nil, fmt.Errorf("key-encryption key of object %q has no known format tag: %w", object, errdefs.ErrDataLoss)
	}
	if f.Object != object {
		return nil, fmt.Errorf("key-encryption key file of object %q belongs to another object: %w", object, errdefs.ErrDataLoss)
	}
	if !validKEKID(f.ID) {
		return nil, fmt.Errorf("key-encryption key of object %q has a malformed id: %w", object, errdefs.ErrDataLoss)
	}
	if len(f.Wrapped) != nonceSize+keySize+tagSize {
		return nil, fmt.Errorf("key-encryption key of object %q has %d wrapped bytes, want %d: %w", object, len(f.Wrapped), nonceSize+keySize+tagSize, errdefs.ErrDataLoss)
	}
	return &f, nil
}

// KEK ids are "kek-" and 32 lower-case hex digits (128 random bits).
const kekIDPrefix = "kek-"

func validKEKID(id string) bool {
	hexPart, ok := strings.CutPrefix(id, kekIDPrefix)
	if !ok || len(hexPart) != 32 {
		return false
	}
	for i := 0; i < len(hexPart); i++ {
		c := hexPart[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// decodeStrict decodes exactly one JSON object with only known fields.
// Its errors are errdefs.ErrDataLoss class and never quote the input.
func decodeStrict(data []byte, v any) error {
	if len(data) > maxFileSize {
		return fmt.Errorf("file larger than %d bytes: %w", maxFileSize, errdefs.ErrDataLoss)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// json errors may quote input bytes (key material); say only where.
		return fmt.Errorf("malformed JSON near byte %d: %w", dec.InputOffset(), errdefs.ErrDataLoss)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after the JSON object: %w", errdefs.ErrDataLoss)
	}
	return nil
}
