package pii

import (
	"strings"
	"testing"
)

// FuzzValidResidentID feeds any string to the resident ID validator: it
// never panics, never repeats its input in an error, accepts only 18
// characters whose last one is the check character of the first 17, and
// agrees with ResidentIDBirthDate.
func FuzzValidResidentID(f *testing.F) {
	for _, s := range []string{"32058319900101007X", "32058319900101007x", "320583199001010071", "32058319901301007X",
		"990101198002290011", "", "X", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidResidentID(s)
		birth, berr := ResidentIDBirthDate(s)
		if (err == nil) != (berr == nil) {
			t.Fatalf("got ValidResidentID %v and ResidentIDBirthDate %v, want both nil or both errors", err, berr)
		}
		if err != nil {
			if len(s) >= 6 && strings.Contains(err.Error(), s) {
				t.Fatalf("got error %q, want one that does not repeat the input", err)
			}
			return
		}
		if len(s) != 18 {
			t.Fatalf("got %d-byte string accepted, want 18", len(s))
		}
		c, cerr := ResidentIDCheckChar(s[:17])
		if cerr != nil || c != upper(s[17]) {
			t.Fatalf("got check char %q (%v) for an accepted number ending in %q", c, cerr, s[17])
		}
		if got := birth.Format("20060102"); got != s[6:14] {
			t.Fatalf("got birth date %s, want %s", got, s[6:14])
		}
	})
}

// FuzzValidUSCC feeds any string to the unified social credit code
// validator: it never panics, never repeats its input in an error, and
// accepts only 18 characters of the code alphabet whose last one is the
// check character of the first 17.
func FuzzValidUSCC(f *testing.F) {
	for _, s := range []string{"91990104A6N74W818W", "91990104a6n74w818w", "91990104A6N74W818X", "01990104A6N74W818W",
		"919901O4A6N74W818W", "", "9", "ZZZZZZZZZZZZZZZZZZ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidUSCC(s)
		if err != nil {
			if len(s) >= 6 && strings.Contains(err.Error(), s) {
				t.Fatalf("got error %q, want one that does not repeat the input", err)
			}
			return
		}
		if len(s) != 18 {
			t.Fatalf("got %d-byte string accepted, want 18", len(s))
		}
		c, cerr := USCCCheckChar(s[:17])
		if cerr != nil || c != upper(s[17]) {
			t.Fatalf("got check char %q (%v) for an accepted code ending in %q", c, cerr, s[17])
		}
		for i := 0; i < len(s); i++ {
			if usccValue(s[i]) < 0 {
				t.Fatalf("got a code with %q at position %d accepted, want only the code alphabet", s[i], i+1)
			}
		}
	})
}

func TestResidentIDBirthDate(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" for an error
	}{
		{"32058319900101007X", "1990-01-01"},
		{"32058319901301007X", ""},
		{"320583199001010071", ""},
	} {
		got, err := ResidentIDBirthDate(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: got %s, want an error", tc.in, got.Format("2006-01-02"))
		case tc.want != "" && (err != nil || got.Format("2006-01-02") != tc.want):
			t.Errorf("%s: got %s %v, want %s", tc.in, got.Format("2006-01-02"), err, tc.want)
		}
	}
}
