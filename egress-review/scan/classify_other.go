//go:build !amd64

package scan

var haveAVX2 = false

func classifyAVX2(p *byte, blocks int, out *blockMasks) { panic("scan: no AVX2 classifier") }
