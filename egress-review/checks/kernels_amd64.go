//go:build amd64 && !purego

package checks

import "golang.org/x/sys/cpu"

// haveAVX2 says whether the kernels of kernels.go may use their AVX2
// forms (build with -tags purego to leave them out).
var haveAVX2 = cpu.X86.HasAVX2

// firstReadingAVX2 is firstReadingGo over blocks whole blocks of 4 cells
// of v and figures of x; k holds scale, p and tol; out gets one mask of 4
// bits per block.
//
//go:noescape
func firstReadingAVX2(v, x *float64, blocks int, k *[3]float64, out *byte)

// fewerRunAVX2 is fewerRunGo over blocks whole blocks of 4 numbers of a;
// k holds p, lim and top. It returns how many numbers lead the run (the
// place of the first that leaves it, or 4 × blocks).
//
//go:noescape
func fewerRunAVX2(a *float64, blocks int, k *[3]float64) int
