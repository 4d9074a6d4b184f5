package ingest

import (
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// Column-at-a-time cell access for the per-cell work of the import (the
// safety net, value and row fingerprints). Each function gives exactly
// what fingerprint.CellString gives for every cell, without its type
// switch per cell; cells_test.go checks the agreement.

// eachCell calls fn with every non-null cell of arr as a string, in order,
// until fn returns false. The string is only valid during the call for
// non-string arrays.
func eachCell(arr arrow.Array, fn func(r int, v string) bool) {
	n := arr.Len()
	hasNulls := arr.NullN() > 0
	if a, ok := arr.(*array.String); ok {
		for r := 0; r < n; r++ {
			if hasNulls && a.IsNull(r) {
				continue
			}
			if !fn(r, a.Value(r)) {
				return
			}
		}
		return
	}
	for r := 0; r < n; r++ {
		v, ok := fingerprint.CellString(arr, r)
		if ok && !fn(r, v) {
			return
		}
	}
}

// eachCellBytes calls fn with the bytes of every non-null cell of arr, in
// order. fn must only read them.
func eachCellBytes(arr arrow.Array, fn func(v []byte)) {
	n := arr.Len()
	hasNulls := arr.NullN() > 0
	if a, ok := arr.(*array.String); ok {
		offs := a.ValueOffsets()
		data := a.ValueBytes()
		base := offs[0]
		for r := 0; r < n; r++ {
			if hasNulls && a.IsNull(r) {
				continue
			}
			fn(data[offs[r]-base : offs[r+1]-base])
		}
		return
	}
	var buf []byte
	for r := 0; r < n; r++ {
		if v, ok := fingerprint.CellString(arr, r); ok {
			buf = append(buf[:0], v...)
			fn(buf)
		}
	}
}

// columnStrings sets dst[r] to cell r of arr as fingerprint.CellString
// formats it, "" for a null cell, and returns dst. Numbers are formatted
// into one string per column instead of one per cell.
func columnStrings(dst []string, arr arrow.Array) []string {
	n := arr.Len()
	if cap(dst) < n {
		dst = make([]string, n)
	}
	dst = dst[:n]
	clear(dst)
	hasNulls := arr.NullN() > 0
	var format func(buf []byte, r int) []byte
	switch a := arr.(type) {
	case *array.String:
		for r := 0; r < n; r++ {
			if !hasNulls || !a.IsNull(r) {
				dst[r] = a.Value(r)
			}
		}
		return dst
	case *array.Int64:
		format = func(buf []byte, r int) []byte { return strconv.AppendInt(buf, a.Value(r), 10) }
	case *array.Float64:
		format = func(buf []byte, r int) []byte { return strconv.AppendFloat(buf, a.Value(r), 'g', -1, 64) }
	default:
		for r := 0; r < n; r++ {
			dst[r], _ = fingerprint.CellString(arr, r)
		}
		return dst
	}
	buf := make([]byte, 0, 12*n)
	ends := make([]int, n)
	for r := 0; r < n; r++ {
		if !hasNulls || !arr.IsNull(r) {
			buf = format(buf, r)
		}
		ends[r] = len(buf)
	}
	s := string(buf)
	start := 0
	for r, end := range ends {
		dst[r] = s[start:end]
		start = end
	}
	return dst
}

// digitByte is 1 for the ASCII digits and 0 for every other byte.
var digitByte = func() (t [256]uint8) {
	for b := '0'; b <= '9'; b++ {
		t[b] = 1
	}
	return t
}()

// mayHoldPersonal reports whether s could hold a personal identifier that
// pii.ScanFunc reports. It is a necessary condition only, so the safety
// net skips the scan for the many cells that fail it and loses nothing
// (FuzzMayHoldPersonal checks it against pii.ScanFunc):
//
//   - an e-mail address needs an '@';
//   - a resident ID number, a bank card or a mobile number written as one
//     run needs 11 digits in a row;
//   - a bank card in groups joined by single spaces or dashes needs 15
//     digits in the chain of groups, a mobile number in groups 11, with a
//     group starting with '1'.
func mayHoldPersonal(s string) bool {
	if strings.IndexByte(s, '@') >= 0 {
		return true
	}
	// Every case below needs 11 digits at least: count them first, in a
	// loop without branches, since most cells have far fewer.
	digits := 0
	for i := 0; i < len(s); i++ {
		digits += int(digitByte[s[i]])
	}
	if digits < 11 {
		return false
	}
	run, chain, one := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if run == 0 && c == '1' {
				one = true
			}
			run++
			chain++
			if run >= 11 || chain >= 15 || (chain >= 11 && one) {
				return true
			}
			continue
		}
		if (c == ' ' || c == '-') && run > 0 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			run = 0 // the chain goes on with the next group
			continue
		}
		run, chain, one = 0, 0, false
	}
	return false
}
