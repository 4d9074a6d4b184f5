package checks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	review "github.com/enclave-dev/enclave/egress-review"
)

// withCubeGain runs fn with cubeGain set to gain.
func withCubeGain(t *testing.T, gain int, fn func()) {
	t.Helper()
	old := cubeGain
	cubeGain = gain
	defer func() { cubeGain = old }()
	fn()
}

// TestContractCubeSame runs every case of the suites with the inputs
// grouped from a cube and from their records: the contract's findings must
// be the same, verdict, column, count and evidence.
func TestContractCubeSame(t *testing.T) {
	run := func(t *testing.T, tc suiteCase) string {
		c := newSuiteEnv(t)
		tc.build(c)
		res := c.review()
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n", res.Verdict)
		for _, f := range res.Findings {
			if f.Check == suiteContract {
				fmt.Fprintf(&b, "%s %q %q %d %s\n", f.Verdict, f.File, f.Column, f.Count, f.Evidence)
			}
		}
		return b.String()
	}
	cases := append(suiteAdversarial(), suiteHonest()...)
	seen := map[string]bool{}
	for _, tc := range cases {
		if testing.Short() && seen[tc.class] {
			// Under -short, the first case of each class: the whole suite
			// twice costs seconds of CPU (make test runs every case).
			continue
		}
		seen[tc.class] = true
		t.Run(tc.class+"/"+tc.name, func(t *testing.T) {
			var records, cells string
			withCubeGain(t, 0, func() { records = run(t, tc) })
			withCubeGain(t, 1, func() { cells = run(t, tc) })
			if records != cells {
				t.Errorf("grouped from the cube:\n%s\nfrom the records:\n%s", cells, records)
			}
		})
	}
}

// TestCubeGroups compares the groups recovered from the cube with those
// recovered from the records, for label columns that are every column of
// the cube (in order and not), some of them, and one: the same groups with
// the same records, figures (sums to rounding), counts of values and
// records per value of another column.
func TestCubeGroups(t *testing.T) {
	c := newSuiteEnv(t)
	p := review.Default()
	var cube, plain *profile
	var err error
	withCubeGain(t, 1, func() { cube, err = buildProfile(t.Context(), table{}, c.req, p) })
	if err != nil {
		t.Fatal(err)
	}
	withCubeGain(t, 0, func() { plain, err = buildProfile(t.Context(), table{}, c.req, p) })
	if err != nil {
		t.Fatal(err)
	}
	cb := cube.tables[0].cube
	if cb == nil || plain.tables[0].cube != nil {
		t.Fatal("the cube was not built when asked for, or built when not")
	}
	if cb.cells >= cube.tables[0].rows || len(cb.cols) < 3 {
		t.Fatalf("a cube of %d cells over %d columns for %d records: not a test of grouping", cb.cells, len(cb.cols), cube.tables[0].rows)
	}
	names := make([]string, len(cb.cols))
	for j, c := range cb.cols {
		names[j] = c.name
	}
	r := rand.New(rand.NewPCG(1, 2))
	sets := [][]string{names, {names[2], names[0], names[1]}, names[:2], {names[1]}}
	for i := 0; i < 4; i++ {
		s := slices.Clone(names)
		r.Shuffle(len(s), func(a, b int) { s[a], s[b] = s[b], s[a] })
		sets = append(sets, s[:1+r.IntN(len(s))])
	}
	for _, set := range sets {
		t.Run(strings.Join(set, ","), func(t *testing.T) {
			groupsOf := func(pr *profile) *groups {
				it := pr.tables[0]
				var labels []*outCol
				for _, name := range set {
					for _, c := range it.cols {
						if c.name == name {
							labels = append(labels, &outCol{name: name, dict: c.dict, index: c.index, isLabel: true})
						}
					}
				}
				g, why := (&outTable{pr: pr, p: p}).recover(labels)
				if g == nil {
					t.Fatalf("no groups: %s", why)
				}
				return g
			}
			gc, gr := groupsOf(cube), groupsOf(plain)
			if (gc.cubeAt == nil) == (len(set) == len(names)) || gr.cubeAt != nil || gr.cellBase != nil {
				t.Fatalf("grouped the wrong way: cube columns %v, cells %v", gc.cubeAt, gc.cellBase != nil)
			}
			if len(gc.bases) != len(gr.bases) {
				t.Fatalf("groups: got %d from the cube, want %d", len(gc.bases), len(gr.bases))
			}
			gc.fillPresent()
			gr.fillPresent()
			for _, want := range gr.bases {
				b := gc.find(want.codes)
				if b < 0 {
					t.Fatalf("group %v missing from the cube's", want.codes)
				}
				got := gc.bases[b]
				if !slices.Equal(got.codes, want.codes) || got.n != want.n || !slices.Equal(got.present, want.present) {
					t.Fatalf("group %v: got %d records, present %v; want %d, %v", want.codes, got.n, got.present, want.n, want.present)
				}
				for k := range want.stats {
					a, w := got.stats[k], want.stats[k]
					if a.n != w.n || a.top1 != w.top1 || a.top2 != w.top2 || a.minV != w.minV || a.maxV != w.maxV ||
						math.Abs(a.sum-w.sum) > 1e-9*max(1, math.Abs(w.sum)) || math.Abs(a.sumAbs-w.sumAbs) > 1e-9*max(1, w.sumAbs) {
						t.Fatalf("group %v column %d: got %+v, want %+v", want.codes, k, a, w)
					}
				}
			}
			q := cube.tables[0].cols[len(cube.tables[0].cols)-1] // year
			qr := plain.tables[0].cols[len(plain.tables[0].cols)-1]
			wc, wr := gc.where(q, 0), gr.where(qr, 0)
			if len(wr) == 0 || len(wc) != len(wr) {
				t.Fatalf("records per group of year code 0: got %d groups, want %d (not 0)", len(wc), len(wr))
			}
			for gg, n := range wr {
				if got := wc[gc.bases[gc.find(gg.codes)]]; got != n {
					t.Fatalf("records of year code 0 in group %v: got %d, want %d", gg.codes, got, n)
				}
			}
		})
	}
}

// TestOrderedRanks checks ordered, which compares labels by their ranks
// where a column's labels are all numbers or all not, against comparing
// every pair of labels as they are, over columns of numbers, of strings and
// of both, sorted, reversed, and shuffled a little.
func TestOrderedRanks(t *testing.T) {
	cmpRef := func(c *outCol, a, b int) int {
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
	orderedRef := func(rows int, labels []*outCol) bool {
		up, down := true, true
		for r := 1; r < rows; r++ {
			d := 0
			for _, c := range labels {
				if d = cmpRef(c, r-1, r); d != 0 {
					break
				}
			}
			if d > 0 {
				up = false
			}
			if d < 0 {
				down = false
			}
		}
		return up || down
	}
	pools := [][]string{
		{"1", "2", "10", "1.0", "9", "-3", "NaN", "1e1", "0x10"},
		{"Haidian", "Xicheng", "Chaoyang", "haidian", "10", "Total"},
		{"1e1", "5a", "9", "10", "a"},
	}
	r := rand.New(rand.NewPCG(8, 9))
	sorted, hits, strictHits := 0, 0, 0
	for i := 0; i < 3000; i++ {
		rows := 2 + r.IntN(12)
		var labels []*outCol
		for j := 0; j < 1+r.IntN(2); j++ {
			pool := pools[r.IntN(len(pools))]
			c := &outCol{}
			for range rows {
				if r.IntN(10) == 0 {
					c.codes = append(c.codes, -1)
					continue
				}
				c.codes = append(c.codes, c.code(pool[r.IntN(len(pool))]))
			}
			labels = append(labels, c)
		}
		if r.IntN(2) == 0 { // sort the rows by the reference
			idx := make([]int, rows)
			for k := range idx {
				idx[k] = k
			}
			slices.SortStableFunc(idx, func(a, b int) int {
				for _, c := range labels {
					if d := cmpRef(c, a, b); d != 0 {
						return d
					}
				}
				return 0
			})
			for _, c := range labels {
				codes := make([]int32, rows)
				for k, from := range idx {
					codes[k] = c.codes[from]
				}
				c.codes = codes
			}
			sorted++
		}
		tab := &outTable{rows: rows}
		got, want := tab.ordered(labels, nil), orderedRef(rows, labels)
		if got != want {
			t.Fatalf("case %d: ordered got %v, want %v", i, got, want)
		}
		if want {
			hits++
		}
		// strict: no two rows have the same labels (the contract then
		// skips its index of rows by labels)
		if _, strict := tab.labelOrder(labels); strict {
			seen := map[string]bool{}
			for r := range rows {
				key := ""
				for _, c := range labels {
					key += strconv.Itoa(int(c.codes[r])) + ","
				}
				if seen[key] {
					t.Fatalf("case %d: labelOrder says strict, but rows repeat labels", i)
				}
				seen[key] = true
			}
			strictHits++
		}
	}
	if hits == 0 || hits == 3000 {
		t.Fatalf("%d of 3000 cases ordered (%d sorted): not a test of both answers", hits, sorted)
	}
	if strictHits == 0 || strictHits == hits {
		t.Fatalf("%d of %d ordered cases strict: not a test of both answers", strictHits, hits)
	}
}
