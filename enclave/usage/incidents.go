package usage

import (
	"context"
	"fmt"
	"time"

	_ "github.com/enclave-dev/enclave/enclave/incidents"  // the incident register the report reads (its schema part)
	_ "github.com/enclave-dev/enclave/enclave/objections" // the objection register the report reads (its schema part)
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// AnnualIncident is one incident of the year in the annual report (issue
// 18, R-17): who reported what, when and why, what it stopped, and the
// authority's decision.
type AnnualIncident struct {
	ID, Kind, Target, State string
	ReportedBy, ReporterOrg string
	ReportedAt              time.Time
	Reason, Decision        string
	Stopped                 int64
	ClosedAt                string
}

// AnnualGrantEnd is a grant that ended or was held in the year: revoked
// or expired (with who and why), or suspended now.
type AnnualGrantEnd struct {
	Grant, Org, Status, Reason, By string
	At                             string
}

// annualIncidents reads the incidents reported in the year on or
// affecting org ("" = every organisation), oldest first.
func annualIncidents(ctx context.Context, db Querier, org string, from, until time.Time) ([]AnnualIncident, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, kind, target, state, reported_by, reporter_org, reported_at, reason, decision,
		json_array_length(stopped), closed_at FROM incidents
		WHERE reported_at >= ? AND reported_at < ? AND (? = '' OR org = ? OR EXISTS (
			SELECT 1 FROM json_each(json_extract(incidents.affected, '$.orgs')) WHERE value = ?))
		ORDER BY reported_at, id`, storetime.Format(from), storetime.Format(until), org, org, org)
	if err != nil {
		return nil, fmt.Errorf("query incidents: %w", err)
	}
	defer rows.Close()
	var out []AnnualIncident
	for rows.Next() {
		var in AnnualIncident
		var at string
		if err := rows.Scan(&in.ID, &in.Kind, &in.Target, &in.State, &in.ReportedBy, &in.ReporterOrg, &at, &in.Reason, &in.Decision,
			&in.Stopped, &in.ClosedAt); err != nil {
			return nil, fmt.Errorf("read incidents: %w", err)
		}
		if in.ReportedAt, err = storetime.Column("incident", in.ID, "reported_at", at); err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// annualGrantEnds reads the grants of org ("" = all) that ended in the
// year, and those suspended now.
func annualGrantEnds(ctx context.Context, db Querier, org string, from, until time.Time) ([]AnnualGrantEnd, error) {
	rows, err := db.QueryContext(ctx, `SELECT g.id, g.org, g.status, COALESCE(e.reason, ''), COALESCE(e.ended_by, ''), COALESCE(e.ended_at, '')
		FROM grants g LEFT JOIN grant_ends e ON e.grant_id = g.id
		WHERE (? = '' OR g.org = ?) AND (g.status = 'suspended' OR (e.ended_at >= ? AND e.ended_at < ?))
		ORDER BY COALESCE(e.ended_at, ''), g.id`, org, org, storetime.Format(from), storetime.Format(until))
	if err != nil {
		return nil, fmt.Errorf("query grant ends: %w", err)
	}
	defer rows.Close()
	var out []AnnualGrantEnd
	for rows.Next() {
		var g AnnualGrantEnd
		if err := rows.Scan(&g.Grant, &g.Org, &g.Status, &g.Reason, &g.By, &g.At); err != nil {
			return nil, fmt.Errorf("read grant ends: %w", err)
		}
		if len(g.At) >= 10 {
			g.At = g.At[:10]
		}
		out = append(out, g)
	}
	return out, rows.Err()
}
