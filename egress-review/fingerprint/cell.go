package fingerprint

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// CellString formats cell i of arr the way both the importer (building row
// and value fingerprints) and the egress scanner (looking them up) must:
// strings and binaries as their bytes, everything else as arrow-go's
// ValueStr. It returns false for a null cell.
func CellString(arr arrow.Array, i int) (string, bool) {
	if arr.IsNull(i) {
		return "", false
	}
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i), true
	case *array.LargeString:
		return a.Value(i), true
	case *array.StringView:
		return a.Value(i), true
	case *array.Binary:
		return string(a.Value(i)), true
	case *array.LargeBinary:
		return string(a.Value(i)), true
	case *array.BinaryView:
		return string(a.Value(i)), true
	case *array.FixedSizeBinary:
		return string(a.Value(i)), true
	}
	return arr.ValueStr(i), true
}
