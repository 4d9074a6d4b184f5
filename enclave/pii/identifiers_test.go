package pii

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// synthetic identifiers with valid check characters; the 99 region and
// division codes are not allocated to any real place.
func residentID(t testing.TB, first17 string) string {
	t.Helper()
	c, err := ResidentIDCheckChar(first17)
	if err != nil {
		t.Fatal(err)
	}
	return first17 + string(c)
}

func uscc(t testing.TB, first17 string) string {
	t.Helper()
	c, err := USCCCheckChar(first17)
	if err != nil {
		t.Fatal(err)
	}
	return first17 + string(c)
}

// luhnComplete appends the Luhn check digit to a digit string.
func luhnComplete(t testing.TB, body string) string {
	t.Helper()
	for d := byte('0'); d <= '9'; d++ {
		if LuhnValid(body + string(d)) {
			return body + string(d)
		}
	}
	t.Fatal("no luhn digit")
	return ""
}

func TestUSCCCheckChar(t *testing.T) {
	// Hand-computed: "91990100MA0000001" has weighted sum 9*1+1*3+9*9+9*27+
	// 0*19+1*26+0*16+0*17+21*20+10*29+0*25+0*13+0*8+0*24+0*10+0*30+1*28 =
	// 1100; 1100 mod 31 = 15; 31-15 = 16 -> 'G'.
	got, err := USCCCheckChar("91990100MA0000001")
	if err != nil {
		t.Fatal(err)
	}
	if got != 'G' {
		t.Fatalf("got %q, want %q", got, 'G')
	}
}

func TestValidators(t *testing.T) {
	rid := residentID(t, "99010119900307123")
	code := uscc(t, "91990100MA0000001")
	card := luhnComplete(t, "622200000000000012")
	badRID := rid[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", rid[17])+1)%11])
	badCode := code[:17] + "0"
	if code[17] == '0' {
		badCode = code[:17] + "1"
	}
	badCard := card[:len(card)-1] + string('0'+(card[len(card)-1]-'0'+1)%10)
	tests := []struct {
		name string
		kind Kind
		v    string
		ok   bool
	}{
		{"resident id", KindResidentID, rid, true},
		{"resident id wrong check", KindResidentID, badRID, false},
		{"mobile", KindMobile, "13912345678", true},
		{"mobile +86", KindMobile, "+8613912345678", true},
		{"mobile 86", KindMobile, "8613912345678", true},
		{"mobile bad prefix", KindMobile, "12912345678", false},
		{"mobile short", KindMobile, "1391234567", false},
		{"mobile letter", KindMobile, "1391234567a", false},
		{"uscc", KindUSCC, code, true},
		{"uscc lower", KindUSCC, strings.ToLower(code), true},
		{"uscc wrong check", KindUSCC, badCode, false},
		{"uscc bad authority", KindUSCC, "0" + code[1:], false},
		{"uscc letter in division", KindUSCC, code[:3] + "A" + code[4:], false},
		{"bank card", KindBankCard, card, true},
		{"bank card grouped", KindBankCard, card[:4] + " " + card[4:8] + " " + card[8:12] + " " + card[12:], true},
		{"bank card luhn fails", KindBankCard, badCard, false},
		{"bank card too short", KindBankCard, "4242424242424", false},
		{"bank card leading zero", KindBankCard, "0" + card[1:], false},
		{"email", KindEmail, "zhang.san+x@example.org", true},
		{"email no at", KindEmail, "example.org", false},
		{"email two at", KindEmail, "a@b@example.org", false},
		{"email no tld", KindEmail, "a@example", false},
		{"email double dot", KindEmail, "a..b@example.org", false},
		{"email numeric tld", KindEmail, "a@example.123", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.kind.Validate(tc.v)
			if got := err == nil; got != tc.ok {
				t.Fatalf("got valid=%v (%v), want %v", got, err, tc.ok)
			}
			if err != nil {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("got error class %v, want invalid argument", err)
				}
				if len(tc.v) >= 6 && strings.Contains(err.Error(), tc.v) {
					t.Fatalf("error %q contains the value", err)
				}
			}
		})
	}
}

func TestLuhn(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"79927398713", true}, // the classic example
		{"79927398710", false},
		{"", false},
		{"7992739871a", false},
		{"0", true},
	}
	for _, tc := range tests {
		t.Run(tc.v, func(t *testing.T) {
			if got := LuhnValid(tc.v); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMask(t *testing.T) {
	rid := residentID(t, "99010119900307123")
	code := uscc(t, "91990100MA0000001")
	card := luhnComplete(t, "622200000000000012")
	tests := []struct {
		name string
		kind Kind
		v    string
		want string
	}{
		{"resident id", KindResidentID, rid, "990***********" + rid[14:]},
		{"mobile", KindMobile, "13912345678", "139****5678"},
		{"mobile grouped", KindMobile, "139-1234-5678", "139****5678"},
		{"mobile +86", KindMobile, "+8613912345678", "+86139****5678"},
		{"uscc", KindUSCC, code, code[:8] + "********" + code[16:]},
		{"bank card", KindBankCard, card, card[:6] + "*********" + card[15:]},
		{"email", KindEmail, "zhang.san@example.org", "z***@example.org"},
		{"invalid masked whole", KindMobile, "not-a-phone", "***********"},
		{"invalid unicode masked whole", KindEmail, "张三", "**"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Mask(tc.kind, tc.v); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMaskKeep(t *testing.T) {
	tests := []struct {
		v           string
		first, last int
		c           rune
		want        string
	}{
		{"13912345678", 3, 4, '*', "139****5678"},
		{"张三丰", 1, 0, '#', "张##"},
		{"abc", 2, 1, '*', "***"},
		{"abc", 0, 0, 'x', "xxx"},
		{"", 1, 1, '*', ""},
	}
	for _, tc := range tests {
		t.Run(tc.v, func(t *testing.T) {
			if got := MaskKeep(tc.v, tc.first, tc.last, tc.c); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range Kinds() {
		got, err := ParseKind(string(k))
		if err != nil || got != k {
			t.Fatalf("got %q, %v, want %q", got, err, k)
		}
	}
	if _, err := ParseKind("passport"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("got %v, want invalid argument", err)
	}
	if KindUSCC.Personal() || !KindMobile.Personal() {
		t.Fatalf("got uscc personal=%v mobile personal=%v, want false, true", KindUSCC.Personal(), KindMobile.Personal())
	}
}
