package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/keys/vault"
)

// keyringChoice is recorded by init in DATA/keyring.json: which keyring
// the data directory's keys live in. It is chosen once, because secrets
// (pseudonyms, ID-number hashes) and wrapped data keys belong to it.
type keyringChoice struct {
	Kind         string `json:"kind"` // "local" or "vault"
	VaultAddress string `json:"vault_address,omitempty"`
}

func (c *Config) keyringChoicePath() string { return filepath.Join(c.DataDir, "keyring.json") }

// createKeyring makes the keyring chosen by cfg at init.
func createKeyring(ctx context.Context, cfg Config) (keys.Keyring, error) {
	choice := keyringChoice{Kind: "local"}
	if cfg.VaultAddr != "" {
		choice = keyringChoice{Kind: "vault", VaultAddress: cfg.VaultAddr}
	}
	data, _ := json.MarshalIndent(choice, "", "  ")
	if err := os.WriteFile(cfg.keyringChoicePath(), append(data, '\n'), 0o600); err != nil {
		return nil, err
	}
	if choice.Kind == "vault" {
		return openVault(ctx, cfg)
	}
	return local.Create(cfg.keyringDir())
}

// openKeyring opens the keyring that init chose; --vault-addr must agree
// with it.
func openKeyring(ctx context.Context, cfg Config) (keys.Keyring, error) {
	choice := keyringChoice{Kind: "local"}
	data, err := os.ReadFile(cfg.keyringChoicePath())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(data, &choice); err != nil {
			return nil, fmt.Errorf("keyring.json: %v", err)
		}
	}
	switch choice.Kind {
	case "local":
		if cfg.VaultAddr != "" {
			return nil, fmt.Errorf("this data directory keeps its keys in the local keyring; --vault-addr cannot change that")
		}
		kr, err := local.Open(cfg.keyringDir())
		if err != nil {
			return nil, fmt.Errorf("open keyring: %w", err)
		}
		return kr, nil
	case "vault":
		if cfg.VaultAddr == "" {
			cfg.VaultAddr = choice.VaultAddress
		}
		if cfg.VaultToken == "" {
			return nil, fmt.Errorf("this data directory keeps its keys in Vault at %s; set VAULT_TOKEN", choice.VaultAddress)
		}
		return openVault(ctx, cfg)
	}
	return nil, fmt.Errorf("keyring.json names an unknown keyring %q", choice.Kind)
}

func openVault(ctx context.Context, cfg Config) (keys.Keyring, error) {
	vc := vault.Default()
	vc.Address, vc.Token = cfg.VaultAddr, cfg.VaultToken
	kr, err := vault.New(ctx, vc)
	if err != nil {
		return nil, fmt.Errorf("connect to Vault: %w", err)
	}
	return kr, nil
}
