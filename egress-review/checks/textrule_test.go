package checks

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf8"

	review "github.com/enclave-dev/enclave/egress-review"
)

const pseudonym = "3fa9c2d1e5b7a04c9d2e8f1b6a3c5d70"

func costOf(t testing.TB, text string, labels func([]byte) bool) *textCost {
	t.Helper()
	var c textCost
	newTextRule(labels, review.Default()).text(&c, []byte(text), 1)
	return &c
}

func TestTextRuleClasses(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		cls  tokenClass // the class charged; numClasses for nothing
		min  float64    // at least this many bits
	}{
		{"prose", "Penalties fell by 12.5% in the Siming district between 2022 and 2023, to 1,234 cases.", numClasses, 0},
		{"markdown table", "| district | n | mean |\n|---|---|---|\n| Huli | 120 | 3456.78 |", numClasses, 0},
		{"chinese prose", "二〇年思明区的处罚案件共计一千二百件。", clsNumberWords, 0},
		{"pseudonym", "id " + pseudonym, clsHex, 100},
		{"uppercase hex", "ID 3FA9C2D1E5B7A04C", clsHex, 60},
		{"base64", "x " + base64.StdEncoding.EncodeToString([]byte("13812345678 zhang")), clsMixed, 100},
		{"long digits", "phone 13812345678", clsDigits, 30},
		{"zero padded", "code 000123", clsDigits, 15},
		{"masked phone", "138****5678", clsMasked, 20},
		{"percent escapes", "%E5%BC%A0%E4%B8%89", clsEscape, 40},
		{"unicode escapes", `\u5f20\u4e09`, clsEscape, 30},
		{"html entities", "&#24352;&#19977;", clsEscape, 30},
		{"number words", "three eight one two three four five six seven eight", clsNumberWords, 30},
		{"chinese numerals", "一三八一二三四五六七八", clsNumberWords, 30},
		{"substitution cipher letters", "qzkxmwvbqtrplkjh", clsEntropy, 60},
		{"random case", "aBcDeFgHiJ", clsEntropy, 40},
		{"over-precise", "0.123456789012", clsPrecision, 15},
		{"full-width digits", "１３８１２３４５６７８", clsDigits, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := costOf(t, tc.text, nil)
			if tc.cls == numClasses {
				if c.bits != 0 {
					t.Fatalf("got %.1f bits (%s), want 0", c.bits, c.evidence())
				}
				return
			}
			if c.counts[tc.cls] == 0 || c.bits < tc.min {
				t.Fatalf("got %.1f bits (%s), want at least %.0f in %s", c.bits, c.evidence(), tc.min, classNames[tc.cls])
			}
		})
	}
}

func TestTextRuleChineseProseIsCheap(t *testing.T) {
	// A year written in numerals costs a little, prose nothing.
	c := costOf(t, "思明区的处罚案件共计很多件，湖里区较少。", nil)
	if c.bits != 0 {
		t.Fatalf("got %.1f bits, want 0 (%s)", c.bits, c.evidence())
	}
}

func TestTextRuleLabelsAreFree(t *testing.T) {
	code := "C2710X9"
	labels := func(b []byte) bool { return string(b) == code }
	if c := costOf(t, "industry "+code, nil); c.bits == 0 {
		t.Fatal("an industry code that is not a label should cost")
	}
	if c := costOf(t, "industry "+code, labels); c.bits != 0 {
		t.Fatalf("a label cost %.1f bits", c.bits)
	}
}

func TestTextRuleFreeNumbers(t *testing.T) {
	p := review.Default()
	var b strings.Builder
	for i := 0; i < p.TextFreeNumbers; i++ {
		b.WriteString("1234 ")
	}
	if c := costOf(t, b.String(), nil); c.bits != 0 {
		t.Fatalf("%d numbers cost %.1f bits, want 0", p.TextFreeNumbers, c.bits)
	}
	b.WriteString("5678 9012")
	c := costOf(t, b.String(), nil)
	if c.counts[clsNumbers] != 2 {
		t.Fatalf("got %d numbers charged, want 2 (%s)", c.counts[clsNumbers], c.evidence())
	}
}

func TestTextRuleEvidenceHoldsNoValues(t *testing.T) {
	c := costOf(t, "a "+pseudonym+"\nb 13812345678\nc 138****5678", nil)
	ev := c.evidence()
	for _, v := range []string{pseudonym, "13812345678", "138", "5678"} {
		if strings.Contains(ev, v) {
			t.Fatalf("evidence %q holds a value", ev)
		}
	}
	if !strings.Contains(ev, "lines 1 2 3") {
		t.Fatalf("evidence %q does not name the lines", ev)
	}
}

func TestWithholdLogLine(t *testing.T) {
	p := review.Default()
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"reading 12,345 rows from /in/credit_penalties", false},
		{"step 3 of 10 done in 1.25s, peak 512 MiB", false},
		{"grouped by district: 12 groups, smallest 41 records", false},
		{"row " + pseudonym, true},
		{"contact 13812345678", true},
		{"masked 138****5678", true},
		{"%33%66%61%39%63%32", true},
		{"three eight one two three four five six seven eight", true},
		{"qzkxmwvbqtrplkjh rtyzxcvbnmlkjhgf", true},
		{strings.Repeat("a", maxLogLine+1), true},
	} {
		if got := WithholdLogLine([]byte(tc.line), p); got != tc.want {
			t.Errorf("WithholdLogLine(line of %d bytes starting %.12q) = %v, want %v", len(tc.line), tc.line, got, tc.want)
		}
	}
}

func TestWordLike(t *testing.T) {
	for _, w := range []string{"district", "Penalties", "USCC", "AES", "enterprise", "average", "Siming", "rhythm", "WordCount"} {
		if !wordLike([]byte(w)) {
			t.Errorf("wordLike(%q) = false, want true", w)
		}
	}
	for _, w := range []string{"qzkxmwvb", "bcdfghjk", "aBcDeFgHiJ", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"} {
		if wordLike([]byte(w)) {
			t.Errorf("wordLike(%q) = true, want false", w)
		}
	}
}

func TestTextRuleJSONDecodesItsOwnEscapes(t *testing.T) {
	var c textCost
	if err := newTextRule(nil, review.Default()).json(&c, []byte(`{"district": "\u601d\u660e\u533a", "n": 120, "coef": {"amount": -0.0234}}`)); err != nil {
		t.Fatal(err)
	}
	if c.bits != 0 {
		t.Fatalf("got %.1f bits (%s), want 0", c.bits, c.evidence())
	}
	c = textCost{}
	if err := newTextRule(nil, review.Default()).json(&c, []byte(`{"x": "`+pseudonym+`"}`)); err != nil || c.bits == 0 {
		t.Fatalf("a pseudonym in json: %v, %.1f bits", err, c.bits)
	}
}

func TestTextRuleMarkup(t *testing.T) {
	r := newTextRule(nil, review.Default())
	var c textCost
	svg := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300"><rect x="10.5" y="20" width="30" height="123.456789" fill="#1f77b4"/><text x="5" y="5">Penalties by district</text></svg>`
	r.markup(&c, []byte(svg))
	if c.bits != 0 {
		t.Fatalf("a small chart cost %.1f bits (%s)", c.bits, c.evidence())
	}
	for _, hostile := range []string{
		`<svg><!-- ` + pseudonym + ` --></svg>`,
		`<svg><rect class="` + pseudonym + `" x="1"/></svg>`,
		`<html><img src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1, 2, 3, 250}, 30)) + `"></html>`,
		`<svg>` + strings.Repeat(`<rect x="1" y="2" width="3" height="4"/>`, freeMarks+200) + `</svg>`,
	} {
		var c textCost
		r.markup(&c, []byte(hostile))
		if c.bits < review.Default().TextBudgetBits/4 {
			t.Errorf("hostile markup of %d bytes cost only %.1f bits", len(hostile), c.bits)
		}
	}
}

// FuzzTextRule checks that any text is classified without a panic, that
// the cost is never negative, and that evidence is valid UTF-8 without
// any token of the text longer than 6 bytes.
func FuzzTextRule(f *testing.F) {
	for _, s := range []string{"", "a", pseudonym, "%E5%BC", "138****5678", "１２３", "one two three", "<svg x='1'>", "&#x41;", "1,234.5%", "\\u12", "0.1.2.3", "1,2,3"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r := newTextRule(nil, review.Default())
		var c textCost
		r.text(&c, p, 1)
		var m textCost
		r.markup(&m, p)
		if c.bits < 0 || m.bits < 0 {
			t.Fatalf("negative cost %v %v", c.bits, m.bits)
		}
		ev := c.evidence()
		if !utf8.ValidString(ev) {
			t.Fatalf("evidence is not utf-8")
		}
		_ = WithholdLogLine(p, review.Default())
	})
}

func TestTextRuleRepeatedShapes(t *testing.T) {
	districts := []string{"Siming", "Huli", "Jimei", "Haicang", "Tongan", "Xiangan"}
	var dump, table strings.Builder
	for i := 0; i < 2000; i++ {
		// a column of records written out line by line: free words, free
		// labels, no numbers, and still row-level
		dump.WriteString("| " + districts[(i*7+i/3)%len(districts)] + " |\n")
	}
	table.WriteString("| district | decisions |\n|---|---:|\n")
	for i := 0; i < freeShapeRepeats; i++ {
		table.WriteString("| " + districts[i%len(districts)] + " | 12 |\n")
	}
	if c := costOf(t, dump.String(), nil); c.counts[clsRepeats] == 0 || c.bits <= review.Default().TextBudgetBits {
		t.Fatalf("a column of 2,000 records cost %.0f bits (%s), want more than the budget", c.bits, c.evidence())
	}
	if c := costOf(t, table.String(), nil); c.counts[clsRepeats] != 0 {
		t.Fatalf("a table of %d rows was charged as repeated lines: %s", freeShapeRepeats, c.evidence())
	}
	var js strings.Builder
	js.WriteString("[")
	for i := 0; i < 1000; i++ {
		if i > 0 {
			js.WriteString(",")
		}
		js.WriteString(`"` + districts[i%len(districts)] + `"`)
	}
	js.WriteString("]")
	var c textCost
	if err := newTextRule(nil, review.Default()).json(&c, []byte(js.String())); err != nil || c.bits <= review.Default().TextBudgetBits {
		t.Fatalf("1,000 labels in a json array: %v, %.0f bits (%s)", err, c.bits, c.evidence())
	}
}

func TestTextRuleTrailingWhitespace(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 300; i++ {
		// a pseudonym's bits as trailing spaces and tabs
		b.WriteString("The district had many decisions.")
		for k := 0; k < 4; k++ {
			if pseudonym[(i+k)%len(pseudonym)]%2 == 0 {
				b.WriteString(" ")
			} else {
				b.WriteString("\t")
			}
		}
		b.WriteString("\r\n")
	}
	c := costOf(t, b.String(), nil)
	if c.counts[clsTrailing] != 300 || c.bits < 1200 {
		t.Fatalf("got %d lines, %.0f bits (%s), want 300 lines of 4 bits", c.counts[clsTrailing], c.bits, c.evidence())
	}
	if c := costOf(t, "A line.\r\nAnother.\r\n", nil); c.bits != 0 {
		t.Fatalf("line ends cost %.0f bits", c.bits)
	}
}

func TestTextRuleInvisibleAndLookAlike(t *testing.T) {
	for _, tc := range []struct {
		name, text string
	}{
		{"zero-width characters", "The district\u200b had\u200c many\u200d decisions\ufeff."},
		{"combining marks", "The dis\u0301trict had many decisions."},
		{"cyrillic look-alikes in latin words", "The distri\u0441t h\u0430d many de\u0441isions."},
		{"private use", "The district \ue000 had many decisions."},
		{"not utf-8", "The district \xff had many decisions."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c := costOf(t, tc.text, nil); c.counts[clsInvisible] == 0 {
				t.Fatalf("got %.0f bits (%s), want invisible characters charged", c.bits, c.evidence())
			}
		})
	}
	if c := costOf(t, "Ставка штрафа выросла. Η ποινή αυξήθηκε. 罚款增加了。", nil); c.bits != 0 {
		t.Fatalf("prose in Cyrillic, Greek and Chinese cost %.0f bits (%s)", c.bits, c.evidence())
	}
}
