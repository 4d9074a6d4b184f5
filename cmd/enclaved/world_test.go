package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/synth"
)

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
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
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
