package checks

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"

	review "github.com/enclave-dev/enclave/egress-review"
)

// outTable is an output table with what the contract knows to judge it.
type outTable struct {
	file     string
	cols     []*outCol
	rows     int
	pr       *profile
	p        review.Params
	declared map[string]bool
}

// totalLabel reports whether a label stands for every value of its column
// (the margins of a cross-tab).
func totalLabel(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "total", "all", "overall", "总计", "合计", "全部":
		return true
	}
	return false
}

// judge applies the table rules and returns the failures (none when the
// table is aggregate).
func (t *outTable) judge() []review.Finding {
	var out []review.Finding
	add := func(v review.Verdict, col string, n int, ev string) {
		out = append(out, review.Finding{Verdict: v, File: t.file, Column: col, Count: n, Evidence: ev})
	}
	fail := func(col string, n int, ev string) { add(review.VerdictFail, col, n, ev) }
	var labels, counts, mags, models, shares []*outCol
	for _, c := range t.cols {
		switch {
		case c.bad != "":
			fail(c.name, 0, fmt.Sprintf("a column of type %s is neither a category label nor a statistic", c.bad))
			continue
		case c.isLabel:
			labels = append(labels, c)
			continue
		}
		switch c.stat {
		case "count":
			counts = append(counts, c)
		case "sum", "mean", "std":
			mags = append(mags, c)
		case "share":
			shares = append(shares, c)
		case "model", "dof":
			models = append(models, c)
		case "top1", "top2":
			fail(c.name, 0, "the contribution of a single record is not an aggregate")
		case "":
			fail(c.name, 0, "a numeric column that is not a declared statistic (enclave.stat mark or MANIFEST.json)")
		default:
			fail(c.name, 0, "a column declared as a statistic the contract does not know")
		}
		if c.notNum > 0 {
			fail(c.name, c.notNum, fmt.Sprintf("%d cells of a statistic column are not numbers", c.notNum))
		}
	}
	// Labels: every cell a category label, few distinct per column.
	for _, c := range labels {
		badCode := make([]bool, len(c.dict))
		anyBad := false
		for k, s := range c.dict {
			badCode[k] = !t.pr.isLabel(s) && !t.declared[s] && !totalLabel(s)
			anyBad = anyBad || badCode[k]
		}
		if anyBad {
			bad := 0
			for _, k := range c.codes {
				if k >= 0 && badCode[k] {
					bad++
				}
			}
			fail(c.name, bad, fmt.Sprintf("%d cells are not category labels (values that occur at least %d times in the inputs, column names or declared labels)", bad, t.p.MinCell))
		}
		if len(c.dict) > t.p.MaxLabels {
			fail(c.name, len(c.dict), fmt.Sprintf("%d distinct labels, more than %d", len(c.dict), t.p.MaxLabels))
		}
	}
	// Label columns that hold only declared labels the inputs do not have
	// (notes such as "suppressed") annotate rows; the others group them.
	var grouping []*outCol
	for _, c := range labels {
		if !t.annotation(c) {
			grouping = append(grouping, c)
		}
	}
	labels = grouping
	// Rows: one per group.
	if len(labels) > 0 {
		seen := make(map[string]struct{}, t.rows)
		dup := 0
		key := make([]byte, 4*len(labels))
		for r := 0; r < t.rows; r++ {
			for j, c := range labels {
				binary.LittleEndian.PutUint32(key[4*j:], uint32(c.codes[r]))
			}
			if _, ok := seen[string(key)]; ok {
				dup++
			} else {
				seen[string(key)] = struct{}{}
			}
		}
		if dup > 0 {
			fail("", dup, fmt.Sprintf("%d rows repeat the labels of another row: rows are not one per group", dup))
		}
	} else if t.rows > 1 && len(counts)+len(mags)+len(models) > 0 {
		fail("", t.rows, "several rows of statistics without a label column: rows cannot stand for groups")
	}
	// Model figures cannot be traced to the inputs: their digits pay the
	// budget of one text file (round coefficients to the precision that
	// their standard errors justify).
	if len(models) > 0 {
		bits := 0.0
		for _, c := range models {
			for _, v := range c.nums {
				if !math.IsNaN(v) {
					bits += float64(significant(digitsOf(v))) * log2of10
				}
			}
		}
		if limit := t.p.TextBudgetBits; bits > limit {
			fail("", 0, fmt.Sprintf("model figures carry %.0f bits in their digits, over the budget of %.0f", bits, limit))
		}
	}
	failed := len(out) > 0
	if t.rows > 2 && !t.ordered(labels, append(append(counts[:len(counts):len(counts)], mags...), models...)) {
		add(review.VerdictReview, "", t.rows, fmt.Sprintf("the %d rows are in neither the order of their labels nor that of a statistic: their order can carry up to %.0f bits", t.rows, orderBits(t.rows)))
	}
	if len(counts)+len(mags)+len(shares) == 0 || failed {
		return out
	}
	g, why := t.recover(labels)
	if g == nil {
		fail("", t.rows, "the group of input records behind the cells cannot be recovered: "+why)
		return out
	}
	// Shares stand for their groups as counts do.
	out = append(out, t.disclosure(g, labels, append(counts[:len(counts):len(counts)], shares...), mags)...)
	return out
}

// annotation reports whether a label column holds only declared labels
// that are not labels of the inputs, or nothing.
func (t *outTable) annotation(c *outCol) bool {
	for _, s := range c.dict {
		if !t.declared[s] || t.pr.labels[s] {
			return false
		}
	}
	return true
}

// digitsOf returns the digits of v's shortest decimal form.
func digitsOf(v float64) string {
	s := strconv.FormatFloat(math.Abs(v), 'e', -1, 64)
	m, _, _ := strings.Cut(s, "e")
	return strings.ReplaceAll(m, ".", "")
}

// groups are the input records grouped by the input columns that an
// output table's label columns match.
type groups struct {
	src  *inputTable
	cols []*inputCol // per output label column
	nums []*inputCol // the numeric columns of src
	base map[string]*cellGroup
	// the base group of every input record, and the base groups by index
	of          []int32
	bases       []*cellGroup
	presentDone bool
}

// cellGroup is what the rules need of a group of input records, per numeric
// input column.
type cellGroup struct {
	index   int32 // among the base groups, while grouping
	n       int
	codes   []int32
	stats   []numStats
	present []int // per column of the source: records with a value
}

type numStats struct {
	n           int
	sum, sumAbs float64
	sumSq       float64
	top1, top2  float64 // the largest absolute contributions
	minV, maxV  float64
	hasMin      bool
}

func (s *numStats) add(v float64) {
	s.n++
	s.sum += v
	s.sumSq += v * v
	a := math.Abs(v)
	s.sumAbs += a
	switch {
	case a > s.top1:
		s.top1, s.top2 = a, s.top1
	case a > s.top2:
		s.top2 = a
	}
	if !s.hasMin || v < s.minV {
		s.minV = v
	}
	if !s.hasMin || v > s.maxV {
		s.maxV = v
	}
	s.hasMin = true
}

// aggregate returns the group's sum, mean or standard deviation (variant
// 0: of a sample, 1: of the whole group; NaN when undefined).
func (s *numStats) aggregate(stat string, variant int) float64 {
	n := float64(s.n)
	switch stat {
	case "mean":
		return s.sum / n
	case "std":
		d := n - 1
		if variant == 1 {
			d = n
		}
		if d <= 0 {
			return math.NaN()
		}
		return math.Sqrt(max(0, s.sumSq-s.sum*s.sum/n) / d)
	}
	return s.sum
}

func (s *numStats) merge(o *numStats) {
	if o.n == 0 {
		return
	}
	s.n += o.n
	s.sum += o.sum
	s.sumSq += o.sumSq
	s.sumAbs += o.sumAbs
	for _, a := range []float64{o.top1, o.top2} {
		switch {
		case a > s.top1:
			s.top1, s.top2 = a, s.top1
		case a > s.top2:
			s.top2 = a
		}
	}
	if !s.hasMin || o.minV < s.minV {
		s.minV = o.minV
	}
	if !s.hasMin || o.maxV > s.maxV {
		s.maxV = o.maxV
	}
	s.hasMin = true
}

// recover matches the label columns to the columns of one input (by name
// first, then by holding every label) and groups its records by them.
func (t *outTable) recover(labels []*outCol) (*groups, string) {
	why := "no input holds every label of the table's label columns in its columns"
	for _, src := range t.pr.tables {
		cols := make([]*inputCol, len(labels))
		ok := true
		for j, l := range labels {
			cols[j] = matchColumn(src, l)
			if cols[j] == nil {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		g := &groups{src: src, cols: cols, base: map[string]*cellGroup{}}
		for _, c := range src.cols {
			if c.nums != nil {
				g.nums = append(g.nums, c)
			}
		}
		if len(labels)*src.rows > 1<<28 {
			return nil, "the inputs are too large to group"
		}
		// Each record's group: by its codes packed into an integer when
		// they fit (the common case), else by their bytes.
		shifts, packed := packing(cols)
		// First the group of every record, then the figures column by
		// column (tight loops over one column and the groups' slots).
		key := make([]byte, 4*len(cols))
		var bases []*cellGroup
		of := make([]int32, src.rows)
		var last int32 = -1
		var lastKey uint64
		var byInt map[uint64]int32
		if packed {
			byInt = map[uint64]int32{}
		}
		for r := 0; r < src.rows; r++ {
			if packed {
				var k uint64
				for j, c := range cols {
					k |= uint64(c.codes[r]+1) << shifts[j]
				}
				if last < 0 || k != lastKey {
					b, ok := byInt[k]
					if !ok {
						b = int32(len(bases))
						bases = append(bases, g.newBase(cols, r, key))
						byInt[k] = b
					}
					last, lastKey = b, k
				}
				of[r] = last
				continue
			}
			for j, c := range cols {
				binary.LittleEndian.PutUint32(key[4*j:], uint32(c.codes[r]))
			}
			gr := g.base[string(key)]
			if gr == nil {
				gr = g.newBase(cols, r, key)
				gr.index = int32(len(bases))
				bases = append(bases, gr)
			}
			of[r] = gr.index
		}
		for _, b := range of {
			bases[b].n++
		}
		for k, c := range g.nums {
			for r, v := range c.nums {
				if !math.IsNaN(v) {
					bases[of[r]].stats[k].add(v)
				}
			}
		}
		g.of, g.bases = of, bases
		return g, ""
	}
	return nil, why
}

// packing returns the shift of each column's code in a packed group key,
// and whether the codes (plus one, for null) fit in 64 bits.
func packing(cols []*inputCol) ([]uint, bool) {
	shifts := make([]uint, len(cols))
	var at uint
	for j, c := range cols {
		shifts[j] = at
		at += uint(bits.Len(uint(len(c.dict) + 1)))
	}
	return shifts, at <= 64
}

// newBase adds the base group of input record r, whose label codes are
// written into key.
func (g *groups) newBase(cols []*inputCol, r int, key []byte) *cellGroup {
	gr := g.empty()
	gr.codes = make([]int32, len(cols))
	for j, c := range cols {
		gr.codes[j] = c.codes[r]
		binary.LittleEndian.PutUint32(key[4*j:], uint32(c.codes[r]))
	}
	g.base[string(key)] = gr
	return gr
}

// matchColumn returns the categorical column of src that holds every label
// of l (totals aside), preferring one of the same name.
func matchColumn(src *inputTable, l *outCol) *inputCol {
	holds := func(c *inputCol) bool {
		if c.codes == nil {
			return false
		}
		for _, s := range l.dict {
			if totalLabel(s) {
				continue
			}
			if _, ok := c.index[s]; !ok {
				return false
			}
		}
		return true
	}
	cands := make([]*inputCol, 0, len(src.cols))
	cands = append(cands, src.cols...)
	sort.SliceStable(cands, func(i, j int) bool {
		return strings.EqualFold(cands[i].name, l.name) && !strings.EqualFold(cands[j].name, l.name)
	})
	for _, c := range cands {
		if holds(c) {
			return c
		}
	}
	return nil
}

// fillPresent counts, per base group and input column, the records with a
// value: only count columns that are not the records of their group need
// it, so it is done on demand, once.
func (g *groups) fillPresent() {
	if g.presentDone {
		return
	}
	g.presentDone = true
	for k, c := range g.src.cols {
		switch {
		case c.codes != nil:
			for r, code := range c.codes {
				if code >= 0 {
					g.bases[g.of[r]].present[k]++
				}
			}
		case c.nums != nil:
			for r, v := range c.nums {
				if !math.IsNaN(v) {
					g.bases[g.of[r]].present[k]++
				}
			}
		}
	}
}

// empty returns a group of no records.
func (g *groups) empty() *cellGroup {
	return &cellGroup{stats: make([]numStats, len(g.nums)), present: make([]int, len(g.src.cols))}
}

// wildcard is the input code of a label that stands for every value.
const wildcard = -2

// translate returns, per label column, the input code of each of its
// labels (wildcard for totals).
func (g *groups) translate(labels []*outCol) [][]int32 {
	out := make([][]int32, len(labels))
	for j, l := range labels {
		out[j] = make([]int32, len(l.dict))
		for k, s := range l.dict {
			if totalLabel(s) {
				out[j][k] = wildcard
				continue
			}
			out[j][k] = g.cols[j].index[s] // held: matchColumn checked
		}
	}
	return out
}

// rowGroup returns the merged group of output row r: the base groups whose
// codes match its labels, any value where the label is null or a total.
func (g *groups) rowGroup(labels []*outCol, tr [][]int32, r int, key []byte) *cellGroup {
	wild := false
	for j, l := range labels {
		k := int32(wildcard)
		if oc := l.codes[r]; oc >= 0 {
			k = tr[j][oc]
		}
		wild = wild || k == wildcard
		binary.LittleEndian.PutUint32(key[4*j:], uint32(k))
	}
	if !wild {
		if gr := g.base[string(key)]; gr != nil {
			return gr
		}
		return g.empty()
	}
	m := g.empty()
	for _, gr := range g.base {
		match := true
		for j := range labels {
			k := int32(binary.LittleEndian.Uint32(key[4*j:]))
			if k != wildcard && gr.codes[j] != k {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		m.n += gr.n
		for k := range m.stats {
			m.stats[k].merge(&gr.stats[k])
		}
		for k := range m.present {
			m.present[k] += gr.present[k]
		}
	}
	return m
}

// disclosure applies the rules to the records behind every cell.
func (t *outTable) disclosure(g *groups, labels, counts, mags []*outCol) []review.Finding {
	var out []review.Finding
	p := t.p
	add := func(v review.Verdict, col string, n int, ev string) {
		out = append(out, review.Finding{Verdict: v, File: t.file, Column: col, Count: n, Evidence: ev})
	}
	// Rows with totals merge base groups: bound that work.
	totals := 0
	for r := 0; r < t.rows; r++ {
		for _, l := range labels {
			if k := l.codes[r]; k < 0 || totalLabel(l.dict[k]) {
				totals++
				break
			}
		}
	}
	if totals*len(g.base) > 1<<26 {
		add(review.VerdictFail, "", totals, "too many total rows and groups to trace")
		return out
	}
	rowGroups := make([]*cellGroup, t.rows)
	tr := g.translate(labels)
	key := make([]byte, 4*len(labels))
	for r := range rowGroups {
		rowGroups[r] = g.rowGroup(labels, tr, r, key)
	}
	isNull := func(v float64) bool { return math.IsNaN(v) }
	small, empty, zeros := 0, 0, 0
	for r, gr := range rowGroups {
		anyCell, nonZero := false, false
		for _, c := range append(counts[:len(counts):len(counts)], mags...) {
			if v := c.nums[r]; !isNull(v) {
				anyCell = true
				nonZero = nonZero || v != 0
			}
		}
		switch {
		case !anyCell:
			// a suppressed row
		case gr.n == 0 && !nonZero:
			zeros++
		case gr.n == 0:
			empty++
		case gr.n < p.MinCell:
			small++
		}
	}
	if n := t.margins(labels, rowGroups, counts, mags); n > 0 {
		add(review.VerdictFail, "", n, fmt.Sprintf("%d totals less the rows shown under them leave a group of fewer than %d records (a suppressed cell recovered by subtraction)", n, p.MinCell))
	}
	if empty > 0 {
		add(review.VerdictFail, "", empty, fmt.Sprintf("%d rows have figures but no input records behind their labels", empty))
	}
	if small > 0 {
		add(review.VerdictFail, "", small, fmt.Sprintf("%d rows stand for fewer than %d input records", small, p.MinCell))
	}
	if zeros > 0 {
		add(review.VerdictReview, "", zeros, fmt.Sprintf("%d rows for label combinations with no input records (structural zeros need a look)", zeros))
	}
	for _, c := range counts {
		if c.stat == "share" {
			if bad := g.shareSource(c, rowGroups, p.MagnitudeTolerance); bad > 0 {
				add(review.VerdictFail, c.name, bad, fmt.Sprintf("%d cells are not the share of their group's records, of all records or of the rows shown, as a fraction or a percentage", bad))
			}
			continue
		}
		bad := 0
		for r, gr := range rowGroups {
			v := c.nums[r]
			if isNull(v) {
				continue
			}
			if v != math.Trunc(v) || v < 0 || v > float64(gr.n) || v > 0 && v < float64(p.MinCell) {
				bad++
			}
		}
		if bad > 0 {
			add(review.VerdictFail, c.name, bad, fmt.Sprintf("%d counts are not whole numbers between %d and the records of their group", bad, p.MinCell))
			continue
		}
		if unmatched := g.countSource(c, rowGroups, labels, tr); unmatched > 0 {
			add(review.VerdictFail, c.name, unmatched, fmt.Sprintf("%d counts are neither the records of their group nor the records with a value in one input column", unmatched))
		}
	}
	for _, c := range mags {
		k, unmatched := g.source(c, rowGroups, p.MagnitudeTolerance)
		if k < 0 {
			add(review.VerdictFail, c.name, unmatched, fmt.Sprintf("%d cells are not the %s of any input column over their groups", unmatched, c.stat))
			continue
		}
		var dominance, pratio, same, zero int
		for r, gr := range rowGroups {
			v := c.nums[r]
			if isNull(v) || gr.n == 0 {
				continue
			}
			s := gr.stats[k]
			if v == 0 {
				zero++
			}
			if s.n >= 2 && s.minV == s.maxV {
				same++
				continue
			}
			if s.sumAbs > 0 {
				if s.top1+s.top2 > p.DominanceK*s.sumAbs {
					dominance++
				}
				if s.sumAbs-s.top1-s.top2 < p.PRatio*s.top1 {
					pratio++
				}
			}
		}
		if dominance > 0 {
			add(review.VerdictFail, c.name, dominance, fmt.Sprintf("%d cells fail N-K dominance (N=%d, K=%g) over the records behind them", dominance, p.DominanceN, p.DominanceK))
		}
		if pratio > 0 {
			add(review.VerdictFail, c.name, pratio, fmt.Sprintf("%d cells fail the p-ratio rule (p=%g) over the records behind them", pratio, p.PRatio))
		}
		if same > 0 {
			add(review.VerdictFail, c.name, same, fmt.Sprintf("%d cells summarise records that all have the same value", same))
		}
		if zero > 0 {
			add(review.VerdictReview, c.name, zero, fmt.Sprintf("%d magnitude cells are zero (need a look)", zero))
		}
	}
	return out
}

// source returns the index (into g.nums) of the input column whose sum or
// mean (c.stat) over each row's group is the cell, rounded as the column
// rounds all its cells (to the same decimals or significant digits), or
// -1 and the number of cells the best candidate leaves unmatched. Only the
// rounding is free: a figure moved off its aggregate by any amount, within
// a tolerance or not, carries something else.
func (g *groups) source(c *outCol, rowGroups []*cellGroup, tol float64) (int, int) {
	matches := roundedAs(c, tol)
	bestBad := math.MaxInt
	order := make([]int, len(g.nums))
	for k := range order {
		order[k] = k
	}
	lname := strings.ToLower(c.name)
	sort.SliceStable(order, func(i, j int) bool {
		return strings.Contains(lname, strings.ToLower(g.nums[order[i]].name)) && !strings.Contains(lname, strings.ToLower(g.nums[order[j]].name))
	})
	variants := 1
	if c.stat == "std" {
		variants = 2 // of a sample (n-1) or of the whole group (n)
	}
	for _, k := range order {
		// in the input's unit, or in thousands, ten thousands (万),
		// millions or hundred millions (亿) of it
		for _, scale := range []float64{1, 1e-3, 1e-4, 1e-6, 1e-8} {
			for variant := 0; variant < variants; variant++ {
				bad := 0
				for r, gr := range rowGroups {
					v := c.nums[r]
					if math.IsNaN(v) {
						continue
					}
					s := gr.stats[k]
					if s.n == 0 {
						bad++
						continue
					}
					if !matches(v, s.aggregate(c.stat, variant)*scale) {
						bad++
					}
				}
				if bad == 0 {
					return k, 0
				}
				bestBad = min(bestBad, bad)
			}
		}
	}
	if bestBad == math.MaxInt {
		bestBad = len(rowGroups)
	}
	return -1, bestBad
}

// roundDecimals rounds v to d decimals.
func roundDecimals(v float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(v*p) / p
}

// roundSignificant rounds v to n significant digits.
func roundSignificant(v float64, n int) float64 {
	if v == 0 || n <= 0 {
		return v
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', n, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// countSource returns how many cells of a count column the best source
// leaves unmatched: the records of each row's group, the records with a
// value in one input column, or, for a column named for a category (the
// columns of a wide cross-tab), the records of the group in that category
// (0 when one of them matches every cell).
func (g *groups) countSource(c *outCol, rowGroups []*cellGroup, labels []*outCol, tr [][]int32) int {
	best := math.MaxInt
	try := func(want func(r int, gr *cellGroup) int) bool {
		bad := 0
		for r, gr := range rowGroups {
			if v := c.nums[r]; !math.IsNaN(v) && v != float64(want(r, gr)) {
				bad++
			}
		}
		best = min(best, bad)
		return bad == 0
	}
	if try(func(_ int, gr *cellGroup) int { return gr.n }) {
		return 0
	}
	if !g.presentDone {
		// Merged groups (totals) were summed before the counts were
		// there: count, then merge again.
		g.fillPresent()
		key := make([]byte, 4*len(labels))
		for r := range rowGroups {
			rowGroups[r] = g.rowGroup(labels, tr, r, key)
		}
	}
	for k := range g.src.cols {
		if try(func(_ int, gr *cellGroup) int { return gr.present[k] }) {
			return 0
		}
	}
	for _, q := range g.src.cols {
		code, ok := q.index[c.name]
		if !ok || q.codes == nil {
			continue
		}
		in := g.where(q, code)
		key := make([]byte, 4*len(labels))
		if try(func(r int, _ *cellGroup) int { return g.sumMatching(labels, tr, r, key, in) }) {
			return 0
		}
	}
	return best
}

// where counts, per base group, the records whose column q holds code.
func (g *groups) where(q *inputCol, code int32) map[*cellGroup]int {
	out := map[*cellGroup]int{}
	key := make([]byte, 4*len(g.cols))
	for r := 0; r < g.src.rows; r++ {
		if q.codes[r] != code {
			continue
		}
		for j, c := range g.cols {
			binary.LittleEndian.PutUint32(key[4*j:], uint32(c.codes[r]))
		}
		if gr := g.base[string(key)]; gr != nil {
			out[gr]++
		}
	}
	return out
}

// sumMatching adds up counts of the base groups that output row r stands
// for (one, or several where its labels are totals).
func (g *groups) sumMatching(labels []*outCol, tr [][]int32, r int, key []byte, counts map[*cellGroup]int) int {
	wild := false
	for j, l := range labels {
		k := int32(wildcard)
		if oc := l.codes[r]; oc >= 0 {
			k = tr[j][oc]
		}
		wild = wild || k == wildcard
		binary.LittleEndian.PutUint32(key[4*j:], uint32(k))
	}
	if !wild {
		return counts[g.base[string(key)]]
	}
	n := 0
	for gr, v := range counts {
		match := true
		for j := range labels {
			if k := int32(binary.LittleEndian.Uint32(key[4*j:])); k != wildcard && gr.codes[j] != k {
				match = false
				break
			}
		}
		if match {
			n += v
		}
	}
	return n
}

// margins returns how many total rows (a null or total label in some
// columns) exceed the rows shown under them by a group of fewer than
// MinCell records: subtracting the shown rows from the total would give
// the figures of that small group.
func (t *outTable) margins(labels []*outCol, rowGroups []*cellGroup, counts, mags []*outCol) int {
	wild := func(r, j int) bool {
		k := labels[j].codes[r]
		return k < 0 || totalLabel(labels[j].dict[k])
	}
	shown := func(r int) bool {
		for _, c := range append(counts[:len(counts):len(counts)], mags...) {
			if !math.IsNaN(c.nums[r]) {
				return true
			}
		}
		return false
	}
	var totals, leaves []int
	for r := 0; r < t.rows; r++ {
		if !shown(r) {
			continue
		}
		any := false
		for j := range labels {
			any = any || wild(r, j)
		}
		if any {
			totals = append(totals, r)
		} else {
			leaves = append(leaves, r)
		}
	}
	bad := 0
	for _, m := range totals {
		covered := 0
		for _, r := range leaves {
			under := true
			for j := range labels {
				if !wild(m, j) && labels[j].codes[r] != labels[j].codes[m] {
					under = false
					break
				}
			}
			if under {
				covered += rowGroups[r].n
			}
		}
		if rest := rowGroups[m].n - covered; rest > 0 && rest < t.p.MinCell {
			bad++
		}
	}
	return bad
}

// orderBits is log2(n!), what the order of n rows can carry.
func orderBits(n int) float64 {
	lg, _ := math.Lgamma(float64(n) + 1)
	return lg / math.Ln2
}

// ordered reports whether the rows are sorted (ascending or descending) by
// their label columns in turn, or by one statistic column: the orders a
// tool writes. Any other order is a choice the job made.
func (t *outTable) ordered(labels, stats []*outCol) bool {
	cmpLabel := func(c *outCol, a, b int) int {
		x, y := c.codes[a], c.codes[b]
		switch {
		case x == y:
			return 0
		case x < 0:
			return -1
		case y < 0:
			return 1
		}
		sx, sy := c.dict[x], c.dict[y]
		if fx, err := strconv.ParseFloat(sx, 64); err == nil {
			if fy, err := strconv.ParseFloat(sy, 64); err == nil {
				return cmpFloat(fx, fy)
			}
		}
		return strings.Compare(sx, sy)
	}
	monotonic := func(cmp func(a, b int) int) bool {
		up, down := true, true
		for r := 1; r < t.rows && (up || down); r++ {
			switch d := cmp(r-1, r); {
			case d > 0:
				up = false
			case d < 0:
				down = false
			}
		}
		return up || down
	}
	if len(labels) > 0 && monotonic(func(a, b int) int {
		for _, c := range labels {
			if d := cmpLabel(c, a, b); d != 0 {
				return d
			}
		}
		return 0
	}) {
		return true
	}
	for _, c := range stats {
		if monotonic(func(a, b int) int { return cmpFloat(c.nums[a], c.nums[b]) }) {
			return true
		}
	}
	return false
}

// cmpFloat orders numbers, NaN (null) first.
func cmpFloat(x, y float64) int {
	switch {
	case math.IsNaN(x) && math.IsNaN(y), x == y:
		return 0
	case math.IsNaN(x), x < y:
		return -1
	}
	return 1
}

// roundedAs returns whether a cell of column c is an exact figure rounded
// as the column rounds all its cells (to the most decimals, or the most
// significant digits, any of its cells shows).
func roundedAs(c *outCol, tol float64) func(v, exact float64) bool {
	dec, sig := 0, 0
	for _, v := range c.nums {
		if math.IsNaN(v) {
			continue
		}
		f := strconv.FormatFloat(v, 'f', -1, 64)
		if _, frac, ok := strings.Cut(f, "."); ok {
			dec = max(dec, len(frac))
		}
		sig = max(sig, significant(digitsOf(v)))
	}
	dec = min(dec, 15)
	return func(v, exact float64) bool {
		eps := tol * max(1, math.Abs(exact))
		return math.Abs(v-roundDecimals(exact, dec)) <= eps || math.Abs(v-roundSignificant(exact, sig)) <= eps
	}
}

// shareSource returns how many cells of a share column the best reading
// leaves unmatched: each row's records as a fraction or a percentage of all
// input records, or of the records of the rows shown (0 when one matches
// every cell).
func (g *groups) shareSource(c *outCol, rowGroups []*cellGroup, tol float64) int {
	matches := roundedAs(c, tol)
	shown := 0
	for r, gr := range rowGroups {
		if !math.IsNaN(c.nums[r]) {
			shown += gr.n
		}
	}
	best := math.MaxInt
	for _, total := range []int{g.src.rows, shown} {
		if total == 0 {
			continue
		}
		for _, scale := range []float64{1, 100} {
			bad := 0
			for r, gr := range rowGroups {
				if v := c.nums[r]; !math.IsNaN(v) && !matches(v, float64(gr.n)/float64(total)*scale) {
					bad++
				}
			}
			if bad == 0 {
				return 0
			}
			best = min(best, bad)
		}
	}
	if best == math.MaxInt {
		best = len(rowGroups)
	}
	return best
}
