package checks

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"strings"

	review "github.com/enclave-dev/enclave/egress-review"
)

// cube is an input's records grouped by every categorical column with few
// distinct values (the columns an output's labels can match): one cell per
// combination of their values that some record has, with its records'
// count and figures. The profile builds it once per input; an output
// table whose label columns match cube columns is then grouped from the
// cells (far fewer than the records) instead of from every record.
type cube struct {
	cols  []*inputCol
	at    map[*inputCol]int // the position of each column among cols
	cells int
	codes []int32     // cells × len(cols)
	n     []int       // records per cell
	stats []numStats  // cells × the input's numeric columns (as groups.nums)
	of    []int32     // the cell of every record
	idx   *groupIndex // the cells by their codes
	// the cells as groups (codes in the order of cols), shared read-only
	// by the tables grouped by every column of the cube in that order
	bases []*cellGroup
	// the cells' figures again, flat, for the rules over output rows
	flat *flatFigures
}

// flatFigures are what the rules read of each base group (here the cells
// of a cube) in arrays by the group's place: its records and, per
// numeric column, the sum and the records with a value of that column,
// and the rules its figures fail (see numStats.rules). Judging a table
// reads them in turn, a few bytes per cell, instead of following a
// pointer to each group and to its figures.
type flatFigures struct {
	n     []int
	sum   [][]float64 // per numeric column, per group
	cnt   [][]float64
	rules [][]uint8
	// the parameters the rules were taken with
	dominanceK, pRatio float64
}

// maxCubeDict is the most distinct values a column of the cube may have.
const maxCubeDict = 1024

// maxCubeCells is the most cells a cube may have: it bounds the memory of
// the profile (a cell holds its codes, count and figures, about 100 bytes
// and 72 per numeric column) where the checks run under a memory limit.
const maxCubeCells = 1 << 18

// minCubeGain is how many records a cell must stand for, on average, for
// the cube to be kept: with fewer, grouping from the cells saves little.
const minCubeGain = 4

// cubeGain is minCubeGain; tests set it to 1 (a cube whenever an input
// has a categorical column) or 0 (never a cube) to compare the two ways of
// grouping.
var cubeGain = minCubeGain

// holds reports whether the cube has every one of cols.
func (cb *cube) holds(cols []*inputCol) bool {
	if cb == nil {
		return false
	}
	for _, c := range cols {
		if _, ok := cb.at[c]; !ok {
			return false
		}
	}
	return true
}

// same reports whether cols are the cube's columns, each once.
func (cb *cube) same(cols []*inputCol) bool {
	if !cb.holds(cols) || len(cols) != len(cb.cols) {
		return false
	}
	seen := make([]bool, len(cb.cols))
	for _, c := range cols {
		if seen[cb.at[c]] {
			return false
		}
		seen[cb.at[c]] = true
	}
	return true
}

// buildCube groups it's records into a cube, or returns nil when it has no
// categorical column or the cells would be too many.
func buildCube(it *inputTable, p review.Params) *cube {
	cb := &cube{at: map[*inputCol]int{}}
	for _, c := range it.cols {
		if c.codes != nil && len(c.dict) <= maxCubeDict {
			cb.at[c] = len(cb.cols)
			cb.cols = append(cb.cols, c)
		}
	}
	if len(cb.cols) == 0 || it.rows == 0 || cubeGain == 0 {
		return nil
	}
	idx := newGroupIndex(dictSizes(cb.cols))
	if idx.byStr != nil {
		return nil // too many columns to pack
	}
	w := len(cb.cols)
	maxCells := min(it.rows/cubeGain, maxCubeCells)
	codes := make([]int32, w)
	cb.of = make([]int32, it.rows)
	for r := range cb.of {
		for j, c := range cb.cols {
			codes[j] = c.codes[r]
		}
		cell := idx.find(codes)
		if cell < 0 {
			if cb.cells >= maxCells {
				return nil
			}
			cell = int32(cb.cells)
			cb.cells++
			idx.add(codes, cell)
			cb.codes = append(cb.codes, codes...)
		}
		cb.of[r] = cell
	}
	cb.sortCells()
	for cell := 0; cell < cb.cells; cell++ {
		idx.add(cb.codes[cell*w:cell*w+w], int32(cell)) // renumbered
	}
	cb.idx = idx
	cb.n = make([]int, cb.cells)
	for _, cell := range cb.of {
		cb.n[cell]++
	}
	var nums []*inputCol
	for _, c := range it.cols {
		if c.nums != nil {
			nums = append(nums, c)
		}
	}
	nn := len(nums)
	cb.stats = make([]numStats, cb.cells*nn)
	for k, c := range nums {
		for r, v := range c.nums {
			if !math.IsNaN(v) {
				cb.stats[int(cb.of[r])*nn+k].add(v)
			}
		}
	}
	all := make([]cellGroup, cb.cells)
	cb.bases = make([]*cellGroup, cb.cells)
	for cell := range all {
		all[cell] = cellGroup{n: cb.n[cell], codes: cb.codes[cell*w : cell*w+w : cell*w+w],
			stats: cb.stats[cell*nn : cell*nn+nn : cell*nn+nn]}
		cb.bases[cell] = &all[cell]
	}
	cb.flat = &flatFigures{n: cb.n, sum: make([][]float64, nn), cnt: make([][]float64, nn), rules: make([][]uint8, nn),
		dominanceK: p.DominanceK, pRatio: p.PRatio}
	for k := range nn {
		sum, cnt, rules := make([]float64, cb.cells), make([]float64, cb.cells), make([]uint8, cb.cells)
		for cell := range sum {
			s := &cb.stats[cell*nn+k]
			sum[cell], cnt[cell], rules[cell] = s.sum, float64(s.n), s.rules(p)
		}
		cb.flat.sum[k], cb.flat.cnt[k], cb.flat.rules[k] = sum, cnt, rules
	}
	return cb
}

// sortCells renumbers the cells in the order of their values (column by
// column, as strings), the order in which tools write the rows of an
// aggregate, so that judging a table reads the cells in turn rather than
// at random.
func (cb *cube) sortCells() {
	w := len(cb.cols)
	ranks := make([][]int32, w)
	var shifts []uint
	var at uint
	for j, c := range cb.cols {
		order := make([]int32, len(c.dict))
		for k := range order {
			order[k] = int32(k)
		}
		slices.SortFunc(order, func(a, b int32) int { return strings.Compare(c.dict[a], c.dict[b]) })
		ranks[j] = make([]int32, len(c.dict))
		for r, k := range order {
			ranks[j][k] = int32(r)
		}
		shifts = append(shifts, at)
		at += uint(bits.Len(uint(len(c.dict) + 1)))
	}
	if at > 64 {
		return
	}
	type keyed struct {
		key  uint64
		cell int32
	}
	keys := make([]keyed, cb.cells)
	for cell := range keys {
		var k uint64
		for j, code := range cb.codes[cell*w : cell*w+w] {
			r := uint64(0) // null first
			if code >= 0 {
				r = uint64(ranks[j][code]) + 1
			}
			k |= r << (at - shifts[j] - uint(bits.Len(uint(len(cb.cols[j].dict)+1))))
		}
		keys[cell] = keyed{k, int32(cell)}
	}
	slices.SortFunc(keys, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
	renum := make([]int32, cb.cells)
	codes := make([]int32, len(cb.codes))
	for i, kc := range keys {
		renum[kc.cell] = int32(i)
		copy(codes[i*w:i*w+w], cb.codes[int(kc.cell)*w:int(kc.cell)*w+w])
	}
	cb.codes = codes
	for r, cell := range cb.of {
		cb.of[r] = renum[cell]
	}
}
