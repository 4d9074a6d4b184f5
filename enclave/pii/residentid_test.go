package pii

import (
	"strings"
	"testing"
)

func TestValidResidentID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" for valid, else a substring of the error
	}{
		{"32058319900101007X", ""},
		{"32058319900101007x", ""},
		{"320583199001010071", "check digit"},
		{"32058319901301007X", "birth date"},
		{"3205831990010100", "18 characters"},
		{"32058319900101A07X", "non-digit"},
	} {
		err := ValidResidentID(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: got %v, want valid", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error about %q", tc.in, err, tc.want)
		case err != nil && strings.Contains(err.Error(), tc.in):
			t.Errorf("the error repeats the number: %v", err)
		}
	}
	c, err := ResidentIDCheckChar("32058319900101007")
	if err != nil || c != 'X' {
		t.Fatalf("check char: got %c %v, want X", c, err)
	}
	if got := MaskResidentID("32058319900101007X"); got != "320***********007X" {
		t.Fatalf("mask: got %q", got)
	}
}
