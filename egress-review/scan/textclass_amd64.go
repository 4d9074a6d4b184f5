//go:build amd64 && !purego

package scan

import "golang.org/x/sys/cpu"

// textAVX2 says whether ClassifyText may use classifyTextAVX2.
var textAVX2 = cpu.X86.HasAVX2

// classifyTextAVX2 computes the masks of the 64 bytes at p (see
// classifyTextGeneric).
//
//go:noescape
func classifyTextAVX2(p *byte, m *TextMasks)
