package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
)

func dh(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func vectorTree(n int) *tree {
	var t tree
	h := sha256.New()
	for _, in := range testonly.LeafInputs()[:n] {
		t.append(leafHash(h, in))
	}
	return &t
}

// TestTreeRootVectors checks the roots of the RFC 6962 test trees of sizes
// 0 to 8 (testonly.RootHashes, from the CT reference implementation).
func TestTreeRootVectors(t *testing.T) {
	full := vectorTree(8)
	for size, want := range testonly.RootHashes() {
		t.Run(fmt.Sprint("size ", size), func(t *testing.T) {
			got, _ := full.root(uint64(size))
			if !bytes.Equal(got[:], want) {
				t.Fatalf("got root %x, want %x", got, want)
			}
			grown, _ := vectorTree(size).root(uint64(size))
			if !bytes.Equal(grown[:], want) {
				t.Fatalf("tree of %d leaves: got root %x, want %x", size, grown, want)
			}
		})
	}
}

// The inclusion and consistency vectors below are the ones of the CT
// reference implementation (merkle_tree_test.cc), also used by
// transparency-dev/merkle; leaf numbers there are 1-based.
func TestInclusionProofVectors(t *testing.T) {
	tests := []struct {
		leaf, size uint64 // leaf is 1-based
		proof      []string
	}{
		{1, 1, nil},
		{1, 8, []string{
			"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
		}},
		{6, 8, []string{
			"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
			"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		}},
		{3, 3, []string{"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
		{2, 5, []string{
			"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		}},
	}
	full := vectorTree(8)
	roots := testonly.RootHashes()
	for _, tc := range tests {
		t.Run(fmt.Sprintf("leaf %d of %d", tc.leaf, tc.size), func(t *testing.T) {
			got, err := full.inclusion(tc.leaf-1, tc.size)
			if err != nil {
				t.Fatalf("inclusion: got error %v, want nil", err)
			}
			if len(got) != len(tc.proof) {
				t.Fatalf("got %d proof hashes, want %d", len(got), len(tc.proof))
			}
			for i := range got {
				if want := dh(tc.proof[i]); !bytes.Equal(got[i], want) {
					t.Fatalf("proof[%d]: got %x, want %x", i, got[i], want)
				}
			}
			lh := rfc6962.DefaultHasher.HashLeaf(testonly.LeafInputs()[tc.leaf-1])
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, tc.leaf-1, tc.size, lh, got, roots[tc.size]); err != nil {
				t.Fatalf("VerifyInclusion: got %v, want nil", err)
			}
		})
	}
}

func TestConsistencyProofVectors(t *testing.T) {
	tests := []struct {
		size1, size2 uint64
		proof        []string
	}{
		{1, 1, nil},
		{1, 8, []string{
			"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
		}},
		{6, 8, []string{
			"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
			"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		}},
		{2, 5, []string{
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		}},
		{6, 7, []string{
			"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
			"b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		}},
	}
	full := vectorTree(8)
	roots := testonly.RootHashes()
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d to %d", tc.size1, tc.size2), func(t *testing.T) {
			got, err := full.consistency(tc.size1, tc.size2)
			if err != nil {
				t.Fatalf("consistency: got error %v, want nil", err)
			}
			if len(got) != len(tc.proof) {
				t.Fatalf("got %d proof hashes, want %d", len(got), len(tc.proof))
			}
			for i := range got {
				if want := dh(tc.proof[i]); !bytes.Equal(got[i], want) {
					t.Fatalf("proof[%d]: got %x, want %x", i, got[i], want)
				}
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, tc.size1, tc.size2, got, roots[tc.size1], roots[tc.size2]); err != nil {
				t.Fatalf("VerifyConsistency: got %v, want nil", err)
			}
		})
	}
}

// TestTreeMatchesReference compares every root and proof of trees up to 70
// leaves with the reference tree of transparency-dev/merkle/testonly.
func TestTreeMatchesReference(t *testing.T) {
	const n = 70
	var mine tree
	ref := testonly.New(rfc6962.DefaultHasher)
	h := sha256.New()
	for i := 0; i < n; i++ {
		data := []byte(fmt.Sprint("leaf ", i))
		mine.append(leafHash(h, data))
		ref.AppendData(data)
	}
	for size := uint64(0); size <= n; size++ {
		got, _ := mine.root(size)
		if want := ref.HashAt(size); !bytes.Equal(got[:], want) {
			t.Fatalf("size %d: got root %x, want %x", size, got, want)
		}
		for i := uint64(0); i < size; i++ {
			got, _ := mine.inclusion(i, size)
			want, _ := ref.InclusionProof(i, size)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("inclusion %d of %d: got %x, want %x", i, size, got, want)
			}
		}
		for s1 := uint64(0); s1 <= size; s1++ {
			got, _ := mine.consistency(s1, size)
			want, _ := ref.ConsistencyProof(s1, size)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("consistency %d to %d: got %x, want %x", s1, size, got, want)
			}
		}
	}
	mine.truncate(33)
	if got, want := must(mine.root(33)), ref.HashAt(33); mine.size() != 33 || !bytes.Equal(got[:], want) {
		t.Fatalf("after truncate: got size %d root %x, want 33 and %x", mine.size(), got, want)
	}
}

func TestProofBadArguments(t *testing.T) {
	full := vectorTree(8)
	tests := []struct {
		name string
		call func() error
	}{
		{"index at size", func() error { _, err := full.inclusion(3, 3); return err }},
		{"size beyond tree", func() error { _, err := full.inclusion(0, 9); return err }},
		{"size1 after size2", func() error { _, err := full.consistency(5, 4); return err }},
		{"size2 beyond tree", func() error { _, err := full.consistency(1, 9); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err == nil {
				t.Fatalf("got nil error, want ErrInvalidArgument")
			}
		})
	}
}

func must(h hash, err error) hash {
	if err != nil {
		panic(err)
	}
	return h
}

// TestTreeDrop drops old low-level nodes in steps and checks that roots and
// proofs, now partly recomputed from loaded leaves, still match the
// reference tree; and that a tree without a loader says so.
func TestTreeDrop(t *testing.T) {
	const n = 1500
	var all []hash
	mine := tree{}
	ref := testonly.New(rfc6962.DefaultHasher)
	h := sha256.New()
	loads := 0
	mine.load = func(from, to uint64) ([]hash, error) {
		loads++
		return append([]hash(nil), all[from:to]...), nil
	}
	for i := 0; i < n; i++ {
		data := []byte(fmt.Sprint("leaf ", i))
		lh := leafHash(h, data)
		all = append(all, lh)
		mine.append(lh)
		ref.AppendData(data)
		if i%333 == 0 {
			mine.drop(uint64(i))
		}
	}
	mine.drop(1300)
	if got, want := len(mine.levels[0]), n-1280; got != want {
		t.Fatalf("leaves in memory: got %d, want %d", got, want)
	}
	for _, size := range []uint64{1, 255, 256, 257, 700, 1024, 1299, 1300, 1499, 1500} {
		for _, i := range []uint64{0, 1, 200, 255, 256, 511, 777, 1023, 1279, 1280, 1499} {
			if i >= size {
				continue
			}
			got, err := mine.inclusion(i, size)
			want, _ := ref.InclusionProof(i, size)
			if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("inclusion %d of %d: got %x, %v; want %x", i, size, got, err, want)
			}
		}
		for _, s1 := range []uint64{1, 100, 256, 1000, 1300} {
			if s1 > size {
				continue
			}
			got, err := mine.consistency(s1, size)
			want, _ := ref.ConsistencyProof(s1, size)
			if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("consistency %d to %d: got %x, %v; want %x", s1, size, got, err, want)
			}
		}
	}
	if loads == 0 {
		t.Fatalf("got no leaf loads, want proofs of old leaves to load them")
	}
	if got, want := must(mine.root(n)), ref.HashAt(n); !bytes.Equal(got[:], want) {
		t.Fatalf("root: got %x, want %x", got, want)
	}
	mine.load = nil
	if _, err := mine.inclusion(3, n); err == nil {
		t.Fatalf("inclusion of a dropped leaf without a loader: got nil error, want one")
	}
}
