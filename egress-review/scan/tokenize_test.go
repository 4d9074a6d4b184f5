package scan

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestTokStateLayout checks the offsets and bits that tokenize_amd64.s
// uses.
func TestTokStateLayout(t *testing.T) {
	var st tokState
	for _, tc := range []struct {
		name      string
		got, want uint64
	}{
		{"k", uint64(unsafe.Offsetof(st.k)), 0}, {"starts", uint64(unsafe.Offsetof(st.starts)), 8},
		{"breaks", uint64(unsafe.Offsetof(st.breaks)), 16}, {"wcarry", uint64(unsafe.Offsetof(st.wcarry)), 24},
		{"bcarry", uint64(unsafe.Offsetof(st.bcarry)), 32}, {"r1", uint64(unsafe.Offsetof(st.r1)), 40},
		{"r2", uint64(unsafe.Offsetof(st.r2)), 48}, {"joined", uint64(unsafe.Offsetof(st.joined)), 56},
		{"dirty", uint64(unsafe.Offsetof(st.dirty)), 64}, {"count", uint64(unsafe.Offsetof(st.count)), 72},
		{"pending", uint64(unsafe.Offsetof(st.pending)), 80}, {"stop", uint64(unsafe.Offsetof(st.stop)), 88},
		{"nb", uint64(unsafe.Offsetof(st.nb)), 96}, {"tags0", uint64(unsafe.Offsetof(st.tags0)), 104},
		{"tags1", uint64(unsafe.Offsetof(st.tags1)), 112}, {"could", uint64(unsafe.Offsetof(st.could)), 120},
		{"p", uint64(unsafe.Offsetof(st.p)), 128}, {"blockMasks", uint64(unsafe.Sizeof(blockMasks{})), 40},
		{"recInner", recInner, 1 << 46}, {"recSpace", recSpace, 1 << 47}, {"recSepRead", recSepRead, 1 << 48},
		{"recGroup", recGroup, 1 << 50}, {"recKnown", recKnown, 1 << 51}, {"recPair", recPair, 1 << 52},
		{"recAdj", recAdj, 1 << 53}, {"recKept", recKept, 1 << 54}, {"recCross", recCross, 1 << 56},
		{"recLen", recLen, 13}, {"recDigits", recDigits, 26}, {"recJoined", recJoined, 39}, {"recField", recField, 0x1FFF},
	} {
		if runtime.GOARCH != "amd64" && !strings.HasPrefix(tc.name, "rec") {
			continue // offsets: of the amd64 assembly only
		}
		if tc.got != tc.want {
			t.Errorf("%s: got %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

// checkTokenRuns compares the records of tokenize with tokenRunsAMD64 and
// with tokenRunsGo on p (one section).
func checkTokenRuns(t *testing.T, s *Scanner, p []byte) {
	t.Helper()
	if !useTokenRunsAMD64 || len(p) == 0 || len(p) > sectionBytes {
		return
	}
	defer func(saved bool) { useTokenRunsAMD64 = saved }(useTokenRunsAMD64)
	var mb [sectionBlocks]blockMasks
	classify(p, mb[:])
	var got, want [2][maxRecords]uint64
	var n, next [2]int
	for i, asm := range []bool{true, false} {
		useTokenRunsAMD64 = asm
		for _, last := range []bool{true, false} {
			n[i], next[i] = s.tokenize(p, 0, &mb, len(p), last, &got[i])
			want[i] = got[i]
		}
	}
	if n[0] != n[1] || next[0] != next[1] || !slices.Equal(want[0][:n[0]], want[1][:n[1]]) {
		t.Fatalf("%q: assembly kept %d records, next %d: %x; Go %d, next %d: %x", p, n[0], next[0], want[0][:n[0]], n[1], next[1], want[1][:n[1]])
	}
}

func TestTokenRunsAMD64(t *testing.T) {
	fast, _ := diffScanners(t, maskPlanted)
	r := rand.New(rand.NewPCG(15, 16))
	for i := range 500 {
		checkTokenRuns(t, fast, maskText(r, []int{5, 64, 100, 700, 4000}[i%5]))
	}
}
