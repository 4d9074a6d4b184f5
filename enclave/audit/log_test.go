package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// keySigner is a Signer over an in-memory ed25519 key, with a switch to make
// it fail.
type keySigner struct {
	priv ed25519.PrivateKey
	fail atomic.Bool
}

var _ Signer = (*keySigner)(nil)

func (s *keySigner) Sign(_ context.Context, msg []byte) ([]byte, error) {
	if s.fail.Load() {
		return nil, fmt.Errorf("test signer: %w", errdefs.ErrUnavailable)
	}
	return ed25519.Sign(s.priv, msg), nil
}

func newSigner(seed byte) (*keySigner, ed25519.PublicKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return &keySigner{priv: priv}, priv.Public().(ed25519.PublicKey)
}

func testEvent(i int) Event {
	return Event{
		Time:      time.Date(2026, 11, 23, 10, 0, 0, i, time.UTC),
		Actor:     fmt.Sprintf("p_%02d", i%7),
		Org:       []string{"acme", "uni", ""}[i%3],
		Action:    []string{"person.add", "dataset.import", "job.run", "authz.deny"}[i%4],
		Objects:   []string{fmt.Sprintf("job:j_%d", i)},
		Outcome:   OutcomeOK,
		RequestID: fmt.Sprintf("req-%d", i),
		Details:   map[string]string{"n": fmt.Sprint(i)},
	}
}

func openTest(t testing.TB, dir string, opts ...Option) (*Log, *keySigner, ed25519.PublicKey) {
	t.Helper()
	s, pub := newSigner(1)
	l, err := Open(dir, s, pub, opts...)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	return l, s, pub
}

func appendN(t testing.TB, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		idx, err := l.Append(context.Background(), testEvent(i))
		if err != nil {
			t.Fatalf("Append %d: got error %v, want nil", i, err)
		}
		if idx != uint64(i) {
			t.Fatalf("Append: got index %d, want %d", idx, i)
		}
	}
}

func mustVerifyOK(t *testing.T, rep Report, err error, entries uint64) {
	t.Helper()
	if err != nil {
		t.Fatalf("verify: got error %v, want nil", err)
	}
	if !rep.OK || rep.FirstBad != -1 || rep.Entries != entries {
		t.Fatalf("verify: got %+v, want OK with %d entries", rep, entries)
	}
}

func TestAppendReopenVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	l, _, pub := openTest(t, dir, WithSegmentSize(1500))
	appendN(t, l, 0, 20)
	if got := l.Size(); got != 20 {
		t.Fatalf("Size: got %d, want 20", got)
	}
	cp := l.Checkpoint()
	if cp.Size != 20 || !cp.VerifySignature(pub) {
		t.Fatalf("Checkpoint: got size %d, signature ok %v; want 20, true", cp.Size, cp.VerifySignature(pub))
	}
	rep, err := l.Verify(context.Background())
	mustVerifyOK(t, rep, err, 20)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := l.Append(context.Background(), testEvent(99)); !errdefs.IsUnavailable(err) {
		t.Fatalf("Append after Close: got %v, want ErrUnavailable", err)
	}

	// Modes and rotation.
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode: got %v, want 0700", fi.Mode().Perm())
	}
	leaves, _ := filepath.Glob(filepath.Join(dir, "*.leaves"))
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(leaves) == 0 || len(segs) != len(leaves)+1 {
		t.Fatalf("got %d segments and %d leaf files, want n+1 and n > 0", len(segs), len(leaves))
	}
	for _, p := range append(segs, leaves...) {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode: got %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}

	l2, _, _ := openTest(t, dir, WithSegmentSize(1500))
	defer l2.Close()
	if got := l2.Size(); got != 20 {
		t.Fatalf("reopened Size: got %d, want 20", got)
	}
	if got := l2.Checkpoint(); !bytes.Equal(got.Root, cp.Root) {
		t.Fatalf("reopened root: got %x, want %x", got.Root, cp.Root)
	}
	appendN(t, l2, 20, 5)
	rep, err = l2.Verify(context.Background())
	mustVerifyOK(t, rep, err, 25)
	rep, err = VerifyDir(context.Background(), dir, pub)
	mustVerifyOK(t, rep, err, 25)

	// The events read back are the ones written.
	got, err := l2.List(context.Background(), Filter{})
	if err != nil || len(got) != 25 {
		t.Fatalf("List: got %d entries, %v; want 25, nil", len(got), err)
	}
	for i, e := range got {
		want, _ := MarshalEvent(testEvent(i))
		have, _ := MarshalEvent(e.Event)
		if e.Index != uint64(i) || !bytes.Equal(have, want) {
			t.Fatalf("entry %d: got %d %s, want %d %s", i, e.Index, have, i, want)
		}
	}
}

func TestOpenLockedAndBadKey(t *testing.T) {
	dir := t.TempDir()
	l, s, _ := openTest(t, dir)
	defer l.Close()
	_, pub := newSigner(1)
	if _, err := Open(dir, s, pub); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("second Open: got %v, want ErrFailedPrecondition", err)
	}
	_, otherPub := newSigner(2)
	if _, err := Open(t.TempDir(), s, otherPub); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Open with a mismatched key: got %v, want ErrFailedPrecondition", err)
	}
	if _, err := Open(t.TempDir(), s, pub[:5]); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("Open with a short key: got %v, want ErrInvalidArgument", err)
	}
}

func TestSignerFailure(t *testing.T) {
	l, s, _ := openTest(t, t.TempDir())
	defer l.Close()
	appendN(t, l, 0, 3)
	s.fail.Store(true)
	if _, err := l.Append(context.Background(), testEvent(3)); !errdefs.IsUnavailable(err) {
		t.Fatalf("Append with failing signer: got %v, want ErrUnavailable", err)
	}
	if got := l.Size(); got != 3 {
		t.Fatalf("Size after failed append: got %d, want 3", got)
	}
	s.fail.Store(false)
	appendN(t, l, 3, 2) // indexes continue at 3: nothing of the failed batch is left
	rep, err := l.Verify(context.Background())
	mustVerifyOK(t, rep, err, 5)
}

func TestProofsFromLog(t *testing.T) {
	l, _, _ := openTest(t, t.TempDir())
	defer l.Close()
	var cps []Checkpoint
	for i := 0; i < 13; i++ {
		appendN(t, l, i, 1)
		cps = append(cps, l.Checkpoint())
	}
	for _, cp := range cps {
		for i := uint64(0); i < cp.Size; i++ {
			p, err := l.InclusionProof(i, cp.Size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", i, cp.Size, err)
			}
			lh, _ := LeafHash(testEvent(int(i)))
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp.Size, lh, p, cp.Root); err != nil {
				t.Fatalf("entry %d in size %d: got %v, want a valid proof", i, cp.Size, err)
			}
		}
		last := cps[len(cps)-1]
		p, err := l.ConsistencyProof(cp.Size, last.Size)
		if err != nil {
			t.Fatalf("ConsistencyProof(%d, %d): %v", cp.Size, last.Size, err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, cp.Size, last.Size, p, cp.Root, last.Root); err != nil {
			t.Fatalf("consistency %d to %d: got %v, want a valid proof", cp.Size, last.Size, err)
		}
	}
	if _, err := l.InclusionProof(0, 14); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("InclusionProof beyond size: got %v, want ErrInvalidArgument", err)
	}
}

func TestList(t *testing.T) {
	l, _, _ := openTest(t, t.TempDir(), WithSegmentSize(2000))
	defer l.Close()
	appendN(t, l, 0, 40)
	tests := []struct {
		name string
		f    Filter
		want func(i int) bool
	}{
		{"all", Filter{}, func(int) bool { return true }},
		{"actor", Filter{Actor: "p_03"}, func(i int) bool { return i%7 == 3 }},
		{"org", Filter{Org: "uni"}, func(i int) bool { return i%3 == 1 }},
		{"action", Filter{Action: "job.run"}, func(i int) bool { return i%4 == 2 }},
		{"action prefix", Filter{Action: "dataset."}, func(i int) bool { return i%4 == 1 }},
		{"object", Filter{Object: "job:j_17"}, func(i int) bool { return i == 17 }},
		{"time window", Filter{Since: testEvent(10).Time, Until: testEvent(20).Time}, func(i int) bool { return i >= 10 && i < 20 }},
		{"from", Filter{From: 33}, func(i int) bool { return i >= 33 }},
		{"actor and action", Filter{Actor: "p_00", Action: "person.add"}, func(i int) bool { return i%7 == 0 && i%4 == 0 }},
		{"limit", Filter{Action: "authz.deny", Limit: 3}, func(i int) bool { return i%4 == 3 && i < 15 }},
		{"newest with limit", Filter{Action: "authz.deny", Limit: 3, Newest: true}, func(i int) bool { return i%4 == 3 && i > 30 }},
		{"newest before", Filter{Newest: true, From: 5}, func(i int) bool { return i < 5 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.List(context.Background(), tc.f)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			var want []uint64
			for i := 0; i < 40; i++ {
				if tc.want(i) {
					want = append(want, uint64(i))
				}
			}
			if tc.f.Newest {
				slices.Reverse(want)
			}
			var have []uint64
			for _, e := range got {
				have = append(have, e.Index)
			}
			if fmt.Sprint(have) != fmt.Sprint(want) {
				t.Fatalf("got indexes %v, want %v", have, want)
			}
		})
	}
}

func TestConcurrentAppend(t *testing.T) {
	l, _, pub := openTest(t, t.TempDir(), WithSegmentSize(8000))
	const writers, each = 32, 20
	var wg sync.WaitGroup
	seen := make([]atomic.Int32, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				idx, err := l.Append(context.Background(), testEvent(w*each+i))
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				seen[idx].Add(1)
			}
		}()
	}
	// Readers run alongside the writers.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for l.Size() < writers*each {
			if rep, err := l.Verify(context.Background()); err != nil || !rep.OK {
				t.Errorf("Verify during appends: got %+v, %v; want OK", rep, err)
				return
			}
			if _, err := l.List(context.Background(), Filter{Limit: 5}); err != nil {
				t.Errorf("List during appends: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	<-done
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("index %d handed out %d times, want 1", i, n)
		}
	}
	l.Close()
	rep, err := VerifyDir(context.Background(), l.dir, pub)
	mustVerifyOK(t, rep, err, writers*each)
}

// TestPurgedSegmentStillVerifies drops sealed segments' payloads, as the
// retention purge will, and checks that the tree still verifies.
func TestPurgedSegmentStillVerifies(t *testing.T) {
	dir := t.TempDir()
	l, _, pub := openTest(t, dir, WithSegmentSize(1200))
	appendN(t, l, 0, 30)
	l.Close()
	leaves, _ := filepath.Glob(filepath.Join(dir, "*.leaves"))
	if len(leaves) < 2 {
		t.Fatalf("got %d sealed segments, want at least 2", len(leaves))
	}
	for _, p := range leaves[:2] {
		os.Remove(p[:len(p)-len(".leaves")] + ".seg")
	}
	rep, err := VerifyDir(context.Background(), dir, pub)
	mustVerifyOK(t, rep, err, 30)
	l2, _, _ := openTest(t, dir, WithSegmentSize(1200))
	defer l2.Close()
	appendN(t, l2, 30, 3)
	rep, err = l2.Verify(context.Background())
	mustVerifyOK(t, rep, err, 33)
	got, err := l2.List(context.Background(), Filter{})
	if err != nil || len(got) == 0 || got[0].Index == 0 || got[len(got)-1].Index != 32 {
		t.Fatalf("List after purge: got %d entries, %v; want the unpurged ones ending at 32", len(got), err)
	}
	// Damage to a purged segment's leaves is still caught.
	b, _ := os.ReadFile(leaves[1])
	b[leavesHeaderSize+5] ^= 1
	os.WriteFile(leaves[1], b, 0o600)
	rep, err = VerifyDir(context.Background(), dir, pub)
	if err != nil || rep.OK {
		t.Fatalf("VerifyDir after damaging purged leaves: got %+v, %v; want not OK", rep, err)
	}
}

func TestTornTail(t *testing.T) {
	tests := []struct {
		name string
		cut  func(data []byte, lastCP int64) []byte
	}{
		{"half a batch", func(d []byte, end int64) []byte { return d[:len(d)-7] }},
		{"header only", func(d []byte, end int64) []byte { return d[:end+3] }},
		{"zeros after", func(d []byte, end int64) []byte { return append(d, make([]byte, 300)...) }},
		{"entries without checkpoint", func(d []byte, end int64) []byte {
			body, _ := MarshalEvent(testEvent(77))
			return appendRecord(d, typeEntry, body)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _, pub := openTest(t, dir)
			appendN(t, l, 0, 5)
			cp := l.Checkpoint()
			l.Close()
			path := filepath.Join(dir, segName(0))
			data, _ := os.ReadFile(path)
			r := scanSegment(data, 0)
			prevEnd := r.checkpoints[len(r.checkpoints)-2].end
			cut := tc.cut(data, prevEnd)
			os.WriteFile(path, cut, 0o600)
			wantSize := uint64(5)
			if len(cut) < len(data) {
				wantSize = 4
			}
			rep, err := VerifyDir(context.Background(), dir, pub)
			mustVerifyOK(t, rep, err, wantSize)
			if rep.Note == "" {
				t.Fatalf("VerifyDir: got no note about the tail, want one")
			}

			l2, _, _ := openTest(t, dir)
			defer l2.Close()
			// Open cut the tail and audited that as entry wantSize.
			if got := l2.Size(); got != wantSize+1 {
				t.Fatalf("Size after recovery: got %d, want %d", got, wantSize+1)
			}
			rec, _ := l2.List(context.Background(), Filter{Action: "audit.recover"})
			if len(rec) != 1 || rec[0].Index != wantSize {
				t.Fatalf("recovery events: got %+v, want one at %d", rec, wantSize)
			}
			if wantSize == 5 {
				p, _ := l2.ConsistencyProof(5, l2.Size())
				if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 5, l2.Size(), p, cp.Root, l2.Checkpoint().Root); err != nil {
					t.Fatalf("recovered log is not consistent with the old checkpoint: %v", err)
				}
			}
			rep, err = l2.Verify(context.Background())
			mustVerifyOK(t, rep, err, wantSize+1)
		})
	}
}

func TestDamagedOpenRefusesAppend(t *testing.T) {
	dir := t.TempDir()
	l, _, _ := openTest(t, dir)
	appendN(t, l, 0, 4)
	l.Close()
	path := filepath.Join(dir, segName(0))
	data, _ := os.ReadFile(path)
	r := scanSegment(data, 0)
	data[r.offsets[2]+recHeaderSize+3] ^= 0x20 // inside entry 2's JSON
	os.WriteFile(path, data, 0o600)

	l2, _, _ := openTest(t, dir)
	defer l2.Close()
	if err := l2.Damaged(); !errdefs.IsDataLoss(err) {
		t.Fatalf("Damaged: got %v, want ErrDataLoss", err)
	}
	if _, err := l2.Append(context.Background(), testEvent(9)); !errdefs.IsDataLoss(err) {
		t.Fatalf("Append on a damaged log: got %v, want ErrDataLoss", err)
	}
	rep, err := l2.Verify(context.Background())
	if err != nil || rep.OK || rep.FirstBad != 2 {
		t.Fatalf("Verify: got %+v, %v; want entry 2 named", rep, err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(after, data) {
		t.Fatalf("Open changed a damaged segment, want it left alone")
	}
}

// TestVerifyNamesRewrittenEntry rewrites an entry with valid checksums (as
// an attacker would); only the signed root can catch it.
func TestVerifyNamesRewrittenEntry(t *testing.T) {
	dir := t.TempDir()
	l, _, pub := openTest(t, dir)
	for i := 0; i < 6; i++ {
		appendN(t, l, i, 1)
	}
	l.Close()
	path := filepath.Join(dir, segName(0))
	data, _ := os.ReadFile(path)
	r := scanSegment(data, 0)
	ev := testEvent(3)
	ev.Actor = "p_99"
	body, _ := MarshalEvent(ev)
	old, _ := MarshalEvent(testEvent(3))
	if len(body) != len(old) {
		t.Fatalf("test setup: rewritten body has another length")
	}
	off := r.offsets[3]
	rec := appendRecord(nil, typeEntry, body)
	copy(data[off:], rec)
	os.WriteFile(path, data, 0o600)
	rep, err := VerifyDir(context.Background(), dir, pub)
	if err != nil || rep.OK || rep.FirstBad != 3 {
		t.Fatalf("VerifyDir: got %+v, %v; want entry 3 named", rep, err)
	}
	rep, err = VerifyDir(context.Background(), t.TempDir(), pub)
	if err != nil || rep.OK {
		t.Fatalf("VerifyDir of an empty dir: got %+v, %v; want not OK", rep, err)
	}
}

func TestVerifyWrongKey(t *testing.T) {
	dir := t.TempDir()
	l, _, _ := openTest(t, dir)
	appendN(t, l, 0, 3)
	l.Close()
	_, otherPub := newSigner(2)
	rep, err := VerifyDir(context.Background(), dir, otherPub)
	if err != nil || rep.OK || rep.FirstBad != 0 {
		t.Fatalf("VerifyDir with another key: got %+v, %v; want not OK from entry 0", rep, err)
	}
}

func TestVerifyCancelled(t *testing.T) {
	dir := t.TempDir()
	l, _, pub := openTest(t, dir)
	appendN(t, l, 0, 2)
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := VerifyDir(ctx, dir, pub); !errors.Is(err, context.Canceled) {
		t.Fatalf("VerifyDir with a cancelled context: got %v, want context.Canceled", err)
	}
}

func TestAppendCancelledBeforeQueue(t *testing.T) {
	l, _, _ := openTest(t, t.TempDir())
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The writer may still take the request; either way the answer is
	// consistent with the log.
	idx, err := l.Append(ctx, testEvent(0))
	switch {
	case err == nil && (idx != 0 || l.Size() != 1):
		t.Fatalf("got index %d and size %d, want 0 and 1", idx, l.Size())
	case err != nil && (!errors.Is(err, context.Canceled) || l.Size() != 0):
		t.Fatalf("got %v with size %d, want context.Canceled and size 0", err, l.Size())
	}
}

func TestOpenTightensDirMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, segName(0)+".tmp"), []byte("left over"), 0o600)
	l, _, _ := openTest(t, dir)
	defer l.Close()
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode: got %v, want 0700", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, segName(0)+".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("left-over temporary file: got %v, want it removed", err)
	}
}

// TestProofsOfSealedLeaves checks proofs that need tree nodes dropped from
// memory for sealed segments, read back from leaves files (and, for one
// segment whose leaves file is gone, from the segment).
func TestProofsOfSealedLeaves(t *testing.T) {
	dir := t.TempDir()
	l, _, _ := openTest(t, dir, WithSegmentSize(4000))
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 45; i++ {
				if _, err := l.Append(context.Background(), testEvent(w*100+i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	old := l.Checkpoint()
	l.Close()
	leaves, _ := filepath.Glob(filepath.Join(dir, "*.leaves"))
	os.Remove(leaves[1])

	l, _, _ = openTest(t, dir, WithSegmentSize(4000))
	defer l.Close()
	appendN(t, l, int(old.Size), 1)
	cp := l.Checkpoint()
	if inMem := uint64(len(l.tree.levels[0])); inMem >= cp.Size-256 {
		t.Fatalf("leaf hashes in memory: got %d of %d, want old ones dropped", inMem, cp.Size)
	}
	entries, err := l.List(context.Background(), Filter{})
	if err != nil || uint64(len(entries)) != cp.Size {
		t.Fatalf("List: got %d entries, %v; want %d", len(entries), err, cp.Size)
	}
	for _, e := range entries {
		p, err := l.InclusionProof(e.Index, cp.Size)
		if err != nil {
			t.Fatalf("InclusionProof(%d): %v", e.Index, err)
		}
		lh, _ := LeafHash(e.Event)
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, e.Index, cp.Size, lh, p, cp.Root); err != nil {
			t.Fatalf("entry %d: got %v, want a valid proof", e.Index, err)
		}
	}
	p, err := l.ConsistencyProof(old.Size, cp.Size)
	if err != nil {
		t.Fatalf("ConsistencyProof: %v", err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, cp.Size, p, old.Root, cp.Root); err != nil {
		t.Fatalf("consistency %d to %d: got %v, want a valid proof", old.Size, cp.Size, err)
	}
}

// TestWriteFailureStops makes the segment write fail and checks that the
// log then refuses appends (fail closed) and what it holds still verifies.
func TestWriteFailureStops(t *testing.T) {
	dir := t.TempDir()
	l, _, pub := openTest(t, dir)
	defer l.Close()
	appendN(t, l, 0, 3)
	l.active.Close() // the writer is idle; its next write fails
	if _, err := l.Append(context.Background(), testEvent(3)); !errdefs.IsUnavailable(err) {
		t.Fatalf("Append with a failing write: got %v, want ErrUnavailable", err)
	}
	if err := l.Damaged(); !errdefs.IsUnavailable(err) {
		t.Fatalf("Damaged: got %v, want ErrUnavailable", err)
	}
	if _, err := l.Append(context.Background(), testEvent(4)); !errdefs.IsUnavailable(err) {
		t.Fatalf("Append after a failed write: got %v, want ErrUnavailable", err)
	}
	if got := l.Size(); got != 3 {
		t.Fatalf("Size: got %d, want 3", got)
	}
	rep, err := VerifyDir(context.Background(), dir, pub)
	mustVerifyOK(t, rep, err, 3)
}

// TestConcurrentAppendsDurableInOrder checks group commit: 32 callers
// appending at once share syncs (fewer group commits than appends) and
// none waits for more than the commit in flight and its own, a lone
// caller gets one commit per append, every acknowledged append is covered
// by the signed checkpoint at once (an inclusion proof against it holds),
// each caller's appends are chained in the order it made them, and after
// Close every acknowledged event is on disk at its index, byte for byte,
// and the log verifies.
func TestConcurrentAppendsDurableInOrder(t *testing.T) {
	dir := t.TempDir()
	l, _, pub := openTest(t, dir, WithSegmentSize(16<<10))
	const writers, each = 32, 25
	got := make([][]uint64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := testEvent(w*each + i)
				idx, err := l.Append(context.Background(), ev)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				cp := l.Checkpoint()
				if cp.Size <= idx {
					t.Errorf("entry %d acknowledged but the checkpoint covers %d entries", idx, cp.Size)
					return
				}
				leaf, _ := LeafHash(ev)
				p, err := l.InclusionProof(idx, cp.Size)
				if err != nil || proof.VerifyInclusion(rfc6962.DefaultHasher, idx, cp.Size, leaf, p, cp.Root) != nil {
					t.Errorf("entry %d: no valid inclusion proof in the checkpoint of size %d: %v", idx, cp.Size, err)
					return
				}
				got[w] = append(got[w], idx)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if g := l.groups.Load(); g*2 > writers*each {
		t.Errorf("%d appends from %d callers took %d group commits, want them to share syncs", writers*each, writers, g)
	}
	if w := l.maxWaited.Load(); w > 2 {
		t.Errorf("an append waited for %d group commits, want at most 2 (the one in flight and its own)", w)
	}
	for w, idxs := range got {
		for i := 1; i < len(idxs); i++ {
			if idxs[i] <= idxs[i-1] {
				t.Fatalf("caller %d: append %d got index %d after %d, want later", w, i, idxs[i], idxs[i-1])
			}
		}
	}
	before := l.groups.Load()
	appendN(t, l, writers*each, 5) // one caller at a time: one commit each
	if g := l.groups.Load() - before; g != 5 {
		t.Errorf("5 appends of a lone caller took %d group commits, want 5", g)
	}
	l.Close()
	rep, err := VerifyDir(context.Background(), dir, pub)
	mustVerifyOK(t, rep, err, writers*each+5)
	l2, _, _ := openTest(t, dir, WithSegmentSize(16<<10))
	defer l2.Close()
	entries, err := l2.List(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byIndex := map[uint64]Event{}
	for _, e := range entries {
		byIndex[e.Index] = e.Event
	}
	for w, idxs := range got {
		for i, idx := range idxs {
			want, _ := MarshalEvent(testEvent(w*each + i))
			have, _ := MarshalEvent(byIndex[idx])
			if string(have) != string(want) {
				t.Fatalf("entry %d after reopening: got %s, want %s", idx, have, want)
			}
		}
	}
}

// TestAppendAllConsecutive: AppendAll's events are consecutive entries in
// their order even while other callers append, all are durable and the
// log verifies; an invalid event or none refuses the whole call.
func TestAppendAllConsecutive(t *testing.T) {
	dir := t.TempDir()
	l, _, pub := openTest(t, dir)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := l.Append(context.Background(), testEvent(1000+w*20+i)); err != nil {
					t.Errorf("Append: %v", err)
				}
			}
		}()
	}
	const n = 50
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = testEvent(i)
	}
	first, err := l.AppendAll(context.Background(), evs)
	if err != nil {
		t.Fatalf("AppendAll: %v", err)
	}
	wg.Wait()
	bad := append(slices.Clone(evs[:2]), Event{Time: evs[0].Time, Action: "x", Outcome: OutcomeOK}) // no actor
	size := l.Size()
	if _, err := l.AppendAll(context.Background(), bad); !errdefs.IsInvalidArgument(err) || l.Size() != size {
		t.Fatalf("AppendAll with an invalid event: got %v and size %d, want invalid argument and size %d", err, l.Size(), size)
	}
	if _, err := l.AppendAll(context.Background(), nil); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("AppendAll of nothing: got %v, want invalid argument", err)
	}
	l.Close()
	rep, err := VerifyDir(context.Background(), dir, pub)
	mustVerifyOK(t, rep, err, n+8*20)
	l2, _, _ := openTest(t, dir)
	defer l2.Close()
	entries, err := l2.List(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byIndex := map[uint64]Event{}
	for _, e := range entries {
		byIndex[e.Index] = e.Event
	}
	for i := range n {
		want, _ := MarshalEvent(evs[i])
		have, _ := MarshalEvent(byIndex[first+uint64(i)])
		if string(have) != string(want) {
			t.Fatalf("entry %d (event %d of AppendAll): got %s, want %s", first+uint64(i), i, have, want)
		}
	}
}

// holdingSigner is a keySigner that says which key it holds (KeyHolder),
// and can be made to sign wrongly.
type holdingSigner struct {
	keySigner
	wrong atomic.Bool
}

func (s *holdingSigner) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	sig, err := s.keySigner.Sign(ctx, msg)
	if err == nil && s.wrong.Load() {
		sig[0] ^= 1
	}
	return sig, err
}

func (s *holdingSigner) HoldsKey(pub ed25519.PublicKey) bool {
	return s.priv.Public().(ed25519.PublicKey).Equal(pub)
}

// TestKeyHolderChecks: a signer that holds the log's key is trusted for each
// checkpoint; one that does not, or a plain Signer, is verified on every
// checkpoint, so a wrong signature refuses the append.
func TestKeyHolderChecks(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	_, otherPub := newSigner(4)

	held := &holdingSigner{keySigner: keySigner{priv: priv}}
	if _, err := Open(t.TempDir(), held, otherPub); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Open with a key the signer does not hold: got %v, want ErrFailedPrecondition", err)
	}
	dir := t.TempDir()
	l, err := Open(dir, held, pub)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 0, 3)
	rep, err := VerifyDir(context.Background(), dir, pub)
	mustVerifyOK(t, rep, err, 3)
	// Not verified again: the holder's word is taken (which is why only an
	// in-process keyring may be a KeyHolder).
	held.wrong.Store(true)
	if _, err := l.Append(context.Background(), testEvent(3)); err != nil {
		t.Fatalf("Append through a key holder: %v", err)
	}
	l.Close()

	// The same signer behind a plain Signer is verified on every checkpoint.
	held.wrong.Store(false)
	plain := struct{ Signer }{held}
	l, err = Open(t.TempDir(), plain, pub)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendN(t, l, 0, 2)
	held.wrong.Store(true)
	if _, err := l.Append(context.Background(), testEvent(2)); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Append with a wrong signature: got %v, want ErrFailedPrecondition", err)
	}
}
