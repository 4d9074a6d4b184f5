package scan

import "golang.org/x/sys/cpu"

// useTokenRunsAMD64 says whether tokenRuns may use tokenRunsAMD64 (which
// needs POPCNT, found wherever AVX2 is).
var useTokenRunsAMD64 = haveAVX2 && cpu.X86.HasPOPCNT

// tokenRunsAMD64 is tokenRunsGo (see there) in assembly.
//
//go:noescape
func tokenRunsAMD64(st *tokState, mb *blockMasks, recs *uint64) bool

// tokenRuns is tokenRunsGo, in assembly where the processor allows.
func tokenRuns(st *tokState, mb *[sectionBlocks]blockMasks, recs *[maxRecords]uint64) bool {
	if useTokenRunsAMD64 {
		return tokenRunsAMD64(st, &mb[0], &recs[0])
	}
	return tokenRunsGo(st, mb, recs)
}
