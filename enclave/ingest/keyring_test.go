package ingest

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
)

// fakeKeyring is a tiny in-memory keyring for tests: one AES-GCM key per
// object wraps data keys; secrets are derived from a fixed master.
type fakeKeyring struct {
	mu       sync.Mutex
	kek      map[string][]byte
	shredded map[string]bool
	master   []byte
}

var _ keys.Keyring = (*fakeKeyring)(nil)

func newFakeKeyring() *fakeKeyring {
	return &fakeKeyring{kek: map[string][]byte{}, shredded: map[string]bool{}, master: bytes.Repeat([]byte{7}, 32)}
}

func (k *fakeKeyring) aead(object string, create bool) (cipher.AEAD, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.shredded[object] {
		return nil, fmt.Errorf("key %q: %w", object, errdefs.ErrNotFound)
	}
	kek, ok := k.kek[object]
	if !ok {
		if !create {
			return nil, fmt.Errorf("key %q: %w", object, errdefs.ErrNotFound)
		}
		kek = make([]byte, 32)
		rand.Read(kek)
		k.kek[object] = kek
	}
	b, _ := aes.NewCipher(kek)
	return cipher.NewGCM(b)
}

func (k *fakeKeyring) NewDataKey(_ context.Context, object string) ([]byte, []byte, error) {
	a, err := k.aead(object, true)
	if err != nil {
		return nil, nil, err
	}
	plain := make([]byte, 32)
	rand.Read(plain)
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	return plain, a.Seal(nonce, nonce, plain, []byte(object)), nil
}

func (k *fakeKeyring) UnwrapDataKey(_ context.Context, object string, wrapped []byte) ([]byte, error) {
	a, err := k.aead(object, false)
	if err != nil {
		return nil, err
	}
	if len(wrapped) < a.NonceSize() {
		return nil, fmt.Errorf("wrapped key: %w", errdefs.ErrDataLoss)
	}
	p, err := a.Open(nil, wrapped[:a.NonceSize()], wrapped[a.NonceSize():], []byte(object))
	if err != nil {
		return nil, fmt.Errorf("wrapped key: %w", errdefs.ErrDataLoss)
	}
	return p, nil
}

func (k *fakeKeyring) Shred(_ context.Context, object string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.kek[object]; !ok || k.shredded[object] {
		return "", fmt.Errorf("key %q: %w", object, errdefs.ErrNotFound)
	}
	delete(k.kek, object)
	k.shredded[object] = true
	return "fake/" + object, nil
}

func (k *fakeKeyring) Secret(_ context.Context, purpose string) ([]byte, error) {
	h := sha256.Sum256(append(append([]byte{}, k.master...), purpose...))
	return h[:], nil
}

func (k *fakeKeyring) Sign(context.Context, []byte) ([]byte, error) {
	return nil, fmt.Errorf("sign: %w", errdefs.ErrNotImplemented)
}

func (k *fakeKeyring) PublicKey(context.Context) (ed25519.PublicKey, error) {
	return nil, fmt.Errorf("public key: %w", errdefs.ErrNotImplemented)
}

func (k *fakeKeyring) Name() string { return "fake" }
