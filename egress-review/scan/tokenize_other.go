//go:build !amd64 || purego

package scan

// useTokenRunsAMD64 is false where there is no tokenRunsAMD64: on other
// processors, and with the purego build tag.
var useTokenRunsAMD64 = false

func tokenRunsAMD64(st *tokState, mb *blockMasks, recs *uint64) bool {
	panic("scan: no tokenRunsAMD64")
}

// tokenRuns is tokenRunsGo.
func tokenRuns(st *tokState, mb *[sectionBlocks]blockMasks, recs *[maxRecords]uint64) bool {
	return tokenRunsGo(st, mb, recs)
}
