package pii

import (
	"reflect"
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	rid := residentID(t, "99010119900307123")
	code := uscc(t, "91990100MA0000001")
	card := luhnComplete(t, "622200000000000012")
	grouped := card[:4] + " " + card[4:8] + " " + card[8:12] + " " + card[12:]
	tests := []struct {
		name string
		s    string
		want []Match
	}{
		{"empty", "", nil},
		{"plain text", "penalty for late filing, 2023", nil},
		{"resident id alone", rid, []Match{{KindResidentID, 0, 18}}},
		{"resident id in text", "id:" + rid + ".", []Match{{KindResidentID, 3, 21}}},
		{"resident id inside a longer number", "1" + rid, nil},
		{"mobile", "call 13912345678 now", []Match{{KindMobile, 5, 16}}},
		{"mobile grouped", "tel 139-1234-5678", []Match{{KindMobile, 4, 17}}},
		{"uscc", "code " + code, []Match{{KindUSCC, 5, 23}}},
		{"bank card", card, []Match{{KindBankCard, 0, len(card)}}},
		{"bank card grouped", "card " + grouped + " end", []Match{{KindBankCard, 5, 5 + len(grouped)}}},
		{"email", "mail zhang.san@example.org.", []Match{{KindEmail, 5, 26}}},
		{"two kinds", rid + ",13912345678", []Match{{KindResidentID, 0, 18}, {KindMobile, 19, 30}}},
		{"bad check digits", rid[:17] + "Z", nil},
		{"amount", "123456.78", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Scan(tc.s)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			k, ok := Contains(tc.s)
			if ok != (len(tc.want) > 0) || (ok && k != tc.want[0].Kind) {
				t.Fatalf("Contains got %q %v, want first of %v", k, ok, tc.want)
			}
		})
	}
}

func FuzzScan(f *testing.F) {
	f.Add("call 13912345678 now")
	f.Add("a.b@example.org")
	f.Add("6222 0000 0000 0000 12")
	f.Fuzz(func(t *testing.T, s string) {
		prev := 0
		for _, m := range Scan(s) {
			if m.Start < prev || m.End <= m.Start || m.End > len(s) {
				t.Fatalf("got match %v after %d in a %d-byte string, want ordered ranges inside it", m, prev, len(s))
			}
			if err := m.Kind.Validate(s[m.Start:m.End]); err != nil {
				t.Fatalf("got match %v that does not validate: %v", m, err)
			}
			prev = m.End
			if strings.ContainsAny(Mask(m.Kind, s[m.Start:m.End]), "\x00") && !strings.Contains(s, "\x00") {
				t.Fatal("mask invented a NUL")
			}
		}
	})
}

func BenchmarkScan(b *testing.B) {
	s := "Penalty decided for late filing of the annual report; contact the office during working hours."
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		Scan(s)
	}
}

// TestFastChecksAgree checks that the scanner's allocation-free checks
// accept exactly what the validators accept.
func TestFastChecksAgree(t *testing.T) {
	rid := residentID(t, "99010119900307123")
	code := uscc(t, "91990100MA0000001")
	card := luhnComplete(t, "622200000000000012")
	inputs := []string{rid, rid[:17] + "0", rid[:17] + "x", code, strings.ToLower(code), code[:17] + "0", "I" + code[1:],
		card, card[:18] + "1", "0" + card[1:], "13912345678", "8613912345678", "12912345678", "1391234567X",
		"99010119901307123" + "0", "990101199002301230"}
	for _, v := range inputs {
		t.Run(v, func(t *testing.T) {
			if got, want := isResidentID(v), ValidResidentID(v) == nil; got != want {
				t.Fatalf("resident id: got %v, want %v", got, want)
			}
			if got, want := isUSCC(v), ValidUSCC(v) == nil; got != want {
				t.Fatalf("uscc: got %v, want %v", got, want)
			}
			if got, want := isMobile(v), ValidMobile(v) == nil; got != want {
				t.Fatalf("mobile: got %v, want %v", got, want)
			}
			if got, want := isCardDigits(v), ValidBankCard(v) == nil; got != want {
				t.Fatalf("bank card: got %v, want %v", got, want)
			}
		})
	}
}
