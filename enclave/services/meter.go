package services

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
)

// CallPrice is the charge of one answered call (matched or not), in the
// price list's currency; refused calls are not charged.
const CallPrice = 0.01

type meterKey struct{ service, subscription, org, day string }

type meterRow struct{ calls, matches, misses, refused int64 }

// countLocked counts calls in the meter; r.mu is held.
func (r *Runtime) countLocked(c Caller, service, day string, matches, misses, refused int) {
	k := meterKey{service, c.Subscription, c.Org.Name, day}
	m := r.meter[k]
	if m == nil {
		m = &meterRow{}
		r.meter[k] = m
	}
	m.calls += int64(matches + misses)
	m.matches += int64(matches)
	m.misses += int64(misses)
	m.refused += int64(refused)
}

// Flush writes what the meter counted since the last flush to the
// database in one transaction (batched metering: no call writes to the
// database itself). On failure the counts are kept for the next flush.
func (r *Runtime) Flush(ctx context.Context) error {
	if err := r.init(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	pending := r.meter
	r.meter = map[meterKey]*meterRow{}
	r.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	err := r.DB.Tx(ctx, func(tx *sql.Tx) error {
		for k, m := range pending {
			if _, err := tx.ExecContext(ctx, `INSERT INTO service_meter (service, subscription, org, day, calls, matches, misses, refused)
				VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (service, subscription, day) DO UPDATE SET calls = calls + excluded.calls,
				matches = matches + excluded.matches, misses = misses + excluded.misses, refused = refused + excluded.refused`,
				k.service, k.subscription, k.org, k.day, m.calls, m.matches, m.misses, m.refused); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		r.mu.Lock()
		for k, m := range pending {
			if cur := r.meter[k]; cur != nil {
				cur.calls, cur.matches, cur.misses, cur.refused = cur.calls+m.calls, cur.matches+m.matches, cur.misses+m.misses, cur.refused+m.refused
			} else {
				r.meter[k] = m
			}
		}
		r.mu.Unlock()
		return fmt.Errorf("flush the service meter: %w", err)
	}
	return nil
}

// load reads today's non-matching calls of every subscription from the
// meter, so that the enumeration guard's budget survives a restart (up to
// the last flush).
func (r *Runtime) load(ctx context.Context) error {
	day := r.now().UTC().Format(people.DateLayout)
	rows, err := r.DB.SQL().QueryContext(ctx, `SELECT subscription, SUM(misses) FROM service_meter WHERE day = ? GROUP BY subscription`, day)
	if err != nil {
		return err
	}
	defer rows.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for rows.Next() {
		var sub string
		var n int
		if err := rows.Scan(&sub, &n); err != nil {
			return err
		}
		r.misses[sub] = &dayCount{day: day, n: n}
	}
	return rows.Err()
}

// UsageRow is one service's calls by one subscription on one day.
type UsageRow struct {
	Service      string  `json:"service"`
	Subscription string  `json:"subscription"`
	Org          string  `json:"org"`
	Day          string  `json:"day"`
	Calls        int64   `json:"calls"`
	Matches      int64   `json:"matches"`
	Misses       int64   `json:"misses"`
	Refused      int64   `json:"refused"`
	Charge       float64 `json:"charge"`
}

// UsageFilter selects usage rows; empty fields select all.
type UsageFilter struct {
	Service      string
	Subscription string
	Org          string // the consumer organisation
	Custodian    string // services over datasets this organisation owns
	Day          string
}

// Usage reads the meter (after flushing it).
func (r *Runtime) Usage(ctx context.Context, f UsageFilter) ([]UsageRow, error) {
	if err := r.Flush(ctx); err != nil {
		return nil, err
	}
	return ReadUsage(ctx, r.DB.SQL(), f)
}

// ReadUsage reads usage rows from the meter table.
func ReadUsage(ctx context.Context, q store.Querier, f UsageFilter) ([]UsageRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.service, m.subscription, m.org, m.day, m.calls, m.matches, m.misses, m.refused
		FROM service_meter m JOIN services s ON s.name = m.service
		WHERE (?1 = '' OR m.service = ?1) AND (?2 = '' OR m.subscription = ?2) AND (?3 = '' OR m.org = ?3) AND (?4 = '' OR m.day = ?4)
		AND (?5 = '' OR EXISTS (SELECT 1 FROM dataset_owners o WHERE o.name = s.dataset AND o.org = ?5))
		ORDER BY m.day, m.service, m.subscription`, f.Service, f.Subscription, f.Org, f.Day, f.Custodian)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UsageRow
	for rows.Next() {
		var u UsageRow
		if err := rows.Scan(&u.Service, &u.Subscription, &u.Org, &u.Day, &u.Calls, &u.Matches, &u.Misses, &u.Refused); err != nil {
			return nil, err
		}
		u.Charge = math.Round(float64(u.Calls)*CallPrice*100) / 100
		out = append(out, u)
	}
	return out, rows.Err()
}
