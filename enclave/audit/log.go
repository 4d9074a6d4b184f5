package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/enclave-dev/enclave/enclave/keys"
)

// Signer signs checkpoints with ed25519. keys.Keyring satisfies it. Sign is
// called from one goroutine at a time, once per group commit.
type Signer interface {
	Sign(ctx context.Context, msg []byte) ([]byte, error)
}

var _ Signer = keys.Keyring(nil)

// KeyHolder is a Signer that signs in this process with a private key it
// holds and never replaces (keys/local). HoldsKey reports whether pub is
// that key's public half: when it is, every checkpoint's signature is right
// by construction, so the log checks the key once, at Open, instead of
// verifying each checkpoint's signature (an ed25519 verification, twice the
// cost of signing, on every group commit). A signer elsewhere (Vault),
// whose key can be rotated or replaced behind it, is verified on every
// checkpoint.
type KeyHolder interface {
	Signer
	HoldsKey(pub ed25519.PublicKey) bool
}

// Option configures Open.
type Option func(*options)

type options struct {
	segmentSize int64
	maxBatch    int
	signTimeout time.Duration
	now         func() time.Time
}

// WithSegmentSize sets the size in bytes after which the current segment is
// sealed and a new one started (default 64 MiB).
func WithSegmentSize(n int64) Option { return func(o *options) { o.segmentSize = n } }

// WithMaxBatch caps the number of events in one group commit (default 4096).
func WithMaxBatch(n int) Option { return func(o *options) { o.maxBatch = n } }

// WithSignTimeout bounds each checkpoint signature (default 10 s).
func WithSignTimeout(d time.Duration) Option { return func(o *options) { o.signTimeout = d } }

// WithClock replaces time.Now for event and checkpoint times (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Log is an open audit log. Its methods are safe for concurrent use. Only one
// Log may have a directory open at a time (an flock enforces it).
type Log struct {
	dir    string
	signer Signer
	pub    ed25519.PublicKey
	opts   options
	// held is set when signer is a KeyHolder of pub: its checkpoint
	// signatures are not verified again.
	held bool

	lock      *os.File
	wake      chan struct{} // one token: appends are queued
	quit      chan struct{}
	done      chan struct{} // closed when the committer has ended
	closeOnce sync.Once

	qmu      sync.Mutex // guards queue and stopping
	queue    []*request // appends waiting for the next group commit, in order
	stopping bool       // Close has begun: no more appends are queued

	mu      sync.RWMutex // guards the fields below
	tree    tree         // may hold leaves of the commit in flight beyond size
	size    uint64       // acknowledged entries
	cp      Checkpoint   // latest durable checkpoint, cp.Size == size
	segs    []segment    // oldest first; the last one is active
	damaged error        // set when the log must not take appends
	closed  bool

	// Owned by the committer goroutine (and Open before it starts).
	written     uint64 // entries written, acknowledged or not
	spare       []*request
	groups      atomic.Uint64 // group commits synced
	entries     atomic.Uint64 // entries in them
	syncNanos   atomic.Int64  // time spent in fdatasync
	commitNanos atomic.Int64  // time spent committing, from taking a group to acknowledging it
	maxWaited   atomic.Uint64 // the most group commits one append waited for (at most 2: the one in flight and its own)
	active      *os.File
	activeSize  int64
	wbuf        []byte // the group being written
	forceRotate bool
}

// segment describes one segment file.
type segment struct {
	first uint64
	count uint64 // acknowledged entries in it
	size  int64  // bytes up to and including the last acknowledged record
}

// request is one Append waiting for its group commit. The caller frames
// and hashes its record, so that the committer only concatenates.
type request struct {
	rec   []byte // the entry's record (header, body, CRC)
	leaf  hash   // the entry's Merkle leaf hash
	index uint64
	err   error
	done  chan struct{}
	seen  uint64 // group commits synced when it was queued
}

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

func leavesName(first uint64) string { return fmt.Sprintf("%020d.leaves", first) }

// Open opens or creates the audit log in dir. s signs checkpoints and pub is
// its public key. Open checks that they match, and that the latest
// checkpoint's signature and root match the newest segment and the leaf
// hashes of the sealed ones; Verify is what rereads every byte.
//
// An incomplete trailing record in the newest segment (a torn, never
// acknowledged write) and any entries after the last checkpoint are cut off;
// the cut is itself audited as an "audit.recover" event. Anything else that
// does not parse is left alone: Open then still succeeds, Damaged reports
// an errdefs.ErrDataLoss class error, Append refuses, and Verify names the
// entry. Open returns errdefs.ErrFailedPrecondition when another process
// holds the log open and errdefs.ErrInvalidArgument for a bad key.
func Open(dir string, s Signer, pub ed25519.PublicKey, opts ...Option) (*Log, error) {
	o := options{segmentSize: 64 << 20, maxBatch: 4096, signTimeout: 10 * time.Second, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if len(pub) != ed25519.PublicKeySize || s == nil {
		return nil, fmt.Errorf("audit log signer or public key: %w", errdefs.ErrInvalidArgument)
	}
	if o.segmentSize < 1 || o.maxBatch < 1 || o.signTimeout <= 0 {
		return nil, fmt.Errorf("audit log options: %w", errdefs.ErrInvalidArgument)
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit lock in %q: %w", dir, err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("audit log %q is open elsewhere: %w", dir, errdefs.ErrFailedPrecondition)
	}
	l := &Log{
		dir: dir, signer: s, pub: pub, opts: o, lock: lock,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
	}
	if h, ok := s.(KeyHolder); ok && h.HoldsKey(pub) {
		l.held = true
	}
	l.tree.load = l.loadLeaves
	recovered, err := l.load()
	if err != nil {
		l.closeFiles()
		return nil, err
	}
	l.written = l.size
	go l.committer()
	if recovered != nil && l.damaged == nil {
		ctx, cancel := context.WithTimeout(context.Background(), o.signTimeout)
		defer cancel()
		if _, err := l.Append(ctx, *recovered); err != nil {
			l.Close()
			return nil, fmt.Errorf("audit recovery record: %w", err)
		}
	}
	return l, nil
}

// prepareDir creates dir (mode 0700, its parent synced) or tightens its
// mode, and removes temporary files that a crash left behind.
func prepareDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create audit directory %q: %w", dir, err)
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("audit directory %q: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("audit directory %q is not a directory: %w", dir, errdefs.ErrInvalidArgument)
	case fi.Mode().Perm()&0o077 != 0:
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("audit directory %q mode: %w", dir, err)
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	for _, p := range tmps {
		os.Remove(p)
	}
	return nil
}

// listSegments returns the first indexes of the segment and leaves files in
// dir, sorted.
func listSegments(dir string) (segs []uint64, leaves map[uint64]bool, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read audit directory %q: %w", dir, err)
	}
	leaves = map[uint64]bool{}
	seen := map[uint64]bool{}
	for _, e := range ents {
		name := e.Name()
		base, ext := strings.TrimSuffix(name, filepath.Ext(name)), filepath.Ext(name)
		if len(base) != 20 || (ext != ".seg" && ext != ".leaves") {
			continue
		}
		first, err := strconv.ParseUint(base, 10, 64)
		if err != nil {
			continue
		}
		if ext == ".leaves" {
			leaves[first] = true
		}
		if !seen[first] {
			seen[first] = true
			segs = append(segs, first)
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })
	return segs, leaves, nil
}

// load rebuilds the tree from disk, cuts off a torn tail, and checks the
// latest checkpoint. It returns a recovery event when it cut anything.
func (l *Log) load() (*Event, error) {
	firsts, hasLeaves, err := listSegments(l.dir)
	if err != nil {
		return nil, err
	}
	if len(firsts) == 0 {
		return nil, l.create()
	}
	damage := func(format string, args ...any) {
		if l.damaged == nil {
			l.damaged = fmt.Errorf(format+": %w", append(args, errdefs.ErrDataLoss)...)
		}
	}
	h := sha256.New()
	for i, first := range firsts {
		if first != l.tree.size() {
			damage("audit segment %q does not follow entry %d", segName(first), l.tree.size())
			return nil, nil
		}
		last := i == len(firsts)-1
		if !last && hasLeaves[first] {
			b, err := os.ReadFile(filepath.Join(l.dir, leavesName(first)))
			if err != nil {
				return nil, fmt.Errorf("read audit leaves %q: %w", leavesName(first), err)
			}
			if leaves, ok := parseLeaves(b, first); ok {
				for _, lh := range leaves {
					l.tree.append(lh)
				}
				l.segs = append(l.segs, segment{first: first, count: uint64(len(leaves))})
				l.tree.drop(l.tree.size())
				continue
			}
		}
		data, err := os.ReadFile(filepath.Join(l.dir, segName(first)))
		if errors.Is(err, os.ErrNotExist) {
			damage("audit segment %q is missing", segName(first))
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read audit segment %q: %w", segName(first), err)
		}
		r := scanSegment(data, first)
		if r.damage == damageBroken || (r.damage == damageTorn && !last) {
			damage("audit entry %d in segment %q: %s", first+uint64(r.badEntry), segName(first), r.reason)
			return nil, nil
		}
		if len(r.checkpoints) == 0 {
			damage("audit segment %q holds no checkpoint", segName(first))
			return nil, nil
		}
		cpLast := r.checkpoints[len(r.checkpoints)-1]
		n := len(r.entries)
		if !last && (cpLast.entries != n || cpLast.end != int64(len(data))) {
			damage("audit segment %q ends after its last checkpoint", segName(first))
			return nil, nil
		}
		var recovered *Event
		if last {
			// Everything after the last checkpoint was never acknowledged.
			n = cpLast.entries
			if cut := int64(len(data)) - cpLast.end; cut > 0 {
				if err := l.truncateTail(first, cpLast.end); err != nil {
					return nil, err
				}
				recovered = &Event{
					Actor: "system", Action: "audit.recover", Outcome: OutcomeOK,
					Reason:  "cut an unacknowledged tail after a crash",
					Objects: []string{"audit-segment:" + segName(first)},
					Details: map[string]string{"offset": strconv.FormatInt(cpLast.end, 10), "bytes": strconv.FormatInt(cut, 10)},
				}
			}
		}
		for _, body := range r.entries[:n] {
			l.tree.append(leafHash(h, body))
		}
		l.segs = append(l.segs, segment{first: first, count: uint64(n), size: cpLast.end})
		if !last {
			l.tree.drop(l.tree.size())
			continue
		}
		cp := cpLast.cp
		if root, err := l.tree.root(cp.Size); err != nil || cp.Size != l.tree.size() || string(root[:]) != string(cp.Root) {
			damage("audit log does not match its latest checkpoint of size %d", cp.Size)
			return nil, nil
		}
		if !cp.VerifySignature(l.pub) {
			damage("latest audit checkpoint signature does not verify")
			return nil, nil
		}
		l.cp, l.size = cp, cp.Size
		f, err := os.OpenFile(filepath.Join(l.dir, segName(first)), os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open audit segment %q: %w", segName(first), err)
		}
		l.active, l.activeSize = f, cpLast.end
		l.forceRotate = hasLeaves[first]
		if recovered != nil {
			recovered.Time = l.opts.now()
		}
		return recovered, nil
	}
	return nil, nil
}

func (l *Log) truncateTail(first uint64, end int64) error {
	path := filepath.Join(l.dir, segName(first))
	f, err := os.OpenFile(path, os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open audit segment %q: %w", segName(first), err)
	}
	defer f.Close()
	if err := f.Truncate(end); err != nil {
		return fmt.Errorf("truncate audit segment %q: %w", segName(first), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync audit segment %q: %w", segName(first), err)
	}
	return nil
}

// create starts a new log: one segment holding the signed empty checkpoint.
func (l *Log) create() error {
	cp, err := l.sign(Checkpoint{Size: 0, Root: emptyRoot[:], Time: l.opts.now()})
	if err != nil {
		return err
	}
	f, size, err := l.newSegment(0, cp)
	if err != nil {
		return err
	}
	l.cp = cp
	l.active, l.activeSize = f, size
	l.segs = []segment{{first: 0, size: size}}
	return nil
}

// sign signs cp and checks the signature against the public key, so that a
// misconfigured keyring fails at once rather than at the next verify.
func (l *Log) sign(cp Checkpoint) (Checkpoint, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.signTimeout)
	defer cancel()
	sig, err := l.signer.Sign(ctx, cp.SignedMessage())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign audit checkpoint: %w", err)
	}
	cp.Signature = sig
	if !l.held && !cp.VerifySignature(l.pub) {
		return Checkpoint{}, fmt.Errorf("audit checkpoint signature does not match the public key: %w", errdefs.ErrFailedPrecondition)
	}
	return cp, nil
}

// newSegment atomically creates the segment starting at first, holding a
// header and a copy of cp, and syncs the directory.
func (l *Log) newSegment(first uint64, cp Checkpoint) (*os.File, int64, error) {
	buf := appendRecord(segmentHeader(first), typeCheckpoint, marshalCheckpoint(cp))
	path := filepath.Join(l.dir, segName(first))
	if err := writeFileSync(path, buf); err != nil {
		return nil, 0, err
	}
	if err := syncDir(l.dir); err != nil {
		return nil, 0, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open audit segment %q: %w", segName(first), err)
	}
	return f, int64(len(buf)), nil
}

// writeFileSync writes data to path through a synced temporary file and a
// rename, so path holds either nothing or all of data.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create %q: %w", filepath.Base(tmp), err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %q: %w", filepath.Base(tmp), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %q: %w", filepath.Base(tmp), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %q: %w", filepath.Base(tmp), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %q: %w", filepath.Base(tmp), err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open audit directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync audit directory: %w", err)
	}
	return nil
}

// Append adds ev to the log and returns its index. It returns only once the
// entry is fsync'd together with a signed checkpoint that covers it;
// concurrent callers share one write, one signature and one fsync (group
// commit). ev.Time is set to the current time when zero. Errors:
// errdefs.ErrInvalidArgument for a bad event, errdefs.ErrDataLoss when the
// log is damaged, errdefs.ErrUnavailable when it is closed or a write
// failed; the signer's error when signing failed. An error means the event
// is not in the log.
func (l *Log) Append(ctx context.Context, ev Event) (uint64, error) {
	rs, err := l.enqueue(ctx, []Event{ev})
	if err != nil {
		return 0, err
	}
	// Once queued the event is written with the next group; its outcome
	// is what the caller must act on, so wait for it even if ctx ends.
	<-rs[0].done
	return rs[0].index, rs[0].err
}

// AppendAll adds evs to the log as consecutive entries, in their order,
// and returns the index of the first. It returns once all are fsync'd
// with a signed checkpoint covering them, as Append does; they share
// group commits with concurrent appends. Errors are Append's; an invalid
// event or an empty evs refuses all of them, and after a failed write an
// error means that not all of them are in the log.
func (l *Log) AppendAll(ctx context.Context, evs []Event) (uint64, error) {
	if len(evs) == 0 {
		return 0, fmt.Errorf("audit append of no events: %w", errdefs.ErrInvalidArgument)
	}
	rs, err := l.enqueue(ctx, evs)
	if err != nil {
		return 0, err
	}
	for _, r := range rs {
		<-r.done
		if r.err != nil && err == nil {
			err = r.err
		}
	}
	return rs[0].index, err
}

// enqueue frames and hashes evs and queues them together for the next
// group commit; nothing is queued unless all are valid.
func (l *Log) enqueue(ctx context.Context, evs []Event) ([]*request, error) {
	rs := make([]*request, len(evs))
	h := hashers.Get().(hash256)
	defer hashers.Put(h)
	for i, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = l.opts.now()
		}
		body, err := MarshalEvent(ev)
		if err != nil {
			return nil, err
		}
		rs[i] = &request{rec: appendRecord(make([]byte, 0, recHeaderSize+len(body)+recTrailerSize), typeEntry, body),
			leaf: leafHash(h, body), done: make(chan struct{})}
	}
	if err := l.Damaged(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audit append: %w", err)
	}
	l.qmu.Lock()
	if l.stopping {
		l.qmu.Unlock()
		return nil, fmt.Errorf("audit log is closed: %w", errdefs.ErrUnavailable)
	}
	seen := l.groups.Load()
	for _, r := range rs {
		r.seen = seen
	}
	l.queue = append(l.queue, rs...)
	l.qmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default: // the committer is already woken
	}
	return rs, nil
}

type hash256 = interface {
	Reset()
	Write([]byte) (int, error)
	Sum([]byte) []byte
}

// hashers hold SHA-256 states for the leaf hashes of appends.
var hashers = sync.Pool{New: func() any { return sha256.New() }}

// Damaged returns nil when the log takes appends, or the reason it does not:
// an errdefs.ErrDataLoss class error when Open found damage, an
// errdefs.ErrUnavailable class error after a failed write or Close.
func (l *Log) Damaged() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return fmt.Errorf("audit log is closed: %w", errdefs.ErrUnavailable)
	}
	return l.damaged
}

// Size returns the number of acknowledged entries.
func (l *Log) Size() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

// Checkpoint returns the latest durable signed checkpoint.
func (l *Log) Checkpoint() Checkpoint {
	l.mu.RLock()
	defer l.mu.RUnlock()
	cp := l.cp
	cp.Root = append([]byte(nil), cp.Root...)
	cp.Signature = append([]byte(nil), cp.Signature...)
	return cp
}

// InclusionProof returns the RFC 6962 inclusion proof of entry index in the
// tree of the first size entries (size <= Size()). Verify it with
// proof.VerifyInclusion of github.com/transparency-dev/merkle and LeafHash.
// Bad arguments return an errdefs.ErrInvalidArgument class error.
func (l *Log) InclusionProof(index, size uint64) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if size > l.size {
		return nil, fmt.Errorf("tree size %d exceeds log size %d: %w", size, l.size, errdefs.ErrInvalidArgument)
	}
	return l.tree.inclusion(index, size)
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of the first size1 and size2 entries (size1 <= size2 <= Size()).
func (l *Log) ConsistencyProof(size1, size2 uint64) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if size2 > l.size {
		return nil, fmt.Errorf("tree size %d exceeds log size %d: %w", size2, l.size, errdefs.ErrInvalidArgument)
	}
	return l.tree.consistency(size1, size2)
}

// LeafHash returns the RFC 6962 leaf hash of ev as the log stores it.
func LeafHash(ev Event) ([]byte, error) {
	b, err := MarshalEvent(ev)
	if err != nil {
		return nil, err
	}
	h := leafHash(sha256.New(), b)
	return h[:], nil
}

// Close stops taking appends, waits for the commit in flight and closes the
// files. It is safe to call more than once.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.qmu.Lock()
		l.stopping = true
		l.qmu.Unlock()
		close(l.quit)
		<-l.done
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		l.closeFiles()
	})
	return nil
}

func (l *Log) closeFiles() {
	if l.active != nil {
		l.active.Close()
	}
	unix.Flock(int(l.lock.Fd()), unix.LOCK_UN)
	l.lock.Close()
}

// The write path is one committer goroutine and no timer (leader and
// followers): it takes every append queued so far as one group, writes
// their records and a signed checkpoint covering them with one write,
// fdatasyncs, publishes the new size and checkpoint and acknowledges the
// group. Appends that arrive meanwhile queue up and form the next group, so
// a lone caller pays one fsync and N concurrent callers share one.

func (l *Log) committer() {
	defer close(l.done)
	for {
		select {
		case <-l.wake:
		case <-l.quit:
			// Close: no more appends are queued; commit what was.
			l.commitQueued()
			return
		}
		l.commitQueued()
	}
}

// commitQueued commits the queued appends, in groups of at most maxBatch.
func (l *Log) commitQueued() {
	l.qmu.Lock()
	batch := l.queue
	l.queue, l.spare = l.spare, nil
	l.qmu.Unlock()
	for rest := batch; len(rest) > 0; {
		n := min(len(rest), l.opts.maxBatch)
		l.commit(rest[:n])
		rest = rest[n:]
	}
	// The two queues take turns; the one just committed is the next spare.
	clear(batch)
	l.spare = batch[:0]
}

func (l *Log) fail(batch []*request, err error) {
	for _, r := range batch {
		r.err = err
		close(r.done)
	}
}

// commit writes batch and a checkpoint covering it in one write, syncs it
// and acknowledges it.
func (l *Log) commit(batch []*request) {
	start := time.Now()
	if err := l.Damaged(); err != nil {
		l.fail(batch, err)
		return
	}
	if l.activeSize >= l.opts.segmentSize || l.forceRotate {
		if err := l.rotate(); err != nil {
			l.setBroken(err)
			l.fail(batch, err)
			return
		}
	}
	base := l.written
	n := 0
	for _, r := range batch {
		n += len(r.rec)
	}
	// The committer's buffer is reused from one group to the next (the
	// write copies it); one grown by a rare large group is let go.
	if cap(l.wbuf) < n+512 || cap(l.wbuf) > 1<<20 && n+512 <= 1<<20 {
		l.wbuf = make([]byte, 0, max(n+512, 64<<10))
	}
	buf := l.wbuf[:0]
	for i, r := range batch {
		r.index = base + uint64(i)
		buf = append(buf, r.rec...)
	}
	size := base + uint64(len(batch))
	l.mu.Lock()
	for _, r := range batch {
		l.tree.append(r.leaf)
	}
	root, err := l.tree.root(size)
	l.mu.Unlock()
	var cp Checkpoint
	if err == nil {
		cp, err = l.sign(Checkpoint{Size: size, Root: root[:], Time: l.opts.now()})
	}
	if err != nil {
		l.mu.Lock()
		l.tree.truncate(base)
		l.mu.Unlock()
		l.fail(batch, err)
		return
	}
	buf = appendRecord(buf, typeCheckpoint, marshalCheckpoint(cp))
	if _, err := l.active.Write(buf); err != nil {
		err = fmt.Errorf("write audit segment: %v: %w", err, errdefs.ErrUnavailable)
		l.setBroken(err)
		l.fail(batch, err)
		return
	}
	l.written = size
	l.activeSize += int64(len(buf))
	syncStart := time.Now()
	err = unix.Fdatasync(int(l.active.Fd()))
	l.syncNanos.Add(int64(time.Since(syncStart)))
	if err != nil {
		// After a failed fsync the page cache cannot be trusted (the
		// kernel reports a writeback error only once): stop taking
		// appends and never trust a later fsync.
		err = fmt.Errorf("sync audit segment: %v: %w", err, errdefs.ErrUnavailable)
		l.setBroken(err)
		l.fail(batch, err)
		return
	}
	g := l.groups.Add(1)
	l.entries.Add(uint64(len(batch)))
	l.mu.Lock()
	l.size, l.cp = cp.Size, cp
	seg := &l.segs[len(l.segs)-1]
	seg.count += uint64(len(batch))
	seg.size = l.activeSize
	l.mu.Unlock()
	if w := g - batch[0].seen; w > l.maxWaited.Load() {
		l.maxWaited.Store(w) // the first of the group was queued earliest
	}
	for _, r := range batch {
		close(r.done)
	}
	l.commitNanos.Add(int64(time.Since(start)))
}

// CommitStats counts the group commits since Open.
type CommitStats struct {
	Groups  uint64        // group commits synced
	Entries uint64        // entries they held
	Sync    time.Duration // time spent in fdatasync
	Commit  time.Duration // time spent committing (framing, tree, signature, write, fdatasync, acknowledging)
}

// Stats returns the group commit counts since Open: what an append's
// latency is made of (/metrics, benchmarks).
func (l *Log) Stats() CommitStats {
	return CommitStats{Groups: l.groups.Load(), Entries: l.entries.Load(),
		Sync: time.Duration(l.syncNanos.Load()), Commit: time.Duration(l.commitNanos.Load())}
}

func (l *Log) setBroken(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.damaged == nil {
		l.damaged = err
	}
}

// rotate seals the active segment (writes its leaves file) and starts a
// new one that begins with a copy of the latest checkpoint. Everything
// written before it is synced: each commit syncs before the next begins.
func (l *Log) rotate() error {
	if err := l.Damaged(); err != nil {
		return err
	}
	l.mu.RLock()
	seg := l.segs[len(l.segs)-1]
	if seg.count == 0 {
		// Nothing to seal: keep writing here (the name is taken).
		l.mu.RUnlock()
		l.forceRotate = false
		return nil
	}
	leaves := l.tree.leaves(seg.first, seg.first+seg.count)
	cp, first := l.cp, l.size
	l.mu.RUnlock()
	if err := writeFileSync(filepath.Join(l.dir, leavesName(seg.first)), leavesFile(seg.first, leaves)); err != nil {
		return fmt.Errorf("seal audit segment: %v: %w", err, errdefs.ErrUnavailable)
	}
	f, size, err := l.newSegment(first, cp)
	if err != nil {
		return fmt.Errorf("start audit segment: %v: %w", err, errdefs.ErrUnavailable)
	}
	l.active.Close()
	l.active, l.activeSize, l.forceRotate = f, size, false
	l.mu.Lock()
	l.segs = append(l.segs, segment{first: first, size: size})
	l.tree.drop(first)
	l.mu.Unlock()
	return nil
}

// loadLeaves returns the leaf hashes [from, to) of sealed segments, from
// their leaves files or, when one is missing, from the segment itself. The
// tree calls it, with l.mu held, for nodes it dropped from memory.
func (l *Log) loadLeaves(from, to uint64) ([]hash, error) {
	out := make([]hash, 0, to-from)
	for _, s := range l.segs {
		end := s.first + s.count
		if end <= from || s.first >= to {
			continue
		}
		lo, hi := max(from, s.first), min(to, end)
		hs, err := l.segmentLeaves(s, lo, hi)
		if err != nil {
			return nil, err
		}
		out = append(out, hs...)
	}
	if uint64(len(out)) != to-from {
		return nil, fmt.Errorf("audit leaves %d to %d are not on disk: %w", from, to, errdefs.ErrDataLoss)
	}
	return out, nil
}

func (l *Log) segmentLeaves(s segment, lo, hi uint64) ([]hash, error) {
	const hs = uint64(len(hash{}))
	f, err := os.Open(filepath.Join(l.dir, leavesName(s.first)))
	if err == nil {
		defer f.Close()
		buf := make([]byte, (hi-lo)*hs)
		if _, err := f.ReadAt(buf, int64(leavesHeaderSize+(lo-s.first)*hs)); err == nil {
			out := make([]hash, hi-lo)
			for i := range out {
				copy(out[i][:], buf[uint64(i)*hs:])
			}
			return out, nil
		}
	}
	data, err := os.ReadFile(filepath.Join(l.dir, segName(s.first)))
	if err != nil {
		return nil, fmt.Errorf("read audit segment %q: %w", segName(s.first), errdefs.ErrDataLoss)
	}
	r := scanSegment(data, s.first)
	if uint64(len(r.entries)) < hi-s.first {
		return nil, fmt.Errorf("audit segment %q is short: %w", segName(s.first), errdefs.ErrDataLoss)
	}
	h := sha256.New()
	out := make([]hash, 0, hi-lo)
	for _, body := range r.entries[lo-s.first : hi-s.first] {
		out = append(out, leafHash(h, body))
	}
	return out, nil
}
