package scan

import "golang.org/x/sys/cpu"

// haveAVX2 says whether classify may use classifyAVX2.
var haveAVX2 = cpu.X86.HasAVX2

// classifyAVX2 computes the masks of blocks whole blocks of 64 bytes from
// p into out[0:blocks] (see classifyGeneric).
//
//go:noescape
func classifyAVX2(p *byte, blocks int, out *blockMasks)

// useTokenRunsAMD64 says whether tokenRuns may use tokenRunsAMD64 (which
// needs POPCNT, found wherever AVX2 is).
var useTokenRunsAMD64 = haveAVX2 && cpu.X86.HasPOPCNT

// tokenRunsAMD64 is tokenRunsGo (see there) in assembly.
//
//go:noescape
func tokenRunsAMD64(st *tokState, mb *blockMasks, recs *uint64) bool

func tokenRuns(st *tokState, mb *[sectionBlocks]blockMasks, recs *[maxRecords]uint64) bool {
	if useTokenRunsAMD64 {
		return tokenRunsAMD64(st, &mb[0], &recs[0])
	}
	return tokenRunsGo(st, mb, recs)
}
