package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/synth"
)

// serviceDaemon is an enclaved serving a data directory in this process,
// on its unix socket and on a TLS listener, with the people and the
// dataset that services need (issue 19).
type serviceDaemon struct {
	dir, url string
	ca       []byte
	stop     func()
	sock     string

	pid int // the daemon's process when it runs in one of its own, else 0

	authority, custodian, operator, officer, officer2, consumer, bureau *client.Client
	csv                                                                 [][]string // the dataset's rows as imported (raw), header first
}

func startServiceDaemon(tb testing.TB, rows int) *serviceDaemon {
	tb.Helper()
	return startServiceDaemonIn(tb, rows, false)
}

// startServiceDaemonIn is startServiceDaemon with the daemon in a process
// of its own when child is set (this test binary run again as enclaved, see
// TestMain), as it runs in production: then a load generator in this
// process shares neither its heap nor its garbage collector, and the
// daemon's CPU time can be read apart (serviceDaemon.pid). The child runs
// no sandbox: services need none.
func startServiceDaemonIn(tb testing.TB, rows int, child bool) *serviceDaemon {
	tb.Helper()
	ctx := context.Background()
	cfg := Default()
	cfg.DataDir = filepath.Join(tb.TempDir(), "data")
	res, err := initDataDir(ctx, cfg, testAdmin("platform"))
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Listen = ln.Addr().String()
	ln.Close()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	d := &serviceDaemon{dir: cfg.DataDir, url: "https://" + cfg.Listen, sock: cfg.socketPath()}
	var once sync.Once
	if child {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "ENCLAVED_TEST_DAEMON="+cfg.DataDir, "ENCLAVED_TEST_LISTEN="+cfg.Listen)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		d.pid = cmd.Process.Pid
		d.stop = func() {
			once.Do(func() {
				// The child does not catch SIGTERM: it ends at once, as
				// the other tests' daemons do; anything else is a failure.
				cmd.Process.Signal(syscall.SIGTERM)
				if err := cmd.Wait(); err != nil {
					if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
						tb.Errorf("daemon: %v", err)
					}
				}
			})
		}
	} else {
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		go func() { done <- serve(sctx, cfg, log) }()
		d.stop = func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					tb.Errorf("daemon: %v", err)
				}
			})
		}
	}
	admin, _ := client.New(d.sock, res.AdminToken)
	deadline := time.Now().Add(daemonStartWait)
	for {
		if _, err := admin.Health(ctx); err == nil {
			if c, err := net.Dial("tcp", cfg.Listen); err == nil { // the TLS listener serves (its certificate is made)
				c.Close()
				break
			}
		}
		if time.Now().After(deadline) {
			d.stop()
			tb.Fatal("daemon did not answer within " + daemonStartWait.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d.ca, err = os.ReadFile(filepath.Join(cfg.tlsDir(), "cert.pem")); err != nil {
		d.stop()
		tb.Fatal(err)
	}
	must := func(err error) {
		tb.Helper()
		if err != nil {
			d.stop()
			tb.Fatal(err)
		}
	}
	as := func(name, org, role string) *client.Client {
		p, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: name, Org: org, Roles: []string{role}}))
		must(err)
		c, _ := client.New(d.sock, p.Token)
		return c
	}
	d.authority = as("Zhou Min", "platform", "authority")
	until := time.Now().AddDate(1, 0, 0).Format("2006-01-02")
	for _, o := range []api.OrgRequest{{Name: "credit-centre", Type: "agency"}, {Name: "acme", Type: "company"}, {Name: "security", Type: "agency"},
		{Name: "bank", Type: "company"}} {
		o.LicenceUntil = until
		_, err := d.authority.AddOrg(ctx, licensed(o))
		must(err)
	}
	d.custodian = as("Li Na", "credit-centre", "custodian")
	d.operator = as("Wang Lei", "acme", "operator")
	d.officer = as("Chen Jing", "security", "officer")
	d.officer2 = as("Zhao Min", "security", "officer")
	d.bureau = as("Sun Hao", "platform", "bureau")
	d.consumer = as("Ma Li", "bank", "consumer")
	var buf bytes.Buffer
	must(synth.WriteCSV(&buf, 11, rows))
	d.csv, err = csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	must(err)
	_, err = d.custodian.ImportDataset(ctx, "credit_penalties", []byte(synth.Spec("credit_penalties")), &buf, nil, nil)
	must(err)
	return d
}

// column returns the raw values of a column of the imported rows.
func (d *serviceDaemon) column(name string) []string {
	i := -1
	for j, h := range d.csv[0] {
		if h == name {
			i = j
		}
	}
	var out []string
	for _, r := range d.csv[1:] {
		out = append(out, r[i])
	}
	return out
}

// publish creates a verify service on uscc (matching legal_rep_id),
// has both officers approve it, subscribes the bank, has the authority
// approve and issues a credential; it returns the credential.
func (d *serviceDaemon) publish(tb testing.TB, name, rate string, misses int) api.Credential {
	tb.Helper()
	ctx := context.Background()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	_, err := d.custodian.CreateService(ctx, api.ServiceRequest{Name: name, Mode: "verify", Dataset: "credit_penalties", Key: "uscc",
		Match: []string{"legal_rep_id"}, Scenario: "loan checks", Rate: rate, DailyMisses: misses})
	must(err)
	_, err = d.officer.DecideService(ctx, name, "approve", "")
	must(err)
	sv, err := d.officer2.DecideService(ctx, name, "approve", "")
	must(err)
	if sv.State != "approved" || !sv.Running {
		tb.Fatalf("service %s: got %+v", name, sv)
	}
	sub, err := d.consumer.Subscribe(ctx, name, api.SubscribeRequest{Scenario: "loan checks", Until: time.Now().AddDate(0, 6, 0).Format("2006-01-02")})
	must(err)
	_, err = d.authority.DecideSubscription(ctx, sub.ID, "approve")
	must(err)
	cr, err := d.consumer.IssueCredential(ctx, api.CredentialRequest{Subscription: sub.ID, System: "loan-desk"})
	must(err)
	return cr
}

func (d *serviceDaemon) system(token string) *client.Client {
	c, _ := client.New(d.url, token, client.WithCACert(d.ca))
	return c
}

// TestServicesAgainstDaemon drives services through a real daemon over
// its TLS listener: a lossy key refused, an operator outside its grant
// refused, answers, a rate limit, the enumeration guard, a sealed dataset,
// a revoked credential, and the keys sent absent from the data directory.
func TestServicesAgainstDaemon(t *testing.T) {
	d := startServiceDaemon(t, 300)
	defer d.stop()
	ctx := context.Background()
	_, err := d.custodian.CreateService(ctx, api.ServiceRequest{Name: "phones", Mode: "verify", Dataset: "credit_penalties", Key: "legal_rep_phone",
		Scenario: "loan checks"})
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "lossy rule mask") {
		t.Fatalf("lossy key: got %v, want invalid argument naming the rule", err)
	}
	_, err = d.operator.CreateService(ctx, api.ServiceRequest{Name: "mine", Mode: "verify", Dataset: "credit_penalties", Key: "uscc", Scenario: "loan checks"})
	if !errdefs.IsPermissionDenied(err) {
		t.Fatalf("operator outside its grant: got %v, want permission denied", err)
	}

	cr := d.publish(t, "firms", "4/m", 1000)
	sys := d.system(cr.Token)
	keys, reps := d.column("uscc"), d.column("legal_rep_id")
	a, err := sys.Verify(ctx, "firms", api.VerifyRequest{Key: keys[0], Claims: map[string]string{"legal_rep_id": reps[0]}})
	if err != nil || !a.Match || !a.Columns["legal_rep_id"] {
		t.Fatalf("known key: got %+v %v", a, err)
	}
	sent := []string{"91990100NOTAREALC1", "110101199003070000"}
	if a, err = sys.Verify(ctx, "firms", api.VerifyRequest{Key: sent[0], Claims: map[string]string{"legal_rep_id": sent[1]}}); err != nil || a.Match || a.Columns["legal_rep_id"] {
		t.Fatalf("unknown key: got %+v %v", a, err)
	}
	for i := 0; i < 2; i++ {
		if _, err := sys.Verify(ctx, "firms", api.VerifyRequest{Key: keys[1]}); err != nil {
			t.Fatalf("call %d: %v", i+3, err)
		}
	}
	if _, err := sys.Verify(ctx, "firms", api.VerifyRequest{Key: keys[1]}); !errdefs.IsResourceExhausted(err) || !strings.Contains(err.Error(), "rate limit") {
		t.Fatalf("5th call at 4/m: got %v, want the rate limit", err)
	}

	cr2 := d.publish(t, "firms-guarded", "600/m", 2)
	sys2 := d.system(cr2.Token)
	for i := 0; i < 2; i++ {
		if a, err := sys2.Verify(ctx, "firms-guarded", api.VerifyRequest{Key: fmt.Sprintf("91990100NOTAREAL%02d", i)}); err != nil || a.Match {
			t.Fatalf("miss %d: got %+v %v", i, a, err)
		}
	}
	if _, err := sys2.Verify(ctx, "firms-guarded", api.VerifyRequest{Key: keys[2]}); !errdefs.IsResourceExhausted(err) || !strings.Contains(err.Error(), "enumeration guard") {
		t.Fatalf("after the budget of misses: got %v, want the enumeration guard", err)
	}
	// A credential calls only its own subscription's service.
	if _, err := sys2.Verify(ctx, "firms", api.VerifyRequest{Key: keys[2]}); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("another service: got %v, want permission denied", err)
	}

	// A sealed dataset stops the service at the next call (the seal is a
	// committed change: the runtime reads the service again), unsealing
	// resumes it; no time passes in between.
	cr3 := d.publish(t, "firms-sealed", "600/m", 100)
	sys3 := d.system(cr3.Token)
	if _, err := sys3.Verify(ctx, "firms-sealed", api.VerifyRequest{Key: keys[3]}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.custodian.SetDatasetState(ctx, "credit_penalties", "seal", "review"); err != nil {
		t.Fatal(err)
	}
	if _, err := sys3.Verify(ctx, "firms-sealed", api.VerifyRequest{Key: keys[3]}); !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("sealed dataset: got %v, want failed precondition naming it", err)
	}
	if _, err := d.custodian.SetDatasetState(ctx, "credit_penalties", "unseal", "review done"); err != nil {
		t.Fatal(err)
	}
	if _, err := sys3.Verify(ctx, "firms-sealed", api.VerifyRequest{Key: keys[3]}); err != nil {
		t.Fatalf("unsealed: %v", err)
	}

	// A revoked credential is refused at once.
	if _, err := d.consumer.RevokeCredential(ctx, cr3.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := sys3.Verify(ctx, "firms-sealed", api.VerifyRequest{Key: keys[3]}); !errdefs.IsUnauthorized(err) {
		t.Fatalf("revoked credential: got %v, want unauthenticated", err)
	}

	// Usage: the consumer's own calls, metered in batches.
	us, err := d.consumer.ServiceUsage(ctx, "firms", "")
	if err != nil || len(us) != 1 || us[0].Calls != 4 || us[0].Matches != 3 || us[0].Misses != 1 || us[0].Refused != 1 {
		t.Fatalf("usage: got %+v %v", us, err)
	}
	if us[0].Class != "industry" || us[0].Charge != 0.04 {
		t.Fatalf("usage of an ordinary subscription: got class %q charge %v, want industry at 0.01 per answered call", us[0].Class, us[0].Charge)
	}

	// A subscription claiming public-interest use (001 art. 23): the
	// authority sees the claim, and once approved its calls are
	// public-interest use, free under the default price list.
	pubSub, err := d.consumer.Subscribe(ctx, "firms", api.SubscribeRequest{Scenario: "loan checks", Until: time.Now().AddDate(0, 6, 0).Format("2006-01-02"),
		PublicInterest: true})
	if err != nil || !pubSub.PublicInterest {
		t.Fatalf("public-interest subscription: got %+v %v", pubSub, err)
	}
	subs, err := d.authority.ListSubscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, sub := range subs {
		seen = seen || (sub.ID == pubSub.ID && sub.PublicInterest && sub.State == "pending")
	}
	if !seen {
		t.Fatalf("the authority's list does not show the pending claim: %+v", subs)
	}
	if _, err := d.authority.DecideSubscription(ctx, pubSub.ID, "approve"); err != nil {
		t.Fatal(err)
	}
	pubCred, err := d.consumer.IssueCredential(ctx, api.CredentialRequest{Subscription: pubSub.ID, System: "welfare-desk"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := d.system(pubCred.Token).Verify(ctx, "firms", api.VerifyRequest{Key: keys[i]}); err != nil {
			t.Fatalf("public-interest call %d: %v", i, err)
		}
	}
	if us, err = d.consumer.ServiceUsage(ctx, "firms", ""); err != nil || len(us) != 2 {
		t.Fatalf("usage with two subscriptions: got %+v %v", us, err)
	}
	for _, u := range us {
		want := map[string]struct {
			class  string
			calls  int64
			charge float64
		}{pubSub.ID: {"public-interest", 3, 0}}[u.Subscription]
		if u.Subscription != pubSub.ID {
			want.class, want.calls, want.charge = "industry", 4, 0.04
		}
		if u.Class != want.class || u.Calls != want.calls || u.Charge != want.charge {
			t.Errorf("usage of %s: got class %q, %d calls, charge %v; want %q, %d, %v", u.Subscription, u.Class, u.Calls, u.Charge, want.class, want.calls, want.charge)
		}
	}

	// Neither the keys sent nor the dataset's raw keys are stored anywhere
	// in the data directory (audit log, database, index files).
	d.stop()
	needles := append(append([]string{}, sent...), keys[0], keys[1], reps[0])
	filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || e.Type()&fs.ModeSocket != 0 {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, k := range needles {
			if bytes.Contains(data, []byte(k)) {
				t.Errorf("a raw key is in %s", p)
			}
		}
		return nil
	})
}
