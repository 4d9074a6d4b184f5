package pii

import "strings"

// Match is one identifier found in a string: its kind and its byte range
// s[Start:End].
type Match struct {
	Kind       Kind
	Start, End int
}

// Scan finds the identifiers in s whose check digits or structure
// validate: resident ID numbers, mobile numbers, unified social credit
// codes, bank card numbers (also written in groups separated by single
// spaces or dashes) and e-mail addresses. Candidates are maximal runs of
// ASCII letters and digits, so a number inside a longer number is not
// reported. An 18-character run that is a valid resident ID is reported as
// such and not also as a credit code. Scan allocates only for its result.
func Scan(s string) []Match {
	var out []Match
	ScanFunc(s, func(m Match) bool { out = append(out, m); return true })
	return out
}

// Contains reports whether s holds at least one identifier, and the kind of
// the first one found.
func Contains(s string) (Kind, bool) {
	var k Kind
	found := false
	ScanFunc(s, func(m Match) bool { k, found = m.Kind, true; return false })
	return k, found
}

// ScanFunc calls fn for every identifier found in s, in order, until fn
// returns false.
func ScanFunc(s string, fn func(Match) bool) {
	n := len(s)
	hasAt := strings.IndexByte(s, '@') >= 0
	for i := 0; i < n; {
		c := s[i]
		if !isAlnum(c) {
			i++
			continue
		}
		j := i
		digits := true
		for j < n && isAlnum(s[j]) {
			if !isDigit(s[j]) {
				digits = false
			}
			j++
		}
		// An e-mail address: the run is followed by '@' or is part of a
		// local part with dots; handle the address as one candidate.
		if hasAt {
			if at, ok := emailAt(s, i, j); ok {
				start, end := emailBounds(s, at)
				if end > start && ValidEmail(s[start:end]) == nil {
					if !fn(Match{Kind: KindEmail, Start: start, End: end}) {
						return
					}
					i = end
					continue
				}
			}
		}
		if k, ok := classify(s[i:j], digits); ok {
			if !fn(Match{Kind: k, Start: i, End: j}) {
				return
			}
			i = j
			continue
		}
		// Digit groups joined by single spaces or dashes: bank cards and
		// mobile numbers written for reading.
		if digits && j < n && (s[j] == ' ' || s[j] == '-') {
			e := j
			total := j - i
			for e < n && (s[e] == ' ' || s[e] == '-') && e+1 < n && isDigit(s[e+1]) {
				k := e + 1
				for k < n && isDigit(s[k]) {
					k++
				}
				if k < n && isLetter(s[k]) {
					break
				}
				total += k - e - 1
				e = k
				if total > 19 {
					break
				}
			}
			if e > j && (e == n || !isAlnum(s[e])) {
				var dbuf [24]byte
				d := string(digitsOf(dbuf[:0], s[i:e])) // does not escape
				switch {
				case total == 11 && isMobile(d):
					if !fn(Match{Kind: KindMobile, Start: i, End: e}) {
						return
					}
					i = e
					continue
				case isCardDigits(d):
					if !fn(Match{Kind: KindBankCard, Start: i, End: e}) {
						return
					}
					i = e
					continue
				}
			}
		}
		i = j
	}
}

// classify decides the kind of one alphanumeric run.
func classify(run string, digits bool) (Kind, bool) {
	switch len(run) {
	case 11, 13:
		if digits && isMobile(run) {
			return KindMobile, true
		}
	case 18:
		if isResidentID(run) {
			return KindResidentID, true
		}
		if isUSCC(run) {
			return KindUSCC, true
		}
	}
	if digits && isCardDigits(run) {
		return KindBankCard, true
	}
	return "", false
}

// emailAt reports whether the run s[i:j] belongs to an e-mail address,
// returning the index of its '@'.
func emailAt(s string, i, j int) (int, bool) {
	k := j
	for k < len(s) && isLocalChar(s[k]) {
		k++
	}
	if k < len(s) && s[k] == '@' && k > i {
		return k, true
	}
	return 0, false
}

func emailBounds(s string, at int) (int, int) {
	start := at
	for start > 0 && isLocalChar(s[start-1]) {
		start--
	}
	end := at + 1
	for end < len(s) && isDomainChar(s[end]) {
		end++
	}
	// Trailing dots or dashes end a sentence, not a domain.
	for end > at+1 && (s[end-1] == '.' || s[end-1] == '-') {
		end--
	}
	return start, end
}
