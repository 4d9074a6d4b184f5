package scan

import "golang.org/x/sys/cpu"

// haveAVX2 says whether classify may use classifyAVX2.
var haveAVX2 = cpu.X86.HasAVX2

// classifyAVX2 computes the masks of blocks whole blocks of 64 bytes from
// p into out[0:blocks] (see classifyGeneric).
//
//go:noescape
func classifyAVX2(p *byte, blocks int, out *blockMasks)
