package checks

// The judging of an Arrow table as it was before its fast paths (issue 14
// item 4), kept verbatim as the oracle that contract_fast_test.go holds
// the fast paths to: reading a column (addArrow), the rounding of a column
// (digitCount.add), the source of a magnitude column and its rules'
// counts (source, ruleCounts), the order of the rows (labelOrder) and
// the rows that are small, empty or structural zeros (rowClassesRef, the
// loops of disclosure).

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	review "github.com/enclave-dev/enclave/egress-review"
)

func (c *outCol) addArrowRef(a arrow.Array) {
	if c.bad != "" {
		return
	}
	n := a.Len()
	if c.isLabel {
		if c.codes == nil {
			c.codes = poolInt32.get(n)
		}
		c.codes = slices.Grow(c.codes, n)
		switch a := a.(type) {
		case *array.String:
			// each cell's bytes from the offsets, bounds checked as
			// Value checks them
			offs, data := a.ValueOffsets(), a.ValueBytes()
			nulls := a.NullN() > 0
			codes := c.codes[len(c.codes) : len(c.codes)+n]
			for i := range codes {
				if nulls && a.IsNull(i) {
					codes[i] = -1
					continue
				}
				b := data[offs[i]-offs[0] : offs[i+1]-offs[0]]
				v := unsafe.String(unsafe.SliceData(b), len(b))
				if len(v) <= maxPacked {
					// the last label, compared inline
					w0, w1 := pack(v)
					if w1 == c.lastW1 && w0 == c.lastW0 {
						codes[i] = c.lastCode
					} else {
						codes[i] = c.codeOf(v, w0, w1)
					}
					continue
				}
				codes[i] = c.code(v)
			}
			c.codes = c.codes[:len(c.codes)+n]
		case *array.Dictionary:
			// one lookup per dictionary entry, not per row
			d := a.Dictionary()
			dcodes := make([]int32, d.Len())
			for k := range dcodes {
				dcodes[k] = -1
				if d.IsValid(k) {
					dcodes[k] = c.code(cellString(d, k))
				}
			}
			for i := 0; i < n; i++ {
				if a.IsNull(i) {
					c.codes = append(c.codes, -1)
				} else {
					c.codes = append(c.codes, dcodes[a.GetValueIndex(i)])
				}
			}
		default:
			for i := 0; i < n; i++ {
				if a.IsNull(i) {
					c.codes = append(c.codes, -1)
				} else {
					c.codes = append(c.codes, c.code(cellString(a, i)))
				}
			}
		}
		return
	}
	nullable := a.NullN() > 0
	if c.nums == nil {
		c.nums = poolFloat64.get(n)
	}
	c.nums = slices.Grow(c.nums, n)
	switch a := a.(type) {
	case *array.Int64:
		for i, v := range a.Int64Values() {
			if nullable && a.IsNull(i) {
				c.nums = append(c.nums, math.NaN())
			} else {
				c.nums = append(c.nums, float64(v))
			}
		}
		return
	case *array.Float64:
		from := len(c.nums)
		for i, v := range a.Float64Values() {
			if nullable && a.IsNull(i) || math.IsNaN(v) {
				c.nums = append(c.nums, math.NaN())
			} else {
				if math.IsInf(v, 0) {
					c.notNum++
					v = math.NaN()
				}
				c.nums = append(c.nums, v)
			}
		}
		if c.digits.n == from && roundingJudged(c.stat) {
			c.digits.addRef(c.nums[from:])
		}
		return
	}
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			c.nums = append(c.nums, math.NaN())
			continue
		}
		if sa, ok := a.(*array.String); ok {
			c.addString(sa.Value(i))
			continue
		}
		v, ok := numeric64(a, i)
		if !ok || math.IsInf(v, 0) {
			c.notNum++
			v = math.NaN()
		}
		c.nums = append(c.nums, v)
	}
}

// add counts nums.
func (d *digitCount) addRef(nums []float64) {
	if d.n == 0 && d.lim == 0 {
		d.lim = 1 << 53
	}
	for _, v := range nums {
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

// source returns the index (into g.nums) of the input column whose sum or
// mean (c.stat) over each row's group is the cell, rounded as the column
// rounds all its cells (to the same decimals or significant digits), or
// -1 and the number of cells the best candidate leaves unmatched. Only the
// rounding is free: a figure moved off its aggregate by any amount, within
// a tolerance or not, carries something else. With the column it returns
// the disclosure rules' counts over its figures (a cell that matches has
// records behind it). figs keeps the figures read per input column for the
// table's other magnitude columns.
func (g *groups) sourceRef(c *outCol, rowGroups []*cellGroup, rowBase []int32, p review.Params, figs map[int]*rowFigures) (int, int, cellRules) {
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
	nums := c.nums[:len(rowGroups)]
	for _, k := range order {
		var f *rowFigures
		if mean || sum {
			f = g.figuresOf(figs, func() []*cellGroup { return rowGroups }, rowBase, k, p)
		}
		// in the input's unit, or in thousands, ten thousands (万),
		// millions or hundred millions (亿) of it
		for _, scale := range []float64{1, 1e-3, 1e-4, 1e-6, 1e-8} {
			for variant := 0; variant < variants; variant++ {
				bad := 0
				if f != nil {
					for r, v := range nums {
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
						exact := f.sum[i]
						if mean {
							exact /= f.n[i]
						}
						// matches.matches(v, exact*scale), its first
						// reading written out (matches is not inlined)
						x := exact * scale
						if math.IsInf(x, 0) {
							bad++ // an infinite figure matches nothing
							continue
						}
						eps := matches.tol * max(1, math.Abs(x))
						// (not <=, so that NaN does not match)
						if !(math.Abs(v-roundHalfAway(x*matches.p)/matches.p) <= eps) && !matches.significant(v, x, eps) {
							bad++
						}
					}
				} else {
					for r, gr := range rowGroups {
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
				if bad == 0 {
					return k, 0, g.ruleCountsRef(nums, rowGroups, k, f, p)
				}
				bestBad = min(bestBad, bad)
			}
		}
	}
	if bestBad == math.MaxInt {
		bestBad = len(rowGroups)
	}
	return -1, bestBad, cellRules{}
}

// ruleCounts counts the cells of nums (a column matched to input numeric
// column k, so every cell that is not null has records behind it) that
// fail each rule, from the flags in f when read, else from the groups.
func (g *groups) ruleCountsRef(nums []float64, rowGroups []*cellGroup, k int, f *rowFigures, p review.Params) cellRules {
	var rc cellRules
	for r, v := range nums {
		if math.IsNaN(v) {
			continue
		}
		if f != nil {
			i := r
			if f.at != nil {
				i = int(f.at[r])
			}
			rc.add(v, f.rules[i])
		} else {
			rc.check(v, &rowGroups[r].stats[k], p)
		}
	}
	return rc
}

// labelOrder reports whether the rows are sorted (ascending or
// descending) by their label columns in turn (false without labels), and
// whether strictly, by labels that all have a rank (see ranks): rows of
// which each is above (or each below) the one before have distinct ranks,
// so distinct labels, and no two rows have the same labels.
func (t *outTable) labelOrderRef(labels []*outCol) (sorted, strict bool) {
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

// rowClassesRef is what disclosure counted before rowClasses: every row's
// figures read column by column into a mask, then every row classified.
func rowClassesRef(rowN []int, figures []*outCol, minCell int) (small, empty, zeros int) {
	isNull := func(v float64) bool { return math.IsNaN(v) }
	shown := make([]int32, len(rowN))
	for _, c := range figures {
		for r, v := range c.nums[:len(rowN)] {
			if !isNull(v) {
				f := int32(1)
				if v != 0 {
					f = 3
				}
				shown[r] |= f
			}
		}
	}
	for r, n := range rowN {
		anyCell, nonZero := shown[r]&1 != 0, shown[r]&2 != 0
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
