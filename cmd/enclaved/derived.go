package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/keys/local"
	"github.com/enclave-dev/enclave/enclave/store"
)

// newShredder is what destroys the outputs and unreleased exports derived
// from a basis that ended (a dataset version destroyed, a grant ended, an
// organisation revoked). It works without the sandbox too: what earlier
// jobs left is destroyed all the same; running jobs are stopped when mgr
// is not nil.
func newShredder(cfg Config, log *slog.Logger, db *store.DB, kr keys.Keyring, alog *audit.Log, mgr *jobs.Manager) *exports.Shredder {
	s := &exports.Shredder{DB: db, Keys: jobs.NewDataKeys(db.SQL(), kr), JobsDir: cfg.jobsDir(), ExportsDir: cfg.exportsDir(), Audit: alog,
		Log: log.With("part", "shredder")}
	if mgr != nil {
		s.Keys, s.Jobs = mgr.DataKeys(), mgr
	}
	return s
}

// applyTombstones destroys, at start, what the data directory holds of
// objects whose keys a tombstone of the local keyring names: after a
// restore, what was destroyed after the backup (exports.ApplyTombstones).
// A Vault keyring keeps no tombstones: its keys are never in a backup, and
// a key deleted in Vault stays deleted.
func applyTombstones(ctx context.Context, log *slog.Logger, kr keys.Keyring, cat *datasets.Catalog, s *exports.Shredder) error {
	lk, ok := kr.(*local.Keyring)
	if !ok {
		return nil
	}
	ts, err := lk.Tombstones()
	if err != nil {
		return fmt.Errorf("read the keyring's tombstones: %w", err)
	}
	dead := map[string]bool{}
	for _, t := range ts {
		dead[t.Object] = true
	}
	versions, derived, err := s.ApplyTombstones(ctx, cat, func(o string) bool { return dead[o] })
	if err == nil {
		var orphans []jobs.Destruction
		orphans, err = s.Orphans(ctx)
		derived = append(derived, orphans...)
	}
	if len(versions)+len(derived) > 0 {
		log.Warn("destroyed what a restore brought back of objects destroyed after its backup", "dataset_versions", len(versions), "derived", len(derived))
	}
	if err != nil {
		return fmt.Errorf("apply the keyring's tombstones: %w", err)
	}
	return nil
}
