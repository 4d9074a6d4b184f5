package keys

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
)

// pemType is the PEM block type of a PKIX (SubjectPublicKeyInfo) public key,
// the form `openssl pkey -pubin` reads.
const pemType = "PUBLIC KEY"

// MarshalPublicKeyPEM encodes an ed25519 public key as a PKIX "PUBLIC KEY"
// PEM block, for `enclave keys public` and for verifying release bundles
// offline with standard tools.
func MarshalPublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key of %d bytes, want %d: %w", len(pub), ed25519.PublicKeySize, errdefs.ErrInvalidArgument)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", errdefs.ErrInvalidArgument)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), nil
}

// ParsePublicKeyPEM decodes the first PEM block of data, which must be a
// PKIX "PUBLIC KEY" holding an ed25519 key. Other input returns an
// errdefs.ErrInvalidArgument class error.
func ParsePublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block found: %w", errdefs.ErrInvalidArgument)
	}
	if block.Type != pemType {
		return nil, fmt.Errorf("PEM block of type %q, want %q: %w", block.Type, pemType, errdefs.ErrInvalidArgument)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("malformed public key: %w", errdefs.ErrInvalidArgument)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is not ed25519: %w", errdefs.ErrInvalidArgument)
	}
	return pub, nil
}

// EncodePublicKey returns the standard base64 encoding of the 32 raw bytes
// of pub, the compact form for JSON output.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// DecodePublicKey reverses EncodePublicKey; surrounding white space is
// ignored. Other input returns an errdefs.ErrInvalidArgument class error.
func DecodePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("public key is not base64: %w", errdefs.ErrInvalidArgument)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key of %d bytes, want %d: %w", len(b), ed25519.PublicKeySize, errdefs.ErrInvalidArgument)
	}
	return ed25519.PublicKey(b), nil
}

// Fingerprint returns a short stable identifier of a public key: "ed25519:"
// and the first 16 bytes of its SHA-256 in hex. Records name the signing key
// by it.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:16])
}

// VerifySignature reports whether sig is a valid ed25519 signature of msg by
// pub, as made by Keyring.Sign. A public key of the wrong size is reported
// as not valid rather than panicking.
func VerifySignature(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, msg, sig)
}
