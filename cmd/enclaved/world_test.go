package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/synth"
	"github.com/enclave-dev/enclave/sandbox-runtime/sandboxtest"
)

// jobDaemon is a private daemon over real containerd, set up by
// newJobDataDir and started by startJobDaemon, for one test.
type jobDaemon struct {
	base       string            // the test's scratch directory
	cfg        Config            // validated; DataDir is base/data
	imgs       map[string]string // image tarballs by name
	adminToken string            // the first admin's
	sock       string
	// d is the running daemon, stopped at cleanup; a test that stops it
	// sets d to nil, and one that starts another sets d to that.
	d *exec.Cmd
}

// jobDaemonOpts says how startJobDaemon sets up.
type jobDaemonOpts struct {
	prefix string // of the scratch directory's name
	parent string // where the scratch directory is made; "" is os.TempDir
	// private keeps the scratch directory 0700 as made, so that the
	// sandbox directory goes elsewhere (defaultSandboxDir); otherwise it
	// is made 0711 and the sandbox goes beside the data directory.
	private bool
}

// startJobDaemon is newJobDataDir followed by the start of the daemon over
// a real sandbox (jd.d).
func startJobDaemon(t *testing.T, ctx context.Context, opts jobDaemonOpts) *jobDaemon {
	t.Helper()
	jd := newJobDataDir(t, ctx, opts)
	jd.d = startDaemon(t, jd.cfg.DataDir, "ENCLAVED_TEST_SANDBOX=1")
	return jd
}

// newJobDataDir skips under -short and where containerd cannot run
// (sandboxtest.Require: a failure under CI=true), then makes a scratch
// directory with the image tarballs and initialises a data directory in
// it, for a daemon the caller starts. At cleanup it stops the daemon (if
// jd.d is set), kills and removes what jobs are left in the sandbox
// directory and removes both directories.
func newJobDataDir(t *testing.T, ctx context.Context, opts jobDaemonOpts) *jobDaemon {
	t.Helper()
	if testing.Short() {
		t.Skip("runs jobs in containerd")
	}
	sandboxtest.Require(t)
	base, err := os.MkdirTemp(opts.parent, opts.prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if !opts.private {
		os.Chmod(base, 0o711) // the sandbox goes beside the data directory
	}
	jd := &jobDaemon{base: base, cfg: Default()}
	jd.cfg.DataDir = filepath.Join(base, "data")
	if err := jd.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	jd.sock = filepath.Join(jd.cfg.DataDir, "enclaved.sock")
	t.Cleanup(func() {
		// A stopped daemon leaves its jobs running: after a failure, kill
		// and remove what is left before removing the directories.
		if jd.d != nil {
			jd.d.Process.Signal(syscall.SIGTERM)
			jd.d.Wait()
		}
		sweepSandbox(t, jd.cfg.SandboxDir)
		os.RemoveAll(jd.cfg.SandboxDir)
	})
	if jd.imgs, err = sandboxtest.Images(filepath.Join(base, "images")); err != nil {
		t.Fatal(err)
	}
	res, err := initDataDir(ctx, jd.cfg, testAdmin("platform"))
	if err != nil {
		t.Fatal(err)
	}
	jd.adminToken = res.AdminToken
	return jd
}

// fatalOn returns a function that fails t on a non-nil error.
func fatalOn(t *testing.T) func(error) {
	return func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// world walks the daemon to a jobWorld (newJobWorld), with the dataset
// written to base/penalties.csv.
func (jd *jobDaemon) world(t *testing.T, ctx context.Context) *jobWorld {
	t.Helper()
	return newJobWorld(t, ctx, jd.sock, jd.adminToken, jd.imgs["toolbox"], filepath.Join(jd.base, "penalties.csv"))
}

// jobWorld is what the integration tests that run jobs need of a daemon:
// its people (each with a client), organisations, a dataset, an approved
// application naming it, and the toolbox image approved.
type jobWorld struct {
	sock                           string
	authority, custodian, operator *client.Client
	officer, officer2, bureau      *client.Client
	ids                            map[*client.Client]string // person id of each client
	image                          string                    // the toolbox's digest
}

// newJobWorld walks a daemon serving dataDir from its first admin to the
// point where the operator may run the toolbox on credit_penalties:
// organisations credit-centre, acme and security, their people, the
// dataset (written to the scratch path csv), the application approved by
// the authority and the image approved by an officer.
func newJobWorld(t *testing.T, ctx context.Context, sock, adminToken, toolbox, csv string) *jobWorld {
	t.Helper()
	admin, _ := client.New(sock, adminToken)
	must := fatalOn(t)
	w := &jobWorld{sock: sock, ids: map[*client.Client]string{}}
	as := func(name, org, role string) *client.Client {
		t.Helper()
		p, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: name, Org: org, Roles: []string{role}}))
		must(err)
		c, _ := client.New(sock, p.Token)
		w.ids[c] = p.ID
		return c
	}
	w.authority = as("Zhou Min", "platform", "authority")
	until := time.Now().AddDate(1, 0, 0).Format("2006-01-02")
	for _, o := range []api.OrgRequest{{Name: "credit-centre", Type: "agency"}, {Name: "acme", Type: "company"}, {Name: "security", Type: "agency"}} {
		o.LicenceUntil = until
		_, err := w.authority.AddOrg(ctx, licensed(o))
		must(err)
	}
	w.custodian = as("Li Na", "credit-centre", "custodian")
	w.operator = as("Wang Lei", "acme", "operator")
	w.officer = as("Chen Jing", "security", "officer")
	w.officer2 = as("Zhao Min", "security", "officer")
	w.bureau = as("Sun Hao", "platform", "bureau")

	f, err := os.Create(csv)
	must(err)
	must(synth.WriteCSV(f, 5, 200))
	f.Close()
	data, err := os.Open(csv)
	must(err)
	_, err = w.custodian.ImportDataset(ctx, "credit_penalties", []byte(synth.Spec("credit_penalties")), data, nil, nil)
	data.Close()
	must(err)
	app, err := w.operator.FileApplication(ctx, api.ApplicationRequest{Datasets: []string{"credit_penalties"}, Purpose: "risk statistics",
		Scenario: "district dashboard", Until: time.Now().AddDate(0, 3, 0).Format("2006-01-02")})
	must(err)
	_, err = w.authority.DecideApplication(ctx, app.ID, "approve", "fits the licence")
	must(err)
	tar, err := os.Open(toolbox)
	must(err)
	im, err := w.operator.ImportImage(ctx, "toolbox", tar)
	tar.Close()
	must(err)
	_, err = w.officer.DecideImage(ctx, im.Digest, "approve", "")
	must(err)
	w.image = im.Digest
	return w
}
