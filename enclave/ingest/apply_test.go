package ingest

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/enclave-dev/enclave/enclave/pii"
)

// TestISODate checks the date shortcut against time.Parse, which it
// replaces for the common layout.
func TestISODate(t *testing.T) {
	var cases []string
	for _, y := range []int{0, 5, 999, 1900, 2000, 2023, 2024, 2100, 9999} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				cases = append(cases, fmt.Sprintf("%04d-%02d-%02d", y, m, d))
			}
		}
	}
	cases = append(cases, "", "2024-1-01", "2024-01-1 ", " 2024-01-01", "2024/01/01", "2024-0a-01", "+024-01-01", "2024-01-01T00")
	for _, v := range cases {
		t.Run(v, func(t *testing.T) {
			y, ok := isoDate(v)
			p, err := time.Parse("2006-01-02", v)
			if ok != (err == nil) || (ok && y != p.Year()) {
				t.Fatalf("got %d %v, want the year of %v (error %v)", y, ok, p, err)
			}
		})
	}
}

func FuzzISODate(f *testing.F) {
	for _, s := range []string{"2024-02-29", "2023-02-29", "0000-01-01", "2024-13-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		y, ok := isoDate(v)
		p, err := time.Parse("2006-01-02", v)
		if ok && (err != nil || y != p.Year() || p.Format("2006-01") != v[:7]) {
			t.Fatalf("got year %d for a value time.Parse reads as %v (error %v)", y, p, err)
		}
	})
}

func FuzzAppendMaskKeep(f *testing.F) {
	f.Add("13912345678", 3, 4, int32('*'))
	f.Add("abc", 2, 2, int32('#'))
	f.Add("王小明", 1, 0, int32('*'))
	f.Add("13912345678", 3, 4, int32('口'))
	f.Add("x", -1, 0, int32('*'))
	f.Fuzz(func(t *testing.T, v string, first, last int, c rune) {
		if first > 1<<16 || last > 1<<16 || first < -1<<16 || last < -1<<16 {
			return
		}
		want := pii.MaskKeep(v, first, last, c)
		if got := string(appendMaskKeep([]byte("pre"), v, first, last, c)); got != "pre"+want {
			t.Fatalf("got %q, want %q", got, "pre"+want)
		}
	})
}

func FuzzSmallInt(f *testing.F) {
	for _, v := range []string{"0", "120000", "999999999999999", "1000000000000000", "-5", "+5", " 7", "1e3", "0x10", "", "12a"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := smallInt(v)
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || got != want {
			t.Fatalf("got %v for %q, want %v (%v)", got, v, want, err)
		}
	})
}

// TestApplyStringLayout checks that a string rule's output, built in
// Arrow buffers directly, is written to an Arrow file byte for byte as the
// same values built with arrow-go's StringBuilder: with and without
// nulls, with empty values, at batch sizes around the bitmap's powers of
// two. The allocator checks that every buffer is given back.
func TestApplyStringLayout(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rules := []Rule{
		{Kind: RuleMask, KeepFirst: 1, KeepLast: 1, Char: '*'},
		{Kind: RuleTruncate, Len: 2},
		{Kind: RuleHash},
		{Kind: RuleGeneralize, Date: "month"},
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	ipcBytes := func(arr arrow.Array) []byte {
		rec := array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len()))
		defer rec.Release()
		return arrowFileOf(t, rec)
	}
	for _, n := range []int{1, 7, 8, 9, 64, 100} {
		for _, nulls := range []bool{false, true} {
			b := array.NewStringBuilder(mem)
			for i := range n {
				switch {
				case nulls && i%3 == 1:
					b.AppendNull()
				case i%4 == 2:
					b.Append("") // a valid empty value
				default:
					b.Append(fmt.Sprintf("2024-%02d-1%d", 1+i%12, i%10))
				}
			}
			in := b.NewArray()
			b.Release()
			for _, r := range rules {
				c := &ColumnSpec{Name: "c", Rule: r}
				a := newApplier(c, arrow.BinaryTypes.String, mem, bytes.Repeat([]byte{4}, 32), [32]byte{}, testNow)
				where := func(i int) string { return fmt.Sprintf("row %d", i) }
				got, err := a.apply(in, where)
				if err != nil {
					if r.Kind == RuleGeneralize {
						continue // "" is not a date: refused, nothing kept
					}
					t.Fatal(err)
				}
				ref := array.NewStringBuilder(mem)
				ref.Reserve(n)
				for i := range n {
					if in.IsNull(i) {
						ref.AppendNull()
						continue
					}
					v, err := a.stringRule(nil, in, i, where)
					if err != nil {
						t.Fatal(err)
					}
					ref.BinaryBuilder.Append(v)
				}
				want := ref.NewArray()
				ref.Release()
				if !array.Equal(got, want) {
					t.Fatalf("%d rows, nulls %v, rule %s: got %v, want %v", n, nulls, r.Kind, got, want)
				}
				if !bytes.Equal(ipcBytes(got), ipcBytes(want)) {
					t.Fatalf("%d rows, nulls %v, rule %s: got a different Arrow file than StringBuilder's", n, nulls, r.Kind)
				}
				got.Release()
				want.Release()
			}
			in.Release()
		}
	}
}
