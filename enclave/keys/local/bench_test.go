package local

import (
	"context"
	"path/filepath"
	"testing"
)

func benchKeyring(b *testing.B) *Keyring {
	b.Helper()
	kr, err := Create(filepath.Join(b.TempDir(), "keys"))
	if err != nil {
		b.Fatal(err)
	}
	return kr
}

// BenchmarkUnwrapDataKey measures one unwrap: a read of the object's KEK
// file, its unwrap under the master key, and the data key's unwrap.
func BenchmarkUnwrapDataKey(b *testing.B) {
	kr := benchKeyring(b)
	ctx := context.Background()
	_, wrapped, err := kr.NewDataKey(ctx, "dataset/bench@1")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := kr.UnwrapDataKey(ctx, "dataset/bench@1", wrapped); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewDataKeyExisting measures NewDataKey for an object whose KEK
// exists (no file is written).
func BenchmarkNewDataKeyExisting(b *testing.B) {
	kr := benchKeyring(b)
	ctx := context.Background()
	if _, _, err := kr.NewDataKey(ctx, "dataset/bench@1"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := kr.NewDataKey(ctx, "dataset/bench@1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	kr := benchKeyring(b)
	ctx := context.Background()
	msg := make([]byte, 256)
	for b.Loop() {
		if _, err := kr.Sign(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSecret(b *testing.B) {
	kr := benchKeyring(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := kr.Secret(ctx, "pseudonym"); err != nil {
			b.Fatal(err)
		}
	}
}
