package pii

import (
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
)

// ValidMobile reports whether s is a mainland China mobile phone number:
// 11 digits starting with 1 and a second digit from 3 to 9, optionally
// prefixed by "+86" or "86"; single spaces or dashes between digit groups
// are allowed. The error never contains s.
func ValidMobile(s string) error {
	s = strings.TrimPrefix(stripSeparators(s), "+86")
	if len(s) == 13 && strings.HasPrefix(s, "86") {
		s = s[2:]
	}
	if len(s) != 11 {
		return fmt.Errorf("mobile number must have 11 digits, got %d characters: %w", len(s), errdefs.ErrInvalidArgument)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("mobile number has a non-digit at position %d: %w", i+1, errdefs.ErrInvalidArgument)
		}
	}
	if s[0] != '1' || s[1] < '3' {
		return fmt.Errorf("mobile number has an invalid prefix: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// usccChars is the GB 32100-2015 alphabet: digits and capital letters
// without I, O, S, V and Z; a character's value is its index.
const usccChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

func usccValue(c byte) int {
	if c >= 'a' && c <= 'z' {
		c -= 'a' - 'A'
	}
	return strings.IndexByte(usccChars, c)
}

// USCCCheckChar returns the GB 32100-2015 check character for the first 17
// characters of a unified social credit code. It is used by generators of
// synthetic data.
func USCCCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("need 17 characters, got %d: %w", len(first17), errdefs.ErrInvalidArgument)
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := usccValue(first17[i])
		if v < 0 {
			return 0, fmt.Errorf("character outside the code alphabet at position %d: %w", i+1, errdefs.ErrInvalidArgument)
		}
		sum += v * usccWeights[i]
	}
	return usccChars[(31-sum%31)%31], nil
}

// ValidUSCC reports whether s is an 18-character unified social credit
// code (GB 32100-2015): a registration authority, an organisation type, a
// six-digit administrative division code, a nine-character organisation
// code and a correct MOD 31 check character. Lower case is accepted. The
// error never contains s.
func ValidUSCC(s string) error {
	if len(s) != 18 {
		return fmt.Errorf("unified social credit code must have 18 characters, got %d: %w", len(s), errdefs.ErrInvalidArgument)
	}
	if strings.IndexByte("123456789ANY", upper(s[0])) < 0 {
		return fmt.Errorf("unified social credit code has an invalid registration authority: %w", errdefs.ErrInvalidArgument)
	}
	for i := 2; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("unified social credit code has a non-digit in its division code at position %d: %w", i+1, errdefs.ErrInvalidArgument)
		}
	}
	c, err := USCCCheckChar(s[:17])
	if err != nil {
		return fmt.Errorf("unified social credit code: %w", err)
	}
	if usccValue(s[17]) < 0 || c != upper(s[17]) {
		return fmt.Errorf("unified social credit code has a wrong check character: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// LuhnValid reports whether the digit string s passes the Luhn (ISO/IEC
// 7812-1) check. It returns false for an empty string or any non-digit.
func LuhnValid(s string) bool {
	if s == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ValidBankCard reports whether s is a payment card number: 15 to 19
// digits, not starting with 0, passing the Luhn check. Single spaces or
// dashes between digit groups are allowed. The error never contains s.
func ValidBankCard(s string) error {
	d := stripSeparators(s)
	if len(d) < 15 || len(d) > 19 {
		return fmt.Errorf("bank card number must have 15 to 19 digits, got %d characters: %w", len(d), errdefs.ErrInvalidArgument)
	}
	if d[0] == '0' {
		return fmt.Errorf("bank card number starts with 0: %w", errdefs.ErrInvalidArgument)
	}
	if !LuhnValid(d) {
		return fmt.Errorf("bank card number fails the luhn check: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

func stripSeparators(s string) string {
	if strings.IndexAny(s, " -") < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '-' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// ValidEmail reports whether s looks like an e-mail address: a non-empty
// local part of letters, digits and ._%+- (no leading, trailing or double
// dot), one '@', and a domain of at least two dot-separated labels whose
// last label has two or more letters. The error never contains s.
func ValidEmail(s string) error {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || len(s) > 254 {
		return fmt.Errorf("e-mail address must have one '@' after a non-empty local part: %w", errdefs.ErrInvalidArgument)
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return fmt.Errorf("e-mail address has an invalid local part: %w", errdefs.ErrInvalidArgument)
	}
	for i := 0; i < len(local); i++ {
		if !isLocalChar(local[i]) {
			return fmt.Errorf("e-mail address has an invalid character in its local part: %w", errdefs.ErrInvalidArgument)
		}
	}
	if !validDomain(domain) {
		return fmt.Errorf("e-mail address has an invalid domain: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isDomainChar(l[i]) || l[i] == '.' {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if !isLetter(tld[i]) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool  { return isLetter(c) || isDigit(c) }
func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}
func isDomainChar(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }
