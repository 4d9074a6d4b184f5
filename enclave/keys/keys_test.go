package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os/exec"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestValidObject(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"dataset version", "dataset/credit_penalties@3", true},
		{"chinese", "数据集/处罚@1", true},
		{"longest", strings.Repeat("a", MaxNameLen), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", MaxNameLen+1), false},
		{"space", "a b", false},
		{"tab", "a\tb", false},
		{"newline", "a\n", false},
		{"nul", "a\x00", false},
		{"invalid utf-8", "a\xff", false},
		{"ideographic space", "a\u3000b", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, fn := range []func(string) error{ValidObject, ValidPurpose} {
				err := fn(tc.in)
				if tc.ok && err != nil {
					t.Errorf("got %v, want nil", err)
				}
				if !tc.ok && !errdefs.IsInvalidArgument(err) {
					t.Errorf("got %v, want an invalid-argument error", err)
				}
			}
		})
	}
}

func TestPublicKeyPEMRoundTrip(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	data, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatalf("MarshalPublicKeyPEM: got error %v, want nil", err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Errorf("MarshalPublicKeyPEM: got %q, want a PUBLIC KEY PEM block", data)
	}
	got, err := ParsePublicKeyPEM(data)
	if err != nil || !got.Equal(pub) {
		t.Errorf("ParsePublicKeyPEM: got (%x, %v), want (%x, nil)", got, err, pub)
	}
	got, err = DecodePublicKey(EncodePublicKey(pub) + "\n")
	if err != nil || !got.Equal(pub) {
		t.Errorf("DecodePublicKey: got (%x, %v), want (%x, nil)", got, err, pub)
	}
	if _, err := MarshalPublicKeyPEM(pub[:31]); !errdefs.IsInvalidArgument(err) {
		t.Errorf("MarshalPublicKeyPEM of a short key: got %v, want an invalid-argument error", err)
	}
}

// The PEM form is what openssl reads, so a release can be verified with
// standard tools.
func TestPublicKeyPEMOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("SKIP: openssl not installed")
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	data, _ := MarshalPublicKeyPEM(pub)
	cmd := exec.Command(openssl, "pkey", "-pubin", "-noout", "-text")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ED25519") {
		t.Errorf("openssl pkey: got %q (%v), want an ED25519 public key", out, err)
	}
}

func TestParsePublicKeyPEMErrors(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not PEM", []byte("hello")},
		{"wrong type", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}})},
		{"ecdsa key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := ParsePublicKeyPEM(tc.in); !errdefs.IsInvalidArgument(err) {
				t.Errorf("got (%x, %v), want an invalid-argument error", got, err)
			}
		})
	}
}

func TestDecodePublicKeyErrors(t *testing.T) {
	for _, in := range []string{"", "!!!", "AAAA"} {
		if got, err := DecodePublicKey(in); !errdefs.IsInvalidArgument(err) {
			t.Errorf("DecodePublicKey(%q): got (%x, %v), want an invalid-argument error", in, got, err)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	msg := []byte("release bundle")
	sig := ed25519.Sign(priv, msg)
	tests := []struct {
		name string
		pub  ed25519.PublicKey
		msg  []byte
		sig  []byte
		want bool
	}{
		{"valid", pub, msg, sig, true},
		{"other key", other, msg, sig, false},
		{"other message", pub, []byte("release bundle!"), sig, false},
		{"short signature", pub, msg, sig[:10], false},
		{"short key", pub[:5], msg, sig, false},
		{"nil key", nil, msg, sig, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := VerifySignature(tc.pub, tc.msg, tc.sig); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	a, _, _ := ed25519.GenerateKey(rand.Reader)
	b, _, _ := ed25519.GenerateKey(rand.Reader)
	fa := Fingerprint(a)
	if !strings.HasPrefix(fa, "ed25519:") || len(fa) != len("ed25519:")+32 {
		t.Errorf("Fingerprint: got %q, want \"ed25519:\" and 32 hex digits", fa)
	}
	if fa != Fingerprint(append(ed25519.PublicKey(nil), a...)) {
		t.Errorf("Fingerprint: got different values for the same key")
	}
	if fa == Fingerprint(b) {
		t.Errorf("Fingerprint: got the same value for two keys")
	}
}

func FuzzParsePublicKeyPEM(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	good, _ := MarshalPublicKeyPEM(pub)
	f.Add(good)
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParsePublicKeyPEM(data)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got error %v, want an invalid-argument error", err)
			}
			return
		}
		if len(got) != ed25519.PublicKeySize {
			t.Fatalf("got a %d-byte key without error, want %d bytes", len(got), ed25519.PublicKeySize)
		}
		// What parses re-encodes to a block that parses to the same key.
		again, err := MarshalPublicKeyPEM(got)
		if err != nil {
			t.Fatalf("MarshalPublicKeyPEM of a parsed key: got error %v", err)
		}
		if back, err := ParsePublicKeyPEM(again); err != nil || !back.Equal(got) {
			t.Fatalf("round trip: got (%x, %v), want (%x, nil)", back, err, got)
		}
	})
}
