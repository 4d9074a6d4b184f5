//go:build tools

// Package vaultserver pins a HashiCorp Vault server build used only by the
// enclave's tests (the Vault transit keyring). It is a module of its own so
// that Vault's large dependency graph stays out of the project's go.mod.
package vaultserver

import _ "github.com/hashicorp/vault"
