package checks

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// fxVictims is how many records an encoding case carries out: fewer than
// the rows a table of groups may have (inputRows/MinCell), so that the
// content rules, not the row limit, must stop them.
const fxVictims = 120

func fxPseudonymOf(r suiteRec) string { return r.pseudonym }
func fxPhoneOf(r suiteRec) string     { return r.phone }

const (
	fxHexAlphabet   = "0123456789abcdef"
	fxDigitAlphabet = "0123456789"
)

// fxDistrictN is the number of records of each district.
func fxDistrictN(fx *suiteFixture) map[string]int64 {
	m := map[string]int64{}
	for _, g := range fx.groupBy(nil, fxByDistrict) {
		m[g.key[0]] = g.n
	}
	return m
}

// Presentations of encoded values: the victims' districts (true labels),
// the encoded value, and their district's true count, so that the table
// looks like an aggregate.

func asTable(kind Kind, name string, enc func(suiteRec) string) func(c *suiteEnv) {
	return func(c *suiteEnv) {
		n := fxDistrictN(c.fx)
		var d, code []string
		var cnt []int64
		for _, r := range c.fx.sample(fxVictims) {
			d, code, cnt = append(d, r.district), append(code, enc(r)), append(cnt, n[r.district])
		}
		c.table(name, kind, fxStrCol("district", "", d), fxStrCol("code", "", code), fxI64Col("n", "count", cnt))
	}
}

func asCSV(name string, enc func(suiteRec) string) func(c *suiteEnv) {
	return func(c *suiteEnv) {
		n := fxDistrictN(c.fx)
		var rows [][]string
		for _, r := range c.fx.sample(fxVictims) {
			rows = append(rows, []string{r.district, enc(r), fmt.Sprint(n[r.district])})
		}
		c.text(name, fxCSV([]string{"district", "code", "n"}, rows))
		c.stats(name, "n", "count")
	}
}

func asLines(name string, enc func(suiteRec) string) func(c *suiteEnv) {
	return func(c *suiteEnv) {
		var b strings.Builder
		for _, r := range c.fx.sample(fxVictims) {
			fmt.Fprintf(&b, "%s: %s\n", r.district, enc(r))
		}
		c.text(name, b.String())
	}
}

func asJSON(name string, enc func(suiteRec) string) func(c *suiteEnv) {
	return func(c *suiteEnv) {
		type item struct {
			District string `json:"district"`
			Code     string `json:"code"`
		}
		var items []item
		for _, r := range c.fx.sample(fxVictims) {
			items = append(items, item{r.district, enc(r)})
		}
		data, err := json.MarshalIndent(map[string]any{"items": items}, "", "  ")
		if err != nil {
			c.t.Fatal(err)
		}
		c.file(name, data)
	}
}

func asMarkdown(name string, enc func(suiteRec) string) func(c *suiteEnv) {
	return func(c *suiteEnv) {
		var b strings.Builder
		b.WriteString("# Reference list\n\n| district | reference |\n|---|---|\n")
		for _, r := range c.fx.sample(fxVictims) {
			fmt.Fprintf(&b, "| %s | %s |\n", r.district, enc(r))
		}
		c.text(name, b.String())
	}
}

// fxVictimsCol returns one column of the victims.
func fxVictimsCol(c *suiteEnv, f func(suiteRec) string) []string {
	var out []string
	for _, r := range c.fx.sample(fxVictims) {
		out = append(out, f(r))
	}
	return out
}

// Arrays of other types.

func fxBinaryCol(name string, v [][]byte) fxCol {
	b := array.NewBinaryBuilder(fxMem, arrow.BinaryTypes.Binary)
	defer b.Release()
	for _, x := range v {
		b.Append(x)
	}
	return fxCol{fxField(name, arrow.BinaryTypes.Binary, ""), b.NewArray()}
}

func fxLargeStrCol(name string, v []string) fxCol {
	b := array.NewLargeStringBuilder(fxMem)
	defer b.Release()
	b.AppendValues(v, nil)
	return fxCol{fxField(name, arrow.BinaryTypes.LargeString, ""), b.NewArray()}
}

func fxDictCol(name string, v []string) fxCol {
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	b := array.NewDictionaryBuilder(fxMem, dt).(*array.BinaryDictionaryBuilder)
	defer b.Release()
	for _, x := range v {
		if err := b.AppendString(x); err != nil {
			panic(err)
		}
	}
	return fxCol{fxField(name, dt, ""), b.NewArray()}
}

func fxDecimalCol(name, stat string, v []uint64) fxCol {
	dt := &arrow.Decimal128Type{Precision: 20, Scale: 0}
	b := array.NewDecimal128Builder(fxMem, dt)
	defer b.Release()
	for _, x := range v {
		b.Append(decimal128.FromU64(x))
	}
	return fxCol{fxField(name, dt, stat), b.NewArray()}
}

func fxStructCol(name string, hi, lo []int64) fxCol {
	dt := arrow.StructOf(arrow.Field{Name: "hi", Type: arrow.PrimitiveTypes.Int64}, arrow.Field{Name: "lo", Type: arrow.PrimitiveTypes.Int64})
	b := array.NewStructBuilder(fxMem, dt)
	defer b.Release()
	for i := range hi {
		b.Append(true)
		b.FieldBuilder(0).(*array.Int64Builder).Append(hi[i])
		b.FieldBuilder(1).(*array.Int64Builder).Append(lo[i])
	}
	return fxCol{fxField(name, dt, "sum"), b.NewArray()}
}

func fxListCol(name string, v [][]int64) fxCol {
	b := array.NewListBuilder(fxMem, arrow.PrimitiveTypes.Int64)
	defer b.Release()
	vb := b.ValueBuilder().(*array.Int64Builder)
	for _, x := range v {
		b.Append(true)
		vb.AppendValues(x, nil)
	}
	return fxCol{fxField(name, arrow.ListOf(arrow.PrimitiveTypes.Int64), "count"), b.NewArray()}
}

func fxTimestampCol(name string, v []int64) fxCol {
	dt := &arrow.TimestampType{Unit: arrow.Second, TimeZone: "Asia/Shanghai"}
	b := array.NewTimestampBuilder(fxMem, dt)
	defer b.Release()
	for _, x := range v {
		b.Append(arrow.Timestamp(x))
	}
	return fxCol{fxField(name, dt, ""), b.NewArray()}
}

// Containers.

func fxZip(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fxTar(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(data)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fxGzip(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fxVictimsCSV is a plain CSV of the victims' pseudonyms and phones.
func fxVictimsCSV(c *suiteEnv) []byte {
	var rows [][]string
	for _, r := range c.fx.sample(fxVictims) {
		rows = append(rows, []string{r.pseudonym, r.phone, r.district})
	}
	return []byte(fxCSV([]string{"pseudonym", "phone", "district"}, rows))
}

// fxChart is a bar chart PNG of the ordinary districts' counts.
func fxChart(c *suiteEnv) []byte {
	var v []float64
	for _, g := range c.fx.groupBy(fxOrdinary, fxByDistrict) {
		v = append(v, float64(g.n))
	}
	return fxEncodePNG(c.t, fxBarChart(v))
}

func fxJoinVictims(c *suiteEnv, f func(suiteRec) string, sep string) string {
	return strings.Join(fxVictimsCol(c, f), sep)
}
