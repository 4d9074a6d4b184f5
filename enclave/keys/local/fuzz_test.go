package local

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
)

// FuzzOpenKeyring opens a keyring whose keyring.json holds arbitrary bytes:
// Open must return an error or a working keyring, never panic, and a file
// that opens must hold a consistent key set.
func FuzzOpenKeyring(f *testing.F) {
	dir := f.TempDir()
	kr, err := Create(filepath.Join(dir, "seed"))
	if err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(kr.Dir(), rootName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"check": "`), []byte(`"check": "0`), 1))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"format":"enclave-local-keyring-v1"}`))

	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, objectsName), 0o700); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(target, rootName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		kr, err := Open(target)
		if err != nil {
			if !errdefs.IsDataLoss(err) && !errdefs.IsNotImplemented(err) {
				t.Fatalf("Open: got %v, want a data-loss or not-implemented error", err)
			}
			return
		}
		ctx := context.Background()
		msg := []byte("fuzz")
		sig, err := kr.Sign(ctx, msg)
		if err != nil {
			t.Fatalf("Sign: got error %v, want nil", err)
		}
		pub, _ := kr.PublicKey(ctx)
		if !ed25519.Verify(pub, msg, sig) {
			t.Fatalf("a keyring that opened signs with a key that does not match its public key")
		}
		if _, err := kr.Secret(ctx, "pseudonym"); err != nil {
			t.Fatalf("Secret: got error %v, want nil", err)
		}
	})
}

// FuzzParseKEK parses arbitrary bytes as an object's KEK file.
func FuzzParseKEK(f *testing.F) {
	kr, err := Create(filepath.Join(f.TempDir(), "seed"))
	if err != nil {
		f.Fatal(err)
	}
	if _, _, err := kr.NewDataKey(context.Background(), "dataset/a@1"); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(kr.kekPath("dataset/a@1"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"enclave-local-kek-v1","object":"dataset/a@1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := parseKEK(data, "dataset/a@1")
		if err != nil {
			if !errdefs.IsDataLoss(err) {
				t.Fatalf("parseKEK: got %v, want a data-loss error", err)
			}
			return
		}
		if kf.Object != "dataset/a@1" || !validKEKID(kf.ID) || len(kf.Wrapped) != nonceSize+keySize+tagSize {
			t.Fatalf("parseKEK: accepted a record with object %q, id %q, %d wrapped bytes", kf.Object, kf.ID, len(kf.Wrapped))
		}
	})
}
