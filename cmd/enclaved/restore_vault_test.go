package main

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/backup"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/keys/vault/vaulttest"
	"github.com/enclave-dev/enclave/enclave/synth"
)

// TestRestoreWithVaultDoesNotResurrect: with the Vault transit keyring
// the keys are never in a backup; a dataset destroyed after the backup has
// its transit key deleted, so the restored daemon's first start finds the
// key gone (keys.Checker), marks the version destroyed and removes its
// files, audits the restore, and the dataset it kept stays readable.
func TestRestoreWithVaultDoesNotResurrect(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Vault and the daemon")
	}
	v := vaulttest.Start(t)
	ctx := context.Background()
	base := t.TempDir()
	cfg := Default()
	cfg.DataDir = filepath.Join(base, "data")
	cfg.VaultAddr, cfg.VaultToken = v.Addr, v.Token
	res, err := initDataDir(ctx, cfg, testAdmin("platform"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"ENCLAVED_TEST_VAULT_ADDR=" + v.Addr, "VAULT_TOKEN=" + v.Token}
	d := startDaemon(t, cfg.DataDir, env...)
	sock := filepath.Join(cfg.DataDir, "enclaved.sock")
	admin, _ := client.New(sock, res.AdminToken)
	p, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: "Li Na", Org: "platform", Roles: []string{"custodian"},
		AgreementUntil: time.Now().AddDate(1, 0, 0).Format("2006-01-02")}))
	if err != nil {
		t.Fatal(err)
	}
	cust, _ := client.New(sock, p.Token)
	csv := filepath.Join(base, "p.csv")
	f, _ := os.Create(csv)
	synth.WriteCSV(f, 3, 200)
	f.Close()
	for _, name := range []string{"kept", "gone"} {
		data, _ := os.Open(csv)
		_, err := cust.ImportDataset(ctx, name, []byte(synth.Spec(name)), data, nil, nil)
		data.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	bk := filepath.Join(base, "backup")
	if _, err := backup.Backup(ctx, cfg.DataDir, bk, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	if _, err := cust.DestroyDataset(ctx, "gone", "the term ended after the backup"); err != nil {
		t.Fatal(err)
	}
	d.Process.Signal(syscall.SIGTERM)
	d.Wait()

	restored := filepath.Join(base, "restored")
	// A Vault data directory's backup holds no keyring: no tombstones are
	// needed, and none are in it.
	if err := backup.Restore(ctx, bk, restored, "correct horse battery staple", backup.Tombstones{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(restored, backup.RestoredFile)); err != nil {
		t.Fatalf("the restore mark: %v", err)
	}
	if n := countRegular(t, filepath.Join(restored, "datasets", "gone")); n == 0 {
		t.Fatal("the backup did not hold the files of the dataset destroyed after it; the test proves nothing")
	}
	rd := startDaemon(t, restored, env...)
	defer func() { rd.Process.Signal(syscall.SIGTERM); rd.Wait() }()
	rsock := filepath.Join(restored, "enclaved.sock")
	rcust, _ := client.New(rsock, p.Token)
	if ds, err := rcust.ShowDataset(ctx, "gone"); err != nil || ds.State != "destroyed" {
		t.Fatalf("the dataset destroyed after the backup, restored: got %q, %v; want destroyed", ds.State, err)
	}
	if ds, err := rcust.ShowDataset(ctx, "kept"); err != nil || ds.State == "destroyed" {
		t.Fatalf("the live dataset, restored: got %q, %v", ds.State, err)
	}
	if n := countRegular(t, filepath.Join(restored, "datasets", "gone")); n != 0 {
		t.Errorf("the destroyed dataset's files after the restored start: %d, want none", n)
	}
	if _, err := os.Stat(filepath.Join(restored, backup.RestoredFile)); !os.IsNotExist(err) {
		t.Errorf("the restore mark after the first start: %v, want it removed", err)
	}
	radmin, _ := client.New(rsock, res.AdminToken)
	b, err := radmin.AddPerson(ctx, registered(api.PersonRequest{Name: "Sun Hao", Org: "platform", Roles: []string{"bureau"}}))
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := client.New(rsock, b.Token)
	if rep, err := rb.AuditVerify(ctx); err != nil || !rep.OK {
		t.Fatalf("audit verify after the restore: %+v, %v", rep, err)
	}
	evs, err := rb.AuditList(ctx, client.AuditFilter{Action: "daemon.restored"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("the restore on the audit log: got %d, %v; want one daemon.restored", len(evs), err)
	}
}
