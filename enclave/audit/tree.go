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

// tree is a dense in-memory RFC 6962 Merkle tree: levels[0] holds the leaf
// hashes and levels[k] the roots of every complete subtree of 2^k leaves.
// It takes about 64 bytes per leaf. It is not safe for concurrent use.
type tree struct {
	levels [][]hash
}

func (t *tree) size() uint64 {
	if len(t.levels) == 0 {
		return 0
	}
	return uint64(len(t.levels[0]))
}

// append adds one leaf hash and every complete subtree it closes.
func (t *tree) append(h hash) {
	n := t.size()
	for level := 0; ; level++ {
		if level == len(t.levels) {
			t.levels = append(t.levels, nil)
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

// truncate shrinks the tree back to n leaves.
func (t *tree) truncate(n uint64) {
	for level := range t.levels {
		t.levels[level] = t.levels[level][:n>>level]
	}
}

func (t *tree) node(id compact.NodeID) *hash {
	return &t.levels[id.Level][id.Index]
}

// root returns the root hash of the first n leaves; n <= size().
func (t *tree) root(n uint64) hash {
	if n == 0 {
		return emptyRoot
	}
	ids := compact.RangeNodes(0, n, nil)
	h := *t.node(ids[len(ids)-1])
	for i := len(ids) - 2; i >= 0; i-- {
		h = nodeHash(t.node(ids[i]), &h)
	}
	return h
}

func (t *tree) rehash(nodes proof.Nodes) ([][]byte, error) {
	hs := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h := *t.node(id)
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
