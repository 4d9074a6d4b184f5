//go:build !amd64 || purego

package checks

// haveAVX2 is false: the kernels of kernels.go run their Go forms alone
// (on other architectures, and in the purego build, which tests them).
var haveAVX2 = false

func firstReadingAVX2(v, x *float64, blocks int, k *[3]float64, out *byte) {
	panic("checks: no AVX2 kernel")
}

func fewerRunAVX2(a *float64, blocks int, k *[3]float64) int { panic("checks: no AVX2 kernel") }
