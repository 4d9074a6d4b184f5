//go:build !amd64 || purego

package scan

// textAVX2 is false where there is no classifyTextAVX2 (other processors,
// and the purego build, which tests the Go twin alone).
var textAVX2 = false

func classifyTextAVX2(p *byte, m *TextMasks) { panic("scan: no AVX2 text classifier") }
