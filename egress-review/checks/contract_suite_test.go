package checks

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	review "github.com/enclave-dev/enclave/egress-review"
)

// The suites of issue 14 item 3: hostile outputs that must fail the
// output contract (and the review), and honest products that must pass.
// Every case builds a whole request over the same input (see
// contract_fixtures_test.go) with correct marks, so that only content
// decides.

// suiteCase is one output, or set of outputs, of a job.
type suiteCase struct {
	class, name string
	build       func(c *suiteEnv)
}

// suiteContract is the name of the output contract check.
const suiteContract = "contract"

// fxFailing returns the findings that are not a pass, for messages.
func fxFailing(res review.Result) string {
	var b strings.Builder
	for _, f := range res.Findings {
		if f.Verdict != review.VerdictPass {
			fmt.Fprintf(&b, "\n  %s %s file=%q column=%q count=%d: %s", f.Check, f.Verdict, f.File, f.Column, f.Count, f.Evidence)
		}
	}
	return b.String()
}

// fxNoSecrets fails t when a finding repeats an identifying input value.
func fxNoSecrets(t *testing.T, fx *suiteFixture, res review.Result) {
	t.Helper()
	for _, f := range res.Findings {
		s := f.Evidence + "\x00" + f.File + "\x00" + f.Column
		for _, v := range fx.secrets {
			if strings.Contains(s, v) {
				t.Errorf("finding of %s repeats an input value (%d characters)", f.Check, len(v))
				break
			}
		}
	}
}

// fxByClass runs cases grouped by class, in the order the classes first
// appear.
func fxByClass(t *testing.T, cases []suiteCase, run func(t *testing.T, tc suiteCase)) {
	var classes []string
	for _, tc := range cases {
		if !slices.Contains(classes, tc.class) {
			classes = append(classes, tc.class)
		}
	}
	for _, class := range classes {
		t.Run(class, func(t *testing.T) {
			for _, tc := range cases {
				if tc.class == class {
					t.Run(tc.name, func(t *testing.T) { run(t, tc) })
				}
			}
		})
	}
}

// TestContractAdversarial runs every hostile technique through all the
// default checks: each must fail, and the output contract itself must fail
// it (not only an older check that happens to recognise it).
func TestContractAdversarial(t *testing.T) {
	fxByClass(t, suiteAdversarial(), func(t *testing.T, tc suiteCase) {
		c := newSuiteEnv(t)
		tc.build(c)
		res := c.review()
		if res.Verdict != review.VerdictFail {
			t.Fatalf("verdict: got %s, want fail; findings:%s", res.Verdict, fxFailing(res))
		}
		if fs := findings(res, suiteContract, review.VerdictFail); len(fs) == 0 {
			t.Errorf("got no failing %s finding, want one (the output contract must stop it); findings:%s", suiteContract, fxFailing(res))
		}
		fxNoSecrets(t, c.fx, res)
	})
}

// TestContractHonest runs honest products of an analysis through all the
// default checks: each must pass.
func TestContractHonest(t *testing.T) {
	fxByClass(t, suiteHonest(), func(t *testing.T, tc suiteCase) {
		c := newSuiteEnv(t)
		tc.build(c)
		res := c.review()
		if res.Verdict != review.VerdictPass {
			t.Errorf("verdict: got %s, want pass; findings:%s", res.Verdict, fxFailing(res))
		}
		if !slices.ContainsFunc(res.Checks, func(r review.CheckResult) bool { return r.Name == suiteContract }) {
			t.Errorf("the %s check did not run", suiteContract)
		}
	})
}

// TestContractSuiteSize keeps the suites from shrinking silently (issue 14:
// at least 60 techniques, at least 15 honest products), with names unique
// within their class.
func TestContractSuiteSize(t *testing.T) {
	for _, s := range []struct {
		name  string
		cases []suiteCase
		min   int
	}{
		{"adversarial", suiteAdversarial(), 60},
		{"honest", suiteHonest(), 15},
	} {
		if len(s.cases) < s.min {
			t.Errorf("%s cases: got %d, want at least %d", s.name, len(s.cases), s.min)
		}
		seen := map[string]bool{}
		per := map[string]int{}
		for _, tc := range s.cases {
			k := tc.class + "/" + tc.name
			if seen[k] {
				t.Errorf("%s case %q named twice", s.name, k)
			}
			seen[k] = true
			per[tc.class]++
		}
		t.Logf("%s: %d cases %v", s.name, len(s.cases), per)
	}
}

// TestContractFixture guards the fixture's properties that the suites rely
// on, so that a change to the generator cannot quietly turn a hostile case
// honest or an honest one hostile.
func TestContractFixture(t *testing.T) {
	fx := suiteData()
	p := review.Default()
	if len(fx.recs) != fxRows {
		t.Fatalf("records: got %d, want %d", len(fx.recs), fxRows)
	}
	counts := map[string]map[string]int{}
	for _, r := range fx.recs {
		for k, v := range map[string]string{"pseudonym": r.pseudonym, "phone": r.phone, "case_no": r.caseNo, "uscc": r.uscc} {
			if counts[k] == nil {
				counts[k] = map[string]int{}
			}
			counts[k][v]++
		}
		if len(r.pseudonym) != 32 || strings.Trim(r.pseudonym, fxHexAlphabet) != "" {
			t.Fatalf("pseudonym of %d characters is not 32 lowercase hex", len(r.pseudonym))
		}
		if len(r.uscc) != 18 || fxUSCCCheck([]byte(r.uscc)) != r.uscc[17] {
			t.Fatal("a uscc code is malformed")
		}
	}
	if n := counts["pseudonym"][fx.offender]; n < p.MinCell {
		t.Errorf("the repeat offender has %d decisions, want at least %d", n, p.MinCell)
	}
	for k, m := range counts {
		most := 0
		for v, n := range m {
			if k == "pseudonym" && v == fx.offender {
				continue
			}
			most = max(most, n)
		}
		if most >= p.MinCell || (k == "case_no" || k == "uscc") && most != 1 {
			t.Errorf("%s: a value occurs %d times", k, most)
		}
	}
	// Magnitude rules over the records behind a group.
	dominated := func(g *fxGroup) bool {
		v := slices.Clone(g.vals)
		slices.Sort(v)
		slices.Reverse(v)
		top2 := v[0]
		if len(v) > 1 {
			top2 += v[1]
		}
		return top2 > p.DominanceK*g.sum || len(v) > 1 && g.sum-v[0]-v[1] < p.PRatio*v[0]
	}
	flat := func(g *fxGroup) bool { return slices.Min(g.vals) == slices.Max(g.vals) }
	for _, g := range fx.groupBy(nil, fxByDistrict) {
		if g.n < 100 {
			t.Errorf("district with %d records, want at least 100", g.n)
		}
		switch g.key[0] {
		case fxDominantDistrict:
			if slices.Max(g.vals) < 0.95*g.sum {
				t.Errorf("dominant district: the largest record is %.3f of the total, want at least 0.95", slices.Max(g.vals)/g.sum)
			}
		case fxFlatDistrict:
			if !flat(g) {
				t.Error("flat district: penalties differ")
			}
		default:
			if dominated(g) || flat(g) {
				t.Errorf("an ordinary district fails a magnitude rule")
			}
		}
	}
	for _, key := range []func(r suiteRec) []string{
		func(r suiteRec) []string { return []string{r.industry} },
		func(r suiteRec) []string { return []string{fmt.Sprint(r.year)} },
		func(suiteRec) []string { return nil },
	} {
		for _, g := range fx.groupBy(nil, key) {
			if g.n < int64(p.MinCell) || dominated(g) || flat(g) {
				t.Errorf("group %v fails a disclosure rule", len(g.key))
			}
		}
	}
	small := 0
	for _, g := range fx.groupBy(nil, func(r suiteRec) []string { return []string{r.district, r.industry} }) {
		if g.n < int64(p.MinCell) {
			small++
		}
	}
	if small == 0 {
		t.Error("the district x industry cross-tab has no small cells to suppress")
	}
	if len(fxLoneSmallCells(fx)) == 0 {
		t.Error("no ordinary district has exactly one small cell for a margin to undo")
	}
}
