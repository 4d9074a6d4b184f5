package checks

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	review "github.com/enclave-dev/enclave/egress-review"
)

// The fast paths of judging an Arrow table against their oracles, the code
// of before kept in contract_ref_test.go: the same codes, labels, numbers,
// rounding and failures, the same source and rule counts, the same order.

// fastFloats are figures that exercise the rounding, the tests of NaN and
// infinity and the conversions to integers.
var fastFloats = []float64{0, math.Copysign(0, -1), 0.5, -0.5, 2.5, 1.005, 123456.785, 0.1, 0.3, 1e21, -1e21, 1 << 52, 1<<52 + 1,
	1<<53 + 2, 1e300, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 9.999999999999999, 4503599627370495.5,
	math.Inf(1), math.Inf(-1), math.NaN(), math.Float64frombits(0x7ff8000000000001), 1 << 63, -(1 << 63), 9.223372036854776e18}

// randFloat returns a figure: rounded to a few decimals (as tables hold
// them), an edge, or any bits.
func randFloat(r *rand.Rand) float64 {
	switch r.IntN(8) {
	case 0:
		return fastFloats[r.IntN(len(fastFloats))]
	case 1:
		return math.Float64frombits(r.Uint64())
	case 2:
		return float64(r.IntN(200) - 100)
	}
	return roundDecimals(float64(r.Int64N(1e10)-5e9)/math.Pow(10, float64(r.IntN(5))), r.IntN(4))
}

// randLabel returns a label of 0 to 24 bytes from a small alphabet, so
// that labels repeat and differ in one byte or only in length.
func randLabel(r *rand.Rand) string {
	n := r.IntN(25)
	if r.IntN(3) > 0 {
		n = r.IntN(17)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = "aB\x00\xff7"[r.IntN(5)]
	}
	return string(b)
}

// sameFloats reports whether a and b hold the same numbers, bit for bit,
// NaN for NaN.
func sameFloats(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool {
		return math.Float64bits(x) == math.Float64bits(y) || math.IsNaN(x) && math.IsNaN(y)
	})
}

// randArrays returns a few batches of one column of a random type, some
// with nulls, some sliced.
func randArrays(r *rand.Rand, mem memory.Allocator) []arrow.Array {
	kind := r.IntN(4)
	var out []arrow.Array
	for range 1 + r.IntN(3) {
		n := r.IntN(300)
		// a few distinct labels in runs and cycles, as aggregates hold them
		labels := make([]string, 1+r.IntN(8))
		for i := range labels {
			labels[i] = randLabel(r)
		}
		nulls := r.IntN(3) == 0
		var a arrow.Array
		switch kind {
		case 0, 3:
			b := array.NewStringBuilder(mem)
			for i := range n {
				switch {
				case nulls && r.IntN(5) == 0:
					b.AppendNull()
				case r.IntN(4) == 0:
					b.Append(labels[r.IntN(len(labels))])
				default:
					b.Append(labels[(i/3)%len(labels)])
				}
			}
			a = b.NewArray()
			b.Release()
		case 1:
			b := array.NewFloat64Builder(mem)
			for range n {
				if nulls && r.IntN(5) == 0 {
					b.AppendNull()
				} else {
					b.Append(randFloat(r))
				}
			}
			a = b.NewArray()
			b.Release()
		case 2:
			b := array.NewInt64Builder(mem)
			for range n {
				if nulls && r.IntN(5) == 0 {
					b.AppendNull()
				} else {
					b.Append(r.Int64() >> r.IntN(64))
				}
			}
			a = b.NewArray()
			b.Release()
		}
		if n > 2 && r.IntN(3) == 0 {
			i, j := r.IntN(n/2), n/2+r.IntN(n/2)
			s := array.NewSlice(a, int64(i), int64(j))
			a.Release()
			a = s
		}
		out = append(out, a)
	}
	return out
}

// sameRead reads arrays into a column with addArrow and with its oracle
// and fails on any difference.
func sameRead(t *testing.T, arrs []arrow.Array, stat string) {
	t.Helper()
	isLabel, bad := columnRole(arrs[0].DataType(), stat)
	fast := &outCol{name: "c", stat: stat, isLabel: isLabel, bad: bad}
	ref := &outCol{name: "c", stat: stat, isLabel: isLabel, bad: bad}
	for _, a := range arrs {
		fast.addArrow(a)
		ref.addArrowRef(a)
	}
	switch {
	case !slices.Equal(fast.codes, ref.codes):
		t.Fatalf("%s codes: got %v, want %v", arrs[0].DataType(), fast.codes, ref.codes)
	case !slices.Equal(fast.dict, ref.dict):
		t.Fatalf("labels: got %q, want %q", fast.dict, ref.dict)
	case !sameFloats(fast.nums, ref.nums):
		t.Fatalf("%s numbers: got %v, want %v", arrs[0].DataType(), fast.nums, ref.nums)
	case fast.notNum != ref.notNum:
		t.Fatalf("cells that are not numbers: got %d, want %d", fast.notNum, ref.notNum)
	case fast.digits != ref.digits:
		t.Fatalf("rounding of %v: got %+v, want %+v", fast.nums, fast.digits, ref.digits)
	case !fast.maybeNull && slices.Contains(fast.codes, -1):
		t.Fatalf("codes %v hold a null but the column says it has none", fast.codes)
	}
}

// TestReadColumnSameAsRef holds addArrow (labels keyed from whole words
// at their offsets, numbers copied and then tested for NaN and infinity,
// the rounding's cheap test inline) to the reading of before.
func TestReadColumnSameAsRef(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(14, 4))
	for i := range 3000 {
		arrs := randArrays(r, mem)
		stat := []string{"", "sum", "mean", "count", "label"}[i%5]
		if arrs[0].Len() > 0 || len(arrs) > 1 {
			sameRead(t, arrs, stat)
		}
		for _, a := range arrs {
			a.Release()
		}
	}
}

// FuzzReadColumnSameAsRef reads labels and figures made of the fuzzer's
// bytes with addArrow and its oracle.
func FuzzReadColumnSameAsRef(f *testing.F) {
	f.Add([]byte("Haidian\x00Haidian\x00Chaoyang\x00\x00a-very-long-label-of-30-bytes\x00"), uint8(0))
	f.Add(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(123456.785)), 0x7ff0000000000000), uint8(1))
	f.Add([]byte("12345678901234567\x00123456789012345\x00"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, how uint8) {
		mem := memory.NewGoAllocator()
		var a arrow.Array
		switch how % 3 {
		case 0, 2:
			b := array.NewStringBuilder(mem)
			for i, s := range strings.Split(string(data), "\x00") {
				if how%3 == 2 && i%5 == 4 {
					b.AppendNull()
				} else {
					b.Append(s)
				}
			}
			a = b.NewArray()
			b.Release()
		case 1:
			b := array.NewFloat64Builder(mem)
			for i := 0; i+8 <= len(data); i += 8 {
				v := math.Float64frombits(binary.LittleEndian.Uint64(data[i:]))
				if how&4 != 0 && i%24 == 16 {
					b.AppendNull()
				} else {
					b.Append(v)
				}
			}
			a = b.NewArray()
			b.Release()
		}
		defer a.Release()
		sameRead(t, []arrow.Array{a}, []string{"sum", "mean", "", "label"}[int(how/8)%4])
		if n := a.Len(); n > 2 {
			s := array.NewSlice(a, 1, int64(n-1))
			defer s.Release()
			sameRead(t, []arrow.Array{s}, "mean")
		}
	})
}

// randSourceCase returns groups with flat figures over random rows, some
// of whose groups are merged (not flat) or empty, and a magnitude column
// whose cells are the rows' figures rounded as tables round them, some
// moved off them, null, zero or not numbers.
func randSourceCase(r *rand.Rand) (*groups, []*cellGroup, []int32, *outCol) {
	nn := 1 + r.IntN(3)
	cells := 1 + r.IntN(40)
	noise := 12 + 200*r.IntN(2) // half the cases have few odd figures
	p := review.Default()
	g := &groups{}
	for k := range nn {
		g.nums = append(g.nums, &inputCol{name: fmt.Sprintf("amount%d", k)})
	}
	fl := &flatFigures{n: make([]int, cells), sum: make([][]float64, nn), cnt: make([][]float64, nn), rules: make([][]uint8, nn),
		dominanceK: p.DominanceK, pRatio: p.PRatio}
	bases := make([]*cellGroup, cells)
	for b := range bases {
		gr := &cellGroup{stats: make([]numStats, nn)}
		for k := range nn {
			if r.IntN(8) > 0 {
				for range 1 + r.IntN(12) {
					v := randFloat(r)
					if r.IntN(noise) > 3 {
						v = float64(r.IntN(100000)) / 100
					}
					if !math.IsNaN(v) {
						gr.stats[k].add(v)
					}
				}
			}
		}
		gr.n = gr.stats[0].n + r.IntN(3)
		bases[b] = gr
		fl.n[b] = gr.n
	}
	for k := range nn {
		fl.sum[k], fl.cnt[k], fl.rules[k] = make([]float64, cells), make([]float64, cells), make([]uint8, cells)
		for b, gr := range bases {
			s := &gr.stats[k]
			fl.sum[k][b], fl.cnt[k][b], fl.rules[k][b] = s.sum, float64(s.n), s.rules(p)
		}
	}
	if r.IntN(5) > 0 {
		g.flat = fl
	}
	rows := r.IntN(120)
	rowGroups := make([]*cellGroup, rows)
	rowBase := make([]int32, rows)
	for i := range rows {
		b := r.IntN(cells)
		if i < cells && r.IntN(2) == 0 {
			b = i // rows in the cells' order
		}
		rowGroups[i], rowBase[i] = bases[b], int32(b)
		if r.IntN(10) == 0 { // a merged or empty group
			m := &cellGroup{stats: make([]numStats, nn)}
			if r.IntN(2) == 0 {
				m.n = bases[b].n
				copy(m.stats, bases[b].stats)
			}
			rowGroups[i], rowBase[i] = m, -1
		}
	}
	c := &outCol{name: []string{"sum_amount1", "amount0", "x"}[r.IntN(3)], stat: []string{"sum", "mean", "std"}[r.IntN(3)]}
	k := r.IntN(nn)
	scale := []float64{1, 1e-3, 1e-4, 1e-6, 1e-8}[r.IntN(5)]
	dec, round := r.IntN(5), r.IntN(2) == 0
	for i := range rows {
		s := &rowGroups[i].stats[k]
		v := s.aggregate(c.stat, 0) * scale
		if round {
			v = roundDecimals(v, dec)
		}
		switch r.IntN(noise) {
		case 0:
			v = math.NaN()
		case 1:
			v = randFloat(r)
		case 2:
			v = math.Nextafter(v, math.Inf(1))
		case 3:
			v = 0
		}
		c.nums = append(c.nums, v)
	}
	noInf(c.nums)
	return g, rowGroups, rowBase, c
}

// sameSource runs source and its oracle on one case and fails on any
// difference in the column found, the cells left unmatched or the rules'
// counts.
func sameSource(t *testing.T, g *groups, rowGroups []*cellGroup, rowBase []int32, c *outCol) {
	t.Helper()
	p := review.Default()
	k, bad, rc := g.source(c, func() []*cellGroup { return rowGroups }, rowBase, p, map[int]*rowFigures{})
	wk, wbad, wrc := g.sourceRef(c, rowGroups, rowBase, p, map[int]*rowFigures{})
	if k != wk || bad != wbad || rc != wrc {
		t.Fatalf("%s of %v over %d rows: got column %d, %d unmatched, %+v; want %d, %d, %+v",
			c.stat, c.nums, len(rowGroups), k, bad, rc, wk, wbad, wrc)
	}
}

// TestSourceSameAsRef holds source (the figures of each row read once per
// input column, the cells matched in a pass without a branch on them, the
// rules counted without a branch on the flags) to the source of before.
func TestSourceSameAsRef(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 5))
	cases := 4000
	if testing.Short() {
		cases = 800
	}
	found := 0
	for range cases {
		g, rowGroups, rowBase, c := randSourceCase(r)
		sameSource(t, g, rowGroups, rowBase, c)
		if k, _, _ := g.sourceRef(c, rowGroups, rowBase, review.Default(), map[int]*rowFigures{}); k >= 0 {
			found++
		}
	}
	// the cases cover both answers
	if found < cases/10 || found > cases*9/10 {
		t.Fatalf("%d of %d cases found a source", found, cases)
	}
}

// FuzzSourceSameAsRef runs source and its oracle on cases drawn from the
// fuzzer's seed, with cells of the fuzzer's bits in place of some.
func FuzzSourceSameAsRef(f *testing.F) {
	f.Add(uint64(1), uint64(2), []byte{})
	f.Add(uint64(3), uint64(4), binary.LittleEndian.AppendUint64(nil, 0x7ff0000000000000))
	f.Fuzz(func(t *testing.T, s1, s2 uint64, data []byte) {
		r := rand.New(rand.NewPCG(s1, s2))
		g, rowGroups, rowBase, c := randSourceCase(r)
		for i := 0; i+8 <= len(data) && i/8 < len(c.nums); i += 8 {
			c.nums[i/8] = math.Float64frombits(binary.LittleEndian.Uint64(data[i:]))
		}
		noInf(c.nums)
		sameSource(t, g, rowGroups, rowBase, c)
	})
}

// noInf makes infinite cells NaN, as reading a column does (they are not
// numbers).
func noInf(nums []float64) {
	for i, v := range nums {
		if math.IsInf(v, 0) {
			nums[i] = math.NaN()
		}
	}
}

// randOrderCase returns label columns over rows in the order of their
// labels (ascending or descending), nearly so, or at random, with labels
// that read as numbers (some equal as numbers: "1" and "1.0"), labels
// that do not, and nulls.
func randOrderCase(r *rand.Rand) *outTable {
	ncols, rows := 1+r.IntN(4), r.IntN(60)
	words := []string{"1", "1.0", "2", "10", "-3", "1e1", "a", "B", "total", "", "5a", "Haidian"}
	t := &outTable{rows: rows}
	tuples := make([][]int32, rows)
	for range ncols {
		c := &outCol{}
		numbers := r.IntN(3)
		for range 1 + r.IntN(5) {
			var s string
			switch numbers {
			case 0:
				s = words[r.IntN(len(words))]
			case 1:
				s = fmt.Sprint(r.IntN(20) - 5)
			default:
				s = randLabel(r)
			}
			if !slices.Contains(c.dict, s) {
				c.dict = append(c.dict, s)
			}
		}
		t.cols = append(t.cols, c)
	}
	for i := range tuples {
		tuples[i] = make([]int32, ncols)
		for j, c := range t.cols {
			tuples[i][j] = int32(r.IntN(len(c.dict)+1)) - 1 // -1: null
		}
	}
	switch r.IntN(4) {
	case 0, 1: // in the order of the labels, as ordered compares them
		slices.SortStableFunc(tuples, func(a, b []int32) int {
			for j, c := range t.cols {
				x, y := a[j], b[j]
				switch {
				case x == y:
					continue
				case x < 0:
					return -1
				case y < 0:
					return 1
				}
				fx, okx := c.number(x)
				fy, oky := c.number(y)
				if d := strings.Compare(c.dict[x], c.dict[y]); !(okx && oky) && d != 0 {
					return d
				}
				if d := cmpFloat(fx, fy); okx && oky && d != 0 {
					return d
				}
			}
			return 0
		})
		if r.IntN(2) == 0 {
			slices.Reverse(tuples)
		}
		if rows > 1 && r.IntN(3) == 0 {
			i := r.IntN(rows - 1)
			tuples[i], tuples[i+1] = tuples[i+1], tuples[i]
		}
	}
	for j, c := range t.cols {
		c.codes = make([]int32, rows)
		for i := range tuples {
			c.codes[i] = tuples[i][j]
		}
	}
	return t
}

// TestLabelOrderSameAsRef holds labelOrder (the rows' labels as one key
// each) to the order of before.
func TestLabelOrderSameAsRef(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 6))
	var sorted, strict int
	for range 5000 {
		o := randOrderCase(r)
		gs, gt := o.labelOrder(o.cols)
		ws, wt := o.labelOrderRef(o.cols)
		if gs != ws || gt != wt {
			for _, c := range o.cols {
				t.Logf("labels %q codes %v", c.dict, c.codes)
			}
			t.Fatalf("order: got sorted %v strict %v, want %v %v", gs, gt, ws, wt)
		}
		if ws {
			sorted++
		}
		if wt {
			strict++
		}
	}
	t.Logf("%d of 5000 sorted, %d strictly", sorted, strict)
	if sorted < 1500 || strict < 100 || sorted > 4500 {
		t.Fatalf("the cases cover too few orders: %d sorted, %d strictly", sorted, strict)
	}
}

// TestContractGroupsGatheredSame runs every case of the suites with the
// rows' groups gathered, as before, and with only their places where that
// is enough (gatherGroups): the contract's findings must be the same.
func TestContractGroupsGatheredSame(t *testing.T) {
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
	seen := map[string]bool{}
	for _, tc := range append(suiteAdversarial(), suiteHonest()...) {
		if testing.Short() && seen[tc.class] {
			continue // under -short, the first case of each class
		}
		seen[tc.class] = true
		t.Run(tc.class+"/"+tc.name, func(t *testing.T) {
			var gathered, places string
			withCubeGain(t, 1, func() {
				gatherGroups = true
				defer func() { gatherGroups = false }()
				gathered = run(t, tc)
			})
			withCubeGain(t, 1, func() { places = run(t, tc) })
			if gathered != places {
				t.Errorf("with the rows' places:\n%s\nwith their groups gathered:\n%s", places, gathered)
			}
		})
	}
}

// TestTruncIsMathTrunc holds trunc to math.Trunc, bit for bit.
func TestTruncIsMathTrunc(t *testing.T) {
	same := func(x float64) {
		t.Helper()
		if got, want := trunc(x), math.Trunc(x); math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("trunc(%v) = %v, math.Trunc = %v", x, got, want)
		}
	}
	for _, x := range fastFloats {
		same(x)
		same(-x)
		same(math.Nextafter(x, math.Inf(1)))
		same(math.Nextafter(x, math.Inf(-1)))
	}
	r := rand.New(rand.NewPCG(14, 7))
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	for range n {
		same(math.Float64frombits(r.Uint64()))
		same((r.Float64() - 0.5) * math.Pow(2, float64(r.IntN(70))))
	}
}

func FuzzTrunc(f *testing.F) {
	f.Add(-0.5)
	f.Add(4503599627370495.5)
	f.Fuzz(func(t *testing.T, x float64) {
		if got, want := trunc(x), math.Trunc(x); math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("trunc(%v) = %v, math.Trunc = %v", x, got, want)
		}
	})
}

// randCubeCase writes an input whose two category columns make its cube
// and an aggregate over both (the tables whose rows' groups are the cube's
// cells, where disclosure reads only their places), honest or with a cell
// off its figure, a count off, a small or empty group, all-same or
// dominated groups, a null cell.
func randCubeCase(t *testing.T, r *rand.Rand, dir string) *review.Request {
	districts, months := []string{"Dongcheng", "Haidian", "Xicheng", "Yanqing"}, []string{"2023-01", "2023-02", "2023-03"}
	type key struct{ d, m int }
	stats := map[key]*numStats{}
	var dcol, mcol []string
	var amounts []float64
	for d := range districts {
		for m := range months {
			n := []int{0, 3, 12, 40, 40, 40, 40, 40}[r.IntN(8)]
			kind := r.IntN(40)
			for i := range n {
				v := float64(1000+r.IntN(90000)) + float64(r.IntN(100))/100
				switch {
				case kind == 0:
					v = 500 // all the same
				case kind == 1 && i == 0:
					v = 1e9 // dominates
				}
				dcol, mcol, amounts = append(dcol, districts[d]), append(mcol, months[m]), append(amounts, v)
				s := stats[key{d, m}]
				if s == nil {
					s = &numStats{}
					stats[key{d, m}] = s
				}
				s.add(v)
			}
		}
	}
	// the records in a random order
	perm := r.Perm(len(dcol))
	pd, pm, pa := make([]string, len(perm)), make([]string, len(perm)), make([]float64, len(perm))
	for i, j := range perm {
		pd[i], pm[i], pa[i] = dcol[j], mcol[j], amounts[j]
	}
	in := filepath.Join(dir, "input.arrow")
	if err := os.WriteFile(in, arrowFile(t, marksMeta("general-2", "ordinary"), []col{
		{name: "district", vals: pd}, {name: "month", vals: pm}, {name: "amount", vals: pa},
	}), 0o600); err != nil {
		t.Fatal(err)
	}
	var od, om []string
	var on []int64
	var osum, omean []float64
	for d := range districts {
		for m := range months {
			s := stats[key{d, m}]
			if s == nil && r.IntN(4) > 0 {
				continue
			}
			if s == nil {
				s = &numStats{} // a row of no records
			}
			od, om = append(od, districts[d]), append(om, months[m])
			on = append(on, int64(s.n))
			osum, omean = append(osum, roundDecimals(s.sum, 2)), append(omean, roundDecimals(s.sum/float64(s.n), 2))
		}
	}
	if len(od) > 0 {
		i := r.IntN(len(od))
		switch r.IntN(10) {
		case 0:
			osum[i] += 0.01
		case 1:
			on[i]++
		case 2:
			omean[i] = math.NaN()
		case 3:
			omean[i] = 0
		case 4:
			on[i]-- // not the group's records, nor more than them
		}
	}
	out := filepath.Join(dir, "out.arrow")
	if err := os.WriteFile(out, arrowFile(t, marksMeta("general-2", "ordinary"), []col{
		{name: "district", vals: od}, {name: "month", vals: om}, {name: "n", stat: "count", vals: on},
		{name: "sum_amount", stat: "sum", vals: osum}, {name: "mean_amount", stat: "mean", vals: omean},
	}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &review.Request{
		Files:  []review.File{{Name: "out.arrow", Path: out}},
		Inputs: []review.Input{{Dataset: "d", Version: 1, Level: "general-2", Market: "ordinary", Rows: int64(len(pd)), Path: in}},
	}
}

// TestCubeTablesGroupsGatheredSame judges aggregates over every column of
// their input's cube with the rows' groups gathered and with their places
// alone (gatherGroups): the same findings.
func TestCubeTablesGroupsGatheredSame(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 8))
	p := review.Default()
	verdicts := map[review.Verdict]int{}
	cases := 300
	if testing.Short() {
		cases = 100
	}
	for i := range cases {
		req := randCubeCase(t, r, t.TempDir())
		judge := func(gather bool) string {
			gatherGroups = gather
			defer func() { gatherGroups = false }()
			pr, err := buildProfile(t.Context(), table{}, req, p)
			if err != nil {
				t.Fatal(err)
			}
			fs, _ := Contract{}.file(t.Context(), req, pr, req.Files[0], ManifestFile{}, p)
			var b strings.Builder
			for _, f := range fs {
				fmt.Fprintf(&b, "%s %q %d %s\n", f.Verdict, f.Column, f.Count, f.Evidence)
				verdicts[f.Verdict]++
			}
			return b.String()
		}
		got, want := judge(false), judge(true)
		if got != want {
			t.Fatalf("case %d: with the rows' places:\n%s\nwith their groups gathered:\n%s", i, got, want)
		}
	}
	if verdicts[review.VerdictPass] < cases/30 || verdicts[review.VerdictFail] < cases/30 {
		t.Fatalf("the cases cover too few verdicts: %v", verdicts)
	}
}

// TestRowClassesSameAsRef holds rowClasses (figures read only for rows of
// fewer than MinCell records) to the masks of before, over rows of 0 to
// 12 records around a MinCell of 0, 1, 5 or 10, with null, zero and other
// figures in one to three columns.
func TestRowClassesSameAsRef(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 10))
	seen := [3]int{}
	for range 5000 {
		rows, ncols := r.IntN(30), 1+r.IntN(3)
		rowN := make([]int, rows)
		for i := range rowN {
			rowN[i] = r.IntN(13)
		}
		var figures []*outCol
		for range ncols {
			c := &outCol{}
			for range rows {
				c.nums = append(c.nums, []float64{math.NaN(), 0, math.Copysign(0, -1), 3, -2.5}[r.IntN(5)])
			}
			figures = append(figures, c)
		}
		minCell := []int{0, 1, 5, 10}[r.IntN(4)]
		gs, ge, gz := rowClasses(rowN, figures, minCell)
		ws, we, wz := rowClassesRef(rowN, figures, minCell)
		if gs != ws || ge != we || gz != wz {
			t.Fatalf("rows %v min %d: got small %d empty %d zeros %d, want %d %d %d", rowN, minCell, gs, ge, gz, ws, we, wz)
		}
		seen[0], seen[1], seen[2] = seen[0]+ws, seen[1]+we, seen[2]+wz
	}
	if seen[0] == 0 || seen[1] == 0 || seen[2] == 0 {
		t.Fatalf("the cases count too few rows of a class: %v", seen)
	}
}
