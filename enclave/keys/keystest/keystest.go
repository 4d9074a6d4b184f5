// Package keystest is the contract suite of keys.Keyring: the same tests
// run against every implementation (the local file keyring and the Vault
// transit keyring) from their own test files.
//
//	func TestContract(t *testing.T) {
//		keystest.Run(t, func(t *testing.T) keys.Keyring { return newKeyring(t) })
//	}
package keystest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
)

// Run runs the keyring contract against keyrings made by newKeyring. Each
// subtest calls newKeyring once; keyrings may share a backend (one Vault
// server) because every subtest uses object names of its own.
func Run(t *testing.T, newKeyring func(t *testing.T) keys.Keyring) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, kr keys.Keyring)
	}{
		{"Name", testName},
		{"RoundTrip", testRoundTrip},
		{"PerObjectIsolation", testIsolation},
		{"Shred", testShred},
		{"TamperedWrappedKey", testTampered},
		{"WrongObject", testWrongObject},
		{"Secret", testSecret},
		{"Sign", testSign},
		{"InvalidNames", testInvalidNames},
		{"CanceledContext", testCanceled},
		{"Concurrent", testConcurrent},
		{"HasKey", testHasKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newKeyring(t))
		})
	}
}

// RunPersistence checks what must survive reopening a keyring: newKeyring
// returns a keyring and a function that opens the same keyring again (a new
// Open of the same directory, a new client of the same Vault).
func RunPersistence(t *testing.T, newKeyring func(t *testing.T) (kr keys.Keyring, reopen func(t *testing.T) keys.Keyring)) {
	t.Helper()
	t.Run("Reopen", func(t *testing.T) {
		ctx := context.Background()
		kr, reopen := newKeyring(t)
		obj, shredded := Object(t, "reopen"), Object(t, "reopen-shred")
		plain, wrapped := mustNewDataKey(t, kr, obj)
		mustNewDataKey(t, kr, shredded)
		secret := mustSecret(t, kr, "pseudonym")
		pub, err := kr.PublicKey(ctx)
		if err != nil {
			t.Fatalf("PublicKey: got error %v, want nil", err)
		}
		sig, err := kr.Sign(ctx, []byte("checkpoint"))
		if err != nil {
			t.Fatalf("Sign: got error %v, want nil", err)
		}
		if _, err := kr.Shred(ctx, shredded); err != nil {
			t.Fatalf("Shred: got error %v, want nil", err)
		}

		again := reopen(t)
		got, err := again.UnwrapDataKey(ctx, obj, wrapped)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("UnwrapDataKey after reopen: got (%x, %v), want (%x, nil)", got, err, plain)
		}
		if s := mustSecret(t, again, "pseudonym"); !bytes.Equal(s, secret) {
			t.Errorf("Secret after reopen: got %x, want %x", s, secret)
		}
		pub2, err := again.PublicKey(ctx)
		if err != nil || !pub2.Equal(pub) {
			t.Errorf("PublicKey after reopen: got (%x, %v), want (%x, nil)", pub2, err, pub)
		}
		if !ed25519.Verify(pub2, []byte("checkpoint"), sig) {
			t.Errorf("signature made before reopen: got invalid, want valid")
		}
		if _, err := again.Shred(ctx, shredded); !errdefs.IsNotFound(err) {
			t.Errorf("Shred of an object shredded before reopen: got %v, want a not-found error", err)
		}
	})
}

// Object returns an object name unique to this test run, such as
// "dataset/roundtrip-1a2b3c4d5e6f@1".
func Object(t *testing.T, label string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("dataset/%s-%s@1", label, hex.EncodeToString(b))
}

func mustNewDataKey(t *testing.T, kr keys.Keyring, object string) (plain, wrapped []byte) {
	t.Helper()
	plain, wrapped, err := kr.NewDataKey(context.Background(), object)
	if err != nil {
		t.Fatalf("NewDataKey(%q): got error %v, want nil", object, err)
	}
	if len(plain) != 32 {
		t.Fatalf("NewDataKey(%q): got a %d-byte key, want 32 bytes", object, len(plain))
	}
	if len(wrapped) == 0 || bytes.Contains(wrapped, plain) {
		t.Fatalf("NewDataKey(%q): wrapped key is empty or holds the plaintext", object)
	}
	return plain, wrapped
}

func mustSecret(t *testing.T, kr keys.Keyring, purpose string) []byte {
	t.Helper()
	s, err := kr.Secret(context.Background(), purpose)
	if err != nil {
		t.Fatalf("Secret(%q): got error %v, want nil", purpose, err)
	}
	if len(s) != 32 {
		t.Fatalf("Secret(%q): got %d bytes, want 32", purpose, len(s))
	}
	return s
}

func testName(t *testing.T, kr keys.Keyring) {
	if n := kr.Name(); n != "local" && n != "vault" {
		t.Errorf("Name: got %q, want \"local\" or \"vault\"", n)
	}
}

func testRoundTrip(t *testing.T, kr keys.Keyring) {
	ctx := context.Background()
	obj := Object(t, "roundtrip")
	p1, w1 := mustNewDataKey(t, kr, obj)
	p2, w2 := mustNewDataKey(t, kr, obj)
	if bytes.Equal(p1, p2) {
		t.Errorf("two NewDataKey calls: got the same key twice, want distinct keys")
	}
	if bytes.Equal(w1, w2) {
		t.Errorf("two NewDataKey calls: got the same wrapped key twice, want distinct")
	}
	for i, tc := range []struct{ plain, wrapped []byte }{{p1, w1}, {p2, w2}} {
		got, err := kr.UnwrapDataKey(ctx, obj, tc.wrapped)
		if err != nil {
			t.Fatalf("UnwrapDataKey #%d: got error %v, want nil", i, err)
		}
		if !bytes.Equal(got, tc.plain) {
			t.Errorf("UnwrapDataKey #%d: got %x, want %x", i, got, tc.plain)
		}
	}
}

func testIsolation(t *testing.T, kr keys.Keyring) {
	ctx := context.Background()
	a, b := Object(t, "iso-a"), Object(t, "iso-b")
	_, wa := mustNewDataKey(t, kr, a)
	pb, wb := mustNewDataKey(t, kr, b)
	if _, err := kr.Shred(ctx, a); err != nil {
		t.Fatalf("Shred(%q): got error %v, want nil", a, err)
	}
	if _, err := kr.UnwrapDataKey(ctx, a, wa); !errdefs.IsNotFound(err) {
		t.Errorf("UnwrapDataKey of the shredded object: got %v, want a not-found error", err)
	}
	got, err := kr.UnwrapDataKey(ctx, b, wb)
	if err != nil || !bytes.Equal(got, pb) {
		t.Errorf("UnwrapDataKey of the other object: got (%x, %v), want (%x, nil)", got, err, pb)
	}
	// New keys for the surviving object keep working.
	p, w := mustNewDataKey(t, kr, b)
	if got, err := kr.UnwrapDataKey(ctx, b, w); err != nil || !bytes.Equal(got, p) {
		t.Errorf("UnwrapDataKey of a new key of the other object: got (%x, %v), want (%x, nil)", got, err, p)
	}
}

func testShred(t *testing.T, kr keys.Keyring) {
	ctx := context.Background()
	obj := Object(t, "shred")
	_, w1 := mustNewDataKey(t, kr, obj)
	_, w2 := mustNewDataKey(t, kr, obj)
	id, err := kr.Shred(ctx, obj)
	if err != nil {
		t.Fatalf("Shred: got error %v, want nil", err)
	}
	if id == "" {
		t.Errorf("Shred: got an empty key id, want the destroyed key's id")
	}
	for i, w := range [][]byte{w1, w2} {
		if got, err := kr.UnwrapDataKey(ctx, obj, w); !errdefs.IsNotFound(err) {
			t.Errorf("UnwrapDataKey #%d after Shred: got (%x, %v), want a not-found error", i, got, err)
		}
	}
	if _, err := kr.Shred(ctx, obj); !errdefs.IsNotFound(err) {
		t.Errorf("second Shred: got %v, want a not-found error", err)
	}
	if _, err := kr.Shred(ctx, Object(t, "never-made")); !errdefs.IsNotFound(err) {
		t.Errorf("Shred of an unknown object: got %v, want a not-found error", err)
	}
	if _, err := kr.UnwrapDataKey(ctx, Object(t, "never-made"), w1); !errdefs.IsNotFound(err) {
		t.Errorf("UnwrapDataKey of an unknown object: got %v, want a not-found error", err)
	}
}

func testTampered(t *testing.T, kr keys.Keyring) {
	ctx := context.Background()
	obj := Object(t, "tamper")
	_, w := mustNewDataKey(t, kr, obj)
	flip := func(i int) []byte {
		c := bytes.Clone(w)
		c[i] ^= 0x01
		return c
	}
	cases := []struct {
		name    string
		wrapped []byte
	}{
		{"first byte flipped", flip(0)},
		{"middle byte flipped", flip(len(w) / 2)},
		{"byte before last flipped", flip(len(w) - 2)},
		{"last byte flipped", flip(len(w) - 1)},
		{"truncated", w[:len(w)-1]},
		{"extended", append(bytes.Clone(w), 'A')},
		{"empty", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := kr.UnwrapDataKey(ctx, obj, tc.wrapped)
			if !errdefs.IsDataLoss(err) {
				t.Errorf("UnwrapDataKey: got (%x, %v), want a data-loss error", got, err)
			}
		})
	}
}

func testWrongObject(t *testing.T, kr keys.Keyring) {
	ctx := context.Background()
	a, b := Object(t, "wrong-a"), Object(t, "wrong-b")
	_, wa := mustNewDataKey(t, kr, a)
	mustNewDataKey(t, kr, b)
	if got, err := kr.UnwrapDataKey(ctx, b, wa); !errdefs.IsDataLoss(err) {
		t.Errorf("UnwrapDataKey under another object: got (%x, %v), want a data-loss error", got, err)
	}
}

func testSecret(t *testing.T, kr keys.Keyring) {
	purposes := []string{"pseudonym", "fingerprint", "id-number"}
	seen := map[string]string{}
	for _, p := range purposes {
		s1 := mustSecret(t, kr, p)
		s2 := mustSecret(t, kr, p)
		if !bytes.Equal(s1, s2) {
			t.Errorf("Secret(%q) twice: got %x then %x, want equal", p, s1, s2)
		}
		if other, ok := seen[string(s1)]; ok {
			t.Errorf("Secret(%q): got the same secret as purpose %q, want distinct", p, other)
		}
		seen[string(s1)] = p
	}
}

func testSign(t *testing.T, kr keys.Keyring) {
	ctx := context.Background()
	pub, err := kr.PublicKey(ctx)
	if err != nil {
		t.Fatalf("PublicKey: got error %v, want nil", err)
	}
	if len(pub) != ed25519.PublicKeySize {
		t.Fatalf("PublicKey: got %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	for _, msg := range [][]byte{nil, []byte("checkpoint 42"), bytes.Repeat([]byte{0xff}, 4096)} {
		sig, err := kr.Sign(ctx, msg)
		if err != nil {
			t.Fatalf("Sign(%d bytes): got error %v, want nil", len(msg), err)
		}
		if !ed25519.Verify(pub, msg, sig) {
			t.Errorf("Sign(%d bytes): signature does not verify with PublicKey", len(msg))
		}
		if !keys.VerifySignature(pub, msg, sig) {
			t.Errorf("keys.VerifySignature(%d bytes): got false, want true", len(msg))
		}
		if ed25519.Verify(pub, append(bytes.Clone(msg), 0), sig) {
			t.Errorf("Sign(%d bytes): signature also verifies a longer message", len(msg))
		}
	}
}

func testInvalidNames(t *testing.T, kr keys.Keyring) {
	ctx := context.Background()
	for _, name := range []string{"", "a b", "line\nbreak", string([]byte{0xff, 0xfe}), string(bytes.Repeat([]byte{'x'}, keys.MaxNameLen+1))} {
		if _, _, err := kr.NewDataKey(ctx, name); !errdefs.IsInvalidArgument(err) {
			t.Errorf("NewDataKey(%q): got %v, want an invalid-argument error", name, err)
		}
		if _, err := kr.UnwrapDataKey(ctx, name, []byte("x")); !errdefs.IsInvalidArgument(err) {
			t.Errorf("UnwrapDataKey(%q): got %v, want an invalid-argument error", name, err)
		}
		if _, err := kr.Shred(ctx, name); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Shred(%q): got %v, want an invalid-argument error", name, err)
		}
		if _, err := kr.Secret(ctx, name); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Secret(%q): got %v, want an invalid-argument error", name, err)
		}
	}
}

func testCanceled(t *testing.T, kr keys.Keyring) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	obj := Object(t, "canceled")
	if _, _, err := kr.NewDataKey(ctx, obj); !errors.Is(err, context.Canceled) {
		t.Errorf("NewDataKey with a canceled context: got %v, want context.Canceled", err)
	}
	if _, err := kr.Sign(ctx, []byte("m")); !errors.Is(err, context.Canceled) {
		t.Errorf("Sign with a canceled context: got %v, want context.Canceled", err)
	}
	if _, err := kr.Secret(ctx, "pseudonym"); !errors.Is(err, context.Canceled) {
		t.Errorf("Secret with a canceled context: got %v, want context.Canceled", err)
	}
}

// testConcurrent runs data key, secret, signing and shredding calls from
// many goroutines at once; run it under -race.
func testConcurrent(t *testing.T, kr keys.Keyring) {
	ctx := context.Background()
	const workers, rounds = 8, 6
	shared := Object(t, "concurrent-shared")
	pub, err := kr.PublicKey(ctx)
	if err != nil {
		t.Fatalf("PublicKey: got error %v, want nil", err)
	}
	want := mustSecret(t, kr, "pseudonym")

	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*8)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			own := Object(t, fmt.Sprintf("concurrent-%d", w))
			for r := 0; r < rounds; r++ {
				for _, obj := range []string{shared, own} {
					plain, wrapped, err := kr.NewDataKey(ctx, obj)
					if err != nil {
						errs <- fmt.Errorf("worker %d NewDataKey(%q): %w", w, obj, err)
						continue
					}
					got, err := kr.UnwrapDataKey(ctx, obj, wrapped)
					if err != nil || !bytes.Equal(got, plain) {
						errs <- fmt.Errorf("worker %d UnwrapDataKey(%q): got mismatch or error %v, want the key", w, obj, err)
					}
				}
				s, err := kr.Secret(ctx, "pseudonym")
				if err != nil || !bytes.Equal(s, want) {
					errs <- fmt.Errorf("worker %d Secret: got mismatch or error %v, want the stable secret", w, err)
				}
				msg := []byte(fmt.Sprintf("worker %d round %d", w, r))
				sig, err := kr.Sign(ctx, msg)
				if err != nil || !ed25519.Verify(pub, msg, sig) {
					errs <- fmt.Errorf("worker %d Sign: got invalid signature or error %v, want valid", w, err)
				}
			}
			if _, err := kr.Shred(ctx, own); err != nil {
				errs <- fmt.Errorf("worker %d Shred(%q): %w", w, own, err)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// testHasKey: a keyring tells a live key from one never made or shredded
// (keys.Checker), which a restore relies on to find keys destroyed after
// its backup.
func testHasKey(t *testing.T, kr keys.Keyring) {
	ctx := context.Background()
	c, ok := kr.(keys.Checker)
	if !ok {
		t.Fatalf("%s keyring does not implement keys.Checker", kr.Name())
	}
	obj := Object(t, "haskey")
	if has, err := c.HasKey(ctx, obj); err != nil || has {
		t.Fatalf("HasKey of an object never made: got %v, %v; want false", has, err)
	}
	mustNewDataKey(t, kr, obj)
	if has, err := c.HasKey(ctx, obj); err != nil || !has {
		t.Fatalf("HasKey of a live object: got %v, %v; want true", has, err)
	}
	if _, err := kr.Shred(ctx, obj); err != nil {
		t.Fatal(err)
	}
	if has, err := c.HasKey(ctx, obj); err != nil || has {
		t.Fatalf("HasKey after Shred: got %v, %v; want false", has, err)
	}
	if _, err := c.HasKey(ctx, "bad name"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("HasKey of an invalid name: got %v, want invalid argument", err)
	}
}
