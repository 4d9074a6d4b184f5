package people

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
)

// TokenPrefix starts every token, so that a leaked one is easy to spot.
const TokenPrefix = "enc_"

// NewToken returns a fresh bearer token of 256 random bits and the hash
// under which it is stored. The token itself is shown once and never kept.
func NewToken() (token, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("read random: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token), nil
}

// HashToken returns the stored form of a token. A token has 256 bits of
// entropy, so a plain SHA-256 cannot be reversed.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// WellFormedToken reports whether s has the shape of a token, without
// saying anything about whether it is known.
func WellFormedToken(s string) error {
	if !strings.HasPrefix(s, TokenPrefix) {
		return fmt.Errorf("token is malformed: %w", errdefs.ErrUnauthenticated)
	}
	b, err := base64.RawURLEncoding.DecodeString(s[len(TokenPrefix):])
	if err != nil || len(b) != 32 {
		return fmt.Errorf("token is malformed: %w", errdefs.ErrUnauthenticated)
	}
	return nil
}

// NewID returns a random identifier with the given prefix, such as
// "p_3f9c0a1b2c3d4e5f".
func NewID(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("read random: " + err.Error())
	}
	return prefix + hex.EncodeToString(b[:])
}

// HashIDNumber returns the keyed hash under which a resident ID number is
// stored; key is the keyring's "id-number" secret.
func HashIDNumber(key []byte, idNumber string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.ToUpper(idNumber)))
	return hex.EncodeToString(m.Sum(nil))
}
