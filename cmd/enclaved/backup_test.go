package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/backup"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/synth"
)

// TestBackupRestoreRoundTrip backs up a data directory while its daemon
// serves, restores it onto a fresh directory, and checks that the
// restored enclave works: tokens, the catalogue, decryption of a live
// dataset, audit verify; that a dataset destroyed before the backup stays
// destroyed; and that a wrong passphrase or a changed backup is refused.
func TestBackupRestoreRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	ctx := context.Background()
	base := t.TempDir()
	cfg := Default()
	cfg.DataDir = filepath.Join(base, "data")
	res, err := initDataDir(ctx, cfg, testAdmin("platform"))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg.DataDir)
	sock := filepath.Join(cfg.DataDir, "enclaved.sock")
	admin, _ := client.New(sock, res.AdminToken)
	p, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: "Li Na", Org: "platform", Roles: []string{"custodian"}, AgreementUntil: time.Now().AddDate(1, 0, 0).Format("2006-01-02")}))
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
	if _, err := cust.DestroyDataset(ctx, "gone", "term ended"); err != nil {
		t.Fatal(err)
	}
	const pass = "correct horse battery staple"
	bk := filepath.Join(base, "backup")
	if _, err := backup.Backup(ctx, cfg.DataDir, bk, pass); err != nil { // while the daemon serves
		t.Fatal(err)
	}
	d.Process.Signal(syscall.SIGTERM)
	d.Wait()

	if err := backup.Restore(ctx, bk, filepath.Join(base, "wrong"), "not the passphrase", backup.Tombstones{None: true}); err == nil {
		t.Fatal("a wrong passphrase restored the backup")
	}
	if _, err := os.Stat(filepath.Join(base, "wrong")); err == nil {
		t.Fatal("a refused restore left a directory")
	}
	restored := filepath.Join(base, "restored")
	if err := backup.Restore(ctx, bk, restored, pass, backup.Tombstones{None: true}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(restored)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("restored data directory mode: %v %v", fi.Mode(), err)
	}
	d = startDaemon(t, restored)
	defer func() { d.Process.Signal(syscall.SIGTERM); d.Wait() }()
	rsock := filepath.Join(restored, "enclaved.sock")
	radmin, _ := client.New(rsock, res.AdminToken)
	if _, err := radmin.Whoami(ctx); err != nil {
		t.Fatalf("the admin token does not work after the restore: %v", err)
	}
	rcust, _ := client.New(rsock, p.Token)
	gone, err := rcust.ShowDataset(ctx, "gone")
	if err != nil || gone.State != "destroyed" {
		t.Fatalf("destroyed dataset after restore: %+v %v", gone, err)
	}
	b, _ := radmin.AddPerson(ctx, registered(api.PersonRequest{Name: "Sun Hao", Org: "platform", Roles: []string{"bureau"}}))
	rb, _ := client.New(rsock, b.Token)
	rep, err := rb.AuditVerify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("audit verify after restore: %+v %v", rep, err)
	}
	d.Process.Signal(syscall.SIGTERM)
	d.Wait()

	// The live dataset decrypts with the restored keyring; the destroyed
	// one cannot, because its key was shredded before the backup.
	kr, err := local.Open(filepath.Join(restored, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(restored, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cat, _ := datasets.New(db, filepath.Join(restored, "datasets"), kr, nil)
	kept, _ := cat.Get(ctx, nil, "kept", 0)
	if err := cat.Decrypt(ctx, kept, filepath.Join(base, "kept.arrow")); err != nil {
		t.Fatalf("decrypt a live dataset after restore: %v", err)
	}
	g, _ := cat.Get(ctx, nil, "gone", 0)
	// A well-formed wrapped key (version byte first) so the keyring looks
	// the object's key-encryption key up.
	probe := make([]byte, local.WrappedSize)
	probe[0] = 1
	if _, err := kr.UnwrapDataKey(ctx, g.KeyObject(), probe); !errdefs.IsNotFound(err) {
		t.Fatalf("the destroyed dataset's key: got %v, want not found (shredded)", err)
	}
	if _, err := kr.UnwrapDataKey(ctx, kept.KeyObject(), probe); err == nil || errdefs.IsNotFound(err) {
		t.Fatal("the live dataset's key is missing from the restored keyring")
	}

	// A changed backup is refused.
	os.WriteFile(filepath.Join(bk, "state.db"), []byte("changed"), 0o600)
	err = backup.Restore(ctx, bk, filepath.Join(base, "again"), pass, backup.Tombstones{None: true})
	if err == nil || !strings.Contains(err.Error(), "state.db") {
		t.Fatalf("changed backup: got %v", err)
	}
}
