package synth

import (
	"testing"

	"github.com/enclave-dev/enclave/enclave/pii"
)

func TestSyntheticIDs(t *testing.T) {
	seen := map[string]int{}
	for _, n := range []int{0, 1, 2, 999, 1000, 1001, 30 * 31, 31 * 31 * 31, 123456, MaxIDs - 1} {
		id, code := ResidentID(n), USCC(n)
		if err := pii.ValidResidentID(id); err != nil {
			t.Errorf("ResidentID(%d): got %v, want a valid number", n, err)
		}
		if err := pii.ValidUSCC(code); err != nil {
			t.Errorf("USCC(%d): got %v, want a valid code", n, err)
		}
		if pii.ValidResidentID(code) == nil {
			t.Errorf("USCC(%d): got a code that reads as a resident id number", n)
		}
		if id[:6] != "990100" || code[2:8] != "990100" {
			t.Errorf("n=%d: got divisions %s and %s, want the fictional 990100", n, id[:6], code[2:8])
		}
		if ResidentID(n) != id || USCC(n) != code {
			t.Errorf("n=%d: got different values for the same n", n)
		}
		for _, s := range []string{id, code} {
			if m, dup := seen[s]; dup {
				t.Errorf("n=%d and n=%d: got the same value", m, n)
			}
			seen[s] = n
		}
	}
	birth, _ := pii.ResidentIDBirthDate(ResidentID(MaxIDs - 1))
	if birth.Year() >= 2010 {
		t.Errorf("got latest birth year %d, want people born before 2010", birth.Year())
	}
}
