package checks

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// The fixture of the contract suites: one dataset version of
// administrative penalty decisions, as the importer stores it (pseudonyms
// already keyed hashes, phones masked), generated deterministically.

const (
	fxLevel  = "general-3"
	fxMarket = "authorized"
	fxRows   = 2000
	// fxPersons is how many people the decisions concern; a pseudonym
	// recurs a few times at most, far below MinCell, except the repeat
	// offender's, who has fxRepeats decisions.
	fxPersons = 1700
	fxRepeats = 12

	// fxDominantDistrict holds one decision that makes up almost all of the
	// district's total; fxFlatDistrict's penalties are all the same fixed
	// fine. Honest magnitude tables by district leave both out.
	fxDominantDistrict = "马尾区"
	fxFlatDistrict     = "长乐区"
	fxDominantPenalty  = 2_000_000.0
	fxFlatPenalty      = 2000.0
)

// fxDistricts are the districts and their division codes (of case numbers
// and USCC codes).
var fxDistricts = []struct{ name, code string }{
	{"思明区", "0203"}, {"湖里区", "0206"}, {"集美区", "0211"}, {"海沧区", "0205"},
	{"同安区", "0212"}, {"翔安区", "0213"}, {"鼓楼区", "0102"}, {"台江区", "0103"},
	{"仓山区", "0104"}, {"晋安区", "0111"}, {fxDominantDistrict, "0105"}, {fxFlatDistrict, "0112"},
}

// fxIndustries are the industry categories with their weights: the last
// ones are rare, so that a district x industry cross-tab has small cells.
var fxIndustries = []struct {
	name   string
	weight int
}{
	{"批发和零售业", 26}, {"制造业", 20}, {"住宿和餐饮业", 16}, {"建筑业", 12},
	{"交通运输业", 9}, {"房地产业", 7}, {"信息技术服务业", 6}, {"租赁和商务服务业", 4},
}

var fxPhonePrefixes = []string{"138", "139", "137", "136", "135", "150", "151", "152", "158", "159", "186", "187", "188", "189"}

// fxUSCCAlphabet is the character set of unified social credit codes.
const fxUSCCAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// suiteRec is one input record, in stored form.
type suiteRec struct {
	pseudonym string // 32 lowercase hex, a keyed hash
	phone     string // masked: "138****1234"
	district  string
	industry  string
	caseNo    string // "(2023)闽0203行罚1234号", unique
	uscc      string // 18 characters, unique
	penalty   float64
	year      int64
}

// suiteFixture is the generated input and everything derived from it.
type suiteFixture struct {
	recs  []suiteRec
	input []byte // the records as an Arrow IPC file with marks
	// offender is the pseudonym of the person with fxRepeats decisions:
	// a value of a personal-information column that occurs at least
	// MinCell times.
	offender string
	h        *fingerprint.Hasher
	set      *fingerprint.Set
	// secrets are the identifying values (pseudonyms, phones, case
	// numbers, USCC codes) that no finding may repeat.
	secrets []string
}

var suiteData = sync.OnceValue(func() *suiteFixture {
	fx, err := buildSuiteFixture()
	if err != nil {
		panic(err)
	}
	return fx
})

func buildSuiteFixture() (*suiteFixture, error) {
	rng := rand.New(rand.NewPCG(14, 20240601))
	mac := hmac.New(sha256.New, []byte("pseudonym key of the test importer"))
	persons := make([]string, fxPersons)
	for i := range persons {
		mac.Reset()
		fmt.Fprintf(mac, "person-%05d", i)
		persons[i] = hex.EncodeToString(mac.Sum(nil)[:16])
	}
	totalWeight := 0
	for _, in := range fxIndustries {
		totalWeight += in.weight
	}
	seq := map[string]int{}
	usccs := map[string]bool{}
	recs := make([]suiteRec, fxRows)
	for i := range recs {
		d := fxDistricts[rng.IntN(len(fxDistricts))]
		w := rng.IntN(totalWeight)
		ind := ""
		for _, in := range fxIndustries {
			if w < in.weight {
				ind = in.name
				break
			}
			w -= in.weight
		}
		year := int64(2019 + rng.IntN(6))
		k := fmt.Sprint(year, d.code)
		if seq[k] == 0 {
			seq[k] = 1000 + rng.IntN(400)
		}
		seq[k] += 1 + rng.IntN(3)
		var uscc string
		for uscc == "" || usccs[uscc] {
			b := []byte("9135" + d.code)
			for range 9 {
				b = append(b, fxUSCCAlphabet[rng.IntN(len(fxUSCCAlphabet))])
			}
			uscc = string(append(b, fxUSCCCheck(b)))
		}
		usccs[uscc] = true
		var pen float64
		switch d.name {
		case fxDominantDistrict:
			pen = 100 + 300*rng.Float64()
		case fxFlatDistrict:
			pen = fxFlatPenalty
		default:
			pen = max(50, math.Exp(8.5+1.2*rng.NormFloat64()))
		}
		recs[i] = suiteRec{
			pseudonym: persons[rng.IntN(len(persons))],
			phone:     fmt.Sprintf("%s****%04d", fxPhonePrefixes[rng.IntN(len(fxPhonePrefixes))], rng.IntN(10000)),
			district:  d.name,
			industry:  ind,
			caseNo:    fmt.Sprintf("(%d)闽%s行罚%d号", year, d.code, seq[k]),
			uscc:      uscc,
			penalty:   math.Round(pen*100) / 100,
			year:      year,
		}
	}
	for i := range recs {
		if recs[i].district == fxDominantDistrict {
			recs[i].penalty = fxDominantPenalty
			break
		}
	}
	// The repeat offender: one person in decisions spread over the table
	// (after the first records, which the encoding cases carry).
	offender := persons[len(persons)-1]
	for k := range fxRepeats {
		recs[500+97*k].pseudonym = offender
	}
	fx := &suiteFixture{recs: recs, offender: offender}
	rec := fx.record(memory.NewGoAllocator())
	defer rec.Release()
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err != nil {
		return nil, err
	}
	if err := w.Write(rec); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	fx.input = buf.Bytes()

	key := make([]byte, fingerprint.KeySize)
	for i := range key {
		key[i] = byte(31*i + 5)
	}
	if fx.h, err = fingerprint.NewHasher(key); err != nil {
		return nil, err
	}
	// As the importer does: value fingerprints of the personal-information
	// columns (their stored forms), row fingerprints of every row, cells
	// formatted with CellString.
	b := fingerprint.NewBuilder()
	b.SetKeyID(fx.h.ID())
	for _, r := range recs {
		for _, v := range []string{r.pseudonym, r.phone} {
			for _, x := range fx.h.Value(v) {
				b.AddValue(x)
			}
		}
	}
	cells := make([]string, rec.NumCols())
	for i := range int(rec.NumRows()) {
		for j, c := range rec.Columns() {
			cells[j], _ = fingerprint.CellString(c, i)
		}
		b.AddRow(fx.h.Row(cells))
	}
	if fx.set, err = b.Build(); err != nil {
		return nil, err
	}
	for _, r := range recs {
		fx.secrets = append(fx.secrets, r.pseudonym, r.phone, r.caseNo, r.uscc)
	}
	return fx, nil
}

// fxUSCCCheck is the check character of the first 17 characters of a USCC
// code (GB 32100-2015).
func fxUSCCCheck(b []byte) byte {
	weights := []int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	sum := 0
	for i, c := range b[:17] {
		sum += strings.IndexByte(fxUSCCAlphabet, c) * weights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return fxUSCCAlphabet[c]
}

// record is the input as one record batch with the importer's marks.
func (fx *suiteFixture) record(mem memory.Allocator) arrow.RecordBatch {
	n := len(fx.recs)
	get := func(f func(r suiteRec) string) []string {
		out := make([]string, n)
		for i, r := range fx.recs {
			out[i] = f(r)
		}
		return out
	}
	pens := make([]float64, n)
	years := make([]int64, n)
	for i, r := range fx.recs {
		pens[i], years[i] = r.penalty, r.year
	}
	pi := func(typ string) map[string]string { return map[string]string{"enclave.pi": typ} }
	cols := []fxCol{
		fxStrCol("pseudonym", "", get(func(r suiteRec) string { return r.pseudonym })).meta(pi("pseudonym")),
		fxStrCol("phone", "", get(func(r suiteRec) string { return r.phone })).meta(pi("phone")),
		fxStrCol("district", "", get(func(r suiteRec) string { return r.district })),
		fxStrCol("industry", "", get(func(r suiteRec) string { return r.industry })),
		fxStrCol("case_no", "", get(func(r suiteRec) string { return r.caseNo })),
		fxStrCol("uscc", "", get(func(r suiteRec) string { return r.uscc })),
		fxF64Col("penalty", "", pens),
		fxI64Col("year", "", years),
	}
	md := map[string]string{"enclave.dataset": "credit_penalties", "enclave.version": "3"}
	maps.Copy(md, marksMeta(fxLevel, fxMarket))
	return fxRecord(mem, md, cols)
}

// column returns the values of one field of every record.
func (fx *suiteFixture) column(f func(r suiteRec) string) []string {
	out := make([]string, len(fx.recs))
	for i, r := range fx.recs {
		out[i] = f(r)
	}
	return out
}

// sample returns the first n records: the victims of the encoding cases.
func (fx *suiteFixture) sample(n int) []suiteRec { return fx.recs[:n] }

// fxGroup is the records behind one cell.
type fxGroup struct {
	key  []string
	n    int64
	sum  float64
	vals []float64
}

func (g *fxGroup) mean() float64 { return g.sum / float64(g.n) }

// groupBy groups the records (all of them when keep is nil) by key, in
// the order of the sorted keys.
func (fx *suiteFixture) groupBy(keep func(r suiteRec) bool, key func(r suiteRec) []string) []*fxGroup {
	m := map[string]*fxGroup{}
	for _, r := range fx.recs {
		if keep != nil && !keep(r) {
			continue
		}
		k := key(r)
		id := strings.Join(k, "\x00")
		g := m[id]
		if g == nil {
			g = &fxGroup{key: k}
			m[id] = g
		}
		g.n++
		g.sum += r.penalty
		g.vals = append(g.vals, r.penalty)
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]*fxGroup, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out
}

func fxByDistrict(r suiteRec) []string { return []string{r.district} }

// fxOrdinary keeps the records of districts whose magnitudes may be shown.
func fxOrdinary(r suiteRec) bool {
	return r.district != fxDominantDistrict && r.district != fxFlatDistrict
}

func fxRound2(v float64) float64 { return math.Round(v*100) / 100 }

// fxCol is a column of a test table: an Arrow field (with its marks) and
// its values.
type fxCol struct {
	f arrow.Field
	a arrow.Array
}

// meta adds field metadata.
func (c fxCol) meta(kv map[string]string) fxCol {
	md := map[string]string{}
	for i, k := range c.f.Metadata.Keys() {
		md[k] = c.f.Metadata.Values()[i]
	}
	maps.Copy(md, kv)
	c.f.Metadata = arrow.MetadataFrom(md)
	return c
}

var fxMem = memory.NewGoAllocator()

// field is a nullable field marked at the fixture's level, with an
// enclave.stat mark when stat is not empty.
func fxField(name string, dt arrow.DataType, stat string) arrow.Field {
	md := map[string]string{MarkLevel: fxLevel}
	if stat != "" {
		md[MarkStat] = stat
	}
	return arrow.Field{Name: name, Type: dt, Nullable: true, Metadata: arrow.MetadataFrom(md)}
}

func fxStrCol(name, stat string, v []string) fxCol {
	b := array.NewStringBuilder(fxMem)
	defer b.Release()
	b.AppendValues(v, nil)
	return fxCol{fxField(name, arrow.BinaryTypes.String, stat), b.NewArray()}
}

func fxI64Col(name, stat string, v []int64) fxCol {
	return fxI64ColValid(name, stat, v, nil)
}

// fxI64ColValid is fxI64Col with nulls where valid is false.
func fxI64ColValid(name, stat string, v []int64, valid []bool) fxCol {
	b := array.NewInt64Builder(fxMem)
	defer b.Release()
	b.AppendValues(v, valid)
	return fxCol{fxField(name, arrow.PrimitiveTypes.Int64, stat), b.NewArray()}
}

func fxF64Col(name, stat string, v []float64) fxCol {
	b := array.NewFloat64Builder(fxMem)
	defer b.Release()
	b.AppendValues(v, nil)
	return fxCol{fxField(name, arrow.PrimitiveTypes.Float64, stat), b.NewArray()}
}

func fxRecord(mem memory.Allocator, schemaMeta map[string]string, cols []fxCol) arrow.RecordBatch {
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	n := 0
	for i, c := range cols {
		fields[i], arrs[i], n = c.f, c.a, c.a.Len()
	}
	md := arrow.MetadataFrom(schemaMeta)
	rec := array.NewRecordBatch(arrow.NewSchema(fields, &md), arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

// fxTable writes cols as a table of kind (Arrow file or stream, or
// Parquet) with the fixture's marks and the extra schema metadata.
func fxTable(t testing.TB, kind Kind, extra map[string]string, cols []fxCol) []byte {
	t.Helper()
	md := marksMeta(fxLevel, fxMarket)
	maps.Copy(md, extra)
	rec := fxRecord(fxMem, md, cols)
	defer rec.Release()
	var buf bytes.Buffer
	switch kind {
	case KindArrowFile:
		w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(rec.Schema()))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case KindArrowStream:
		w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case KindParquet:
		tbl := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
		defer tbl.Release()
		if err := pqarrow.WriteTable(tbl, &buf, 1024, parquet.NewWriterProperties(),
			pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("tableBytes: kind %s is not a table", kind)
	}
	return buf.Bytes()
}

// fxCSV renders a header and rows as CSV (no cell needs quoting here).
func fxCSV(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString(strings.Join(header, ",") + "\n")
	for _, r := range rows {
		b.WriteString(strings.Join(r, ",") + "\n")
	}
	return b.String()
}

// fxManifestEntry is one file of MANIFEST.json as the contract reads it.
type fxManifestEntry struct {
	Level   string                       `json:"level"`
	Market  string                       `json:"market"`
	Labels  []string                     `json:"labels,omitempty"`
	Columns map[string]map[string]string `json:"columns,omitempty"`
}

// suiteEnv is one export request of the contract suites: the fixture as its
// input (an Arrow file on disk, fingerprints keyed by the request's
// Hasher) and outputs with correct marks, so that only content decides.
type suiteEnv struct {
	*env
	fx       *suiteFixture
	manifest map[string]*fxManifestEntry
}

func newSuiteEnv(t *testing.T) *suiteEnv {
	t.Helper()
	fx := suiteData()
	in := filepath.Join(t.TempDir(), "credit_penalties.v3.arrow")
	if err := os.WriteFile(in, fx.input, 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: t.TempDir(), h: fx.h, mem: memory.NewCheckedAllocator(memory.NewGoAllocator())}
	e.req = &review.Request{
		Hasher: fx.h,
		Inputs: []review.Input{{
			Dataset: "credit_penalties", Version: 3, Level: fxLevel, Market: fxMarket, HasPI: true,
			Marks:        map[string]string{MarkLevel: fxLevel, MarkMarket: fxMarket, "enclave.category": "credit"},
			Fingerprints: fx.set, Rows: int64(len(fx.recs)), Path: in,
		}},
	}
	return &suiteEnv{env: e, fx: fx, manifest: map[string]*fxManifestEntry{}}
}

// table adds an Arrow or Parquet output.
func (c *suiteEnv) table(name string, kind Kind, cols ...fxCol) {
	c.t.Helper()
	c.add(name, fxTable(c.t, kind, nil, cols))
}

// file adds a non-Arrow output and declares its marks in the manifest.
func (c *suiteEnv) file(name string, data []byte) {
	c.t.Helper()
	c.add(name, data)
	c.entry(name)
}

func (c *suiteEnv) text(name, s string) { c.file(name, []byte(s)) }

func (c *suiteEnv) entry(name string) *fxManifestEntry {
	m := c.manifest[name]
	if m == nil {
		m = &fxManifestEntry{Level: fxLevel, Market: fxMarket}
		c.manifest[name] = m
	}
	return m
}

// stats declares the statistics of a CSV's columns (name, stat pairs).
func (c *suiteEnv) stats(name string, pairs ...string) {
	m := c.entry(name)
	if m.Columns == nil {
		m.Columns = map[string]map[string]string{}
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		m.Columns[pairs[i]] = map[string]string{"stat": pairs[i+1]}
	}
}

// labels declares labels of a file in the manifest.
func (c *suiteEnv) labels(name string, l ...string) {
	m := c.entry(name)
	m.Labels = append(m.Labels, l...)
}

// review writes MANIFEST.json (when any file needs it) and runs every
// default check over the request.
func (c *suiteEnv) review() review.Result {
	c.t.Helper()
	if len(c.manifest) > 0 {
		files := map[string]*fxManifestEntry{}
		maps.Copy(files, c.manifest)
		data, err := json.Marshal(map[string]any{"files": files})
		if err != nil {
			c.t.Fatal(err)
		}
		c.add(review.ManifestName, data)
	}
	return c.run()
}

// Encodings of one value, as a hostile job would write them.

func encReverse(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}

// encSubstitute maps every character of s found in alphabet through a fixed
// permutation of the alphabet.
func encSubstitute(s, alphabet string, seed uint64) string {
	perm := rand.New(rand.NewPCG(seed, 99)).Perm(len(alphabet))
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if j := strings.IndexByte(alphabet, s[i]); j >= 0 {
			b.WriteByte(alphabet[perm[j]])
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// encShift rotates every character of s found in alphabet by k places.
func encShift(s, alphabet string, k int) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if j := strings.IndexByte(alphabet, s[i]); j >= 0 {
			b.WriteByte(alphabet[(j+k)%len(alphabet)])
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func encRot13(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			r = 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			r = 'A' + (r-'A'+13)%26
		}
		b.WriteRune(r)
	}
	return b.String()
}

func encSwapPairs(s string) string {
	b := []byte(s)
	for i := 0; i+1 < len(b); i += 2 {
		b[i], b[i+1] = b[i+1], b[i]
	}
	return string(b)
}

func encXorHex(s string, k byte) string {
	b := []byte(s)
	for i := range b {
		b[i] ^= k
	}
	return hex.EncodeToString(b)
}

func encPercent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func encHTMLEntities(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, "&#%d;", r)
	}
	return b.String()
}

func encJSONEscapes(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

var encDigitWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// encEnglish spells digits as English words, hex letters in the NATO
// alphabet and '*' as "star", separated by spaces.
func encEnglish(s string) string {
	nato := map[byte]string{'a': "alfa", 'b': "bravo", 'c': "charlie", 'd': "delta", 'e': "echo", 'f': "foxtrot", '*': "star"}
	var w []string
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			w = append(w, encDigitWords[c-'0'])
		} else {
			w = append(w, nato[c])
		}
	}
	return strings.Join(w, " ")
}

// encChinese writes digits as Chinese numerals (〇一二…九).
func encChinese(s string) string {
	const num = "〇一二三四五六七八九"
	digits := []rune(num)
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(digits[r-'0'])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// encHexWords returns the four 32-bit words of a 32-hex-digit pseudonym.
func encHexWords(p string) [4]uint32 {
	var w [4]uint32
	raw, _ := hex.DecodeString(p)
	for i := range w {
		w[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	return w
}

// encHexHalves returns the two 64-bit halves of a pseudonym.
func encHexHalves(p string) [2]uint64 {
	raw, _ := hex.DecodeString(p)
	return [2]uint64{binary.BigEndian.Uint64(raw), binary.BigEndian.Uint64(raw[8:])}
}

func encPseudonymBytes(p string) []byte {
	raw, _ := hex.DecodeString(p)
	return raw
}

// encPhoneDigits is the digits of a masked phone as a number: 138****1234
// gives 1381234.
func encPhoneDigits(m string) int64 {
	var v int64
	for i := 0; i < len(m); i++ {
		if c := m[i]; c >= '0' && c <= '9' {
			v = 10*v + int64(c-'0')
		}
	}
	return v
}

// Images.

// fxBarChart draws a bar chart of values (one bar each) with axes.
func fxBarChart(values []float64) *image.RGBA {
	const w, h = 640, 400
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.White)
		}
	}
	axis := color.RGBA{0x33, 0x33, 0x33, 0xff}
	for x := 40; x < w-20; x++ {
		img.Set(x, h-40, axis)
	}
	for y := 20; y < h-40; y++ {
		img.Set(40, y, axis)
	}
	top := slices.Max(values)
	bw := (w - 80) / len(values)
	bar := color.RGBA{0x4c, 0x72, 0xb0, 0xff}
	for i, v := range values {
		bh := int(v / top * float64(h-80))
		for x := 48 + i*bw; x < 48+i*bw+bw-8; x++ {
			for y := h - 41 - bh; y < h-41; y++ {
				img.Set(x, y, bar)
			}
		}
	}
	return img
}

func fxEncodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fxPNGChunks inserts chunks after IHDR and appends trailer after IEND.
func fxPNGChunks(p []byte, chunks [][]byte, trailer []byte) []byte {
	const ihdrEnd = 8 + 8 + 13 + 4
	out := append([]byte(nil), p[:ihdrEnd]...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	out = append(out, p[ihdrEnd:]...)
	return append(out, trailer...)
}

func fxEncodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fxJPEGComment inserts a COM segment after SOI and appends trailer
// after EOI.
func fxJPEGComment(j []byte, comment string, trailer []byte) []byte {
	out := append([]byte(nil), j[:2]...)
	if comment != "" {
		out = append(out, 0xff, 0xfe)
		out = binary.BigEndian.AppendUint16(out, uint16(len(comment)+2))
		out = append(out, comment...)
	}
	out = append(out, j[2:]...)
	return append(out, trailer...)
}

// fxMatplotlib is the tEXt chunk matplotlib writes into every PNG.
var fxMatplotlib = pngChunk("tEXt", []byte("Software\x00matplotlib version3.8.2, https://matplotlib.org/"))

// fxPDF is a minimal PDF whose single page shows lines (content stream
// uncompressed, or Flate-compressed when compress is set).
func fxPDF(lines []string, compress bool, hidden []string) []byte {
	var content strings.Builder
	content.WriteString("BT /F1 11 Tf 72 760 Td 14 TL\n")
	for _, l := range lines {
		fmt.Fprintf(&content, "(%s) Tj T*\n", l)
	}
	content.WriteString("ET\n")
	if len(hidden) > 0 {
		// White, one-point text off the visible page.
		content.WriteString("BT 1 1 1 rg /F1 1 Tf 700 -50 Td\n")
		for _, l := range hidden {
			fmt.Fprintf(&content, "(%s) Tj\n", l)
		}
		content.WriteString("ET\n")
	}
	stream := []byte(content.String())
	filter := ""
	if compress {
		stream = zlibBytes(stream)
		filter = " /Filter /FlateDecode"
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	b.WriteString("1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
	b.WriteString("2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n")
	b.WriteString("3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >> endobj\n")
	fmt.Fprintf(&b, "4 0 obj << /Length %d%s >> stream\n", len(stream), filter)
	b.Write(stream)
	b.WriteString("\nendstream endobj\n")
	b.WriteString("5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n")
	b.WriteString("trailer << /Root 1 0 R >>\n%%EOF\n")
	return b.Bytes()
}
