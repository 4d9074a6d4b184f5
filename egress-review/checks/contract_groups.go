package checks

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
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
	labelsSorted := false // the rows in the order of their labels
	// Rows: one per group.
	if len(labels) > 0 {
		sizes := make([]int, len(labels))
		for j, c := range labels {
			sizes[j] = len(c.dict)
		}
		// rows in strict order of their labels repeat none: no index
		var strict bool
		labelsSorted, strict = t.labelOrder(labels)
		dup := 0
		if !strict {
			seen := newGroupIndex(sizes)
			codes := make([]int32, len(labels))
			for r := 0; r < t.rows; r++ {
				for j, c := range labels {
					codes[j] = c.codes[r]
				}
				if seen.find(codes) >= 0 {
					dup++
				} else {
					seen.add(codes, 0)
				}
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
	if t.rows > 2 && !t.orderedBy(labelsSorted, append(append(counts[:len(counts):len(counts)], mags...), models...)) {
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

// disclosure applies the rules to the records behind every cell.
func (t *outTable) disclosure(g *groups, labels, counts, mags []*outCol) []review.Finding {
	var out []review.Finding
	p := t.p
	add := func(v review.Verdict, col string, n int, ev string) {
		out = append(out, review.Finding{Verdict: v, File: t.file, Column: col, Count: n, Evidence: ev})
	}
	// Rows with totals merge base groups: bound that work.
	totals := 0
	anyWild := false
	for _, l := range labels {
		l.findTotals()
		anyWild = anyWild || slices.Contains(l.totals, true) || l.maybeNull && slices.Contains(l.codes, -1)
	}
	for r := 0; anyWild && r < t.rows; r++ {
		for _, l := range labels {
			if k := l.codes[r]; k < 0 || l.totals[k] {
				totals++
				break
			}
		}
	}
	if totals*len(g.bases) > 1<<26 {
		add(review.VerdictFail, "", totals, "too many total rows and groups to trace")
		return out
	}
	tr := g.translate(labels)
	// Where every row's group is one base group with flat figures, and no
	// rule below reads the groups themselves (totals, shares, statistics
	// other than sums and means), the groups are not gathered: groupsOf
	// gathers them if a rule comes to need them.
	onlyBases := !gatherGroups && g.flat != nil && g.flat.dominanceK == p.DominanceK && g.flat.pRatio == p.PRatio && totals == 0
	for _, c := range counts {
		onlyBases = onlyBases && c.stat != "share"
	}
	for _, c := range mags {
		onlyBases = onlyBases && (c.stat == "sum" || c.stat == "mean")
	}
	rowGroups, rowBase := g.rowGroupsOf(labels, tr, t.rows, onlyBases)
	groupsOf := func() []*cellGroup {
		if rowGroups == nil {
			rowGroups = make([]*cellGroup, len(rowBase))
			for r, b := range rowBase {
				rowGroups[r] = g.bases[b] // each at least 0 (rowGroupsOf)
			}
		}
		return rowGroups
	}
	// the records of each row's group, read once: the rules below read
	// them in turn from here rather than from the groups
	defer poolInt32.put(rowBase)
	rowN := poolInt.get(len(rowBase))[:len(rowBase)]
	defer poolInt.put(rowN)
	if g.flat != nil {
		for r, b := range rowBase {
			if b >= 0 {
				rowN[r] = g.flat.n[b]
			} else {
				rowN[r] = rowGroups[r].n
			}
		}
	} else {
		for r, gr := range groupsOf() {
			rowN[r] = gr.n
		}
	}
	isNull := func(v float64) bool { return math.IsNaN(v) }
	figures := append(counts[:len(counts):len(counts)], mags...)
	small, empty, zeros := rowClasses(rowN, figures, p.MinCell)
	if totals > 0 { // without rows of totals there is no margin to undo
		if n := t.margins(labels, groupsOf(), counts, mags); n > 0 {
			add(review.VerdictFail, "", n, fmt.Sprintf("%d totals less the rows shown under them leave a group of fewer than %d records (a suppressed cell recovered by subtraction)", n, p.MinCell))
		}
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
			if bad := g.shareSource(c, groupsOf(), p.MagnitudeTolerance); bad > 0 {
				add(review.VerdictFail, c.name, bad, fmt.Sprintf("%d cells are not the share of their group's records, of all records or of the rows shown, as a fraction or a percentage", bad))
			}
			continue
		}
		// in the same pass, the cells that are not the records of their
		// group, countSource's first reading: when none, it finds 0
		bad, notN := 0, 0
		for r, n := range rowN {
			v := c.nums[r]
			if isNull(v) {
				continue
			}
			if v != trunc(v) || v < 0 || v > float64(n) || v > 0 && v < float64(p.MinCell) {
				bad++
			}
			if v != float64(n) {
				notN++
			}
		}
		if bad > 0 {
			add(review.VerdictFail, c.name, bad, fmt.Sprintf("%d counts are not whole numbers between %d and the records of their group", bad, p.MinCell))
			continue
		}
		if notN == 0 {
			continue
		}
		if unmatched := g.countSource(c, groupsOf(), rowN, labels, tr); unmatched > 0 {
			add(review.VerdictFail, c.name, unmatched, fmt.Sprintf("%d counts are neither the records of their group nor the records with a value in one input column", unmatched))
		}
	}
	figs := map[int]*rowFigures{}
	for _, c := range mags {
		k, unmatched, rc := g.source(c, groupsOf, rowBase, p, figs)
		if k < 0 {
			add(review.VerdictFail, c.name, unmatched, fmt.Sprintf("%d cells are not the %s of any input column over their groups", unmatched, c.stat))
			continue
		}
		dominance, pratio, same, zero := rc.dominance, rc.pratio, rc.same, rc.zero
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

// gatherGroups makes disclosure gather every row's group, as it did before
// it learnt to do without them; a test compares the two.
var gatherGroups = false

// rowClasses counts the rows (with rowN records each) that show some
// figure (a cell of figures that is not null) and stand for fewer than
// minCell records (small), for none but show a figure that is not zero
// (empty), or for none and show only zeros (zeros). Only a row of no
// records or fewer than minCell can count: its figures are read for those
// rows alone.
func rowClasses(rowN []int, figures []*outCol, minCell int) (small, empty, zeros int) {
	for r, n := range rowN {
		if n != 0 && n >= minCell {
			continue
		}
		anyCell, nonZero := false, false
		for _, c := range figures {
			if v := c.nums[r]; !math.IsNaN(v) {
				anyCell = true
				nonZero = nonZero || v != 0
			}
		}
		switch {
		case !anyCell:
			// a suppressed row
		case n == 0 && !nonZero:
			zeros++
		case n == 0:
			empty++
		case n < minCell:
			small++
		}
	}
	return small, empty, zeros
}

// cellRules counts the magnitude cells of a column that fail each rule
// over the records behind them (see disclosure).
type cellRules struct {
	dominance, pratio, same, zero int
}

// The rules a group's figures fail, as flags (see numStats.rules).
const (
	ruleEmpty     = 1 << iota // no record of the group has a value
	ruleSame                  // at least two records, all the same value
	ruleDominance             // N-K dominance
	rulePRatio                // the p-ratio
)

// rules returns the flags of the rules that figures s fail (ruleEmpty when
// s.n is 0): the rules of cellRules.check, cell aside.
func (s *numStats) rules(p review.Params) uint8 {
	switch {
	case s.n == 0:
		return ruleEmpty
	case s.n >= 2 && s.minV == s.maxV:
		return ruleSame
	}
	var f uint8
	if s.sumAbs > 0 {
		if s.top1+s.top2 > p.DominanceK*s.sumAbs {
			f |= ruleDominance
		}
		if s.sumAbs-s.top1-s.top2 < p.PRatio*s.top1 {
			f |= rulePRatio
		}
	}
	return f
}

// check counts cell v (not null) of a group with figures s (s.n > 0).
func (rc *cellRules) check(v float64, s *numStats, p review.Params) {
	rc.add(v, s.rules(p))
}

// add counts cell v (not null) of a group whose figures fail the rules
// of flags f.
func (rc *cellRules) add(v float64, f uint8) {
	if v == 0 {
		rc.zero++
	}
	if f&ruleSame != 0 {
		rc.same++
		return
	}
	if f&ruleDominance != 0 {
		rc.dominance++
	}
	if f&rulePRatio != 0 {
		rc.pratio++
	}
}

// rowFigures are the figures of one input numeric column over the group
// of every output row, for all the magnitude columns (and scales) that try
// that input column: flat arrays, read in turn, instead of a group and its
// figures per cell. Row r's figures are at at[r] (at r when at is nil).
type rowFigures struct {
	at    []int32
	sum   []float64
	n     []float64 // records with a value
	rules []uint8   // see numStats.rules
}

// figuresOf returns the figures of input numeric column k over rowGroups,
// kept in figs: the flat figures of the base groups when every row's
// group is one (rowBase), else read from the groups once.
func (g *groups) figuresOf(figs map[int]*rowFigures, groupsOf func() []*cellGroup, rowBase []int32, k int, p review.Params) *rowFigures {
	if f := figs[k]; f != nil {
		return f
	}
	fl := g.flat
	if fl != nil && (fl.dominanceK != p.DominanceK || fl.pRatio != p.PRatio) {
		fl = nil
	}
	if fl != nil && !slices.Contains(rowBase, -1) {
		f := &rowFigures{at: rowBase, sum: fl.sum[k], n: fl.cnt[k], rules: fl.rules[k]}
		figs[k] = f
		return f
	}
	rowGroups := groupsOf()
	f := &rowFigures{sum: make([]float64, len(rowGroups)), n: make([]float64, len(rowGroups)), rules: make([]uint8, len(rowGroups))}
	for r, gr := range rowGroups {
		if b := rowBase[r]; b >= 0 && fl != nil {
			f.sum[r], f.n[r], f.rules[r] = fl.sum[k][b], fl.cnt[k][b], fl.rules[k][b]
			continue
		}
		s := &gr.stats[k]
		f.sum[r], f.n[r], f.rules[r] = s.sum, float64(s.n), s.rules(p)
	}
	figs[k] = f
	return f
}

// source returns the index (into g.nums) of the input column whose sum or
// mean (c.stat) over each row's group is the cell, rounded as the column
// rounds all its cells (to the same decimals or significant digits), or
// -1 and the number of cells the best candidate leaves unmatched. Only the
// rounding is free: a figure moved off its aggregate by any amount, within
// a tolerance or not, carries something else. With the column it returns
// the disclosure rules' counts over its figures (a cell that matches has
// records behind it). figs keeps the figures read per input column for the
// table's other magnitude columns.
func (g *groups) source(c *outCol, groupsOf func() []*cellGroup, rowBase []int32, p review.Params, figs map[int]*rowFigures) (int, int, cellRules) {
	matches := roundedAs(c, p.MagnitudeTolerance)
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
	mean, sum := c.stat == "mean", c.stat == "sum"
	nums := c.nums[:len(rowBase)]
	var exact []float64
	defer func() { poolFloat64.put(exact) }()
	for _, k := range order {
		var f *rowFigures
		var rc cellRules // the rules' counts over input column k, when f
		if mean || sum {
			f = g.figuresOf(figs, groupsOf, rowBase, k, p)
			if exact == nil {
				exact = poolFloat64.get(len(nums))[:len(nums)]
			}
		}
		// in the input's unit, or in thousands, ten thousands (万),
		// millions or hundred millions (亿) of it
		for _, scale := range []float64{1, 1e-3, 1e-4, 1e-6, 1e-8} {
			for variant := 0; variant < variants; variant++ {
				bad := 0
				switch {
				case f != nil && scale == 1:
					bad, rc = f.exactMatched(exact, nums, mean, matches)
				case f != nil:
					bad = f.unmatched(nums, exact, scale, matches)
				default:
					for r, gr := range groupsOf() {
						v := nums[r]
						if math.IsNaN(v) {
							continue
						}
						s := &gr.stats[k]
						if s.n == 0 {
							bad++
							continue
						}
						if !matches.matches(v, s.aggregate(c.stat, variant)*scale) {
							bad++
						}
					}
				}
				if bad == 0 && f != nil {
					return k, 0, rc
				}
				if bad == 0 {
					return k, 0, g.ruleCounts(nums, groupsOf(), k, f, p)
				}
				bestBad = min(bestBad, bad)
			}
		}
	}
	if bestBad == math.MaxInt {
		bestBad = len(rowBase)
	}
	return -1, bestBad, cellRules{}
}

// exactMatched writes into exact, per row, the figure of its group that a
// cell of nums is matched to (the sum, or the mean when mean), or NaN where
// the cell is null or the group empty, and in the same pass does what
// ruleCounts does (the rules' counts over the cells that are not null);
// then it does what unmatched does at scale 1.
func (f *rowFigures) exactMatched(exact, nums []float64, mean bool, q rounding) (int, cellRules) {
	exact = exact[:len(nums)]
	var again []int
	var zero, same, dominance, pratio int
	for r, v := range nums {
		i := r
		if f.at != nil {
			i = int(f.at[r])
		}
		x := f.sum[i]
		if mean {
			x /= f.n[i]
		}
		fl := int(f.rules[i])
		if v != v { // null: no rule counts
			fl = 0
			x = math.NaN()
		} else if fl&ruleEmpty != 0 {
			x = math.NaN()
		}
		exact[r] = x
		// cellRules.add, without a branch on the flags
		s := fl / ruleSame & 1
		same += s
		dominance += fl / ruleDominance & 1 &^ s
		pratio += fl / rulePRatio & 1 &^ s
		if v == 0 {
			zero++
		}
	}
	again = firstReading(again, 0, nums, exact, 1, q)
	return f.recheck(again, nums, exact, 1, q), cellRules{dominance: dominance, pratio: pratio, same: same, zero: zero}
}

// unmatched returns how many cells of nums are not their group's figure
// (exact, from exactMatched) times scale as q rounds: a null cell is not
// counted, a cell of an empty group is, and so is one whose figure is
// infinite. A first pass without a branch on the figures tries the first
// reading of q.matches on every cell (firstReading; a NaN in exact fails
// it); the cells it does not settle are judged again one by one, as the
// rule reads them.
func (f *rowFigures) unmatched(nums, exact []float64, scale float64, q rounding) int {
	// (NaN does not pass the first reading; an infinite figure makes eps
	// infinite and is judged again)
	again := firstReading(nil, 0, nums, exact[:len(nums)], scale, q)
	return f.recheck(again, nums, exact, scale, q)
}

// recheck counts the cells of rows again that are not null and not their
// group's figure (see unmatched), each judged as the rule reads it.
func (f *rowFigures) recheck(again []int, nums, exact []float64, scale float64, q rounding) int {
	bad := 0
	for _, r := range again {
		v := nums[r]
		if math.IsNaN(v) {
			continue
		}
		i := r
		if f.at != nil {
			i = int(f.at[r])
		}
		if f.rules[i]&ruleEmpty != 0 {
			bad++
			continue
		}
		x := exact[r] * scale
		if math.IsInf(x, 0) {
			bad++ // an infinite figure matches nothing
			continue
		}
		eps := q.tol * max(1, math.Abs(x))
		if !(math.Abs(v-roundHalfAway(x*q.p)/q.p) <= eps) && !q.significant(v, x, eps) {
			bad++
		}
	}
	return bad
}

// ruleCounts counts the cells of nums (a column matched to input numeric
// column k, so every cell that is not null has records behind it) that
// fail each rule, from the flags in f when read, else from the groups.
func (g *groups) ruleCounts(nums []float64, rowGroups []*cellGroup, k int, f *rowFigures, p review.Params) cellRules {
	var rc cellRules
	if f == nil {
		for r, v := range nums {
			if !math.IsNaN(v) {
				rc.check(v, &rowGroups[r].stats[k], p)
			}
		}
		return rc
	}
	// cellRules.add, counted without a branch on the flags
	var zero, same, dominance, pratio int
	for r, v := range nums {
		if math.IsNaN(v) {
			continue
		}
		i := r
		if f.at != nil {
			i = int(f.at[r])
		}
		fl := int(f.rules[i])
		s := fl / ruleSame & 1
		same += s
		dominance += fl / ruleDominance & 1 &^ s
		pratio += fl / rulePRatio & 1 &^ s
		if v == 0 {
			zero++
		}
	}
	return cellRules{dominance: dominance, pratio: pratio, same: same, zero: zero}
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
func (g *groups) countSource(c *outCol, rowGroups []*cellGroup, rowN []int, labels []*outCol, tr [][]int32) int {
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
	bad := 0
	for r, n := range rowN {
		if v := c.nums[r]; !math.IsNaN(v) && v != float64(n) {
			bad++
		}
	}
	if best = bad; bad == 0 {
		return 0
	}
	if !g.presentDone {
		// Merged groups (totals) were summed before the counts were
		// there: count, then merge again.
		g.fillPresent()
		again, _ := g.rowGroups(labels, tr, len(rowGroups))
		copy(rowGroups, again)
	}
	for k := range g.src.cols {
		if try(func(_ int, gr *cellGroup) int { return gr.present[k] }) {
			return 0
		}
	}
	for _, q := range g.src.cols {
		code, ok := q.index.get(c.name)
		if !ok || q.codes == nil {
			continue
		}
		in := g.where(q, code)
		codes := make([]int32, len(labels))
		if try(func(r int, _ *cellGroup) int { return g.sumMatching(labels, tr, r, codes, in) }) {
			return 0
		}
	}
	return best
}

// margins returns how many total rows (a null or total label in some
// columns) exceed the rows shown under them by a group of fewer than
// MinCell records: subtracting the shown rows from the total would give
// the figures of that small group.
func (t *outTable) margins(labels []*outCol, rowGroups []*cellGroup, counts, mags []*outCol) int {
	wild := func(r, j int) bool { return labels[j].wild(r) }
	figures := append(counts[:len(counts):len(counts)], mags...)
	shown := func(r int) bool {
		for _, c := range figures {
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
	sorted, _ := t.labelOrder(labels)
	return t.orderedBy(sorted, stats)
}

// orderedBy is ordered for rows that are (sorted) or are not in the order
// of their labels.
func (t *outTable) orderedBy(sorted bool, stats []*outCol) bool {
	if sorted {
		return true
	}
	for _, c := range stats {
		if t.monotonic(func(a, b int) int { return cmpFloat(c.nums[a], c.nums[b]) }) {
			return true
		}
	}
	return false
}

// monotonic reports whether cmp of every row and the next is never above
// zero, or never below.
func (t *outTable) monotonic(cmp func(a, b int) int) bool {
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

// labelOrder reports whether the rows are sorted (ascending or
// descending) by their label columns in turn (false without labels), and
// whether strictly, by labels that all have a rank (see ranks): rows of
// which each is above (or each below) the one before have distinct ranks,
// so distinct labels, and no two rows have the same labels.
func (t *outTable) labelOrder(labels []*outCol) (sorted, strict bool) {
	if len(labels) == 0 {
		return false, false
	}
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
		if fx, ok := c.number(x); ok {
			if fy, ok := c.number(y); ok {
				return cmpFloat(fx, fy)
			}
		}
		return strings.Compare(c.dict[x], c.dict[y])
	}
	ranked := true
	ranks := make([][]int32, len(labels))
	for j, c := range labels {
		ranks[j] = c.ranks()
		ranked = ranked && ranks[j] != nil
	}
	if ranked {
		if keys := rankKeys(labels, ranks, t.rows); keys != nil {
			defer poolUint64.put(keys)
			return keysOrder(keys)
		}
	}
	ties := 0
	sorted = t.monotonic(func(a, b int) int {
		for j, c := range labels {
			x, y := c.codes[a], c.codes[b]
			if x == y {
				continue
			}
			d := 0
			switch rk := ranks[j]; {
			case rk == nil:
				d = cmpLabel(c, a, b)
			case x < 0:
				d = -1
			case y < 0:
				d = 1
			default:
				d = cmp.Compare(rk[x], rk[y])
			}
			if d != 0 {
				return d
			}
		}
		ties++
		return 0
	})
	return sorted, sorted && ranked && ties == 0
}

// rankKeys returns, per row, its labels' places (see ranks; a null is
// before every label) as the digits of one number, the first column's
// most significant, so that rows compare as their keys do; or nil when the
// digits do not fit in 64 bits.
func rankKeys(labels []*outCol, ranks [][]int32, rows int) []uint64 {
	space := uint64(1)
	for _, c := range labels {
		radix := uint64(len(c.dict) + 1)
		if space > math.MaxUint64/radix {
			return nil
		}
		space *= radix
	}
	// the digits times their weights, so that a key is a sum of terms
	terms, cols := make([][]uint64, len(labels)), make([][]int32, len(labels))
	weight := uint64(1)
	for j := len(labels) - 1; j >= 0; j-- {
		c := labels[j]
		terms[j] = make([]uint64, len(c.dict)+1) // by code + 1: null first
		for k, rk := range ranks[j] {
			terms[j][k+1] = (uint64(rk) + 1) * weight
		}
		cols[j] = c.codes
		weight *= uint64(len(c.dict) + 1)
	}
	keys := poolUint64.get(rows)[:rows]
	sumTerms(keys, cols, terms)
	return keys
}

// sumTerms sets keys[r], for every row r, to the sum over columns j of
// terms[j][cols[j][r]+1] (a code of -1 picks the first term), four columns
// in each pass over the rows (fewer padded with a column of zero terms).
func sumTerms(keys []uint64, cols [][]int32, terms [][]uint64) {
	clear(keys)
	n := len(keys)
	for j := 0; j < len(cols); j += 4 {
		var c [4][]int32
		var t [4][]uint64
		for k := range 4 {
			if j+k < len(cols) {
				c[k], t[k] = cols[j+k][:n], terms[j+k]
			} else {
				c[k], t[k] = cols[j][:n], make([]uint64, len(terms[j]))
			}
		}
		c0, c1, c2, c3 := c[0][:n], c[1][:n], c[2][:n], c[3][:n]
		t0, t1, t2, t3 := t[0], t[1], t[2], t[3]
		for r := range keys[:n] {
			keys[r] += t0[c0[r]+1] + t1[c1[r]+1] + t2[c2[r]+1] + t3[c3[r]+1]
		}
	}
}

// keysOrder is labelOrder over the rows' keys (see rankKeys): whether
// they are sorted (ascending or descending), and strictly.
func keysOrder(keys []uint64) (sorted, strict bool) {
	up, down, ties := true, true, 0
	for r := 1; r < len(keys); r++ {
		a, b := keys[r-1], keys[r]
		up = up && a <= b
		down = down && a >= b
		if a == b {
			ties++
		}
	}
	sorted = up || down
	return sorted, sorted && ties == 0
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
func roundedAs(c *outCol, tol float64) rounding {
	dec, sig := c.digits.dec, c.digits.sig
	if c.digits.n != len(c.nums) {
		dec, sig = roundingOf(c.nums)
	}
	return rounding{p: math.Pow(10, float64(min(dec, 15))), sig: sig, tol: tol}
}

// rounding is how a column rounds its cells (see roundedAs).
type rounding struct {
	p   float64 // 10^decimals
	sig int
	tol float64
}

// matches reports whether cell v is the exact figure rounded as the column
// rounds.
func (q rounding) matches(v, exact float64) bool {
	if math.IsInf(exact, 0) {
		// An infinite figure would make the tolerance infinite and let
		// any cell pass: it matches nothing, as NaN does.
		return false
	}
	eps := q.tol * max(1, math.Abs(exact))
	return math.Abs(v-roundHalfAway(exact*q.p)/q.p) <= eps || q.significant(v, exact, eps)
}

// significant is the second reading of matches (to the column's
// significant digits), apart so that matches is inlined.
func (q rounding) significant(v, exact, eps float64) bool {
	return math.Abs(v-roundSignificant(exact, q.sig)) <= eps
}

// roundingOf returns the most decimals (at most 15) and the most
// significant digits that the shortest decimal form of any of the numbers
// shows (NaN aside). A number is written out only when a cheap test cannot
// show that it has no more of either than the numbers before it.
func roundingOf(nums []float64) (dec, sig int) {
	var d digitCount
	d.add(nums)
	return min(d.dec, 15), d.sig
}

// digitCount is roundingOf taken as numbers come: the most decimals (not
// capped) and significant digits of the n numbers so far.
type digitCount struct {
	dec, sig, n int
	lim         float64 // 2^53 / 10^dec (see fewerDigits), when dec < len(pow10)
}

// add counts nums. While the numbers have no more decimals and digits
// than those before them, the test of fewer runs inline, with its bounds
// worked out once per run of such numbers.
func (d *digitCount) add(nums []float64) {
	if d.n == 0 && d.lim == 0 {
		d.lim = 1 << 53
	}
	for i := 0; i < len(nums); {
		if room := d.sig - d.dec; d.dec < len(pow10) && d.sig >= 1 && room >= 0 {
			// fewer, for a run of numbers: NaN and numbers past either
			// bound leave the run, as do numbers with more decimals
			top := math.Inf(1)
			if room < len(pow10) {
				top = pow10[room]
			}
			i += fewerRun(nums[i:], pow10[d.dec], d.lim, top)
			if i == len(nums) {
				break
			}
		}
		v := nums[i]
		i++
		if math.IsNaN(v) || d.fewer(v) {
			continue
		}
		dv, sv := shortestDigits(v)
		if dv > d.dec || sv > d.sig {
			d.dec, d.sig = max(d.dec, dv), max(d.sig, sv)
			if d.dec < len(pow10) {
				d.lim = 1 << 53 / pow10[d.dec]
			}
		}
	}
	d.n += len(nums)
}

// fewer is fewerDigits(v, d.dec, d.sig), with its bound worked out once
// per number of decimals.
func (d *digitCount) fewer(v float64) bool {
	a := math.Abs(v)
	if d.dec >= len(pow10) || a >= d.lim {
		return false
	}
	p := pow10[d.dec]
	if roundHalfAway(a*p)/p != a {
		return false
	}
	room := d.sig - d.dec
	return d.sig >= 1 && room >= 0 && (room >= len(pow10) || a < pow10[room])
}

// shortestDigits returns the decimals and the significant digits of v's
// shortest decimal form (as strconv writes it with precision -1).
func shortestDigits(v float64) (dec, sig int) {
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], math.Abs(v), 'e', -1, 64)
	e := bytes.IndexByte(b, 'e')
	mant, exp := b[:e], b[e+1:]
	nd := len(mant)
	if nd > 1 {
		nd-- // the point
	}
	x := 0
	for _, d := range exp[1:] {
		x = 10*x + int(d-'0')
	}
	if exp[0] == '-' {
		x = -x
	}
	if v == 0 {
		return 0, 1
	}
	return max(0, nd-1-x), nd
}

// roundHalfAway is math.Round (the nearest integer, half away from zero):
// |x| less its integer part is exact (its fraction's bits), so comparing
// it with one half decides as math.Round does, and the result takes x's
// sign (zeros too); magnitudes from 2^52 (integers), infinities and NaN
// come back as they are. The integer part is a conversion (see trunc),
// the step up is added without a branch (see half), and the whole is
// inlined. A test holds it to math.Round.
func roundHalfAway(x float64) float64 {
	if a := math.Abs(x); a < 1<<52 {
		t := float64(int64(a)) // trunc(a): a's fraction is a - t, exactly
		return withSign(t+half(a-t), x)
	}
	return x // an integer, an infinity or NaN
}

// withSign is math.Copysign(a, x) for a not negative (+0 included).
func withSign(a, x float64) float64 {
	return math.Float64frombits(math.Float64bits(a) | math.Float64bits(x)&(1<<63))
}

// trunc is math.Trunc, bit for bit, by a conversion to an integer and
// back where x has a fraction (its magnitude below 2^52; the integer's
// zero takes x's sign). math.Trunc is one instruction only where the
// build targets SSE4.1 (GOAMD64=v2); for v1 it is a test of the CPU and a
// call, around which a loop keeps its figures in memory. A test holds it
// to math.Trunc.
func trunc(x float64) float64 {
	if math.Abs(x) < 1<<52 {
		return withSign(math.Abs(float64(int64(x))), x)
	}
	return x // an integer, an infinity or NaN
}

// half returns 1 when f >= 0.5, else 0 (for f not NaN), without a
// branch: the fractions of rounded figures fall either side at random, so
// a branch on them is mispredicted half the time.
func half(f float64) float64 {
	var b uint64
	if f >= 0.5 {
		b = 1
	}
	return float64(b)
}

// pow10 are the powers of ten that a float64 holds exactly.
var pow10 = func() (t [23]float64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// fewerDigits reports, without writing v out, that v's shortest decimal
// form has at most dec decimals and at most sig significant digits; false
// means it could not tell. A number of at most dec decimals (n / 10^dec,
// with n an integer below 2^53) that reads back as v lies in v's rounding
// interval, so the shortest form has no more decimals; its significant
// digits are then at most dec plus the digits of v's integer part.
func fewerDigits(v float64, dec, sig int) bool {
	a := math.Abs(v)
	if dec >= len(pow10) || a >= 1<<53/pow10[dec] {
		return false
	}
	p := pow10[dec]
	if math.Round(a*p)/p != a {
		return false
	}
	// the digits of the integer part are at most sig-dec when a is below
	// 10^(sig-dec); zero has one significant digit
	room := sig - dec
	return sig >= 1 && room >= 0 && (room >= len(pow10) || a < pow10[room])
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
				if v := c.nums[r]; !math.IsNaN(v) && !matches.matches(v, float64(gr.n)/float64(total)*scale) {
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
