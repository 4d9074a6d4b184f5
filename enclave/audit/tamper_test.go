package audit

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// expectedBad returns, for every byte of a segment file, the entry that
// Verify must name when that byte changes: the segment's first entry for its
// header, the entry itself for an entry record, and for a checkpoint record
// the first entry of the commit it closes (the segment's first entry for
// the start checkpoint).
func expectedBad(t *testing.T, data []byte, first uint64) []uint64 {
	t.Helper()
	if r := scanSegment(data, first); r.damage != damageNone {
		t.Fatalf("test setup: segment %d does not scan: %s", first, r.reason)
	}
	want := make([]uint64, len(data))
	for i := 0; i < segHeaderSize; i++ {
		want[i] = first
	}
	entries, batchStart := uint64(0), uint64(0)
	for off := segHeaderSize; off < len(data); {
		end := off + recHeaderSize + int(binary.BigEndian.Uint32(data[off+1:])) + recTrailerSize
		name := first + batchStart
		if data[off] == typeEntry {
			name = first + entries
			entries++
		} else {
			batchStart = entries
		}
		for i := off; i < end; i++ {
			want[i] = name
		}
		off = end
	}
	return want
}

// TestFlipEveryByte changes every byte of every file of a small log with
// three segments, in turn, and requires Verify to fail and name the entry
// that the byte belongs to.
func TestFlipEveryByte(t *testing.T) {
	dir := t.TempDir()
	l, _, pub := openTest(t, dir, WithSegmentSize(1400))
	for i := 0; i < 9; i++ {
		appendN(t, l, i, 1)
	}
	size := l.Size()
	l.Close()
	rep, err := VerifyDir(context.Background(), dir, pub)
	mustVerifyOK(t, rep, err, size)

	firsts, hasLeaves, _ := listSegments(dir)
	if len(firsts) < 3 {
		t.Fatalf("test setup: got %d segments, want at least 3", len(firsts))
	}
	type target struct {
		path string
		want []uint64
	}
	var targets []target
	for _, first := range firsts {
		data, _ := os.ReadFile(filepath.Join(dir, segName(first)))
		targets = append(targets, target{filepath.Join(dir, segName(first)), expectedBad(t, data, first)})
		if hasLeaves[first] {
			b, _ := os.ReadFile(filepath.Join(dir, leavesName(first)))
			want := make([]uint64, len(b))
			for i := range b {
				want[i] = first
				if i >= leavesHeaderSize && i < len(b)-4 {
					want[i] = first + uint64((i-leavesHeaderSize)/len(hash{}))
				}
			}
			targets = append(targets, target{filepath.Join(dir, leavesName(first)), want})
		}
	}
	positions := 0
	for _, tg := range targets {
		orig, err := os.ReadFile(tg.path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(tg.path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range orig {
			// One change per byte: a single bit, cycling through the eight,
			// or the whole byte.
			mask := [9]byte{1, 2, 4, 8, 16, 32, 64, 128, 0xff}[i%9]
			if _, err := f.WriteAt([]byte{orig[i] ^ mask}, int64(i)); err != nil {
				t.Fatal(err)
			}
			rep, err := VerifyDir(context.Background(), dir, pub)
			if err != nil || rep.OK || rep.FirstBad != int64(tg.want[i]) {
				t.Fatalf("%s byte %d ^ %#x: got %+v, %v; want not OK naming entry %d",
					filepath.Base(tg.path), i, mask, rep, err, tg.want[i])
			}
			// The daemon's path: Open, then Verify (on a sample).
			if i%13 == 0 {
				l, _, _ := openTest(t, dir, WithSegmentSize(1400))
				rep, err := l.Verify(context.Background())
				l.Close()
				if err != nil || rep.OK || rep.FirstBad != int64(tg.want[i]) {
					t.Fatalf("Open+Verify, %s byte %d: got %+v, %v; want not OK naming entry %d",
						filepath.Base(tg.path), i, rep, err, tg.want[i])
				}
			}
			if _, err := f.WriteAt(orig[i:i+1], int64(i)); err != nil {
				t.Fatal(err)
			}
			positions++
		}
		f.Close()
		if err := os.WriteFile(tg.path, orig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = VerifyDir(context.Background(), dir, pub)
	mustVerifyOK(t, rep, err, size)
	t.Logf("flipped %d byte positions", positions)
}
