package services

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/release"

	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
	"github.com/enclave-dev/enclave/enclave/usage"
)

// DefaultCallPrice is the charge of one answered call (matched or not)
// in the default price list (usage.DefaultPriceList); refused calls are
// not charged. The daemon charges Runtime.CallPrice, from its price list.
const DefaultCallPrice = 0.01

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
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	pending := r.meter
	r.meter = map[meterKey]*meterRow{}
	r.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	if err := r.writeMeter(ctx, pending); err != nil {
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

// writeMeter adds counts to the meter table in one transaction. It does
// not go through store.DB.Tx: the meter is no basis of any call, so its
// flush, about once a second under load, must not make every call read
// its credential and service again (store.DB.Generation).
func (r *Runtime) writeMeter(ctx context.Context, pending map[meterKey]*meterRow) error {
	tx, err := r.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for k, m := range pending {
		if _, err := tx.ExecContext(ctx, `INSERT INTO service_meter (service, subscription, org, day, calls, matches, misses, refused)
			VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (service, subscription, day) DO UPDATE SET calls = calls + excluded.calls,
			matches = matches + excluded.matches, misses = misses + excluded.misses, refused = refused + excluded.refused`,
			k.service, k.subscription, k.org, k.day, m.calls, m.matches, m.misses, m.refused); err != nil {
			return err
		}
	}
	return tx.Commit()
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

// UsageRow is one service's calls by one subscription on one day; its
// form is the wire contract's (api.ServiceUsage), of which this was a hand
// copy.
type UsageRow = api.ServiceUsage

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
	return ReadUsage(ctx, r.DB.SQL(), f, CallPrices{Industry: r.CallPrice, PublicInterest: r.PublicCallPrice})
}

// CallPrices are the price list's call prices by price class.
type CallPrices struct {
	Industry, PublicInterest float64
}

// ReadUsage reads usage rows from the meter table, each answered call
// charged at the call price of its subscription's class: public-interest
// for a subscription the authority approved with a claim of
// public-interest use, industry otherwise (Subscription.Class).
func ReadUsage(ctx context.Context, q store.Querier, f UsageFilter, prices CallPrices) ([]UsageRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.service, m.subscription, m.org, m.day, m.calls, m.matches, m.misses, m.refused,
		COALESCE(sub.public_interest AND sub.state = 'approved', 0)
		FROM service_meter m JOIN services s ON s.name = m.service LEFT JOIN subscriptions sub ON sub.id = m.subscription
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
		var public bool
		if err := rows.Scan(&u.Service, &u.Subscription, &u.Org, &u.Day, &u.Calls, &u.Matches, &u.Misses, &u.Refused, &public); err != nil {
			return nil, err
		}
		price := prices.Industry
		u.Class = usage.Industry
		if public {
			price, u.Class = prices.PublicInterest, usage.PublicInterest
		}
		u.Charge = math.Round(float64(u.Calls)*price*100) / 100
		out = append(out, u)
	}
	return out, rows.Err()
}

// StatementPredicateType names the predicate of a signed usage statement.
const StatementPredicateType = api.UsageStatementType

// UsageStatement is the predicate of a daily usage statement of one
// subscription (issue 19 item 6); its form is the wire contract's, since
// it leaves signed and is read back offline (enclave service
// verify-statement).
type UsageStatement = api.UsageStatement

// Statement makes the signed usage statement of a subscription for one
// day: an in-toto statement in a DSSE envelope signed by the enclave's
// key, as a release's attestation is (release.PAE, release.KeyID), so that
// it verifies offline with the public key. The meter is flushed first.
func (r *Runtime) Statement(ctx context.Context, sub *Subscription, day string, currency string,
	pub ed25519.PublicKey, sign func([]byte) ([]byte, error)) (*release.Envelope, error) {
	if _, err := time.Parse(people.DateLayout, day); err != nil {
		return nil, fmt.Errorf("day %q must be a date YYYY-MM-DD: %w", clip(day), errdefs.ErrInvalidArgument)
	}
	rows, err := r.Usage(ctx, UsageFilter{Subscription: sub.ID, Day: day})
	if err != nil {
		return nil, err
	}
	st := UsageStatement{Subscription: sub.ID, Service: sub.Service, Org: sub.Org, Day: day, Currency: currency, MadeAt: r.now().UTC().Truncate(time.Second),
		Class: sub.Class()}
	for _, u := range rows {
		st.Calls, st.Matches, st.Misses, st.Refused, st.Charge = st.Calls+u.Calls, st.Matches+u.Matches, st.Misses+u.Misses, st.Refused+u.Refused, st.Charge+u.Charge
	}
	body, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	payload, err := json.Marshal(map[string]any{
		"_type":         release.StatementType,
		"subject":       []release.Subject{{Name: "usage/" + sub.ID + "/" + day + ".json", Digest: release.Digest{SHA256: hex.EncodeToString(sum[:])}}},
		"predicateType": StatementPredicateType,
		"predicate":     st,
	})
	if err != nil {
		return nil, err
	}
	sig, err := sign(release.PAE(release.PayloadType, payload))
	if err != nil {
		return nil, fmt.Errorf("sign the usage statement: %w", err)
	}
	return &release.Envelope{PayloadType: release.PayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []release.Signature{{KeyID: release.KeyID(pub), Sig: base64.StdEncoding.EncodeToString(sig)}}}, nil
}

// VerifyStatement checks a usage statement's signature with the enclave's
// public key (release.OpenStatement) and returns its predicate.
func VerifyStatement(env *release.Envelope, pub ed25519.PublicKey) (*UsageStatement, error) {
	return release.OpenUsageStatement(env, pub)
}
