package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/pii"
)

// applier turns an input column into its desensitized form. It is built
// once per column for the input's type and reused for every batch.
type applier struct {
	col  *ColumnSpec
	in   arrow.DataType
	out  arrow.DataType // nil for drop
	mem  memory.Allocator
	mac  *pseudonymMAC
	rng  *rand.Rand
	now  time.Time
	key  []byte   // pseudonym key, for clone
	seed [32]byte // noise seed, for clone and reseed
}

// outputType is the Arrow type a rule produces from an input type.
func outputType(r Rule, in arrow.DataType) arrow.DataType {
	switch r.Kind {
	case RuleDrop:
		return nil
	case RuleKeep, RuleSuppress:
		return in
	case RuleGeneralize:
		if r.Bucket > 0 {
			if r.Bucket == math.Trunc(r.Bucket) {
				return arrow.PrimitiveTypes.Int64
			}
			return arrow.PrimitiveTypes.Float64
		}
		return arrow.BinaryTypes.String
	case RuleNoise:
		return arrow.PrimitiveTypes.Float64
	}
	return arrow.BinaryTypes.String
}

func newApplier(c *ColumnSpec, in arrow.DataType, mem memory.Allocator, pseudonymKey []byte, seed [32]byte, now time.Time) *applier {
	a := &applier{col: c, in: in, out: outputType(c.Rule, in), mem: mem, now: now, key: pseudonymKey, seed: seed}
	if c.Rule.Kind == RuleHash {
		a.mac = newPseudonymMAC(pseudonymKey)
	}
	if c.Rule.Kind == RuleNoise {
		a.rng = rand.New(rand.NewChaCha8(seed))
	}
	return a
}

// clone returns an applier with the same rule, key and seed and its own
// state, for another goroutine.
func (a *applier) clone() *applier {
	return newApplier(a.col, a.in, a.mem, a.key, a.seed, a.now)
}

// reseed restarts the noise of a batch from the import's seed and the
// batch's index, so that the noise does not depend on which goroutine
// applies which batch.
func (a *applier) reseed(batch int64) {
	if a.rng == nil {
		return
	}
	var b [40]byte
	copy(b[:], a.seed[:])
	binary.LittleEndian.PutUint64(b[32:], uint64(batch))
	a.rng = rand.New(rand.NewChaCha8(sha256.Sum256(b[:])))
}

// valueError is the error for a value a rule cannot take; it names the
// column and the place, never the value.
func (a *applier) valueError(where, want string) error {
	return fmt.Errorf("input: column %q %s: rule %s needs %s: %w", a.col.Name, where, a.col.Rule.Kind, want, errdefs.ErrInvalidArgument)
}

// apply returns the desensitized column; the caller releases it.
func (a *applier) apply(in arrow.Array, where func(int) string) (arrow.Array, error) {
	r := a.col.Rule
	n := in.Len()
	switch r.Kind {
	case RuleKeep:
		in.Retain()
		return in, nil
	case RuleSuppress:
		return array.MakeArrayOfNull(a.mem, a.out, n), nil
	}
	switch a.out.ID() {
	case arrow.INT64:
		b := array.NewInt64Builder(a.mem)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if in.IsNull(i) {
				b.AppendNull()
				continue
			}
			v, ok := numberAt(in, i)
			if !ok {
				return nil, a.valueError(where(i), "a number")
			}
			g := math.Floor(v/r.Bucket) * r.Bucket
			if math.IsNaN(g) || math.Abs(g) > 1<<62 {
				return nil, a.valueError(where(i), "a finite number within the int64 range")
			}
			b.Append(int64(g))
		}
		return b.NewArray(), nil
	case arrow.FLOAT64:
		b := array.NewFloat64Builder(a.mem)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if in.IsNull(i) {
				b.AppendNull()
				continue
			}
			v, ok := numberAt(in, i)
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, a.valueError(where(i), "a finite number")
			}
			if r.Kind == RuleNoise {
				b.Append(v + a.laplace(r.Sensitivity/r.Epsilon))
			} else {
				b.Append(math.Floor(v/r.Bucket) * r.Bucket)
			}
		}
		return b.NewArray(), nil
	}
	// Built as the CSV reader builds its columns, laid out as arrow-go's
	// StringBuilder would lay them out.
	col := stringColumn{mem: a.mem}
	data := 0
	if s, ok := in.(*array.String); ok {
		// The output is about as long as the input (longer for hash).
		data = max(len(s.ValueBytes()), 33*n)
	}
	col.startData(n, data)
	var buf []byte
	for i := 0; i < n; i++ {
		if in.IsNull(i) {
			col.appendNull()
			continue
		}
		var err error
		buf, err = a.stringRule(buf[:0], in, i, where)
		if err != nil {
			col.reset()
			return nil, err
		}
		col.appendValue(buf)
	}
	return col.finish(n), nil
}

// stringRule appends the desensitized form of cell i of in to dst.
func (a *applier) stringRule(dst []byte, in arrow.Array, i int, where func(int) string) ([]byte, error) {
	r := a.col.Rule
	switch r.Kind {
	case RuleMask:
		v, _ := fingerprint.CellString(in, i)
		if r.As != "" {
			return append(dst, pii.Mask(r.As, v)...), nil
		}
		return appendMaskKeep(dst, v, r.KeepFirst, r.KeepLast, r.Char), nil
	case RuleHash:
		v, _ := fingerprint.CellString(in, i)
		return a.pseudonym(dst, v), nil
	case RuleTruncate:
		v, _ := fingerprint.CellString(in, i)
		k := 0
		for j := range v {
			if k == r.Len {
				return append(dst, v[:j]...), nil
			}
			k++
		}
		return append(dst, v...), nil
	case RuleGeneralize:
		if r.Date != "" {
			if s, ok := in.(*array.String); ok {
				if y, ok := isoDate(s.Value(i)); ok {
					if r.Date == "year" {
						return strconv.AppendInt(dst, int64(y), 10), nil
					}
					return append(dst, s.Value(i)[:7]...), nil
				}
			}
			t, ok := timeAt(in, i)
			if !ok {
				return nil, a.valueError(where(i), "a date (2006-01-02)")
			}
			if r.Date == "year" {
				return strconv.AppendInt(dst, int64(t.Year()), 10), nil
			}
			return t.AppendFormat(dst, "2006-01"), nil
		}
		var birth time.Time
		if r.From == "resident-id" {
			v, _ := fingerprint.CellString(in, i)
			if pii.ValidResidentID(v) != nil {
				return nil, a.valueError(where(i), "a valid resident id number")
			}
			birth, _ = time.Parse("20060102", v[6:14])
		} else {
			t, ok := timeAt(in, i)
			if !ok {
				return nil, a.valueError(where(i), "a birth date (2006-01-02)")
			}
			birth = t
		}
		age := ageAt(birth, a.now)
		if age < 0 {
			return nil, a.valueError(where(i), "a birth date before the import time")
		}
		lo := age / r.AgeBand * r.AgeBand
		dst = strconv.AppendInt(dst, int64(lo), 10)
		dst = append(dst, '-')
		return strconv.AppendInt(dst, int64(lo+r.AgeBand-1), 10), nil
	}
	return nil, fmt.Errorf("rule %q has no string form: %w", r.Kind, errdefs.ErrInvalidArgument)
}

// appendMaskKeep appends pii.MaskKeep(v, first, last, c) to dst. For an
// ASCII value and mask character, the common case, it works on bytes,
// without building a string (FuzzAppendMaskKeep checks the agreement).
func appendMaskKeep(dst []byte, v string, first, last int, c rune) []byte {
	if c < 0 || c >= utf8.RuneSelf || first < 0 || last < 0 || first+last >= len(v) || !isASCII(unsafe.Slice(unsafe.StringData(v), len(v))) {
		return append(dst, pii.MaskKeep(v, first, last, c)...)
	}
	dst = append(dst, v[:first]...)
	for range len(v) - first - last {
		dst = append(dst, byte(c))
	}
	return append(dst, v[len(v)-last:]...)
}

// pseudonym is the keyed HMAC-SHA256 of v, its first 16 bytes in hex: the
// same value gives the same pseudonym in every dataset under one keyring.
func (a *applier) pseudonym(dst []byte, v string) []byte {
	sum := a.mac.Sum(unsafe.Slice(unsafe.StringData(v), len(v))) // only read
	return appendHex16(dst, sum)
}

// appendHex16 appends the first 16 bytes of sum in lower-case hex, as
// hex.AppendEncode does, four bytes at a time: their eight nibbles are
// spread one to a byte and each made a digit, '0'-'9' or 'a'-'f', by
// adding '0' and, for those from 10 up, 'a'-'0'-10 more.
func appendHex16(dst, sum []byte) []byte {
	var out [32]byte
	for i := 0; i < 16; i += 4 {
		x := uint64(binary.BigEndian.Uint32(sum[i:]))
		x = (x<<16 | x) & 0x0000FFFF0000FFFF
		x = (x<<8 | x) & 0x00FF00FF00FF00FF
		x = (x<<4 | x) & 0x0F0F0F0F0F0F0F0F
		letters := (x + 0x06*swarOnes) >> 4 & swarOnes // 1 in the bytes from 10 up
		binary.BigEndian.PutUint64(out[2*i:], x+0x30*swarOnes+letters*('a'-'0'-10))
	}
	return append(dst, out[:]...)
}

// isoDate returns the year of v when v is exactly a valid date written
// 2006-01-02, the common case, which it checks as time.Parse would, without
// parsing.
func isoDate(v string) (int, bool) {
	if len(v) != 10 || v[4] != '-' || v[7] != '-' {
		return 0, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	y, ok1 := num(v[:4])
	m, ok2 := num(v[5:7])
	d, ok3 := num(v[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 {
		return 0, false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return y, d <= days
}

// laplace draws from the Laplace distribution with mean 0 and scale b.
func (a *applier) laplace(b float64) float64 {
	u := a.rng.Float64() - 0.5
	for u == -0.5 {
		u = a.rng.Float64() - 0.5
	}
	if u < 0 {
		return b * math.Log(1+2*u)
	}
	return -b * math.Log(1-2*u)
}

func ageAt(birth, now time.Time) int {
	age := now.Year() - birth.Year()
	if now.Month() < birth.Month() || (now.Month() == birth.Month() && now.Day() < birth.Day()) {
		age--
	}
	return age
}

// numberAt reads cell i as a number: numeric types directly, anything else
// through its text.
func numberAt(arr arrow.Array, i int) (float64, bool) {
	switch a := arr.(type) {
	case *array.Int64:
		return float64(a.Value(i)), true
	case *array.Int32:
		return float64(a.Value(i)), true
	case *array.Int16:
		return float64(a.Value(i)), true
	case *array.Int8:
		return float64(a.Value(i)), true
	case *array.Uint64:
		return float64(a.Value(i)), true
	case *array.Uint32:
		return float64(a.Value(i)), true
	case *array.Uint16:
		return float64(a.Value(i)), true
	case *array.Uint8:
		return float64(a.Value(i)), true
	case *array.Float64:
		return a.Value(i), true
	case *array.Float32:
		return float64(a.Value(i)), true
	}
	if s, ok := arr.(*array.String); ok {
		if f, ok := smallInt(s.Value(i)); ok {
			return f, true
		}
	}
	v, _ := fingerprint.CellString(arr, i)
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	return f, err == nil
}

// smallInt reads v when it is 1 to 15 ASCII digits, the common amount in
// a text column, as strconv.ParseFloat would (exactly: every integer of
// up to 15 digits is a float64); ok is false for anything else.
func smallInt(v string) (float64, bool) {
	if len(v) == 0 || len(v) > 15 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int64(c)
	}
	return float64(n), true
}

var dateLayouts = []string{"2006-01-02", "2006/01/02", "20060102", time.RFC3339Nano, "2006-01-02 15:04:05"}

// timeAt reads cell i as a point in time: date and timestamp types
// directly, text in one of a few common layouts.
func timeAt(arr arrow.Array, i int) (time.Time, bool) {
	switch a := arr.(type) {
	case *array.Date32:
		return a.Value(i).ToTime(), true
	case *array.Date64:
		return a.Value(i).ToTime(), true
	case *array.Timestamp:
		return a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit), true
	}
	v, _ := fingerprint.CellString(arr, i)
	v = strings.TrimSpace(v)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
