package services

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"regexp"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

func csrPEM(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "loan-desk"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestParseCSR(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	good := csrPEM(t, p256)
	// A request whose signature does not match its content: flip a byte
	// of the subject inside the DER.
	blk, _ := pem.Decode(good)
	der := append([]byte(nil), blk.Bytes...)
	i := strings.Index(string(der), "loan-desk")
	der[i] = 'L'
	forged := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	for _, tc := range []struct {
		name string
		in   []byte
		want string // "" accepted
	}{
		{"ecdsa p-256", good, ""},
		{"not pem", []byte("hello"), "not a PEM block"},
		{"a certificate block", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: blk.Bytes}), "not a PEM block"},
		{"two blocks", append(append([]byte{}, good...), good...), "more than one"},
		{"not pkcs10", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), "not a readable"},
		{"signature broken", forged, "signature"},
		{"p-224", csrPEM(t, p224), "P-256 or P-384"},
		{"rsa 1024", csrPEM(t, rsa1024), "2048-8192"},
		{"too big", make([]byte, MaxCSRBytes+1), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCSR(tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				return
			}
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want invalid argument naming %q", err, tc.want)
			}
		})
	}
}

func TestCertHashNeverATokenHash(t *testing.T) {
	h := CertHash([]byte("der"))
	if !strings.HasPrefix(h, "cert:") || len(hashToken("esvc_x")) != 64 || strings.HasPrefix(hashToken(h), "cert:") {
		t.Fatalf("a certificate's hash %q can be confused with a token's", h)
	}
}

// fixedCSRError is the form of every ParseCSR error: fixed words, no
// part of the input.
var fixedCSRError = regexp.MustCompile(`^certificate request: [A-Za-z0-9 #,-]+: invalid argument$`)

// FuzzParseCSR: any input is accepted as a request whose signature
// verifies with an allowed key, or refused as invalid argument; never a
// panic, and the error never quotes the input.
func FuzzParseCSR(f *testing.F) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.Add(csrPEM(f, p256))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSR(data)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got %v, want invalid argument", err)
			}
			if !fixedCSRError.MatchString(err.Error()) {
				t.Fatalf("the error is not one of the fixed messages (it may quote the input): %q", err)
			}
			return
		}
		if csr.CheckSignature() != nil {
			t.Fatal("accepted a request whose signature does not verify")
		}
	})
}

// TestCertRevocationTakesEffectAtOnce: certificate credentials use the
// runtime's cache as tokens do (no database read per call), and a
// revocation or a suspension of the organisation committed through
// store.DB.Tx is refused on the very next call, with no Forget and no time
// passing; the other certificate of the subscription still answers.
func TestCertRevocationTakesEffectAtOnce(t *testing.T) {
	ctx := context.Background()
	r, db, now := credWorld(t)
	at := storetime.Format(now)
	certA, certB := []byte("der of certificate a"), []byte("der of certificate b")
	change := func(q string, args ...any) {
		t.Helper()
		if err := db.Tx(ctx, func(tx *sql.Tx) error { _, err := tx.ExecContext(ctx, q, args...); return err }, nil); err != nil {
			t.Fatal(err)
		}
	}
	change(`INSERT INTO service_credentials (id, subscription, org, system, hash, created_by, created_at)
		VALUES ('cred_a', 'sub_1', 'bank', 'desk', ?, 'p', ?), ('cred_b', 'sub_1', 'bank', 'desk', ?, 'p', ?)`,
		CertHash(certA), at, CertHash(certB), at)
	live := func(der []byte) {
		t.Helper()
		if c, err := r.AuthenticateCert(ctx, der); err != nil || c.Subscription != "sub_1" || c.Org.Name != "bank" {
			t.Fatalf("AuthenticateCert(%s): got %+v, %v; want the caller of sub_1", der, c, err)
		}
	}
	refused := func(der []byte, why string) {
		t.Helper()
		if _, err := r.AuthenticateCert(ctx, der); !errdefs.IsUnauthorized(err) {
			t.Fatalf("after %s: AuthenticateCert(%s): got %v, want unauthenticated at once", why, der, err)
		}
	}
	reads := r.reads.Load()
	live(certA)
	live(certB)
	refused([]byte("der of an unknown certificate"), "nothing")
	if n := r.reads.Load() - reads; n != 3 {
		t.Fatalf("the first calls of three certificates read %d credentials through the cache, want 3", n)
	}
	reads = r.reads.Load()
	for range 100 {
		live(certA)
	}
	if n := r.reads.Load() - reads; n != 0 {
		t.Fatalf("100 calls with nothing written read the credential %d times, want 0", n)
	}

	change(`UPDATE service_credentials SET revoked_at = ? WHERE hash = ?`, at, CertHash(certA))
	refused(certA, "a revocation")
	live(certB)

	change(`UPDATE orgs SET status = 'suspended' WHERE name = 'bank'`)
	refused(certB, "the organisation's suspension")
	change(`UPDATE orgs SET status = 'active' WHERE name = 'bank'`)
	live(certB)
}
