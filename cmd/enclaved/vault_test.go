package main

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/keys/vault/vaulttest"
)

// TestDaemonWithVault runs the daemon with its keys in a real Vault
// server's transit engine: init chooses Vault, run uses it, tokens,
// ID-number hashes, audit checkpoints and the public key all come from it,
// and run refuses a data directory whose keyring was chosen otherwise.
func TestDaemonWithVault(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Vault and the daemon")
	}
	v := vaulttest.Start(t)
	ctx := context.Background()
	cfg := Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.VaultAddr, cfg.VaultToken = v.Addr, v.Token
	res, err := initDataDir(ctx, cfg, testAdmin("platform"))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg.DataDir, "ENCLAVED_TEST_VAULT_ADDR="+v.Addr, "VAULT_TOKEN="+v.Token)
	defer func() { d.Process.Signal(syscall.SIGTERM); d.Wait() }()
	sock := filepath.Join(cfg.DataDir, "enclaved.sock")
	admin, _ := client.New(sock, res.AdminToken)
	pk, err := admin.PublicKey(ctx)
	if err != nil || pk.Keyring != "vault" {
		t.Fatalf("public key: got %+v %v, want the vault keyring", pk, err)
	}
	if raw, err := base64.StdEncoding.DecodeString(pk.Key); err != nil || len(raw) != 32 {
		t.Fatalf("public key is not an ed25519 key: %v", err)
	}
	b, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: "Sun Hao", Org: "platform", Roles: []string{"bureau"}, IDNumber: "32058319900101007X"}))
	if err != nil {
		t.Fatal(err)
	}
	bc, _ := client.New(sock, b.Token)
	rep, err := bc.AuditVerify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("audit verify with Vault-signed checkpoints: %+v %v", rep, err)
	}
	// Without --vault-addr and token the data directory does not open.
	local := cfg
	local.VaultAddr, local.VaultToken = "", ""
	if _, err := openKeyring(ctx, local); err == nil {
		t.Fatal("a Vault data directory opened without a Vault token")
	}
}
