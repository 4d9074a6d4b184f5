package audit

import (
	"crypto/sha256"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// hash is one SHA-256 node of the Merkle tree.
type hash = [sha256.Size]byte

// emptyRoot is the RFC 6962 root of the empty tree, SHA-256 of nothing.
var emptyRoot = sha256.Sum256(nil)

// leafHash is the RFC 6962 leaf hash SHA-256(0x00 || data).
func leafHash(h interface {
	Reset()
	Write([]byte) (int, error)
	Sum([]byte) []byte
}, data []byte) hash {
	h.Reset()
	h.Write([]byte{0})
	h.Write(data)
	var out hash
	h.Sum(out[:0])
	return out
}

// nodeHash is the RFC 6962 interior hash SHA-256(0x01 || left || right).
func nodeHash(l, r *hash) hash {
	var buf [1 + 2*sha256.Size]byte
	buf[0] = 1
	copy(buf[1:], l[:])
	copy(buf[1+sha256.Size:], r[:])
	return sha256.Sum256(buf[:])
}

// lowLevels is how many of the lowest tree levels are kept in memory only for
// recent leaves; older nodes there are recomputed from leaf hashes on disk.
// Older leaves then cost 64/2^lowLevels bytes each in memory.
const lowLevels = 8

// tree is an in-memory RFC 6962 Merkle tree: levels[k] holds the roots of
// complete subtrees of 2^k leaves (level 0: the leaf hashes), from index
// off[k] on. The levels below lowLevels may have dropped their old nodes
// (see drop); node() then recomputes them from leaf hashes that load reads.
// It is not safe for concurrent use.
type tree struct {
	levels [][]hash
	off    []uint64
	load   func(from, to uint64) ([]hash, error) // leaf hashes [from, to) that were dropped
}

func (t *tree) size() uint64 {
	if len(t.levels) == 0 {
		return 0
	}
	return t.off[0] + uint64(len(t.levels[0]))
}

// append adds one leaf hash and every complete subtree it closes.
func (t *tree) append(h hash) {
	n := t.size()
	for level := 0; ; level++ {
		if level == len(t.levels) {
			// A level appears when the tree first reaches 2^level
			// leaves: its first node is node 0.
			t.levels = append(t.levels, nil)
			t.off = append(t.off, 0)
		}
		t.levels[level] = append(t.levels[level], h)
		if n&1 == 0 {
			return
		}
		row := t.levels[level]
		h = nodeHash(&row[len(row)-2], &row[len(row)-1])
		n >>= 1
	}
}

// truncate shrinks the tree back to n leaves; n must not be below the
// point of the last drop.
func (t *tree) truncate(n uint64) {
	for level := range t.levels {
		keep := n >> level
		if keep < t.off[level] {
			keep = t.off[level]
		}
		t.levels[level] = t.levels[level][:keep-t.off[level]]
	}
}

// drop forgets the nodes of the low levels that lie wholly before leaf
// base (rounded down to a multiple of 2^lowLevels); t.load must be able to
// return their leaf hashes from then on.
func (t *tree) drop(base uint64) {
	base &^= 1<<lowLevels - 1
	for level := 0; level < lowLevels && level < len(t.levels); level++ {
		cut := base >> level
		if cut <= t.off[level] {
			continue
		}
		t.levels[level] = append([]hash(nil), t.levels[level][cut-t.off[level]:]...)
		t.off[level] = cut
	}
}

// leaves returns the leaf hashes [from, to), which must be in memory.
func (t *tree) leaves(from, to uint64) []hash {
	return append([]hash(nil), t.levels[0][from-t.off[0]:to-t.off[0]]...)
}

func (t *tree) node(id compact.NodeID) (hash, error) {
	if id.Index >= t.off[id.Level] {
		return t.levels[id.Level][id.Index-t.off[id.Level]], nil
	}
	if t.load == nil {
		return hash{}, fmt.Errorf("audit tree node %d/%d is not in memory: %w", id.Level, id.Index, errdefs.ErrInternal)
	}
	from, to := id.Coverage()
	hs, err := t.load(from, to)
	if err != nil {
		return hash{}, err
	}
	if uint64(len(hs)) != to-from {
		return hash{}, fmt.Errorf("audit leaves %d to %d: got %d hashes: %w", from, to, len(hs), errdefs.ErrDataLoss)
	}
	for len(hs) > 1 {
		for i := 0; i < len(hs)/2; i++ {
			hs[i] = nodeHash(&hs[2*i], &hs[2*i+1])
		}
		hs = hs[:len(hs)/2]
	}
	return hs[0], nil
}

// root returns the root hash of the first n leaves; n <= size().
func (t *tree) root(n uint64) (hash, error) {
	if n == 0 {
		return emptyRoot, nil
	}
	var scratch [64]compact.NodeID // a range of 0..n has at most one node per level
	ids := compact.RangeNodes(0, n, scratch[:0])
	h, err := t.node(ids[len(ids)-1])
	if err != nil {
		return hash{}, err
	}
	for i := len(ids) - 2; i >= 0; i-- {
		l, err := t.node(ids[i])
		if err != nil {
			return hash{}, err
		}
		h = nodeHash(&l, &h)
	}
	return h, nil
}

func (t *tree) rehash(nodes proof.Nodes) ([][]byte, error) {
	hs := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := t.node(id)
		if err != nil {
			return nil, err
		}
		hs[i] = h[:]
	}
	return nodes.Rehash(hs, func(l, r []byte) []byte {
		var lh, rh hash
		copy(lh[:], l)
		copy(rh[:], r)
		h := nodeHash(&lh, &rh)
		return h[:]
	})
}

// inclusion returns the RFC 6962 inclusion proof of leaf index in the tree
// of the first size leaves.
func (t *tree) inclusion(index, size uint64) ([][]byte, error) {
	if index >= size || size > t.size() {
		return nil, fmt.Errorf("inclusion proof of entry %d in tree size %d of %d: %w", index, size, t.size(), errdefs.ErrInvalidArgument)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return t.rehash(nodes)
}

// consistency returns the RFC 6962 consistency proof between the trees of
// the first size1 and size2 leaves.
func (t *tree) consistency(size1, size2 uint64) ([][]byte, error) {
	if size1 > size2 || size2 > t.size() {
		return nil, fmt.Errorf("consistency proof from size %d to %d of %d: %w", size1, size2, t.size(), errdefs.ErrInvalidArgument)
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return t.rehash(nodes)
}
