package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
)

const (
	segMagic       = "ENCAUDS1"
	segHeaderSize  = 8 + 8 + 4
	recHeaderSize  = 1 + 4 + 4
	recTrailerSize = 4
	maxRecordBody  = MaxEventSize

	typeEntry      byte = 'E'
	typeCheckpoint byte = 'C'

	leavesMagic      = "ENCAUDL1"
	leavesHeaderSize = 8 + 8 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checkpoint is a signed statement of the log's size and root hash.
type Checkpoint struct {
	Size      uint64    // number of entries covered
	Root      []byte    // RFC 6962 root hash of the first Size entries
	Time      time.Time // when it was signed
	Signature []byte    // ed25519 signature of SignedMessage()
}

// checkpointOrigin names what a checkpoint signature is about, so that the
// signing key's other uses (release bundles) can never be confused with it.
const checkpointOrigin = "enclave audit checkpoint v1"

// SignedMessage returns the bytes that the checkpoint signature covers:
// the origin line, the size, the hex root and the time, one per line.
func (c Checkpoint) SignedMessage() []byte {
	return []byte(checkpointOrigin + "\n" +
		strconv.FormatUint(c.Size, 10) + "\n" +
		hex.EncodeToString(c.Root) + "\n" +
		c.Time.UTC().Format(timeLayout) + "\n")
}

// VerifySignature reports whether the checkpoint is signed by pub.
func (c Checkpoint) VerifySignature(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, c.SignedMessage(), c.Signature)
}

type wireCheckpoint struct {
	Root      string `json:"root"`
	Signature string `json:"signature"`
	Size      uint64 `json:"size"`
	Time      string `json:"time"`
}

func marshalCheckpoint(c Checkpoint) []byte {
	b, _ := json.Marshal(wireCheckpoint{
		Root:      hex.EncodeToString(c.Root),
		Signature: base64.StdEncoding.EncodeToString(c.Signature),
		Size:      c.Size,
		Time:      c.Time.UTC().Format(timeLayout),
	})
	return b
}

func unmarshalCheckpoint(b []byte) (Checkpoint, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireCheckpoint
	if err := dec.Decode(&w); err != nil {
		return Checkpoint{}, fmt.Errorf("decode checkpoint: %w", errdefs.ErrDataLoss)
	}
	root, err := hex.DecodeString(w.Root)
	if err != nil || len(root) != len(hash{}) {
		return Checkpoint{}, fmt.Errorf("checkpoint field %q: %w", "root", errdefs.ErrDataLoss)
	}
	sig, err := base64.StdEncoding.DecodeString(w.Signature)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint field %q: %w", "signature", errdefs.ErrDataLoss)
	}
	t, err := time.Parse(timeLayout, w.Time)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint field %q: %w", "time", errdefs.ErrDataLoss)
	}
	c := Checkpoint{Size: w.Size, Root: root, Time: t, Signature: sig}
	if !bytes.Equal(marshalCheckpoint(c), b) {
		return Checkpoint{}, fmt.Errorf("checkpoint is not in canonical form: %w", errdefs.ErrDataLoss)
	}
	return c, nil
}

func segmentHeader(first uint64) []byte {
	b := make([]byte, segHeaderSize)
	copy(b, segMagic)
	binary.BigEndian.PutUint64(b[8:], first)
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	return b
}

func appendRecord(buf []byte, typ byte, body []byte) []byte {
	var h [recHeaderSize]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:5], uint32(len(body)))
	binary.BigEndian.PutUint32(h[5:9], crc32.Checksum(h[:5], castagnoli))
	buf = append(buf, h[:]...)
	buf = append(buf, body...)
	return binary.BigEndian.AppendUint32(buf, bodyCRC(typ, body))
}

func bodyCRC(typ byte, body []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, []byte{typ}), castagnoli, body)
}

// damageKind tells a torn tail (an unfinished write, safe to cut off) from
// damage (anything else that does not parse).
type damageKind int

const (
	damageNone damageKind = iota
	damageTorn
	damageBroken
)

// segRecord is one checkpoint found in a segment.
type segCheckpoint struct {
	cp      Checkpoint
	entries int   // entries of this segment before the checkpoint
	end     int64 // offset just past the record
}

// scanResult is what scanSegment found in one segment's bytes.
type scanResult struct {
	entries     [][]byte // event bodies, aliasing the scanned data
	offsets     []int64  // record offset of each entry
	checkpoints []segCheckpoint
	goodEnd     int64 // offset just past the last record that parsed

	damage   damageKind
	damageAt int64  // offset of the damaged record
	badEntry int    // segment-relative entry the damage is named after
	reason   string // what was wrong, without data
}

// scanSegment parses a segment. It stops at the first record that does not
// parse and classifies it: a torn tail is an incomplete last record (or a
// run of zero bytes to the end), anything else is broken. A broken record is
// named after the entry it held, or, when it held a checkpoint or its type
// is unknown, after the first entry that checkpoint was to cover.
func scanSegment(data []byte, first uint64) scanResult {
	var r scanResult
	if len(data) < segHeaderSize {
		r.damage, r.reason = damageTorn, "segment header is incomplete"
		return r
	}
	if string(data[:8]) != segMagic ||
		binary.BigEndian.Uint64(data[8:16]) != first ||
		binary.BigEndian.Uint32(data[16:20]) != crc32.Checksum(data[:16], castagnoli) {
		r.damage, r.reason = damageBroken, "segment header is damaged"
		return r
	}
	off := int64(segHeaderSize)
	r.goodEnd = off
	batchStart := 0 // first entry not yet covered by a checkpoint of this segment
	n := int64(len(data))
	for off < n {
		rest := data[off:]
		if len(rest) < recHeaderSize {
			r.damage, r.damageAt, r.badEntry, r.reason = damageTorn, off, len(r.entries), "record header is incomplete"
			return r
		}
		typ := rest[0]
		size := int64(binary.BigEndian.Uint32(rest[1:5]))
		headerOK := binary.BigEndian.Uint32(rest[5:9]) == crc32.Checksum(rest[:5], castagnoli)
		end := recHeaderSize + size + recTrailerSize
		if !headerOK {
			if allZero(rest) {
				r.damage, r.damageAt, r.badEntry, r.reason = damageTorn, off, len(r.entries), "zero bytes at the end"
				return r
			}
			// Learn the type: if the length is intact the body CRC tells
			// which type byte was written; otherwise the type byte is.
			if size <= maxRecordBody && end <= int64(len(rest)) {
				body := rest[recHeaderSize : recHeaderSize+size]
				want := binary.BigEndian.Uint32(rest[recHeaderSize+size:])
				for _, t := range []byte{typeEntry, typeCheckpoint} {
					if bodyCRC(t, body) == want {
						typ = t
					}
				}
			}
			r.damage, r.damageAt, r.reason = damageBroken, off, "record header is damaged"
			r.badEntry = batchStart
			if typ == typeEntry {
				r.badEntry = len(r.entries)
			}
			return r
		}
		if size > maxRecordBody {
			r.damage, r.damageAt, r.badEntry, r.reason = damageBroken, off, batchStart, "record is too long"
			return r
		}
		if end > int64(len(rest)) {
			r.damage, r.damageAt, r.badEntry, r.reason = damageTorn, off, len(r.entries), "record is incomplete"
			return r
		}
		body := rest[recHeaderSize : recHeaderSize+size]
		if binary.BigEndian.Uint32(rest[recHeaderSize+size:]) != bodyCRC(typ, body) {
			r.damage, r.damageAt, r.badEntry, r.reason = damageBroken, off, batchStart, "record checksum does not match"
			if typ == typeEntry {
				r.badEntry = len(r.entries)
			}
			return r
		}
		switch typ {
		case typeEntry:
			r.entries = append(r.entries, body)
			r.offsets = append(r.offsets, off)
		case typeCheckpoint:
			cp, err := unmarshalCheckpoint(body)
			if err != nil || cp.Size != first+uint64(len(r.entries)) {
				r.damage, r.damageAt, r.badEntry, r.reason = damageBroken, off, batchStart, "checkpoint record does not parse or has the wrong size"
				return r
			}
			r.checkpoints = append(r.checkpoints, segCheckpoint{cp: cp, entries: len(r.entries), end: off + end})
			batchStart = len(r.entries)
		default:
			r.damage, r.damageAt, r.badEntry, r.reason = damageBroken, off, batchStart, "record type is unknown"
			return r
		}
		off += end
		r.goodEnd = off
	}
	return r
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// leavesFile encodes a sealed segment's leaf hashes: magic, first index,
// count, the hashes, and a CRC-32C of everything before it.
func leavesFile(first uint64, leaves []hash) []byte {
	b := make([]byte, 0, leavesHeaderSize+len(leaves)*len(hash{})+4)
	b = append(b, leavesMagic...)
	b = binary.BigEndian.AppendUint64(b, first)
	b = binary.BigEndian.AppendUint64(b, uint64(len(leaves)))
	for i := range leaves {
		b = append(b, leaves[i][:]...)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// parseLeaves decodes a leaves file. ok is false when the header, length or
// checksum is wrong; the hashes it returns are then best effort (possibly
// none) and only good for naming which entry differs.
func parseLeaves(b []byte, first uint64) (leaves []hash, ok bool) {
	if len(b) < leavesHeaderSize+4 {
		return nil, false
	}
	body := b[leavesHeaderSize : len(b)-4]
	for len(body) >= len(hash{}) {
		var h hash
		copy(h[:], body)
		leaves = append(leaves, h)
		body = body[len(hash{}):]
	}
	ok = string(b[:8]) == leavesMagic &&
		binary.BigEndian.Uint64(b[8:16]) == first &&
		binary.BigEndian.Uint64(b[16:24]) == uint64(len(leaves)) &&
		len(body) == 0 &&
		binary.BigEndian.Uint32(b[len(b)-4:]) == crc32.Checksum(b[:len(b)-4], castagnoli)
	return leaves, ok
}
