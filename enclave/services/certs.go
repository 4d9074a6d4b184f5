package services

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// Client certificates (issue 19 item 3): besides a token, a credential
// can be a client certificate on the TLS listener, issued by the
// enclave's client CA for a key the application system made itself (it
// sends a certificate request; its private key never reaches the
// enclave). The certificate names the organisation, the subscription and
// the system, expires with the subscription, and is known by its SHA-256:
// a call with it is authenticated against the credential's row each time,
// so a revocation refuses it at once.

// CA is the enclave's client certificate authority. Its key signs
// client certificates and nothing else.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// MaxCSRBytes bounds a PEM certificate request.
const MaxCSRBytes = 16 << 10

// certHashPrefix marks a certificate credential's hash; a token's hash is
// 64 hex digits and can never take this form, so no bearer token can name
// a certificate credential.
const certHashPrefix = "cert:"

// CertHash is how a certificate credential is stored and found: the
// SHA-256 of the certificate's DER.
func CertHash(der []byte) string {
	h := sha256.Sum256(der)
	return certHashPrefix + hex.EncodeToString(h[:])
}

// ParseCSR reads a PEM certificate request and checks its signature and
// key: ECDSA P-256 or P-384, RSA of 2048-8192 bits, or Ed25519. Errors
// never quote the request.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	bad := func(why string) error {
		return fmt.Errorf("certificate request: %s: %w", why, errdefs.ErrInvalidArgument)
	}
	if len(data) > MaxCSRBytes {
		return nil, bad(fmt.Sprintf("larger than %d bytes", MaxCSRBytes))
	}
	b, rest := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, bad("not a PEM block of type CERTIFICATE REQUEST")
	}
	if len(pemTrim(rest)) > 0 {
		return nil, bad("more than one PEM block")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, bad("not a readable PKCS #10 request")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, bad("its signature does not verify with its own key")
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, bad("an ECDSA key must be on P-256 or P-384")
		}
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 8192 {
			return nil, bad("an RSA key must have 2048-8192 bits")
		}
	case ed25519.PublicKey:
	default:
		return nil, bad("the key must be ECDSA, RSA or Ed25519")
	}
	return csr, nil
}

func pemTrim(b []byte) []byte {
	for len(b) > 0 && (b[0] == '\n' || b[0] == '\r' || b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// issuable checks a credential may be issued for subscription subID to
// organisation org and system now.
func issuable(ctx context.Context, q store.Querier, subID, org, system string, now time.Time) (*Subscription, error) {
	if !systemRE.MatchString(system) {
		return nil, fmt.Errorf("system name %q must be 1-63 letters, digits, dots, dashes or underscores: %w", clip(system), errdefs.ErrInvalidArgument)
	}
	sub, err := GetSubscription(ctx, q, subID)
	if err != nil {
		return nil, err
	}
	if sub.Org != org {
		return nil, fmt.Errorf("subscription %q: %w", clip(subID), errdefs.ErrNotFound)
	}
	if !sub.Live(now.UTC().Format(people.DateLayout)) {
		return nil, fmt.Errorf("subscription %q is %s until %s: credentials are issued only for an approved, running subscription: %w",
			subID, sub.State, sub.Until, errdefs.ErrFailedPrecondition)
	}
	return sub, nil
}

// IssueCert makes a certificate credential for an approved, live
// subscription of org: a client certificate signed by ca for the key of
// csrPEM, whose subject names the system (CN), the organisation (O) and
// the subscription (OU), with the credential's id as a URI, valid until
// the end of the subscription's last day (UTC) and no longer than the
// CA. The answer carries the certificate in PEM; only its hash is kept.
func IssueCert(ctx context.Context, q store.Querier, ca *CA, subID, org, system, by string, csrPEM []byte, now time.Time) (*Credential, error) {
	if ca == nil {
		return nil, fmt.Errorf("this daemon has no TLS listener (enclaved run --listen): client certificates are accepted only there: %w", errdefs.ErrFailedPrecondition)
	}
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	sub, err := issuable(ctx, q, subID, org, system, now)
	if err != nil {
		return nil, err
	}
	last, err := time.Parse(people.DateLayout, sub.Until)
	if err != nil {
		return nil, fmt.Errorf("subscription %q until: %w", sub.ID, errdefs.ErrDataLoss)
	}
	notAfter := last.Add(24*time.Hour - time.Second)
	if notAfter.After(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("the client CA expires on %s, before the subscription's end: renew the CA first: %w",
			ca.Cert.NotAfter.UTC().Format(people.DateLayout), errdefs.ErrFailedPrecondition)
	}
	c := &Credential{ID: newID("cred_"), Subscription: sub.ID, Service: sub.Service, Org: org, System: system, Until: sub.Until,
		CreatedBy: by, CreatedAt: now.UTC().Truncate(time.Second), Kind: KindCertificate}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: system, Organization: []string{org}, OrganizationalUnit: []string{sub.ID}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{{Scheme: "urn", Opaque: "enclave:credential:" + c.ID}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign the client certificate: %w", err)
	}
	_, err = q.ExecContext(ctx, `INSERT INTO service_credentials (id, subscription, org, system, hash, created_by, created_at) VALUES (?,?,?,?,?,?,?)`,
		c.ID, c.Subscription, c.Org, c.System, CertHash(der), by, storetime.Format(c.CreatedAt))
	if err != nil {
		return nil, err
	}
	c.Certificate = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return c, nil
}

// AuthenticateCert resolves a client certificate that the TLS listener
// verified against the client CA to its caller. It uses what the runtime
// holds of the credential, as Authenticate does for a token, and reads it
// again when a write was committed since (store.DB.Generation), so a
// revoked certificate is refused at the very next call; an unknown
// certificate, a revoked one, one whose subscription is not approved or
// has ended, or one of an organisation that is not active all answer the
// same ErrUnauthenticated.
func (r *Runtime) AuthenticateCert(ctx context.Context, der []byte) (Caller, error) {
	if err := r.init(ctx); err != nil {
		return Caller{}, err
	}
	now := r.now()
	e, err := r.credential(ctx, CertHash(der), now)
	if err != nil {
		return Caller{}, err
	}
	if !e.live || now.UTC().Format(people.DateLayout) > e.caller.Until {
		return Caller{}, errUnauth
	}
	return e.caller, nil
}
