package usage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store"
	policy "github.com/enclave-dev/enclave/policies"
)

func init() {
	store.Register(store.Schema{Part: "usage", Migrations: []store.Migration{
		{Version: 1, Name: "organisation quotas", SQL: `
CREATE TABLE org_quotas (
	org                  TEXT PRIMARY KEY,
	concurrent_jobs      INTEGER,
	cpu_seconds_month    INTEGER,
	memory_bytes_per_job INTEGER,
	updated_by           TEXT NOT NULL,
	updated_at           TEXT NOT NULL
);`},
	}})
}

// Execer is a *sql.Tx (or a *sql.DB).
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// SetQuota records an organisation's quota, replacing any before; a nil
// field is not limited. Negative figures are refused with
// errdefs.ErrInvalidArgument.
func SetQuota(ctx context.Context, tx Execer, org string, q policy.Quota, by, at string) error {
	for name, v := range map[string]*int64{"concurrent_jobs": q.ConcurrentJobs, "cpu_seconds_month": q.CPUSecondsMonth,
		"memory_bytes_per_job": q.MemoryBytesPerJob} {
		if v != nil && *v < 0 {
			return fmt.Errorf("quota %q of organisation %q is negative: %w", name, org, errdefs.ErrInvalidArgument)
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO org_quotas(org, concurrent_jobs, cpu_seconds_month, memory_bytes_per_job, updated_by, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(org) DO UPDATE SET concurrent_jobs = excluded.concurrent_jobs,
		cpu_seconds_month = excluded.cpu_seconds_month, memory_bytes_per_job = excluded.memory_bytes_per_job,
		updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		org, nullable(q.ConcurrentJobs), nullable(q.CPUSecondsMonth), nullable(q.MemoryBytesPerJob), by, at)
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
