package audit

import (
	"bytes"
	"context"
	"testing"
)

// FuzzScanSegment feeds arbitrary segment bytes to the parser that Open,
// Verify and List share: it must not panic, and what it reports must be
// consistent with the input.
func FuzzScanSegment(f *testing.F) {
	s, _ := newSigner(1)
	cp := Checkpoint{Size: 7, Root: emptyRoot[:], Time: t0}
	cp.Signature, _ = s.Sign(context.Background(), cp.SignedMessage())
	body, _ := MarshalEvent(testEvent(7))
	seg := appendRecord(segmentHeader(7), typeCheckpoint, marshalCheckpoint(cp))
	seg = appendRecord(seg, typeEntry, body)
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Fuzz(func(t *testing.T, data []byte) {
		r := scanSegment(data, 7)
		if r.goodEnd > int64(len(data)) {
			t.Fatalf("goodEnd %d beyond %d bytes", r.goodEnd, len(data))
		}
		if len(r.entries) != len(r.offsets) {
			t.Fatalf("got %d entries and %d offsets, want equal", len(r.entries), len(r.offsets))
		}
		if r.damage == damageNone && len(data) >= segHeaderSize && r.goodEnd != int64(len(data)) {
			t.Fatalf("no damage but goodEnd %d of %d bytes", r.goodEnd, len(data))
		}
		for i, body := range r.entries {
			off := r.offsets[i]
			if !bytes.Equal(data[off+recHeaderSize:off+recHeaderSize+int64(len(body))], body) {
				t.Fatalf("entry %d does not alias its record", i)
			}
		}
		for _, c := range r.checkpoints {
			if c.cp.Size != 7+uint64(c.entries) {
				t.Fatalf("checkpoint size %d after %d entries, want %d", c.cp.Size, c.entries, 7+c.entries)
			}
		}
		leaves, ok := parseLeaves(data, 7)
		if ok && !bytes.Equal(leavesFile(7, leaves), data) {
			t.Fatalf("parseLeaves accepted bytes that do not re-encode")
		}
	})
}

// FuzzUnmarshalCheckpoint checks that a checkpoint body that parses is
// canonical: it re-encodes to the same bytes.
func FuzzUnmarshalCheckpoint(f *testing.F) {
	s, _ := newSigner(1)
	cp := Checkpoint{Size: 3, Root: emptyRoot[:], Time: t0}
	cp.Signature, _ = s.Sign(context.Background(), cp.SignedMessage())
	f.Add(marshalCheckpoint(cp))
	f.Fuzz(func(t *testing.T, in []byte) {
		cp, err := unmarshalCheckpoint(in)
		if err != nil {
			return
		}
		if out := marshalCheckpoint(cp); !bytes.Equal(out, in) {
			t.Fatalf("got %q, want %q", out, in)
		}
	})
}
