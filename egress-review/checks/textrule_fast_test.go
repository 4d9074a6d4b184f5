package checks

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	review "github.com/enclave-dev/enclave/egress-review"
)

// sameAsRef runs the text rule and the byte-at-a-time rule of before over
// p and fails t when what they charged differs in any way.
func sameAsRef(t *testing.T, p []byte, labels func([]byte) bool) {
	t.Helper()
	pr := review.Default()
	sameRules(t, p, newTextRule(labels, pr), newTextRule(labels, pr))
}

// sameAsRefProfile is sameAsRef with the labels of a profile, as the
// contract asks them (profile.textRule), and at most free numbers free.
func sameAsRefProfile(t *testing.T, p []byte, pr *profile, free int) {
	t.Helper()
	params := review.Default()
	params.TextFreeNumbers = free
	sameRules(t, p, pr.textRule(params), newTextRule(pr.isWord, params))
}

func sameRules(t *testing.T, p []byte, r, ref *textRule) {
	t.Helper()
	var got, want textCost
	r.text(&got, p, 1)
	ref.lineRef(&want, p, 1)
	ref.endRun(&want, 1)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("text of %d bytes %q:\n got %+v\nwant %+v", len(p), p[:min(len(p), 300)], got, want)
	}
}

// testTextProfile has some of the textPieces among its labels: words,
// codes, and numbers of each kind that the rule looks up.
func testTextProfile() *profile {
	pr := &profile{words: map[string]bool{}}
	for _, l := range []string{"Haicang", "C2614", "1234567", "2024-03-06", "12.5", "007", "512", "0.000123", "1,234", "Q4"} {
		pr.addWords(l)
	}
	return pr
}

// textPieces are what the generated texts are made of: words of every
// shape, numbers with separators, codes, escapes, masks, colours, number
// words, non-ASCII letters, numerals, full-width digits, invisible
// characters, and separators that end or join tokens.
var textPieces = []string{
	"the", "of", "district", "Haicang", "recorded", "penalty", "decisions", "industry", "XIAMEN", "camelCase",
	"strengths", "rhythms", "queueing", "aeiou", "bcdfghjklm", "ABCDEF", "deadbeef", "Q4", "H2O", "int64", "sha256",
	"1,234", "12.5", "0.000123", "1234567", "007", "1.2.3", "3,4,5", "12.5%", "1.25s", "512MiB", "2024-03-06T21:15Z",
	"C2614", "9f3c9f3c9f3c", "a1b2c3d4e5f6", "138****1234", "**bold**", "#ff0000", "#abc", "#zz", "%41", "%4", "\\x41",
	"\\u00e9", "\\U0001F600", "&#65;", "&#x41;", "&amp;", "one", "two", "three", "Seven", "hundred", "oh", "nil",
	"北京", "一二三", "壹贰叁肆", "１２３", "ｈｅｌｌｏ", "\u200b", "\u0301", "а", "x\u0430y", "\xff", "\xef", "—",
	" ", " ", " ", "  ", "\t", "\n", "\n", "\r\n", " \n", ".", ",", ";", "(", ")", "-", "/", "=", "#", "%", "&", "\\", "*",
}

// genText writes n bytes or so of pieces; ascii keeps to the pieces that
// are ASCII, whose texts the fast path reads 64 bytes at a time.
func genText(r *rand.Rand, n int, ascii bool) []byte {
	var b strings.Builder
	for b.Len() < n {
		piece := textPieces[r.IntN(len(textPieces))]
		if ascii && !isASCII(piece) {
			continue
		}
		b.WriteString(piece)
		if r.IntN(3) > 0 {
			b.WriteByte(' ')
		}
	}
	return []byte(b.String())
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// TestTextRuleSameAsRef holds the text rule to the rule of before over
// generated texts of every length around the 64-byte windows, with and
// without labels, and over the report of the benchmark.
func TestTextRuleSameAsRef(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	labels := func(b []byte) bool { s := string(b); return s == "Haicang" || s == "C2614" || s == "1234567" }
	for i := 0; i < 4000; i++ {
		p := genText(r, r.IntN(400), i%2 == 0)
		sameAsRef(t, p, nil)
		sameAsRef(t, p, labels)
	}
	for n := 0; n < 200; n++ {
		sameAsRef(t, genText(r, 2000, n%2 == 0)[:n], nil)
	}
	pr := testTextProfile()
	for i := 0; i < 1000; i++ {
		sameAsRefProfile(t, genText(r, r.IntN(3000), i%2 == 0), pr, []int{0, 2, 64}[i%3])
	}
	var report strings.Builder
	for i := 0; i < 200; i++ {
		report.WriteString("In 2021-04 the district of Haicang recorded 1234 penalty decisions in industry C2614, with a mean of 12345.6 yuan (12.3% of the city's total) and a median of 4321.\n")
	}
	sameAsRef(t, []byte(report.String()), nil)
	sameAsRefProfile(t, []byte(report.String()), pr, 64)
	sameAsRefProfile(t, []byte(report.String()), pr, 0)
}

// FuzzTextRuleSameAsRef holds the text rule to the rule of before on any
// bytes.
func FuzzTextRuleSameAsRef(f *testing.F) {
	f.Add([]byte("In 2021-04 the district of Haicang recorded 1,234 decisions (12.5%).\n"))
	f.Add([]byte("9f3c9f3c9f3c 138****1234 #ff0000 %41%42 one two three 一二三 １２３\n  \n"))
	f.Add(genText(rand.New(rand.NewPCG(1, 1)), 300, false))
	f.Add(genText(rand.New(rand.NewPCG(1, 1)), 300, true))
	pr := testTextProfile()
	f.Fuzz(func(t *testing.T, p []byte) {
		sameAsRef(t, p, nil)
		sameAsRefProfile(t, p, pr, 2)
	})
}
