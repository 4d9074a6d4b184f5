package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/backup"
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
// objects whose keys are gone (exports.ApplyTombstones): a tombstone of
// the local keyring names them, or, at the first start after a restore
// (backup.RestoredFile), the keyring no longer has them (keys.Checker: a
// Vault transit key deleted after the backup). Then it destroys the export
// requests of outputs destroyed meanwhile (Orphans). The restore mark is
// removed, and the restore audited, once this succeeded.
func applyTombstones(ctx context.Context, log *slog.Logger, cfg Config, kr keys.Keyring, alog *audit.Log, cat *datasets.Catalog, s *exports.Shredder) error {
	dead := map[string]bool{}
	if lk, ok := kr.(*local.Keyring); ok {
		ts, err := lk.Tombstones()
		if err != nil {
			return fmt.Errorf("read the keyring's tombstones: %w", err)
		}
		for _, t := range ts {
			dead[t.Object] = true
		}
	}
	markPath := filepath.Join(cfg.DataDir, backup.RestoredFile)
	var mark *backup.Restored
	if data, err := os.ReadFile(markPath); err == nil {
		mark = &backup.Restored{}
		if err := json.Unmarshal(data, mark); err != nil {
			return fmt.Errorf("%s is malformed: %w", markPath, err)
		}
	}
	checker, _ := kr.(keys.Checker)
	isDead := func(o string) (bool, error) {
		if dead[o] {
			return true, nil
		}
		if mark == nil || checker == nil {
			return false, nil
		}
		has, err := checker.HasKey(ctx, o)
		return err == nil && !has, err
	}
	versions, derived, err := s.ApplyTombstones(ctx, cat, isDead)
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
	if mark != nil {
		ev := audit.Event{Actor: "system", Action: "daemon.restored", Outcome: audit.OutcomeOK, Retention: audit.Retention5y,
			Details: map[string]string{"backup_taken": mark.Taken.Format(time.RFC3339), "restored": mark.Restored.Format(time.RFC3339),
				"tombstones": fmt.Sprint(mark.Tombstones), "no_tombstones": fmt.Sprint(mark.None), "keyring": kr.Name(),
				"dataset_versions_destroyed": fmt.Sprint(len(versions)), "derived_destroyed": fmt.Sprint(len(derived))}}
		if _, err := alog.Append(ctx, ev); err != nil {
			return fmt.Errorf("audit the restore: %w", err)
		}
		if err := os.Remove(markPath); err != nil {
			return err
		}
	}
	return nil
}
