package fingerprint

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/FastFilter/xorfilter"
	"github.com/containerd/errdefs"
)

// Format constants of the serialized Set.
const (
	// FormatVersion is the version of the binary format written by WriteTo.
	// Version 2: the top byte of each fingerprint is its canonical length
	// tag (see Tag); version 1 sets are refused.
	FormatVersion = 2
	// MaxEntries bounds the number of value or row fingerprints ReadSet
	// accepts in one set (2 GiB of hashes each).
	MaxEntries = 1 << 28
	// minFilter is the size from which a set keeps a filter in front of
	// the exact sorted slice; smaller sets are searched directly.
	minFilter = 64
)

var magic = [8]byte{'E', 'N', 'C', 'L', 'F', 'P', 'S', '\n'}

// Set is an immutable set of value and row fingerprints: a binary fuse
// filter for a fast negative answer and an exact sorted slice to confirm
// every positive one, separately for values and rows. It is safe for
// concurrent use.
type Set struct {
	keyID  uint64
	values lookup
	rows   lookup
}

type lookup struct {
	filter *xorfilter.BinaryFuse8
	sorted []uint64
	tags   Tags // tags present
}

func newLookup(sorted []uint64) (lookup, error) {
	l := lookup{sorted: sorted}
	for i := 0; i < len(sorted); {
		// Sorted: the entries of one top byte are contiguous.
		top := Tag(sorted[i])
		l.tags.Add(top)
		next := uint64(top+1) << topShift
		if top == 255 {
			break
		}
		i += sort.Search(len(sorted)-i, func(j int) bool { return sorted[i+j] >= next })
	}
	if len(sorted) >= minFilter {
		f, err := xorfilter.PopulateBinaryFuse8(sorted)
		if err != nil {
			return lookup{}, fmt.Errorf("build fingerprint filter: %v: %w", err, errdefs.ErrInternal)
		}
		l.filter = f
	}
	return l, nil
}

func (l *lookup) has(h uint64) bool {
	if l.filter != nil && !l.filter.Contains(h) {
		return false
	}
	_, ok := slices.BinarySearch(l.sorted, h)
	return ok
}

func newSet(keyID uint64, values, rows []uint64) (*Set, error) {
	v, err := newLookup(values)
	if err != nil {
		return nil, err
	}
	r, err := newLookup(rows)
	if err != nil {
		return nil, err
	}
	return &Set{keyID: keyID, values: v, rows: r}, nil
}

// HasValue reports whether h is a value fingerprint of the set. A nil Set
// has nothing.
func (s *Set) HasValue(h uint64) bool {
	if s == nil {
		return false
	}
	return s.values.has(h)
}

// HasRow reports whether h is a row fingerprint of the set.
func (s *Set) HasRow(h uint64) bool {
	if s == nil {
		return false
	}
	return s.rows.has(h)
}

// ValueTags returns the tags of the set's value fingerprints: a value whose
// canonical forms have none of these kinds and lengths is not in the set.
func (s *Set) ValueTags() Tags {
	if s == nil {
		return Tags{}
	}
	return s.values.tags
}

// RowTags returns the tags of the set's row fingerprints (see RowTag): a
// row of a width not among them is not in the set.
func (s *Set) RowTags() Tags {
	if s == nil {
		return Tags{}
	}
	return s.rows.tags
}

// Len returns the number of distinct value and row fingerprints.
func (s *Set) Len() (values, rows int) {
	if s == nil {
		return 0, 0
	}
	return len(s.values.sorted), len(s.rows.sorted)
}

// KeyID returns the ID of the Hasher key the set was built with, or 0 when
// the builder did not record one.
func (s *Set) KeyID() uint64 {
	if s == nil {
		return 0
	}
	return s.keyID
}

// WriteTo writes the set in its versioned binary format: an 8-byte magic,
// the format version, flags, the key ID, the two counts, the sorted value
// and row fingerprints (all little-endian) and a SHA-256 of everything
// before it. Filters are not written; ReadSet rebuilds them.
func (s *Set) WriteTo(w io.Writer) (int64, error) {
	return writeSet(w, s.keyID,
		&sliceSource{s: s.values.sorted}, uint64(len(s.values.sorted)),
		&sliceSource{s: s.rows.sorted}, uint64(len(s.rows.sorted)))
}

// source yields fingerprints in increasing order, a block at a time: each
// call returns the next block, which is valid until the next call, and an
// empty block at the end. close releases what the source holds.
type source interface {
	block() ([]uint64, error)
	close()
}

// sliceSource yields a slice as one block.
type sliceSource struct{ s []uint64 }

func (s *sliceSource) block() ([]uint64, error) {
	b := s.s
	s.s = nil
	return b, nil
}

func (*sliceSource) close() {}

// writeSet streams a set in the WriteTo format from two sources holding
// exactly nv and nr strictly increasing fingerprints.
func writeSet(w io.Writer, keyID uint64, values source, nv uint64, rows source, nr uint64) (int64, error) {
	hw := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, hw), 64<<10)
	var n int64
	put := func(p []byte) {
		m, _ := bw.Write(p)
		n += int64(m)
	}
	var hdr [8 + 4 + 4 + 8 + 8 + 8]byte
	copy(hdr[:8], magic[:])
	binary.LittleEndian.PutUint32(hdr[8:], FormatVersion)
	binary.LittleEndian.PutUint32(hdr[12:], 0)
	binary.LittleEndian.PutUint64(hdr[16:], keyID)
	binary.LittleEndian.PutUint64(hdr[24:], nv)
	binary.LittleEndian.PutUint64(hdr[32:], nr)
	put(hdr[:])
	enc := newEncoder(writerFunc(func(p []byte) (int, error) { put(p); return len(p), nil }))
	for _, l := range []struct {
		src source
		n   uint64
	}{{values, nv}, {rows, nr}} {
		var got uint64
		for {
			xs, err := l.src.block()
			if err != nil {
				return n, fmt.Errorf("write fingerprint set: %w", err)
			}
			if len(xs) == 0 {
				break
			}
			got += uint64(len(xs))
			enc.write(xs) // put keeps bufio's error for Flush
		}
		enc.flush()
		if got != l.n {
			return n, fmt.Errorf("write fingerprint set: %d fingerprints where the header says %d: %w", got, l.n, errdefs.ErrInternal)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write fingerprint set: %w", err)
	}
	sum := hw.Sum(nil)
	m, err := w.Write(sum)
	n += int64(m)
	if err != nil {
		return n, fmt.Errorf("write fingerprint set: %w", err)
	}
	return n, nil
}

// ErrMalformed is wrapped (with errdefs.ErrDataLoss) by every ReadSet error
// about the content of its input.
var ErrMalformed = errors.New("malformed fingerprint set")

func malformed(what string) error {
	return fmt.Errorf("%w: %s: %w", ErrMalformed, what, errdefs.ErrDataLoss)
}

// ReadSet reads a set written by WriteTo. It refuses, with an error wrapping
// ErrMalformed and errdefs.ErrDataLoss, anything that is not exactly one
// well-formed set: a wrong magic or version, unknown flags, counts over
// MaxEntries, fingerprints out of order or repeated, a wrong checksum,
// missing or trailing bytes. It reads in chunks, so a lying header cannot
// make it allocate more than the input holds.
func ReadSet(r io.Reader) (*Set, error) {
	hw := sha256.New()
	br := bufio.NewReaderSize(r, 64<<10)
	tr := io.TeeReader(br, hw)
	var hdr [40]byte
	if _, err := io.ReadFull(tr, hdr[:]); err != nil {
		return nil, readErr(err, "header")
	}
	if !bytes.Equal(hdr[:8], magic[:]) {
		return nil, malformed("bad magic")
	}
	if v := binary.LittleEndian.Uint32(hdr[8:]); v != FormatVersion {
		return nil, malformed(fmt.Sprintf("unsupported version %d", v))
	}
	if f := binary.LittleEndian.Uint32(hdr[12:]); f != 0 {
		return nil, malformed("unknown flags")
	}
	keyID := binary.LittleEndian.Uint64(hdr[16:])
	nv := binary.LittleEndian.Uint64(hdr[24:])
	nr := binary.LittleEndian.Uint64(hdr[32:])
	if nv > MaxEntries || nr > MaxEntries {
		return nil, malformed("too many entries")
	}
	values, err := readSorted(tr, nv)
	if err != nil {
		return nil, err
	}
	rows, err := readSorted(tr, nr)
	if err != nil {
		return nil, err
	}
	want := hw.Sum(nil)
	var got [sha256.Size]byte
	if _, err := io.ReadFull(br, got[:]); err != nil {
		return nil, readErr(err, "checksum")
	}
	if !bytes.Equal(got[:], want) {
		return nil, malformed("checksum mismatch")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("read fingerprint set: %w", err)
		}
		return nil, malformed("trailing data")
	}
	return newSet(keyID, values, rows)
}

func readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return malformed("truncated " + what)
	}
	return fmt.Errorf("read fingerprint set %s: %w", what, err)
}

func readSorted(r io.Reader, n uint64) ([]uint64, error) {
	const chunk = 8192
	out := make([]uint64, 0, min(n, chunk))
	var buf [8 * 512]byte
	for remaining := n; remaining > 0; {
		k := min(remaining, 512)
		p := buf[:8*k]
		if _, err := io.ReadFull(r, p); err != nil {
			return nil, readErr(err, "fingerprints")
		}
		for i := uint64(0); i < k; i++ {
			x := binary.LittleEndian.Uint64(p[8*i:])
			if len(out) > 0 && x <= out[len(out)-1] {
				return nil, malformed("fingerprints not strictly increasing")
			}
			out = append(out, x)
		}
		remaining -= k
	}
	return out, nil
}
