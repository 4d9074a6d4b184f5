package checks

import (
	"math"
	"math/bits"
)

// The two loops over every cell of a magnitude column that do floating
// point arithmetic per cell (a division among it), four cells at a time
// with AVX2 where the CPU has it, and in Go elsewhere. Each AVX2 form does
// the same IEEE operations as its Go form, in the same order (products,
// differences, truncation, a quotient: all exact or correctly rounded), so
// the two give the same answers bit for bit; TestKernelsSameAsGo and
// FuzzKernels hold them to that at every length and offset.

// firstReading appends to again the places (from base) of the cells v[i]
// that do not pass the first reading of q.matches (see rounding) against
// figure x[i] times scale, or whose figure times scale is infinite or NaN:
// the cells that unmatched must judge again.
func firstReading(again []int, base int, v, x []float64, scale float64, q rounding) []int {
	x = x[:len(v)]
	done := 0
	if haveAVX2 && len(v) >= 4 {
		blocks := len(v) / 4
		masks := poolByte.get(blocks)[:blocks]
		k := [3]float64{scale, q.p, q.tol}
		firstReadingAVX2(&v[0], &x[0], blocks, &k, &masks[0])
		for j, m := range masks {
			for ; m != 0; m &= m - 1 {
				again = append(again, base+4*j+bits.TrailingZeros8(m))
			}
		}
		poolByte.put(masks)
		done = 4 * blocks
	}
	return firstReadingGo(again, base+done, v[done:], x[done:], scale, q)
}

// firstReadingGo is firstReading in Go.
func firstReadingGo(again []int, base int, v, x []float64, scale float64, q rounding) []int {
	x = x[:len(v)]
	for i, c := range v {
		xs := x[i] * scale
		eps := q.tol * max(1, math.Abs(xs))
		// (not <=, so that NaN does not pass)
		if !(math.Abs(c-roundHalfAway(xs*q.p)/q.p) <= eps) || math.IsInf(xs, 0) {
			again = append(again, base+i)
		}
	}
	return again
}

// fewerRun returns how many numbers lead nums that the cheap test of
// digitCount.fewer passes with its bounds p, lim and top worked out (see
// digitCount.add): |v| below lim and top, and |v| times p rounded and
// divided by p again is |v|. NaN leaves the run.
func fewerRun(nums []float64, p, lim, top float64) int {
	done := 0
	if haveAVX2 && len(nums) >= 4 {
		k := [3]float64{p, lim, top}
		blocks := len(nums) / 4
		done = fewerRunAVX2(&nums[0], blocks, &k)
		if done < 4*blocks {
			return done
		}
	}
	return done + fewerRunGo(nums[done:], p, lim, top)
}

// fewerRunGo is fewerRun in Go.
func fewerRunGo(nums []float64, p, lim, top float64) int {
	for i, v := range nums {
		a := math.Abs(v)
		if !(a < lim && a < top) {
			return i
		}
		x := a * p
		t := trunc(x)    // roundHalfAway(x), x >= 0,
		t += half(x - t) // without a branch on the fraction
		if t/p != a {
			return i
		}
	}
	return len(nums)
}
