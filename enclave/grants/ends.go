package grants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// Issue 18 item 1: a grant ends with its legal basis. A grant is approved
// until it is suspended (while something holds it: its organisation's
// suspension, an open incident), revoked (by an authority, or because its
// organisation was blacklisted or its licence revoked) or expired (its
// period or its organisation's licence is over; the term sweeper records
// that). Revoked and expired are final. The end and every hold is kept
// beside the grant: who, why, when.
func init() {
	store.Register(store.Schema{Part: "grant-ends", Requires: []string{"grants"}, Migrations: []store.Migration{
		{Version: 1, Name: "ends and holds of grants", SQL: `
CREATE TABLE grant_ends (
	grant_id  TEXT PRIMARY KEY REFERENCES grants(id),
	status    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	ended_by  TEXT NOT NULL,
	ended_at  TEXT NOT NULL
);
CREATE TABLE grant_holds (
	grant_id  TEXT NOT NULL REFERENCES grants(id),
	cause     TEXT NOT NULL,
	reason    TEXT NOT NULL,
	held_by   TEXT NOT NULL,
	held_at   TEXT NOT NULL,
	PRIMARY KEY (grant_id, cause)
);`},
	}})
}

// Statuses of a grant beyond Approved (policy.GrantStatuses).
const (
	Suspended = "suspended"
	Revoked   = "revoked"
	Expired   = "expired"
)

// Hold causes. A hold names what holds the grant: its organisation's
// suspension, or an incident ("incident:" + id).
const (
	HoldOrg = "org"
)

// HoldIncident is the hold cause of an incident.
func HoldIncident(id string) string { return "incident:" + id }

// End is how and why a grant ended.
type End struct {
	Status string    `json:"status"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Hold is one thing that holds a grant suspended.
type Hold struct {
	Cause  string    `json:"cause"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Standing is a grant with its end and its holds: why it admits nothing.
type Standing struct {
	*Grant
	End   *End   `json:"end,omitempty"`
	Holds []Hold `json:"holds"`
}

// Ended reports whether status is final.
func Ended(status string) bool { return status == Revoked || status == Expired }

// live is the condition of a grant that has not ended.
const live = `status IN ('approved', 'suspended')`

// Show returns a grant with its end and holds.
func Show(ctx context.Context, q Querier, id string) (*Standing, error) {
	g, err := GetGrant(ctx, q, id)
	if err != nil {
		return nil, err
	}
	st := &Standing{Grant: g, Holds: []Hold{}}
	var e End
	var at string
	err = q.QueryRowContext(ctx, `SELECT status, reason, ended_by, ended_at FROM grant_ends WHERE grant_id = ?`, id).Scan(&e.Status, &e.Reason, &e.By, &at)
	switch {
	case err == nil:
		if e.At, err = storetime.Parse(at); err != nil {
			return nil, fmt.Errorf("grant %q ended_at: %w", id, errdefs.ErrDataLoss)
		}
		st.End = &e
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT cause, reason, held_by, held_at FROM grant_holds WHERE grant_id = ? ORDER BY held_at, cause`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h Hold
		if err := rows.Scan(&h.Cause, &h.Reason, &h.By, &at); err != nil {
			return nil, err
		}
		if h.At, err = storetime.Parse(at); err != nil {
			return nil, fmt.Errorf("grant %q hold %q held_at: %w", id, h.Cause, errdefs.ErrDataLoss)
		}
		st.Holds = append(st.Holds, h)
	}
	return st, rows.Err()
}

// Resolve returns the grant an id names: a grant id, or the id of an
// approved application (its grant). Anything else is ErrNotFound.
func Resolve(ctx context.Context, q Querier, id string) (*Grant, error) {
	if strings.HasPrefix(id, "a_") {
		a, err := Get(ctx, q, id)
		if err != nil {
			return nil, err
		}
		if a.Grant == "" {
			return nil, fmt.Errorf("application %q has no grant (it is %s): %w", id, a.Status, errdefs.ErrNotFound)
		}
		id = a.Grant
	}
	return GetGrant(ctx, q, id)
}

// EndGrant ends a grant that has not ended: status is Revoked or Expired;
// its holds are lifted (nothing will lift them any more) and, for a
// revocation, its application is marked revoked. A grant that already
// ended is ErrFailedPrecondition naming how.
func EndGrant(ctx context.Context, q Querier, id, status, by, reason string, now time.Time) (*Grant, error) {
	if !Ended(status) {
		return nil, fmt.Errorf("a grant ends revoked or expired, not %q: %w", status, errdefs.ErrInvalidArgument)
	}
	g, err := GetGrant(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if Ended(g.Status) {
		return nil, fmt.Errorf("grant %q already ended (%s): %w", id, g.Status, errdefs.ErrFailedPrecondition)
	}
	if _, err := q.ExecContext(ctx, `UPDATE grants SET status = ? WHERE id = ?`, status, id); err != nil {
		return nil, err
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO grant_ends(grant_id, status, reason, ended_by, ended_at) VALUES (?, ?, ?, ?, ?)`,
		id, status, reason, by, storetime.Format(now.UTC())); err != nil {
		return nil, err
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM grant_holds WHERE grant_id = ?`, id); err != nil {
		return nil, err
	}
	if status == Revoked {
		if _, err := q.ExecContext(ctx, `UPDATE applications SET status = ? WHERE id = ?`, Revoked, g.Application); err != nil {
			return nil, err
		}
	}
	g.Status = status
	return g, nil
}

// HoldGrant suspends a grant that has not ended for cause (HoldOrg,
// HoldIncident); holding it again for the same cause changes nothing. It
// reports whether the grant was held by it now. An ended grant is left as
// it is (false, nil).
func HoldGrant(ctx context.Context, q Querier, id, cause, by, reason string, now time.Time) (bool, error) {
	g, err := GetGrant(ctx, q, id)
	if err != nil {
		return false, err
	}
	if Ended(g.Status) {
		return false, nil
	}
	res, err := q.ExecContext(ctx, `INSERT INTO grant_holds(grant_id, cause, reason, held_by, held_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(grant_id, cause) DO NOTHING`, id, cause, reason, by, storetime.Format(now.UTC()))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, settle(ctx, q, id)
}

// ReleaseGrant lifts the hold of cause from a grant; the grant is approved
// again when nothing else holds it and it has not ended. It reports
// whether there was such a hold.
func ReleaseGrant(ctx context.Context, q Querier, id, cause string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM grant_holds WHERE grant_id = ? AND cause = ?`, id, cause)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, settle(ctx, q, id)
}

// settle sets a live grant's status from its holds.
func settle(ctx context.Context, q Querier, id string) error {
	_, err := q.ExecContext(ctx, `UPDATE grants SET status = CASE WHEN EXISTS (SELECT 1 FROM grant_holds h WHERE h.grant_id = grants.id)
		THEN 'suspended' ELSE 'approved' END WHERE id = ? AND `+live, id)
	return err
}

// LiveForOrg returns the ids of an organisation's grants that have not
// ended.
func LiveForOrg(ctx context.Context, q Querier, org string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM grants WHERE org = ? AND `+live+` ORDER BY id`, org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// OrgChange is what a change of an organisation's status did to its
// grants.
type OrgChange struct {
	Held, Released, Ended []string
}

// FollowOrg makes an organisation's grants follow its new status, in the
// transaction that records it (issue 18 item 1): a suspension holds every
// grant that has not ended (HoldOrg), a reinstatement lifts that hold, a
// blacklisting or a revocation revokes them all, naming the status and
// the reason.
func FollowOrg(ctx context.Context, q Querier, org string, to people.OrgStatus, by, reason string, now time.Time) (OrgChange, error) {
	var ch OrgChange
	ids, err := LiveForOrg(ctx, q, org)
	if err != nil {
		return ch, err
	}
	why := fmt.Sprintf("organisation %s %s: %s", org, to, reason)
	for _, id := range ids {
		switch to {
		case people.Suspended:
			held, err := HoldGrant(ctx, q, id, HoldOrg, by, why, now)
			if err != nil {
				return ch, err
			}
			if held {
				ch.Held = append(ch.Held, id)
			}
		case people.Active:
			released, err := ReleaseGrant(ctx, q, id, HoldOrg)
			if err != nil {
				return ch, err
			}
			if released {
				ch.Released = append(ch.Released, id)
			}
		case people.Blacklisted, people.Revoked:
			if _, err := EndGrant(ctx, q, id, Revoked, by, why, now); err != nil {
				return ch, err
			}
			ch.Ended = append(ch.Ended, id)
		}
	}
	return ch, nil
}

// CheckStanding says whether an organisation and the grants ids still
// stand at now, for an approval or a release made for the organisation
// under them (issue 18 item 1): the organisation (and each grant's) must be
// active with a licence valid at now, and each grant approved (not
// suspended, revoked or expired) and within its period. The first that
// does not stand is an ErrFailedPrecondition error naming the organisation
// or the grant and why; nil means all stand.
func CheckStanding(ctx context.Context, q Querier, org string, ids []string, now time.Time) error {
	day := now.UTC().Format(people.DateLayout)
	orgs := map[string]bool{}
	checkOrg := func(name string) error {
		if orgs[name] {
			return nil
		}
		orgs[name] = true
		o, err := people.GetOrg(ctx, q, name)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return fmt.Errorf("organisation %q is not on record: %w", name, errdefs.ErrFailedPrecondition)
			}
			return err
		}
		if o.Status != people.Active {
			return fmt.Errorf("organisation %q is %s: %w", name, o.Status, errdefs.ErrFailedPrecondition)
		}
		if day < o.LicenceFrom || day > o.LicenceUntil {
			return fmt.Errorf("organisation %q holds no licence valid today: %w", name, errdefs.ErrFailedPrecondition)
		}
		return nil
	}
	if err := checkOrg(org); err != nil {
		return err
	}
	for _, id := range ids {
		g, err := GetGrant(ctx, q, id)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return fmt.Errorf("grant %q is not on record: %w", id, errdefs.ErrFailedPrecondition)
			}
			return err
		}
		if g.Status != Approved {
			return fmt.Errorf("grant %q is %s: %w", id, g.Status, errdefs.ErrFailedPrecondition)
		}
		if day < g.From || day > g.Until {
			return fmt.Errorf("grant %q is valid %s..%s, not today: %w", id, g.From, g.Until, errdefs.ErrFailedPrecondition)
		}
		if err := checkOrg(g.Org); err != nil {
			return err
		}
	}
	return nil
}
