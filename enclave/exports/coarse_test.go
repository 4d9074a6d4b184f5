package exports

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	review "github.com/enclave-dev/enclave/egress-review"
)

// TestCoarseFindingsCarryOnlyVerdicts: whatever the checks say of a file's
// content (its bits, counts, the lines and columns it failed on), the
// coarse view of two requests whose checks gave the same verdicts is the
// same, byte for byte. The findings are the ones a text file leaked
// through in a run against the daemon: "94 long digit runs" was one byte
// of an input value.
func TestCoarseFindingsCarryOnlyVerdicts(t *testing.T) {
	leak := func(n int) []review.Finding {
		return []review.Finding{
			{Check: "contract", Verdict: review.VerdictFail, File: "notes.txt", Evidence: fmt.Sprintf(
				"text carries %d bits in tokens that labels, language and statistics do not explain, over the budget of 512: "+
					"%d long digit runs (%d bits); first on lines %d %d", 7000+n, n, 70*n, n+1, n+2)},
			{Check: "contract", Verdict: review.VerdictFail, File: fmt.Sprintf("t%d.arrow", n), Column: fmt.Sprintf("c%x", n), Count: n, Evidence: "cell"},
			{Check: "raw-values", Verdict: review.VerdictPass, Count: 300 + n, Evidence: fmt.Sprintf("%d cells and tokens scanned, none matches an input value", 300+n)},
			{Check: "disclosure", Verdict: review.VerdictReview, File: "t.arrow", Column: "district", Count: n, Evidence: fmt.Sprintf("%d cells below 10", n)},
		}
	}
	var first []byte
	for n := 1; n < 256; n++ {
		e := &Export{Result: review.Result{Findings: leak(n), Verdict: review.VerdictFail}}
		got := e.ForReader(false).Result.Findings
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
			if len(got) != 3 {
				t.Fatalf("got %d findings %+v, want one per check and verdict (3)", len(got), got)
			}
		} else if string(b) != string(first) {
			t.Fatalf("the coarse findings depend on the content: for %d got %s, for 1 %s", n, b, first)
		}
		for _, f := range got {
			if f.File != "" || f.Column != "" || f.Count != 0 || strings.ContainsAny(f.Evidence, "0123456789") {
				t.Fatalf("coarse finding %+v names a file, a column, a count or a figure", f)
			}
		}
		// The exact view keeps every word.
		if x := e.ForReader(true).Result.Findings; !reflect.DeepEqual(x, leak(n)) {
			t.Fatalf("exact view: got %+v, want the findings unchanged", x)
		}
	}
	// The original is not changed by the coarse view.
	e := &Export{Result: review.Result{Findings: leak(94)}}
	e.ForReader(false)
	if !reflect.DeepEqual(e.Result.Findings, leak(94)) {
		t.Fatal("ForReader(false) changed the export's own findings")
	}
}

// TestCoarseFindingsKeepEachVerdict: the coarse view keeps one finding for
// each check and verdict, in check order, so that an operator still learns
// which checks failed; a verdict of no known kind reads as a failure.
func TestCoarseFindingsKeepEachVerdict(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	verdicts := []review.Verdict{review.VerdictPass, review.VerdictReview, review.VerdictFail}
	for range 200 {
		var fs []review.Finding
		want := map[string]map[review.Verdict]bool{}
		for i := range 1 + r.Intn(12) {
			check := fmt.Sprint("check-", r.Intn(4))
			v := verdicts[r.Intn(3)]
			fs = append(fs, review.Finding{Check: check, Verdict: v, File: fmt.Sprint("f", i), Count: r.Intn(100), Evidence: fmt.Sprint(r.Int())})
			if want[check] == nil {
				want[check] = map[review.Verdict]bool{}
			}
			want[check][v] = true
		}
		got := CoarseFindings(fs)
		n := 0
		for _, m := range want {
			n += len(m)
		}
		if len(got) != n {
			t.Fatalf("got %d findings, want %d (one per check and verdict): %+v", len(got), n, got)
		}
		for _, f := range got {
			if !want[f.Check][f.Verdict] {
				t.Fatalf("got %+v, which no check found", f)
			}
		}
	}
	got := CoarseFindings([]review.Finding{{Check: "c", Verdict: "maybe", Evidence: "x"}})
	if len(got) != 1 || got[0].Verdict != review.VerdictFail {
		t.Fatalf("an unknown verdict: got %+v, want fail", got)
	}
}
