package vault

import (
	"context"
	"testing"

	"github.com/enclave-dev/enclave/enclave/keys/vault/vaulttest"
)

func benchKeyring(b *testing.B) *Keyring {
	b.Helper()
	shared.once.Do(func() { shared.server, shared.err = vaulttest.Launch() })
	if shared.err != nil {
		vaulttest.SkipOrFail(b, shared.err)
	}
	cfg := Default()
	cfg.Address, cfg.Token = shared.server.Addr, shared.server.Token
	kr, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return kr
}

// BenchmarkUnwrapDataKey measures one transit/decrypt round trip to a
// local Vault dev server.
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
