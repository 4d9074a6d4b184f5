package usage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
	policy "github.com/enclave-dev/enclave/policies"
)

func init() {
	store.Register(store.Schema{Part: "usage", Requires: []string{"jobs", "grants"}, Migrations: []store.Migration{
		{Version: 1, Name: "organisation quotas", SQL: `
CREATE TABLE org_quotas (
	org                  TEXT PRIMARY KEY,
	concurrent_jobs      INTEGER,
	cpu_seconds_month    INTEGER,
	memory_bytes_per_job INTEGER,
	updated_by           TEXT NOT NULL,
	updated_at           TEXT NOT NULL
);`},
		{Version: 2, Name: "usage ledger kept by triggers on jobs", SQL: `
CREATE TABLE usage_ledger (
	id         TEXT PRIMARY KEY,
	org        TEXT NOT NULL,
	owner      TEXT NOT NULL,
	created_at TEXT NOT NULL,
	inputs     TEXT NOT NULL,
	cpu        REAL NOT NULL,
	peak       INTEGER NOT NULL,
	mem_gbh    REAL NOT NULL,
	input      INTEGER NOT NULL,
	output     INTEGER NOT NULL,
	wall       REAL NOT NULL
);
CREATE INDEX usage_ledger_org ON usage_ledger(org, created_at);
CREATE INDEX usage_ledger_created ON usage_ledger(created_at);
INSERT INTO usage_ledger SELECT ` + ledgerRow2("") + ` FROM jobs;
CREATE TRIGGER usage_ledger_insert AFTER INSERT ON jobs BEGIN
	INSERT OR REPLACE INTO usage_ledger SELECT ` + ledgerRow2("NEW.") + `;
END;
CREATE TRIGGER usage_ledger_update AFTER UPDATE OF usage, org, owner, created_at, inputs ON jobs BEGIN
	INSERT OR REPLACE INTO usage_ledger SELECT ` + ledgerRow2("NEW.") + `;
END;
CREATE TRIGGER usage_ledger_delete AFTER DELETE ON jobs BEGIN
	DELETE FROM usage_ledger WHERE id = OLD.id;
END;`},
		// Issue 17 item 4: every stored time in the fixed-width codec. The
		// ledger follows the jobs' created_at through its triggers (jobs
		// schema 4 rewrote them); it is rewritten here as well, for a
		// ledger a trigger did not reach.
		{Version: 3, Name: "stored times in the fixed-width codec", Func: store.RewriteTimesOf(map[string][]string{
			"org_quotas":   {"updated_at"},
			"usage_ledger": {"created_at"},
		})},
		// Issue 20 item 3: each job's price class (001 art. 23) and the
		// applications of the grants it read under, fixed when the job is
		// written: public-interest only when every grant it read under
		// comes from an application approved as public-interest.
		{Version: 4, Name: "price class of each job", SQL: `
ALTER TABLE usage_ledger ADD COLUMN class TEXT NOT NULL DEFAULT 'industry';
ALTER TABLE usage_ledger ADD COLUMN basis TEXT NOT NULL DEFAULT '';
DROP TRIGGER usage_ledger_insert;
DROP TRIGGER usage_ledger_update;
CREATE TRIGGER usage_ledger_insert AFTER INSERT ON jobs BEGIN
	INSERT OR REPLACE INTO usage_ledger SELECT ` + ledgerRow("NEW.") + `;
END;
CREATE TRIGGER usage_ledger_update AFTER UPDATE OF usage, org, owner, created_at, inputs, grants ON jobs BEGIN
	INSERT OR REPLACE INTO usage_ledger SELECT ` + ledgerRow("NEW.") + `;
END;
INSERT OR REPLACE INTO usage_ledger SELECT ` + ledgerRow("") + ` FROM jobs;`},
		// The class split of a report reads only the jobs that are not
		// plain industry use (public-interest, or read under a grant whose
		// application a report names) through this index: the others,
		// nearly all, are the row's figures less theirs.
		{Version: 5, Name: "index of the jobs a report names applications of", SQL: `
CREATE INDEX usage_ledger_priced ON usage_ledger(created_at) WHERE ` + pricedRows + `;`},
	}})
}

// ledgerRow is the ledger row of a jobs row (columns prefixed with p):
// the metered use parsed once from its JSON, when the job is written,
// instead of at every report, then the job's price class and the
// applications of its grants (comma-separated).
func ledgerRow(p string) string {
	grantsOf := "json_each(CASE WHEN json_valid(" + p + "grants) AND json_type(" + p + "grants) = 'object' THEN " + p + "grants ELSE '{}' END)"
	return ledgerRow2(p) + ", CASE WHEN EXISTS (SELECT 1 FROM " + grantsOf + ") AND NOT EXISTS (SELECT 1 FROM " + grantsOf +
		" g LEFT JOIN grants r ON r.id = g.value WHERE COALESCE(r.public_interest, 0) = 0) THEN '" + PublicInterest + "' ELSE '" + Industry + "' END, " +
		"COALESCE((SELECT group_concat(DISTINCT r.application) FROM " + grantsOf + " g JOIN grants r ON r.id = g.value), '')"
}

// ledgerRow2 is the ledger row of schema version 2: the metered use only.
func ledgerRow2(p string) string {
	num := func(field string) string { return "COALESCE(json_extract(" + p + "usage, '$." + field + "'), 0)" }
	return p + "id, " + p + "org, " + p + "owner, " + p + "created_at, " + p + "inputs, " + num("cpu_seconds") + ", " +
		num("peak_memory_bytes") + ", " + num("peak_memory_bytes") + " / 1e9 * " + num("wall_seconds") + " / 3600.0, " +
		num("input_bytes") + ", " + num("output_bytes") + ", " + num("wall_seconds")
}

// Execer is a *sql.Tx (or a *sql.DB).
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// SetQuota records an organisation's quota, replacing any before; a nil
// field is not limited. at is the RFC 3339 time of the change, stored in
// the codec of stored times. Negative figures and a malformed at are
// refused with errdefs.ErrInvalidArgument.
func SetQuota(ctx context.Context, tx Execer, org string, q policy.Quota, by, at string) error {
	when, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return fmt.Errorf("quota of organisation %q: the time of the change is not RFC 3339: %w", org, errdefs.ErrInvalidArgument)
	}
	for name, v := range map[string]*int64{"concurrent_jobs": q.ConcurrentJobs, "cpu_seconds_month": q.CPUSecondsMonth,
		"memory_bytes_per_job": q.MemoryBytesPerJob} {
		if v != nil && *v < 0 {
			return fmt.Errorf("quota %q of organisation %q is negative: %w", name, org, errdefs.ErrInvalidArgument)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO org_quotas(org, concurrent_jobs, cpu_seconds_month, memory_bytes_per_job, updated_by, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(org) DO UPDATE SET concurrent_jobs = excluded.concurrent_jobs,
		cpu_seconds_month = excluded.cpu_seconds_month, memory_bytes_per_job = excluded.memory_bytes_per_job,
		updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		org, nullable(q.ConcurrentJobs), nullable(q.CPUSecondsMonth), nullable(q.MemoryBytesPerJob), by, storetime.Format(when))
	if err != nil {
		return fmt.Errorf("set quota of organisation %q: %w", org, err)
	}
	return nil
}

// GetQuota returns an organisation's quota, as the policy input wants it;
// an organisation without one has every field nil (not limited).
func GetQuota(ctx context.Context, db Querier, org string) (policy.Quota, error) {
	var c, cpu, mem sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT concurrent_jobs, cpu_seconds_month, memory_bytes_per_job FROM org_quotas WHERE org = ?`, org).Scan(&c, &cpu, &mem)
	if err == sql.ErrNoRows {
		return policy.Quota{}, nil
	}
	if err != nil {
		return policy.Quota{}, fmt.Errorf("read quota of organisation %q: %w", org, err)
	}
	return policy.Quota{ConcurrentJobs: ptr(c), CPUSecondsMonth: ptr(cpu), MemoryBytesPerJob: ptr(mem)}, nil
}

func nullable(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

func ptr(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}
