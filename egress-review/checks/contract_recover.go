package checks

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
)

// groups are the input records grouped by the input columns that an
// output table's label columns match.
type groups struct {
	src  *inputTable
	cols []*inputCol // per output label column
	nums []*inputCol // the numeric columns of src
	idx  *groupIndex // the base groups by their codes
	// when the base groups are the cube's cells: the position of each
	// column in the cube, and room for codes in the cube's order
	cubeAt      []int
	cubeScratch []int32
	// the base groups, in the order of their first record; the base group
	// of every input record (computed on demand when grouped from the
	// cube: see records)
	bases       []*cellGroup
	of          []int32
	cellBase    []int32      // from the cube: the base group of each cube cell
	shared      bool         // bases are the cube's: read only
	flat        *flatFigures // the bases' figures by their place (the cube's cells), or nil
	arena       groupArena
	presentDone bool
}

// cellGroup is what the rules need of a group of input records, per numeric
// input column.
type cellGroup struct {
	n       int
	codes   []int32
	stats   []numStats
	present []int // per column of the source: records with a value (once counted)
}

// groupArena hands out cell groups and their slices from chunks, so that
// grouping allocates per thousand groups, not per group.
type groupArena struct {
	groups []cellGroup
	stats  []numStats
	codes  []int32
}

const arenaChunk = 1024

func (a *groupArena) get(nStats, nCodes int) *cellGroup {
	if len(a.groups) == 0 {
		a.groups = make([]cellGroup, arenaChunk)
	}
	if len(a.stats) < nStats {
		a.stats = make([]numStats, max(nStats, arenaChunk*nStats))
	}
	if len(a.codes) < nCodes {
		a.codes = make([]int32, max(nCodes, arenaChunk*nCodes))
	}
	g := &a.groups[0]
	a.groups = a.groups[1:]
	g.stats = a.stats[:nStats:nStats]
	a.stats = a.stats[nStats:]
	g.codes = a.codes[:nCodes:nCodes]
	a.codes = a.codes[nCodes:]
	return g
}

// groupIndex finds a group by the codes of its columns (-1 for null): in
// an array when the combinations of codes are few (mixed radix), else in a
// map by the codes packed into 64 bits, else by their bytes.
type groupIndex struct {
	stride []uint64 // dense: the radix of each column
	dense  []int32  // dense: group + 1, 0 when none
	shifts []uint   // packed
	byInt  map[uint64]int32
	byStr  map[string]int32
	buf    []byte
}

// maxDense is the most combinations of codes a groupIndex keeps in an
// array.
const maxDense = 1 << 22

// dictSizes returns the number of distinct values of each column.
func dictSizes(cols []*inputCol) []int {
	n := make([]int, len(cols))
	for j, c := range cols {
		n[j] = len(c.dict)
	}
	return n
}

// newGroupIndex returns an index of groups by the codes of columns with
// sizes[j] distinct values.
func newGroupIndex(sizes []int) *groupIndex {
	x := &groupIndex{}
	space := uint64(1)
	for _, n := range sizes {
		x.stride = append(x.stride, space)
		space *= uint64(n + 1)
		if space > maxDense {
			x.stride = nil
			break
		}
	}
	if x.stride != nil {
		x.dense = make([]int32, space)
		return x
	}
	var at uint
	for _, n := range sizes {
		x.shifts = append(x.shifts, at)
		at += uint(bits.Len(uint(n + 1)))
	}
	if at <= 64 {
		x.byInt = map[uint64]int32{}
		return x
	}
	x.shifts = nil
	x.byStr = map[string]int32{}
	x.buf = make([]byte, 4*len(sizes))
	return x
}

// find returns the group of codes, or -1.
func (x *groupIndex) find(codes []int32) int32 {
	switch {
	case x.dense != nil:
		var k uint64
		for j, c := range codes {
			k += uint64(c+1) * x.stride[j]
		}
		return x.dense[k] - 1
	case x.byInt != nil:
		if b, ok := x.byInt[x.packed(codes)]; ok {
			return b
		}
		return -1
	}
	if b, ok := x.byStr[string(x.bytes(codes))]; ok {
		return b
	}
	return -1
}

// add records group b for codes, which has none.
func (x *groupIndex) add(codes []int32, b int32) {
	switch {
	case x.dense != nil:
		var k uint64
		for j, c := range codes {
			k += uint64(c+1) * x.stride[j]
		}
		x.dense[k] = b + 1
	case x.byInt != nil:
		x.byInt[x.packed(codes)] = b
	default:
		x.byStr[string(x.bytes(codes))] = b
	}
}

func (x *groupIndex) packed(codes []int32) uint64 {
	var k uint64
	for j, c := range codes {
		k |= uint64(c+1) << x.shifts[j]
	}
	return k
}

func (x *groupIndex) bytes(codes []int32) []byte {
	for j, c := range codes {
		binary.LittleEndian.PutUint32(x.buf[4*j:], uint32(c))
	}
	return x.buf
}

// recover matches the label columns to the columns of one input (by name
// first, then by holding every label) and groups its records by them:
// from the input's cube when its columns hold every matched one, else
// record by record.
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
		g := &groups{src: src, cols: cols}
		for _, c := range src.cols {
			if c.nums != nil {
				g.nums = append(g.nums, c)
			}
		}
		if len(labels)*src.rows > 1<<28 {
			return nil, "the inputs are too large to group"
		}
		switch {
		case src.cube.same(cols):
			g.cells()
		case src.cube.holds(cols):
			g.idx = newGroupIndex(dictSizes(cols))
			g.fromCube()
		default:
			g.idx = newGroupIndex(dictSizes(cols))
			g.fromRecords()
		}
		return g, ""
	}
	return nil, why
}

// fromRecords groups the records one by one: first the group of every
// record, then the figures column by column (tight loops over one column
// and the groups' slots).
func (g *groups) fromRecords() {
	src, cols := g.src, g.cols
	codes := make([]int32, len(cols))
	of := make([]int32, src.rows)
	for r := range of {
		for j, c := range cols {
			codes[j] = c.codes[r]
		}
		b := g.idx.find(codes)
		if b < 0 {
			b = int32(len(g.bases))
			g.bases = append(g.bases, g.newBase(codes))
			g.idx.add(codes, b)
		}
		of[r] = b
	}
	for _, b := range of {
		g.bases[b].n++
	}
	for k, c := range g.nums {
		for r, v := range c.nums {
			if !math.IsNaN(v) {
				g.bases[of[r]].stats[k].add(v)
			}
		}
	}
	g.of = of
}

// fromCube groups the cells of the input's cube (each the records of one
// combination of its columns' values), which hold every matched column:
// a base group is the cells with its codes, in the order of their first
// records, which is the order of the bases' first records.
func (g *groups) fromCube() {
	cb := g.src.cube
	at := make([]int, len(g.cols))
	for j, c := range g.cols {
		at[j] = cb.at[c]
	}
	w, nn := len(cb.cols), len(g.nums)
	codes := make([]int32, len(g.cols))
	g.cellBase = make([]int32, cb.cells)
	g.bases = make([]*cellGroup, 0, min(cb.cells, 1<<16))
	for cell := 0; cell < cb.cells; cell++ {
		cc := cb.codes[cell*w : cell*w+w]
		for j, a := range at {
			codes[j] = cc[a]
		}
		st := cb.stats[cell*nn : cell*nn+nn]
		b := g.idx.find(codes)
		if b < 0 {
			b = int32(len(g.bases))
			gr := g.newBase(codes)
			copy(gr.stats, st)
			gr.n = cb.n[cell]
			g.bases = append(g.bases, gr)
			g.idx.add(codes, b)
		} else {
			gr := g.bases[b]
			gr.n += cb.n[cell]
			for k := range gr.stats {
				gr.stats[k].merge(&st[k])
			}
		}
		g.cellBase[cell] = b
	}
}

// cells makes the cube's cells the base groups, when the label columns
// match every column of the cube (in any order): their figures are read
// where the cube keeps them, never written.
func (g *groups) cells() {
	cb := g.src.cube
	w, nn := len(cb.cols), len(g.nums)
	g.cubeAt = make([]int, len(g.cols))
	g.cubeScratch = make([]int32, w)
	inOrder := true
	for j, c := range g.cols {
		g.cubeAt[j] = cb.at[c]
		inOrder = inOrder && cb.at[c] == j
	}
	g.flat = cb.flat // the bases are the cells, in the cells' order
	if inOrder {
		g.bases, g.shared = cb.bases, true
		g.of = cb.of // read only
		return
	}
	codes := make([]int32, len(cb.codes))
	for cell := 0; cell < cb.cells; cell++ {
		for j, a := range g.cubeAt {
			codes[cell*w+j] = cb.codes[cell*w+a]
		}
	}
	all := make([]cellGroup, cb.cells)
	g.bases = make([]*cellGroup, cb.cells)
	for cell := range all {
		all[cell] = cellGroup{n: cb.n[cell], codes: codes[cell*w : cell*w+w : cell*w+w],
			stats: cb.stats[cell*nn : cell*nn+nn : cell*nn+nn]}
		g.bases[cell] = &all[cell]
	}
	g.of = cb.of // read only
}

// find returns the base group of codes (in the order of the label
// columns), or -1.
func (g *groups) find(codes []int32) int32 {
	if g.cubeAt != nil {
		for j, a := range g.cubeAt {
			g.cubeScratch[a] = codes[j]
		}
		return g.src.cube.idx.find(g.cubeScratch)
	}
	return g.idx.find(codes)
}

// records returns the base group of every input record.
func (g *groups) records() []int32 {
	if g.of == nil {
		cb := g.src.cube
		g.of = make([]int32, len(cb.of))
		for r, cell := range cb.of {
			g.of[r] = g.cellBase[cell]
		}
	}
	return g.of
}

// newBase returns a new base group of the codes.
func (g *groups) newBase(codes []int32) *cellGroup {
	gr := g.empty()
	gr.codes = gr.codes[:len(codes)]
	copy(gr.codes, codes)
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
			if _, ok := c.index.get(s); !ok {
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
	if g.shared {
		// the cube's groups are read only: count into copies
		own := make([]cellGroup, len(g.bases))
		g.bases = slices.Clone(g.bases)
		for b, gr := range g.bases {
			own[b] = *gr
			g.bases[b] = &own[b]
		}
		g.shared = false
	}
	nc := len(g.src.cols)
	all := make([]int, nc*len(g.bases))
	for b, gr := range g.bases {
		gr.present = all[b*nc : b*nc+nc : b*nc+nc]
	}
	of := g.records()
	for k, c := range g.src.cols {
		switch {
		case c.codes != nil:
			for r, code := range c.codes {
				if code >= 0 {
					g.bases[of[r]].present[k]++
				}
			}
		case c.nums != nil:
			for r, v := range c.nums {
				if !math.IsNaN(v) {
					g.bases[of[r]].present[k]++
				}
			}
		}
	}
}

// empty returns a group of no records.
func (g *groups) empty() *cellGroup {
	gr := g.arena.get(len(g.nums), len(g.cols))
	gr.codes = gr.codes[:0]
	if g.presentDone {
		gr.present = make([]int, len(g.src.cols))
	}
	return gr
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
			out[j][k], _ = g.cols[j].index.get(s) // held: matchColumn checked
		}
	}
	return out
}

// rowCodes writes the input codes of output row r into codes (wildcard
// where its label is null or a total) and reports whether any is a
// wildcard.
func rowCodes(labels []*outCol, tr [][]int32, r int, codes []int32) bool {
	wild := false
	for j, l := range labels {
		k := int32(wildcard)
		if oc := l.codes[r]; oc >= 0 {
			k = tr[j][oc]
		}
		wild = wild || k == wildcard
		codes[j] = k
	}
	return wild
}

// matchesCodes reports whether a base group's codes are those of a row
// (wildcards match any).
func matchesCodes(gr *cellGroup, codes []int32) bool {
	for j, k := range codes {
		if k != wildcard && gr.codes[j] != k {
			return false
		}
	}
	return true
}

// rowGroups returns the group of every output row (see rowGroup) and,
// where a row's group is one base group, its place among them (-1 for a
// merged or empty group): where the base groups are in an array, a row's
// place in it is a sum of one term per label, looked up per label.
func (g *groups) rowGroups(labels []*outCol, tr [][]int32, rows int) ([]*cellGroup, []int32) {
	return g.rowGroupsOf(labels, tr, rows, false)
}

// rowGroupsOf is rowGroups; with onlyBases, when every row's group is one
// base group found in the dense array, it returns the places alone (and
// nil for the groups, which are then g.bases at those places).
func (g *groups) rowGroupsOf(labels []*outCol, tr [][]int32, rows int, onlyBases bool) ([]*cellGroup, []int32) {
	base := poolInt32.get(rows)[:rows]
	codes := make([]int32, len(labels))
	x, at := g.idx, []int(nil)
	if g.cubeAt != nil {
		x, at = g.src.cube.idx, g.cubeAt
	}
	if x.dense == nil {
		out := make([]*cellGroup, rows)
		for r := range out {
			out[r], base[r] = g.rowGroup(labels, tr, r, codes)
		}
		return out, base
	}
	// a row's key is the sum of its labels' terms, added up column by
	// column; a null or total label adds wildTerm, which no sum of terms
	// of the dense array (below maxDense) reaches
	const wildTerm = uint64(1) << 40
	keys := poolUint64.get(rows)[:rows]
	defer poolUint64.put(keys)
	terms, cols := make([][]uint64, len(labels)), make([][]int32, len(labels))
	for j, l := range labels {
		stride := x.stride[j]
		if at != nil {
			stride = x.stride[at[j]]
		}
		terms[j] = make([]uint64, len(l.dict)+1) // by code + 1: null first
		terms[j][0] = wildTerm
		for oc, k := range tr[j] {
			terms[j][oc+1] = wildTerm
			if k != wildcard {
				terms[j][oc+1] = uint64(k+1) * stride
			}
		}
		cols[j] = l.codes
	}
	sumTerms(keys, cols, terms)
	if onlyBases {
		found := true
		for r, key := range keys {
			b := int32(-1)
			if key < wildTerm {
				b = x.dense[key] - 1
			}
			base[r] = b
			found = found && b >= 0
		}
		if found {
			return nil, base
		}
	}
	out := make([]*cellGroup, rows)
	var none *cellGroup
	for r, key := range keys {
		if key >= wildTerm {
			out[r], base[r] = g.rowGroup(labels, tr, r, codes)
			continue
		}
		if b := x.dense[key] - 1; b >= 0 {
			out[r], base[r] = g.bases[b], b
			continue
		}
		if none == nil {
			none = g.empty()
		}
		out[r], base[r] = none, -1
	}
	return out, base
}

// rowGroup returns the merged group of output row r: the base groups whose
// codes match its labels, any value where the label is null or a total;
// and the place of the base group when it is one (else -1).
func (g *groups) rowGroup(labels []*outCol, tr [][]int32, r int, codes []int32) (*cellGroup, int32) {
	if !rowCodes(labels, tr, r, codes) {
		if b := g.find(codes); b >= 0 {
			return g.bases[b], b
		}
		return g.empty(), -1
	}
	m := g.empty()
	for _, gr := range g.bases {
		if !matchesCodes(gr, codes) {
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
	return m, -1
}

// where counts, per base group, the records whose column q holds code.
func (g *groups) where(q *inputCol, code int32) map[*cellGroup]int {
	out := map[*cellGroup]int{}
	of := g.records()
	for r, k := range q.codes {
		if k == code {
			out[g.bases[of[r]]]++
		}
	}
	return out
}

// sumMatching adds up counts of the base groups that output row r stands
// for (one, or several where its labels are totals).
func (g *groups) sumMatching(labels []*outCol, tr [][]int32, r int, codes []int32, counts map[*cellGroup]int) int {
	if !rowCodes(labels, tr, r, codes) {
		if b := g.find(codes); b >= 0 {
			return counts[g.bases[b]]
		}
		return 0
	}
	n := 0
	for gr, v := range counts {
		if matchesCodes(gr, codes) {
			n += v
		}
	}
	return n
}
