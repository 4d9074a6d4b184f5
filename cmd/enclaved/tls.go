package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/enclave-dev/enclave/enclave/services"
)

// ensureCertificate returns the daemon's TLS certificate and key under dir,
// generating a self-signed ECDSA P-256 pair on first start for the listen
// host, localhost and the loopback addresses. The CLI trusts it with
// --cacert DIR/cert.pem.
func ensureCertificate(dir, listen string) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := os.Stat(certFile); err == nil {
		return certFile, keyFile, nil
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "enclaved", Organization: []string{"Enclave"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(2, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}
	if err := selfSigned(dir, certFile, keyFile, tmpl); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// selfSigned makes an ECDSA P-256 key and a certificate from tmpl signed
// by it (a random serial), and writes them under dir: the key to keyFile
// (mode 0600), the certificate to certFile.
func selfSigned(dir, certFile, keyFile string, tmpl *x509.Certificate) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl.SerialNumber, _ = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create certificate %s: %w", filepath.Base(certFile), err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// ensureClientCA returns the client certificate authority under dir that
// issues application systems' client certificates (issue 19), generating
// an ECDSA P-256 key and a self-signed CA certificate on first start: it
// signs client certificates only (no intermediate below it), for ten
// years. Its key stays in dir, mode 0600, as the listener's key does.
func ensureClientCA(dir string) (*services.CA, error) {
	certFile, keyFile := filepath.Join(dir, "client-ca.pem"), filepath.Join(dir, "client-ca-key.pem")
	if _, err := os.Stat(certFile); os.IsNotExist(err) {
		if err := selfSigned(dir, certFile, keyFile, &x509.Certificate{
			Subject:               pkix.Name{CommonName: "enclaved client CA", Organization: []string{"Enclave"}},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().AddDate(10, 0, 0),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
			MaxPathLenZero:        true,
		}); err != nil {
			return nil, err
		}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load the client CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || !cert.IsCA {
		return nil, fmt.Errorf("client CA %s is not a CA certificate", certFile)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("client CA key %s cannot sign", keyFile)
	}
	return &services.CA{Cert: cert, Key: signer}, nil
}
