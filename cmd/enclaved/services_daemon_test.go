package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/release"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// keyAndCSR makes a P-256 key and a PEM certificate request for it, as
// `enclave credential issue --cert` does.
func keyAndCSR(t *testing.T) (keyPEM, csrPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "loan-desk"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// TestServiceCertificatesAndStopsAgainstDaemon drives a real daemon over
// its TLS listener (issue 19 items 2 and 3): a client certificate issued
// under a subscription answers calls, is refused at once when revoked and
// when its subscription ends, calls nothing but its service, and one made
// by another CA is refused in the handshake; an operator's service under a
// grant stops when the grant is revoked, and a custodian's when an
// incident is open on its dataset and when the dataset is destroyed.
func TestServiceCertificatesAndStopsAgainstDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon with its containerd (the server tests cover the stops without it)")
	}
	sandboxtest.Require(t)
	d := startServiceDaemon(t, 300)
	defer d.stop()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	keys := d.column("uscc")
	cr := d.publish(t, "firms", "600/m", 1000)

	// A certificate credential: the key stays here, a CSR goes.
	keyPEM, csr := keyAndCSR(t)
	cc, err := d.consumer.IssueCredential(ctx, api.CredentialRequest{Subscription: cr.Subscription, System: "branch-7", CSR: string(csr)})
	must(err)
	if cc.Kind != "certificate" || cc.Token != "" || !strings.Contains(cc.Certificate, "BEGIN CERTIFICATE") {
		t.Fatalf("certificate credential: got %+v", cc)
	}
	blk, _ := pem.Decode([]byte(cc.Certificate))
	cert, err := x509.ParseCertificate(blk.Bytes)
	must(err)
	if cert.Subject.CommonName != "branch-7" || cert.Subject.Organization[0] != "bank" || cert.Subject.OrganizationalUnit[0] != cr.Subscription ||
		cert.NotAfter.UTC().Format("2006-01-02") != cr.Until {
		t.Fatalf("certificate: subject %v, not after %s; want branch-7, bank, %s, until %s", cert.Subject, cert.NotAfter, cr.Subscription, cr.Until)
	}
	sys, err := client.New(d.url, "", client.WithCACert(d.ca), client.WithClientCert([]byte(cc.Certificate), keyPEM))
	must(err)
	if a, err := sys.Verify(ctx, "firms", api.VerifyRequest{Key: keys[0]}); err != nil || !a.Match {
		t.Fatalf("call with the certificate: got %+v %v", a, err)
	}
	if _, err := sys.ListServices(ctx); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("a person's route with the certificate: got %v, want permission denied", err)
	}
	// Without any credential the listener answers 401.
	anon, _ := client.New(d.url, "", client.WithCACert(d.ca))
	if _, err := anon.Verify(ctx, "firms", api.VerifyRequest{Key: keys[0]}); !errdefs.IsUnauthorized(err) {
		t.Fatalf("no credential: got %v, want unauthenticated", err)
	}
	// A certificate for the same names made by another CA never gets past the handshake.
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: cert.Subject, NotBefore: time.Now().Add(-time.Hour), NotAfter: cert.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	kb, _ := pem.Decode(keyPEM)
	k, _ := x509.ParsePKCS8PrivateKey(kb.Bytes)
	fder, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.(*ecdsa.PrivateKey).Public(), caKey)
	must(err)
	forged, err := client.New(d.url, "", client.WithCACert(d.ca), client.WithClientCert(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fder}), keyPEM))
	must(err)
	if _, err := forged.Verify(ctx, "firms", api.VerifyRequest{Key: keys[0]}); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	// Revoked: refused at once, on the next call.
	_, err = d.consumer.RevokeCredential(ctx, cc.ID)
	must(err)
	if _, err := sys.Verify(ctx, "firms", api.VerifyRequest{Key: keys[0]}); !errdefs.IsUnauthorized(err) {
		t.Fatalf("revoked certificate: got %v, want unauthenticated", err)
	}

	// The subscription ends: its token and a new certificate are refused.
	keyPEM2, csr2 := keyAndCSR(t)
	cc2, err := d.consumer.IssueCredential(ctx, api.CredentialRequest{Subscription: cr.Subscription, System: "branch-8", CSR: string(csr2)})
	must(err)
	sys2, _ := client.New(d.url, "", client.WithCACert(d.ca), client.WithClientCert([]byte(cc2.Certificate), keyPEM2))
	tok := d.system(cr.Token)
	if _, err := tok.Verify(ctx, "firms", api.VerifyRequest{Key: keys[0]}); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(d.dir, "state.db"))
	must(err)
	_, err = db.SQL().ExecContext(ctx, `UPDATE subscriptions SET until = ? WHERE id = ?`, time.Now().AddDate(0, 0, -1).UTC().Format("2006-01-02"), cr.Subscription)
	db.Close()
	must(err)
	time.Sleep(1100 * time.Millisecond) // services.Fresh: a change made outside the daemon
	if _, err := tok.Verify(ctx, "firms", api.VerifyRequest{Key: keys[0]}); !errdefs.IsUnauthorized(err) {
		t.Fatalf("ended subscription, token: got %v, want unauthenticated", err)
	}
	if _, err := sys2.Verify(ctx, "firms", api.VerifyRequest{Key: keys[0]}); !errdefs.IsUnauthorized(err) {
		t.Fatalf("ended subscription, certificate: got %v, want unauthenticated", err)
	}

	// An operator's service under its grant stops when the grant is revoked.
	app, err := d.operator.FileApplication(ctx, api.ApplicationRequest{Datasets: []string{"credit_penalties"}, Purpose: "risk checks",
		Scenario: "loan checks", Until: time.Now().AddDate(0, 3, 0).Format("2006-01-02")})
	must(err)
	_, err = d.authority.DecideApplication(ctx, app.ID, "approve", "fits the licence")
	must(err)
	_, err = d.operator.CreateService(ctx, api.ServiceRequest{Name: "acme-firms", Mode: "verify", Dataset: "credit_penalties", Key: "uscc", Scenario: "loan checks"})
	must(err)
	for _, o := range []*client.Client{d.officer, d.officer2} {
		_, err = o.DecideService(ctx, "acme-firms", "approve", "")
		must(err)
	}
	sub, err := d.consumer.Subscribe(ctx, "acme-firms", api.SubscribeRequest{Scenario: "loan checks", Until: time.Now().AddDate(0, 1, 0).Format("2006-01-02")})
	must(err)
	_, err = d.authority.DecideSubscription(ctx, sub.ID, "approve")
	must(err)
	oc, err := d.consumer.IssueCredential(ctx, api.CredentialRequest{Subscription: sub.ID, System: "loan-desk"})
	must(err)
	osys := d.system(oc.Token)
	if _, err := osys.Verify(ctx, "acme-firms", api.VerifyRequest{Key: keys[1]}); err != nil {
		t.Fatalf("operator's service: %v", err)
	}
	_, err = d.authority.RevokeGrant(ctx, app.ID, "licence breach")
	must(err)
	time.Sleep(1100 * time.Millisecond)
	if _, err := osys.Verify(ctx, "acme-firms", api.VerifyRequest{Key: keys[1]}); !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("grant revoked: got %v, want failed precondition naming it", err)
	}

	// A custodian's service: an open incident on its dataset stops it,
	// closing it resumes, destroying the dataset stops it for good.
	cr3 := d.publish(t, "firms-three", "600/m", 1000)
	sys3 := d.system(cr3.Token)
	inc, err := d.officer.ReportIncident(ctx, api.IncidentRequest{Dataset: "credit_penalties", Reason: "leak suspected"})
	must(err)
	time.Sleep(1100 * time.Millisecond)
	if _, err := sys3.Verify(ctx, "firms-three", api.VerifyRequest{Key: keys[2]}); !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "incident") {
		t.Fatalf("open incident: got %v, want failed precondition naming it", err)
	}
	_, err = d.authority.CloseIncident(ctx, inc.ID, "no leak")
	must(err)
	time.Sleep(1100 * time.Millisecond)
	if _, err := sys3.Verify(ctx, "firms-three", api.VerifyRequest{Key: keys[2]}); err != nil {
		t.Fatalf("incident closed: %v", err)
	}
	_, err = d.custodian.DestroyDataset(ctx, "credit_penalties", "term ended")
	must(err)
	time.Sleep(1100 * time.Millisecond)
	if _, err := sys3.Verify(ctx, "firms-three", api.VerifyRequest{Key: keys[2]}); !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "destroyed") {
		t.Fatalf("destroyed dataset: got %v, want failed precondition naming it", err)
	}
}

// TestServicesOverExportAgainstDaemon runs a job in real containerd that
// writes a table, releases it, and offers it as a bulk service and as a
// query service (issue 19 item 1): the subscriber's system downloads the
// bundle over the TLS listener and it verifies offline; a query answers
// one subject's approved column; the downloads are on the audit log.
func TestServicesOverExportAgainstDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a job in containerd")
	}
	sandboxtest.Require(t)
	d := startServiceDaemon(t, 200)
	defer d.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	base := t.TempDir()
	imgs, err := sandboxtest.Images(filepath.Join(base, "images"))
	must(err)
	tar, err := os.Open(imgs["toolbox"])
	must(err)
	im, err := d.operator.ImportImage(ctx, "toolbox", tar)
	tar.Close()
	must(err)
	_, err = d.officer.DecideImage(ctx, im.Digest, "approve", "")
	must(err)
	app, err := d.operator.FileApplication(ctx, api.ApplicationRequest{Datasets: []string{"credit_penalties"}, Purpose: "risk statistics",
		Scenario: "district dashboard", Until: time.Now().AddDate(0, 3, 0).Format("2006-01-02")})
	must(err)
	_, err = d.authority.DecideApplication(ctx, app.ID, "approve", "fits the licence")
	must(err)
	j, err := d.operator.RunJob(ctx, api.JobRequest{Image: im.Digest, Inputs: []string{"credit_penalties"}, Outputs: []string{"counts.csv"},
		Args: []string{"sh", "-c", "printf 'district,count\\nnorth,12\\nsouth,30\\n' > /out/counts.csv"}, Timeout: "1m"})
	must(err)
	if j, err = d.operator.WaitJob(ctx, j.ID); err != nil || j.State != "complete" {
		t.Fatalf("job: got %s %v, want complete", j.State, err)
	}
	x, err := d.operator.RequestExport(ctx, api.ExportRequest{Job: j.ID, Files: []string{"counts.csv"}, Purpose: "dashboard"})
	must(err)
	review := api.ReviewRequest{Comment: "counts per district", Justification: "two counts of districts, reviewed by hand"}
	for _, o := range []*client.Client{d.officer, d.officer2} {
		x, err = o.DecideExport(ctx, x.ID, "approve", review)
		must(err)
	}
	if x.State != "released" {
		t.Fatalf("export: got %s, want released", x.State)
	}

	publish := func(req api.ServiceRequest) *client.Client {
		t.Helper()
		_, err := d.operator.CreateService(ctx, req)
		must(err)
		var sv api.Service
		for _, o := range []*client.Client{d.officer, d.officer2} {
			if sv.State == "" || sv.State == "pending" {
				sv, err = o.DecideService(ctx, req.Name, "approve", "")
				must(err)
			}
		}
		if !sv.Running {
			t.Fatalf("service %s: got %+v", req.Name, sv)
		}
		sub, err := d.consumer.Subscribe(ctx, req.Name, api.SubscribeRequest{Scenario: req.Scenario, Until: time.Now().AddDate(0, 1, 0).Format("2006-01-02")})
		must(err)
		_, err = d.authority.DecideSubscription(ctx, sub.ID, "approve")
		must(err)
		cr, err := d.consumer.IssueCredential(ctx, api.CredentialRequest{Subscription: sub.ID, System: "stats"})
		must(err)
		return d.system(cr.Token)
	}
	bulk := publish(api.ServiceRequest{Name: "district-counts", Mode: "bulk", Export: x.ID, Scenario: "district dashboard"})
	rc, err := bulk.BulkLatest(ctx, "district-counts")
	must(err)
	data, err := io.ReadAll(rc)
	rc.Close()
	must(err)
	pk, err := d.authority.PublicKey(ctx)
	must(err)
	pub, err := base64.StdEncoding.DecodeString(pk.Key)
	must(err)
	v, err := release.Verify(bytes.NewReader(data), pub)
	if err != nil || v.Predicate.Export != x.ID || len(v.Files) != 1 || v.Files[0].Name != "counts.csv" {
		t.Fatalf("bulk bundle: got %+v %v", v, err)
	}
	query := publish(api.ServiceRequest{Name: "district-lookup", Mode: "query", Export: x.ID, Key: "district", Columns: []string{"count"},
		Scenario: "district dashboard"})
	a, err := query.Query(ctx, "district-lookup", "south")
	if err != nil || !a.Found || len(a.Rows) != 1 || a.Rows[0]["count"] != "30" {
		t.Fatalf("query south: got %+v %v", a, err)
	}
	evs, err := d.bureau.AuditList(ctx, client.AuditFilter{Action: "service.bulk"})
	must(err)
	if len(evs) != 2 || evs[0].Outcome != "intent" || evs[1].Outcome != "ok" || evs[1].Details["bundle_sha256"] != x.BundleSHA256 {
		t.Fatalf("bulk download on the audit log: got %+v", evs)
	}
}
