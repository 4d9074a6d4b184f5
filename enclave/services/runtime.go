package services

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/datasets"
	"github.com/enclave-dev/enclave/enclave/grants"
	"github.com/enclave-dev/enclave/enclave/incidents"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
)

// Fresh is how long the runtime trusts what it read of a credential, a
// subscription, an organisation and a service's standing (dataset state,
// grant, incidents) when nothing was written since: what ends with time
// alone (a licence or grant period, a change the term sweeper makes
// outside store.DB.Tx) stops the service within this time. Any change
// committed through store.DB.Tx (a revocation, a suspension, a seal, an
// incident, a review) moves the database's generation, and the next call
// reads again before it is answered: it takes effect at once.
const Fresh = time.Second

// Runtime answers calls: it authenticates credentials, keeps each running
// service's index of keyed hashes, the rate limits, the enumeration guard
// and the meter (flushed to the database in batches by Flush). It is safe
// for concurrent use.
type Runtime struct {
	DB      *store.DB
	Catalog *datasets.Catalog
	Keyring keys.Keyring
	Now     func() time.Time
	// CallPrice is what one answered call costs in the price list's
	// currency: the price list's call price, set by the server (issue 19
	// item 4); zero is free. Only usage reports read it.
	CallPrice float64
	// PublicCallPrice is the call price of public-interest use: that of
	// the calls of a subscription approved with a claim of public-interest
	// use (001 art. 23; the price list's public_interest.call, at most
	// CallPrice; zero is free).
	PublicCallPrice float64
	// TempDir holds a dataset's decrypted key columns while an index is
	// built; they are removed at once.
	TempDir string
	// Bundles opens the decrypted release bundle of an export, for a query
	// service over a released table; nil serves none.
	Bundles func(ctx context.Context, export string) (io.ReadSeekCloser, error)

	initOnce sync.Once
	initErr  error
	svcKey   []byte
	pseudo   []byte
	macs     sync.Pool // HMACs under svcKey
	pseudos  sync.Pool // HMACs under pseudo

	flushing  atomic.Bool
	lastFlush atomic.Int64
	forgets   atomic.Uint64
	reads     atomic.Int64 // readings of a credential or a service from the database (tests)

	// flushMu makes one Flush wait for another: a reader of the meter
	// (usage, a signed statement) then sees the counts that a background
	// flush had taken but not yet written.
	flushMu sync.Mutex

	mu      sync.Mutex
	creds   map[string]*credEntry // by token hash
	running map[string]*running   // by service name
	flights map[string]*flight    // reads in progress, by what and generation
	buckets map[string]*bucket    // by subscription
	misses  map[string]*dayCount  // by subscription
	meter   map[meterKey]*meterRow
}

// Caller is an authenticated application system.
type Caller struct {
	Credential   string
	Subscription string
	Service      string
	System       string
	Org          people.Org
	Until        string
}

type credEntry struct {
	caller Caller
	live   bool
	read   time.Time
	gen    uint64 // the database's generation before it was read
	// refreshing is set while one call reads the credential again; the
	// others use what was read (a revocation clears the cache at once).
	refreshing atomic.Bool
}

type running struct {
	svc   *Service
	index map[string][]string   // keyed hash of the stored key -> keyed hashes of the match columns
	rules map[string]string     // the stored rule of the key and match columns
	rows  map[string][][]string // a query service's returned columns per keyed hash of the key (stored, desensitized forms)
	err   error                 // why it does not run, as of read
	read  time.Time
	gen   uint64 // the database's generation before it was read
	// refreshing is set while one call reads the service again.
	refreshing atomic.Bool
}

func (r *Runtime) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runtime) init(ctx context.Context) error {
	r.initOnce.Do(func() {
		r.svcKey, r.initErr = r.Keyring.Secret(ctx, "service-key")
		if r.initErr == nil {
			r.pseudo, r.initErr = r.Keyring.Secret(ctx, "pseudonym")
		}
		r.creds, r.running, r.flights = map[string]*credEntry{}, map[string]*running{}, map[string]*flight{}
		r.buckets, r.misses, r.meter = map[string]*bucket{}, map[string]*dayCount{}, map[meterKey]*meterRow{}
		r.macs.New = func() any { return hmac.New(sha256.New, r.svcKey) }
		r.pseudos.New = func() any { return hmac.New(sha256.New, r.pseudo) }
		if r.initErr == nil {
			r.initErr = r.load(ctx)
		}
	})
	return r.initErr
}

var errUnauth = fmt.Errorf("credential is unknown, expired or revoked: %w", errdefs.ErrUnauthenticated)

// Authenticate resolves a credential token to its caller. An unknown or
// revoked credential, one whose subscription is not approved or has ended,
// or one of an organisation that is not active all answer the same
// ErrUnauthenticated.
func (r *Runtime) Authenticate(ctx context.Context, token string) (Caller, error) {
	if err := r.init(ctx); err != nil {
		return Caller{}, err
	}
	now := r.now()
	e, err := r.credential(ctx, hashToken(token), now)
	if err != nil {
		return Caller{}, err
	}
	if !e.live || now.UTC().Format(people.DateLayout) > e.caller.Until {
		return Caller{}, errUnauth
	}
	return e.caller, nil
}

// credential returns what the runtime holds of the credential whose token
// or certificate hashes to h. It reads it again, before answering, when a
// write was committed since it was read (store.DB.Generation); when only
// Fresh has passed one call reads it again and the others use what was
// read meanwhile. Concurrent reads of the same credential are one read.
func (r *Runtime) credential(ctx context.Context, h string, now time.Time) (*credEntry, error) {
	gen := r.generation()
	r.mu.Lock()
	e := r.creds[h]
	r.mu.Unlock()
	if e != nil && e.gen == gen {
		if now.Sub(e.read) <= Fresh && !now.Before(e.read) {
			return e, nil
		}
		if !e.refreshing.CompareAndSwap(false, true) {
			return e, nil // another call reads it again; nothing was written since
		}
	}
	v, err := r.once(ctx, "credential "+h, gen, func(ctx context.Context) (any, error) {
		// A call that looked before another's reading of this generation
		// was stored, and starts its own after that flight ended, uses it.
		r.mu.Lock()
		cur := r.creds[h]
		r.mu.Unlock()
		if cur != nil && cur != e && cur.gen == gen && now.Sub(cur.read) <= Fresh && !now.Before(cur.read) {
			return cur, nil
		}
		return r.readCred(ctx, h, now, gen)
	})
	if err != nil {
		if e != nil {
			e.refreshing.Store(false)
		}
		return nil, err
	}
	ne := v.(*credEntry)
	r.mu.Lock()
	if len(r.creds) > 100_000 {
		clear(r.creds)
	}
	if cur := r.creds[h]; cur == nil || cur.gen <= ne.gen {
		r.creds[h] = ne
	}
	r.mu.Unlock()
	return ne, nil
}

// flight is one read that concurrent calls share.
type flight struct {
	done chan struct{}
	v    any
	err  error
}

// once runs read once for all calls that ask for the same key under the
// same database generation at the same time; each gets its result. The
// read is not cut short when the call that started it ends.
func (r *Runtime) once(ctx context.Context, key string, gen uint64, read func(context.Context) (any, error)) (any, error) {
	key += "@" + strconv.FormatUint(gen, 10)
	r.mu.Lock()
	if f := r.flights[key]; f != nil {
		r.mu.Unlock()
		select {
		case <-f.done:
			return f.v, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	r.flights[key] = f
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.flights, key)
		r.mu.Unlock()
		close(f.done)
	}()
	f.v, f.err = read(context.WithoutCancel(ctx))
	return f.v, f.err
}

func (r *Runtime) readCred(ctx context.Context, h string, now time.Time, gen uint64) (*credEntry, error) {
	r.reads.Add(1)
	q := r.DB.SQL()
	var c Caller
	var revoked, state string
	err := q.QueryRowContext(ctx, `SELECT c.id, c.subscription, s.service, c.system, c.org, s.until, c.revoked_at, s.state
		FROM service_credentials c JOIN subscriptions s ON s.id = c.subscription WHERE c.hash = ?`, h).
		Scan(&c.Credential, &c.Subscription, &c.Service, &c.System, &c.Org.Name, &c.Until, &revoked, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return &credEntry{read: now, gen: gen}, nil
	}
	if err != nil {
		return nil, err
	}
	o, err := people.GetOrg(ctx, q, c.Org.Name)
	if err != nil {
		return nil, err
	}
	c.Org = o
	day := now.UTC().Format(people.DateLayout)
	live := revoked == "" && state == Approved && o.Status == people.Active && day >= o.LicenceFrom && day <= o.LicenceUntil
	return &credEntry{caller: c, live: live, read: now, gen: gen}, nil
}

// Forget makes the next call read every credential and service again
// before it is answered (after a revocation, a review or a stop). A change
// committed through store.DB.Tx does so by itself; Forget also covers one
// made otherwise. service names the service concerned, for the record;
// services keep their index for the next reading to reuse when their data
// is the same.
func (r *Runtime) Forget(service string) {
	r.forgets.Add(1)
}

// generation moves whenever a change was committed through store.DB.Tx or
// Forget was called: what was read under another generation is read again.
func (r *Runtime) generation() uint64 {
	return r.DB.Generation() + r.forgets.Load()
}

// Standing says whether a service may answer now: approved, its dataset
// version readable, its grant standing (for an operator's service), no
// open incident on its dataset, grant or organisation. nil means it runs.
func Standing(ctx context.Context, q store.Querier, cat *datasets.Catalog, s *Service, now time.Time) error {
	if s.State != Approved {
		return fmt.Errorf("service %q is %s: %w", s.Name, s.State, errdefs.ErrFailedPrecondition)
	}
	if s.Export != "" {
		return exportStanding(ctx, q, cat, s, s.Export, now)
	}
	v, err := cat.Get(ctx, q, s.Dataset, s.Version)
	if err != nil {
		return fmt.Errorf("service %q: dataset %q version %d: %w", s.Name, s.Dataset, s.Version, errdefs.ErrFailedPrecondition)
	}
	if err := v.Readable(); err != nil {
		return fmt.Errorf("service %q stopped: dataset %q version %d is %s: %w", s.Name, s.Dataset, s.Version, v.State, errdefs.ErrFailedPrecondition)
	}
	var gs []string
	if s.Grant != "" {
		gs = []string{s.Grant}
		if err := grants.CheckStanding(ctx, q, s.Org, gs, now); err != nil {
			return fmt.Errorf("service %q stopped: %w", s.Name, err)
		}
	}
	if err := incidents.CheckClear(ctx, q, "", s.Org, gs, []string{s.Dataset}); err != nil {
		return fmt.Errorf("service %q stopped: %w", s.Name, err)
	}
	return nil
}

// service returns a running service with its index, building the index
// on first use. Like credential, it reads the service and its standing
// again before answering when a write was committed since (or Forget was
// called), and in the background of one call when only Fresh has passed;
// concurrent readings are one, and so is the building of an index.
func (r *Runtime) service(ctx context.Context, name string) (*running, error) {
	now := r.now()
	gen := r.generation()
	r.mu.Lock()
	run := r.running[name]
	r.mu.Unlock()
	if run != nil && run.gen == gen {
		if now.Sub(run.read) <= Fresh && !now.Before(run.read) {
			return run, run.err
		}
		if !run.refreshing.CompareAndSwap(false, true) {
			// Another call is reading it again and nothing was written
			// since: use what was read until it is done.
			return run, run.err
		}
	}
	v, err := r.once(ctx, "service "+name, gen, func(ctx context.Context) (any, error) {
		return r.readService(ctx, name, run, now, gen)
	})
	if err != nil {
		if run != nil {
			run.refreshing.Store(false)
		}
		return nil, err
	}
	next := v.(*running)
	r.mu.Lock()
	if cur := r.running[name]; cur == nil || cur.gen <= next.gen {
		r.running[name] = next
	}
	r.mu.Unlock()
	return next, next.err
}

// readService reads a service and its standing, and builds its index
// unless last holds one of the same data.
func (r *Runtime) readService(ctx context.Context, name string, last *running, now time.Time, gen uint64) (*running, error) {
	r.reads.Add(1)
	q := r.DB.SQL()
	s, err := Get(ctx, q, name)
	if err != nil {
		return nil, err
	}
	next := &running{svc: s, read: now, gen: gen}
	next.err = Standing(ctx, q, r.Catalog, s, now)
	if next.err == nil {
		if last != nil && last.index != nil && last.svc.Dataset == s.Dataset && last.svc.Version == s.Version {
			next.index, next.rules, next.rows = last.index, last.rules, last.rows
		} else if next.index, next.rules, next.rows, err = r.build(ctx, s); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// build reads the key and match columns of the service's dataset version
// and keeps only keyed hashes of their stored forms. The decrypted columns
// are removed before it returns.
func (r *Runtime) build(ctx context.Context, s *Service) (_ map[string][]string, _ map[string]string, _ map[string][][]string, err error) {
	if s.Export != "" {
		return r.buildExport(ctx, s)
	}
	v, err := r.Catalog.Get(ctx, r.DB.SQL(), s.Dataset, s.Version)
	if err != nil {
		return nil, nil, nil, err
	}
	rules := map[string]string{}
	for _, col := range v.Columns {
		rules[col.Name] = col.Rule
	}
	dir, err := os.MkdirTemp(r.TempDir, "service-index-")
	if err != nil {
		return nil, nil, nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cols.arrow")
	cols := append([]string{s.Key}, s.Match...)
	if s.Mode == Query {
		cols = append([]string{s.Key}, s.Columns...)
	}
	if err := r.Catalog.DecryptColumns(ctx, v, path, cols); err != nil {
		return nil, nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	rd, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read the decrypted columns of dataset %q: %w", s.Dataset, err)
	}
	defer rd.Close()
	idx := make([]int, len(cols))
	for i, c := range cols {
		found := rd.Schema().FieldIndices(c)
		if len(found) != 1 {
			return nil, nil, nil, fmt.Errorf("dataset %q has no column %q: %w", s.Dataset, c, errdefs.ErrFailedPrecondition)
		}
		idx[i] = found[0]
	}
	out := map[string][]string{}
	var rows map[string][][]string
	if s.Mode == Query {
		rows = map[string][][]string{}
	}
	for i := 0; i < rd.NumRecords(); i++ {
		rec, err := rd.RecordBatch(i)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read the decrypted columns of dataset %q: %w", s.Dataset, err)
		}
		keyArr := rec.Column(idx[0])
		for row := 0; row < int(rec.NumRows()); row++ {
			k, ok := fingerprint.CellString(keyArr, row)
			if !ok {
				continue
			}
			kh := r.keyed(k)
			if rows != nil {
				vals := make([]string, len(idx)-1)
				for j := 1; j < len(idx); j++ {
					vals[j-1], _ = fingerprint.CellString(rec.Column(idx[j]), row)
				}
				if len(rows[kh]) < MaxRowsPerSubject {
					rows[kh] = append(rows[kh], vals)
				}
				out[kh] = nil
				continue
			}
			var ms []string
			for j := 1; j < len(idx); j++ {
				m, _ := fingerprint.CellString(rec.Column(idx[j]), row)
				ms = append(ms, r.keyed(m))
			}
			out[kh] = ms
		}
	}
	return out, rules, rows, nil
}

// keyed is the keyed hash of a stored value, the only form of a key that
// the runtime keeps, compares or logs.
func (r *Runtime) keyed(v string) string {
	m := r.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(v))
	var sum [sha256.Size]byte
	out := hex.EncodeToString(m.Sum(sum[:0])[:16])
	r.macs.Put(m)
	return out
}

// stored applies a column's one-to-one rule to a raw value.
func (r *Runtime) stored(rule, raw string) string {
	if rule == "keep" {
		return raw
	}
	m := r.pseudos.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(raw))
	var sum [sha256.Size]byte
	out := hex.EncodeToString(m.Sum(sum[:0])[:16])
	r.pseudos.Put(m)
	return out
}

// Answer is the answer to one verify call: whether the key matched and,
// per match column asked about, whether the claimed value matched.
type Answer struct {
	Match   bool            `json:"match"`
	Columns map[string]bool `json:"columns,omitempty"`
	// KeyHash is the keyed hash of the key, for the audit entry; it is
	// never sent back.
	KeyHash string `json:"-"`
}

// Request is one subject of a verify call: the raw key and optional
// claimed values of the service's match columns.
type Request struct {
	Key    string
	Claims map[string]string
}

// MaxKeyBytes bounds a key or a claimed value.
const MaxKeyBytes = 256

// CheckRequest refuses an empty or over-long key, a claim on a column the
// service does not match on, or an over-long claim. Errors never hold the
// values.
func (s *Service) CheckRequest(req Request) error {
	if req.Key == "" || len(req.Key) > MaxKeyBytes {
		return fmt.Errorf("key must be 1-%d bytes: %w", MaxKeyBytes, errdefs.ErrInvalidArgument)
	}
	for c, v := range req.Claims {
		found := false
		for _, m := range s.Match {
			found = found || m == c
		}
		if !found {
			return fmt.Errorf("service %q does not match on column %q: %w", s.Name, clip(c), errdefs.ErrInvalidArgument)
		}
		if len(v) > MaxKeyBytes {
			return fmt.Errorf("claimed value of column %q must be at most %d bytes: %w", c, MaxKeyBytes, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// Admit checks that the service runs for this caller and takes n calls
// from the subscription's rate limit. A limit reached is
// ErrResourceExhausted with the wait until the calls are allowed again;
// the enumeration guard's daily budget of misses spent is the same with
// the wait until the next UTC day.
func (r *Runtime) Admit(ctx context.Context, c Caller, name string, n int) (*Service, time.Duration, error) {
	if err := r.init(ctx); err != nil {
		return nil, 0, err
	}
	if c.Service != name {
		return nil, 0, fmt.Errorf("the credential's subscription is not to service %q: %w", clip(name), errdefs.ErrPermissionDenied)
	}
	run, err := r.service(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	s := run.svc
	now := r.now()
	day := now.UTC().Format(people.DateLayout)
	r.mu.Lock()
	defer r.mu.Unlock()
	if dc := r.misses[c.Subscription]; dc != nil && dc.day == day && dc.n >= s.DailyMisses {
		r.countLocked(c, s.Name, day, 0, 0, n)
		wait := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour).Sub(now)
		return nil, wait, fmt.Errorf("the daily budget of %d non-matching calls of this subscription is spent (enumeration guard): %w", s.DailyMisses, errdefs.ErrResourceExhausted)
	}
	b := r.buckets[c.Subscription]
	if b == nil {
		b = &bucket{tokens: float64(s.RatePerMin), at: now}
		r.buckets[c.Subscription] = b
	}
	if wait, ok := b.take(now, float64(s.RatePerMin), n); !ok {
		r.countLocked(c, s.Name, day, 0, 0, n)
		return nil, wait, fmt.Errorf("the rate limit of %d calls per minute of this subscription is reached: %w", s.RatePerMin, errdefs.ErrResourceExhausted)
	}
	return s, 0, nil
}

// Verify answers one subject of an admitted call and counts it.
func (r *Runtime) Verify(ctx context.Context, c Caller, s *Service, req Request) (Answer, error) {
	run, err := r.service(ctx, s.Name)
	if err != nil {
		return Answer{}, err
	}
	if s.Mode != Verify {
		return Answer{}, fmt.Errorf("service %q is a %s service: %w", s.Name, s.Mode, errdefs.ErrInvalidArgument)
	}
	rules := run.rules
	a := Answer{KeyHash: r.keyed(r.stored(rules[s.Key], req.Key))}
	ms, ok := run.index[a.KeyHash]
	a.Match = ok
	if len(req.Claims) > 0 {
		a.Columns = map[string]bool{}
		for i, m := range s.Match {
			claim, asked := req.Claims[m]
			if !asked {
				continue
			}
			a.Columns[m] = ok && ms[i] == r.keyed(r.stored(rules[m], claim))
		}
	}
	r.count(c, s.Name, a.Match)
	return a, nil
}

// bucket is a token bucket holding at most a minute's calls.
type bucket struct {
	tokens float64
	at     time.Time
}

func (b *bucket) take(now time.Time, perMin float64, n int) (time.Duration, bool) {
	if el := now.Sub(b.at); el > 0 {
		b.tokens = math.Min(perMin, b.tokens+el.Minutes()*perMin)
	}
	b.at = now
	if b.tokens >= float64(n) {
		b.tokens -= float64(n)
		return 0, true
	}
	need := float64(n) - b.tokens
	return time.Duration(math.Ceil(need / perMin * float64(time.Minute))), false
}

type dayCount struct {
	day string
	n   int
}

// maybeFlush starts a flush of the meter when the last one is older than
// Fresh and none runs: the meter reaches the database about once a
// second, in one transaction, whatever the rate of calls.
func (r *Runtime) maybeFlush() {
	now := r.now().UnixNano()
	if now-r.lastFlush.Load() < int64(Fresh) || !r.flushing.CompareAndSwap(false, true) {
		return
	}
	r.lastFlush.Store(now)
	go func() {
		defer r.flushing.Store(false)
		r.Flush(context.Background()) // counts kept on failure, for the next flush
	}()
}

// MaxRowsPerSubject bounds the rows a query answers for one subject.
const MaxRowsPerSubject = 100

// QueryAnswer is the answer to one query call: whether the subject is
// known and its rows of the service's columns, in their stored
// (desensitized) forms. KeyHash is for the audit entry only.
type QueryAnswer struct {
	Found   bool
	Rows    []map[string]string
	KeyHash string
}

// Query answers one subject of an admitted query call and counts it.
func (r *Runtime) Query(ctx context.Context, c Caller, s *Service, key string) (QueryAnswer, error) {
	run, err := r.service(ctx, s.Name)
	if err != nil {
		return QueryAnswer{}, err
	}
	if s.Mode != Query {
		return QueryAnswer{}, fmt.Errorf("service %q is a %s service: %w", s.Name, s.Mode, errdefs.ErrInvalidArgument)
	}
	a := QueryAnswer{KeyHash: r.keyed(r.stored(run.rules[s.Key], key))}
	vals, ok := run.rows[a.KeyHash]
	a.Found = ok
	for _, v := range vals {
		m := make(map[string]string, len(s.Columns))
		for i, col := range s.Columns {
			m[col] = v[i]
		}
		a.Rows = append(a.Rows, m)
	}
	r.count(c, s.Name, ok)
	return a, nil
}

// count counts one answered call in the meter and, when it missed, in the
// enumeration guard.
func (r *Runtime) count(c Caller, service string, matched bool) {
	day := r.now().UTC().Format(people.DateLayout)
	r.mu.Lock()
	if matched {
		r.countLocked(c, service, day, 1, 0, 0)
	} else {
		r.countLocked(c, service, day, 0, 1, 0)
		dc := r.misses[c.Subscription]
		if dc == nil || dc.day != day {
			dc = &dayCount{day: day}
			r.misses[c.Subscription] = dc
		}
		dc.n++
	}
	r.mu.Unlock()
	r.maybeFlush()
}
