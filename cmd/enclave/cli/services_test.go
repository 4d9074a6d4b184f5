package cli

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/release"
)

// TestServiceCreateOverExport: --export sends the export and the file;
// a line that cannot make a service is a usage error before any
// connection.
func TestServiceCreateOverExport(t *testing.T) {
	sock, take := objectionDaemon(t, api.Service{Name: "counts", Mode: "bulk", Export: "x_1", State: "pending"})
	var out, errb bytes.Buffer
	if code := Main([]string{"service", "create", "counts", "--mode", "bulk", "--export", "x_1", "--scenario", "dashboard", "--addr", sock}, nil, &out, &errb, tokenEnv); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if seen := take(); len(seen) != 1 || seen[0] != `POST /v1/services {"name":"counts","mode":"bulk","dataset":"","key":"","scenario":"dashboard","export":"x_1"}` {
		t.Fatalf("sent %q", seen)
	}
	if !strings.Contains(out.String(), "export") || !strings.Contains(out.String(), "x_1") {
		t.Fatalf("the table does not name the export:\n%s", out.String())
	}
	for _, args := range [][]string{
		{"service", "create", "c", "--mode", "bulk", "--dataset", "penalties", "--scenario", "s"},
		{"service", "create", "c", "--mode", "query", "--export", "x_1", "--scenario", "s", "--columns", "count"},
		{"service", "create", "c", "--mode", "query", "--export", "x_1", "--dataset", "penalties", "--key", "k", "--scenario", "s"},
		{"service", "create", "c", "--mode", "bulk", "--export", "x_1"},
		{"service", "download", "c"},
		{"credential", "issue", "--subscription", "sub_1", "--system", "s", "--cert-key", "k.pem"},
		{"service", "verify-statement", "st.json"},
	} {
		var out, errb bytes.Buffer
		code := Main(append(args, "--addr", "/nonexistent/enclaved.sock"), nil, &out, &errb, tokenEnv)
		if code != ExitUsage || strings.Contains(errb.String(), "nonexistent") {
			t.Errorf("%v: got exit %d (%s), want a usage error before any connection", args, code, errb.String())
		}
	}
}

// TestCredentialIssueCert: --cert makes a key here (mode 0600), sends only
// a certificate request for it, and writes the certificate it gets back.
func TestCredentialIssueCert(t *testing.T) {
	sock, take := objectionDaemon(t, api.Credential{ID: "cred_1", Subscription: "sub_1", Kind: "certificate",
		Certificate: "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"})
	dir := t.TempDir()
	certFile := filepath.Join(dir, "desk.crt")
	var out, errb bytes.Buffer
	if code := Main([]string{"credential", "issue", "--subscription", "sub_1", "--system", "desk", "--cert", certFile, "--addr", sock}, nil, &out, &errb, tokenEnv); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	seen := take()
	if len(seen) != 1 {
		t.Fatalf("sent %q", seen)
	}
	var req api.CredentialRequest
	if err := json.Unmarshal([]byte(strings.TrimPrefix(seen[0], "POST /v1/credentials ")), &req); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(req.CSR))
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil || csr.CheckSignature() != nil || req.Subscription != "sub_1" || req.System != "desk" || strings.Contains(seen[0], "PRIVATE KEY") {
		t.Fatalf("request: got %+v %v", req, err)
	}
	keyFile := filepath.Join(dir, "desk.key")
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", fi, err)
	}
	keyPEM, _ := os.ReadFile(keyFile)
	kb, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(csr.PublicKey) {
		t.Fatal("the request is not for the key written")
	}
	if got, _ := os.ReadFile(certFile); !strings.Contains(string(got), "BEGIN CERTIFICATE") {
		t.Fatalf("certificate file: %q", got)
	}
	// A key file that exists is never overwritten.
	if code := Main([]string{"credential", "issue", "--subscription", "sub_1", "--system", "desk", "--cert", certFile, "--addr", sock}, nil, &out, &errb, tokenEnv); code == ExitOK {
		t.Fatal("issued over an existing key file")
	}
	if again, _ := os.ReadFile(keyFile); !bytes.Equal(again, keyPEM) || len(take()) != 0 {
		t.Fatal("a refused issue changed the key or reached the daemon")
	}
}

// TestServiceVerifyStatement: a statement signed by the key verifies
// offline and prints its figures; the same statement with one figure
// changed, or checked with another key, fails.
func TestServiceVerifyStatement(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	st := api.UsageStatement{Subscription: "sub_1", Service: "firms", Org: "bank", Day: "2026-12-06", Calls: 5, Matches: 4, Misses: 1, Charge: 0.05, Currency: "CNY"}
	body, _ := json.Marshal(st)
	sum := sha256.Sum256(body)
	payload, _ := json.Marshal(map[string]any{"_type": release.StatementType, "predicateType": api.UsageStatementType, "predicate": st,
		"subject": []release.Subject{{Name: "usage/sub_1/2026-12-06.json", Digest: release.Digest{SHA256: hex.EncodeToString(sum[:])}}}})
	env := api.SignedStatement{PayloadType: release.PayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []api.StatementSigner{{KeyID: release.KeyID(pub), Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(key, release.PAE(release.PayloadType, payload)))}}}
	dir := t.TempDir()
	file := filepath.Join(dir, "st.json")
	data, _ := json.MarshalIndent(env, "", "  ") // as service statement -o writes it
	os.WriteFile(file, data, 0o644)
	keyArg := base64.StdEncoding.EncodeToString(pub)
	code, out, errb := run(t, "service", "verify-statement", file, "--key", keyArg)
	if code != ExitOK || !strings.Contains(out, "VERIFIED") || !strings.Contains(out, "5 (4 matched, 1 missed)") || !strings.Contains(out, "0.05 CNY") {
		t.Fatalf("good statement: exit %d, out %q, err %q", code, out, errb)
	}
	if code, _, errb = run(t, "service", "verify-statement", file, "--key", base64.StdEncoding.EncodeToString(other)); code == ExitOK || !strings.Contains(errb, "no signature verifies") {
		t.Fatalf("another key: exit %d, err %q", code, errb)
	}
	env.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte(`"calls":5`), []byte(`"calls":50`), 1))
	data, _ = json.Marshal(env)
	os.WriteFile(file, data, 0o644)
	if code, _, errb = run(t, "service", "verify-statement", file, "--key", keyArg); code == ExitOK || !strings.Contains(errb, "no signature verifies") {
		t.Fatalf("changed statement: exit %d, err %q", code, errb)
	}
}
