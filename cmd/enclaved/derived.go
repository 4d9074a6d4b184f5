package main

import (
	"log/slog"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/exports"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/enclave/keys"
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
