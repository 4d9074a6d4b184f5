package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
)

// Report is the outcome of Verify. A log that does not match is a value
// (OK false), not an error.
type Report struct {
	Entries    uint64     // entries checked: the size of the latest signed checkpoint
	OK         bool       // every entry matched and the checkpoint signature verified
	FirstBad   int64      // index of the first entry that does not match, or -1
	Reason     string     // what did not match, naming files and offsets, never data
	Checkpoint Checkpoint // the latest signed checkpoint found
	Note       string     // for example an unacknowledged tail that was ignored
}

// Verify rechecks the whole log as it stands on disk against the latest
// checkpoint that Append acknowledged: every record's framing and checksum,
// every leaf (against the sealed segments' leaf files too), the tree root of
// that checkpoint and its signature. It names the first entry that does not
// match. Entries appended while Verify runs are not looked at. On a log that
// Open found damaged it checks everything on disk, as VerifyDir does. An
// error means no answer (I/O, cancellation), to be treated as a failure.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	l.mu.RLock()
	in := verifyInput{dir: l.dir, pub: l.pub}
	if l.damaged == nil && !l.closed {
		cp := l.cp
		in.bound = &cp
		in.limit = map[uint64]int64{}
		for _, s := range l.segs {
			in.firsts = append(in.firsts, s.first)
		}
		last := l.segs[len(l.segs)-1]
		in.limit[last.first] = last.size
	}
	l.mu.RUnlock()
	return verify(ctx, in)
}

// VerifyDir verifies the audit log in dir without opening it for writing
// (it takes no lock and changes nothing), with the same checks as Verify,
// against the latest checkpoint on disk. Entries after that checkpoint in
// the newest segment (a torn, unacknowledged tail that Open would cut off)
// are ignored and mentioned in Report.Note.
func VerifyDir(ctx context.Context, dir string, pub ed25519.PublicKey) (Report, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Report{}, fmt.Errorf("audit public key: %w", errdefs.ErrInvalidArgument)
	}
	return verify(ctx, verifyInput{dir: dir, pub: pub})
}

type verifyInput struct {
	dir    string
	pub    ed25519.PublicKey
	firsts []uint64         // segments to check; nil means all in dir
	limit  map[uint64]int64 // bytes of a segment to read, when set
	bound  *Checkpoint      // the checkpoint that must be the latest, when set
}

func (in verifyInput) read(first uint64) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(in.dir, segName(first)))
	if err != nil {
		return nil, err
	}
	if n, ok := in.limit[first]; ok && n <= int64(len(data)) {
		data = data[:n]
	}
	return data, nil
}

func verify(ctx context.Context, in verifyInput) (Report, error) {
	rep := Report{FirstBad: -1}
	bad := func(index uint64, format string, args ...any) (Report, error) {
		rep.OK, rep.FirstBad, rep.Reason = false, int64(index), fmt.Sprintf(format, args...)
		return rep, nil
	}
	firsts, hasLeaves, err := listSegments(in.dir)
	if err != nil {
		return Report{}, err
	}
	if in.firsts != nil {
		firsts = in.firsts
	}
	if len(firsts) == 0 {
		return bad(0, "no audit segments in the directory")
	}
	var (
		t      tree
		latest *Checkpoint
		h      = sha256.New()
	)
	for i, first := range firsts {
		if err := ctx.Err(); err != nil {
			return Report{}, fmt.Errorf("audit verify: %w", err)
		}
		if first != t.size() {
			return bad(t.size(), "segment %q does not follow entry %d", segName(first), t.size())
		}
		last := i == len(firsts)-1
		useLeaves := hasLeaves[first]
		if _, active := in.limit[first]; active {
			// Sealed while we looked: the leaves file may cover more.
			useLeaves = false
		}
		var stored []hash
		storedOK := true
		if useLeaves {
			b, err := os.ReadFile(filepath.Join(in.dir, leavesName(first)))
			if err != nil {
				return Report{}, fmt.Errorf("read audit leaves %q: %w", leavesName(first), err)
			}
			stored, storedOK = parseLeaves(b, first)
		}
		data, err := in.read(first)
		if errors.Is(err, os.ErrNotExist) && useLeaves {
			// Purged segment: only its leaf hashes remain.
			if !storedOK {
				return bad(first, "leaf file %q of a purged segment is damaged", leavesName(first))
			}
			for _, lh := range stored {
				t.append(lh)
			}
			continue
		}
		if errors.Is(err, os.ErrNotExist) {
			return bad(first, "segment %q is missing", segName(first))
		}
		if err != nil {
			return Report{}, fmt.Errorf("read audit segment %q: %w", segName(first), err)
		}
		r := scanSegment(data, first)
		if r.damage == damageBroken || (r.damage == damageTorn && !last) {
			return bad(first+uint64(r.badEntry), "segment %q offset %d: %s", segName(first), r.damageAt, r.reason)
		}
		if r.damage == damageTorn {
			rep.Note = fmt.Sprintf("ignored an incomplete record at offset %d of segment %q", r.damageAt, segName(first))
		}
		for j, body := range r.entries {
			lh := leafHash(h, body)
			if useLeaves && (j >= len(stored) || stored[j] != lh) {
				return bad(first+uint64(j), "leaf file %q does not match entry %d", leavesName(first), first+uint64(j))
			}
			t.append(lh)
		}
		if useLeaves && (!storedOK || len(stored) != len(r.entries)) {
			return bad(first, "leaf file %q is damaged", leavesName(first))
		}
		for k := range r.checkpoints {
			cp := r.checkpoints[k].cp
			if in.bound != nil && cp.Size > in.bound.Size {
				break
			}
			latest = &cp
		}
		if last && len(r.checkpoints) > 0 {
			if tail := len(r.entries) - r.checkpoints[len(r.checkpoints)-1].entries; tail > 0 && in.bound == nil {
				rep.Note = fmt.Sprintf("ignored %d entries after the latest checkpoint (unacknowledged tail)", tail)
			}
		}
	}
	if latest == nil {
		return bad(0, "no checkpoint found")
	}
	rep.Checkpoint = *latest
	rep.Entries = latest.Size
	if in.bound != nil && (latest.Size != in.bound.Size || !bytes.Equal(latest.Root, in.bound.Root)) {
		return bad(min(latest.Size, in.bound.Size), "latest checkpoint on disk (size %d) is not the acknowledged one (size %d)", latest.Size, in.bound.Size)
	}
	root, _ := t.root(latest.Size) // t holds every node: no error
	if !bytes.Equal(root[:], latest.Root) || !latest.VerifySignature(in.pub) {
		good, err := locate(ctx, in, &t)
		if err != nil {
			return Report{}, err
		}
		return bad(good, "entries from %d do not match the signed checkpoint of size %d", good, latest.Size)
	}
	rep.OK = true
	return rep, nil
}

// locate walks every checkpoint on disk in order and returns the size of the
// last one before the first checkpoint that fails (root or signature): the
// first entry not proven by a good signed checkpoint.
func locate(ctx context.Context, in verifyInput, t *tree) (uint64, error) {
	firsts, _, err := listSegments(in.dir)
	if err != nil {
		return 0, err
	}
	if in.firsts != nil {
		firsts = in.firsts
	}
	good := uint64(0)
	for _, first := range firsts {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("audit verify: %w", err)
		}
		data, err := in.read(first)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read audit segment %q: %w", segName(first), err)
		}
		for _, c := range scanSegment(data, first).checkpoints {
			if c.cp.Size > t.size() || (in.bound != nil && c.cp.Size > in.bound.Size) {
				return good, nil
			}
			root, _ := t.root(c.cp.Size)
			if !bytes.Equal(root[:], c.cp.Root) || !c.cp.VerifySignature(in.pub) {
				return good, nil
			}
			good = c.cp.Size
		}
	}
	return good, nil
}
