package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/synth"
)

// TestUploadQuotaFlag: enclaved run --upload-quota bounds what one
// organisation keeps of operators' uploads (issue 20 item 1). Against a
// daemon started with a quota of 64Ki, an operator's first upload fits and
// one more of the same size does not: it is refused naming the quota and
// leaves nothing in the catalogue. A bad size is refused at parse time.
func TestUploadQuotaFlag(t *testing.T) {
	if _, err := runConfig([]string{"--data-dir", t.TempDir(), "--upload-quota", "lots"}); err == nil || !strings.Contains(err.Error(), "--upload-quota") {
		t.Fatalf("--upload-quota lots: got %v, want an error naming the flag", err)
	}
	cfg, err := runConfig([]string{"--data-dir", t.TempDir(), "--upload-quota", "64Ki"})
	if err != nil || cfg.UploadQuota != 64<<10 {
		t.Fatalf("--upload-quota 64Ki: got %d, %v; want 65536", cfg.UploadQuota, err)
	}
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := t.TempDir()
	cfg = Default()
	cfg.DataDir = filepath.Join(base, "data")
	res, err := initDataDir(ctx, cfg, testAdmin("platform"))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg.DataDir, "ENCLAVED_TEST_RUN_FLAGS=--upload-quota 64Ki")
	defer func() { d.Process.Kill(); d.Wait() }()
	sock := filepath.Join(cfg.DataDir, "enclaved.sock")
	admin, _ := client.New(sock, res.AdminToken)
	must := fatalOn(t)
	ap, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: "Zhou Min", Org: "platform", Roles: []string{"authority"}}))
	must(err)
	authority, _ := client.New(sock, ap.Token)
	_, err = authority.AddOrg(ctx, licensed(api.OrgRequest{Name: "acme", Type: "company", LicenceUntil: time.Now().AddDate(1, 0, 0).Format("2006-01-02")}))
	must(err)
	op, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: "Wang Lei", Org: "acme", Roles: []string{"operator"}}))
	must(err)
	operator, _ := client.New(sock, op.Token)

	csv := filepath.Join(base, "customers.csv")
	f, err := os.Create(csv)
	must(err)
	must(synth.WriteCSV(f, 11, 200))
	f.Close()
	upload := func(name string) (api.Dataset, error) {
		data, err := os.Open(csv)
		must(err)
		defer data.Close()
		return operator.UploadDataset(ctx, name, []byte(synth.Spec(name)), data, nil, nil)
	}
	first, err := upload("acme_first")
	must(err)
	if first.Bytes <= 0 || first.Bytes > 64<<10 || 2*first.Bytes <= 64<<10 {
		t.Fatalf("the first upload stores %d bytes; the test needs one that fits 64Ki and two that do not", first.Bytes)
	}
	if _, err := upload("acme_second"); !errdefs.IsResourceExhausted(err) || !strings.Contains(err.Error(), "quota") {
		t.Fatalf("an upload over the organisation's quota: got %v, want resource exhausted naming the quota", err)
	}
	ds, err := operator.ListDatasets(ctx, true)
	must(err)
	for _, d := range ds {
		if d.Name == "acme_second" {
			t.Fatalf("the refused upload is in the catalogue: %+v", d)
		}
	}
}
