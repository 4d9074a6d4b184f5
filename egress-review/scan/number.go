package scan

import (
	"math"
	"strconv"
)

// Float reports whether v is an input value as the raw-values check prints
// it: an integral v as an integer ("13812345678") and as %g would print it
// ("1.3812345678e+10"), any other v as %g (strconv's 'g' with the shortest
// precision, which is arrow-go's ValueStr). It formats v only when the
// printed form can have a kind and length that the sets hold.
func (s *Scanner) Float(v float64) bool {
	if len(s.values) == 0 {
		return false
	}
	var buf [32]byte
	// Integral below 1e18 (false for NaN and infinities); conversions
	// rather than math.Trunc, which is not an instruction on every amd64.
	if math.Abs(v) < 1e18 && float64(int64(v)) == v {
		return s.Int(int64(v)) || s.lookup(strconv.AppendFloat(buf[:0], v, 'g', -1, 64))
	}
	if n, digits, ok := decimalShape(v); ok && !s.asciiCould(n, digits) {
		return false
	}
	return s.lookup(strconv.AppendFloat(buf[:0], v, 'g', -1, 64))
}

// decimalShape returns the length and the number of digits of
// strconv.FormatFloat(v, 'g', -1, 64) without formatting v, for the common
// non-integral values with one or two decimals from 0.01 to 1e6 ("0.05",
// "-123456.78"); ok is false for any other v. Such a v is printed as the
// decimal m/10^d: m/10^d rounds to v (checked), and no decimal with fewer
// digits can, because v's spacing to its neighbours (under 2^-33 below 1e6)
// is far below 10^-d; below 1e6 and from 0.01, %g uses no exponent.
func decimalShape(v float64) (n, digits int, ok bool) {
	a := math.Abs(v)
	if !(a >= 0.01 && a < 1e6) { // also false for NaN
		return 0, 0, false
	}
	sign := 0
	if v < 0 {
		sign = 1
	}
	// m/100 == a: a is the decimal m/100, which has two decimals, or
	// one when m ends in 0 (then m/10 / 10 == a as well: the same real
	// number, rounded the same way).
	m := float64(int64(a*100 + 0.5)) // a candidate; checked next
	if m/100 == a {
		mi := uint64(m)
		d := 2
		if mi%10 == 0 {
			d, mi = 1, mi/10
			if mi%10 == 0 {
				return 0, 0, false // integral: not this shape
			}
		}
		intDigits := decimalDigits(mi / pow10[d])
		return sign + intDigits + 1 + d, intDigits + d, true
	}
	return 0, 0, false
}
