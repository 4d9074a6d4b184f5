package checks

import (
	"strings"
	"testing"
)

// TestProfileIsWord holds isWord to a lookup of the token in lower case in
// the words: for the words in any case, for tokens that share a first
// byte or a length with a word, for tokens longer than its buffer, and
// for the empty token; and it allocates nothing.
func TestProfileIsWord(t *testing.T) {
	pr := &profile{words: map[string]bool{}}
	long := strings.Repeat("Region", 12) // 72 bytes
	for _, s := range []string{"Siming", "C2614", "2019-03", "age_band", long, "Ärger"} {
		pr.addWords(s)
	}
	for _, tok := range []string{
		"siming", "SIMING", "Siming", "simin", "siminG", "simings", "c2614", "C2614", "C2615", "c261", "2019", "03",
		"2020", "3", "age", "band", "age_band", "AGE", "bands", strings.ToLower(long), strings.ToUpper(long), long + "x",
		"region", "REGION", "ärger", "rger", "", "x", "0", "*", "1234567", "\x0003", "03\x00", "\x00",
	} {
		want := pr.words[strings.ToLower(tok)]
		if got := pr.isWord([]byte(tok)); got != want {
			t.Errorf("isWord(%q) = %v, want %v", tok, got, want)
		}
	}
	for _, tok := range []string{"siming", "SIMING", "C2614", "12345.6", "2019"} {
		if n := testing.AllocsPerRun(100, func() { pr.isWord([]byte(tok)) }); n != 0 {
			t.Errorf("isWord(%q) allocates %v times", tok, n)
		}
	}
	if !pr.isWord([]byte("Siming")) || pr.isWord([]byte("Simings")) {
		t.Fatal("isWord does not tell a word from a longer token")
	}
}
