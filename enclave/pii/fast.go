package pii

// Allocation-free checks for the scanner, which runs on every cell of
// every column kept raw. They agree with the Valid* functions, which
// explain a failure in an error; scan_test.go checks the agreement.

func isMobile(s string) bool {
	if len(s) == 13 && s[0] == '8' && s[1] == '6' {
		s = s[2:]
	}
	if len(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9' {
		return false
	}
	for i := 2; i < 11; i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isResidentID(s string) bool {
	if len(s) != 18 {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := s[i]
		if !isDigit(c) {
			return false
		}
		sum += int(c-'0') * residentIDWeights[i]
	}
	last := s[17]
	if last == 'x' {
		last = 'X'
	}
	if residentIDCheck[sum%11] != last {
		return false
	}
	return ValidResidentID(s) == nil // the birth date, rarely reached
}

var usccIndex = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(usccChars); i++ {
		t[usccChars[i]] = int8(i)
		if c := usccChars[i]; c >= 'A' && c <= 'Z' {
			t[c+('a'-'A')] = int8(i)
		}
	}
	return t
}()

func isUSCC(s string) bool {
	if len(s) != 18 {
		return false
	}
	switch upper(s[0]) {
	case '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'N', 'Y':
	default:
		return false
	}
	for i := 2; i < 8; i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := usccIndex[s[i]]
		if v < 0 {
			return false
		}
		sum += int(v) * usccWeights[i]
	}
	v := usccIndex[s[17]]
	return v >= 0 && int(v) == (31-sum%31)%31
}

// isCardDigits checks a separator-free digit string as a bank card.
func isCardDigits(d string) bool {
	return len(d) >= 15 && len(d) <= 19 && d[0] != '0' && LuhnValid(d)
}

// digitsOf copies the digits of s (dropping spaces and dashes) into buf.
func digitsOf(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '-' {
			buf = append(buf, s[i])
		}
	}
	return buf
}
