//go:build amd64 && !purego

package scan

import "golang.org/x/sys/cpu"

// useTokenRunsAMD64 says whether tokenRuns may use tokenRunsAMD64 (which
// needs POPCNT, found wherever AVX2 is).
var useTokenRunsAMD64 = haveAVX2 && cpu.X86.HasPOPCNT

// tokenRunsAMD64 is tokenRunsGo (see there) in assembly. It is kept because
// it shows end to end: in four alternated pairs of make bench's ScanText
// (issue 17 item 6, a loaded 2-core host) the text scan ran at 300-323 MB/s
// per core with it and 146-298 MB/s without, 5.4 against 3.7 times the map
// baseline of the same runs (medians). checkTokenRuns and the mask tests
// compare it with tokenRunsGo; build with -tags purego to leave it out.
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
