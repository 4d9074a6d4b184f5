package pii

import (
	"fmt"
	"time"

	"github.com/containerd/errdefs"
)

var residentIDWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const residentIDCheck = "10X98765432"

// ValidResidentID reports whether s is an 18-character resident identity
// card number (GB 11643-1999) with a plausible birth date and a correct ISO
// 7064 MOD 11-2 check character. The error never contains s.
func ValidResidentID(s string) error {
	if len(s) != 18 {
		return fmt.Errorf("resident id number must have 18 characters, got %d: %w", len(s), errdefs.ErrInvalidArgument)
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return fmt.Errorf("resident id number has a non-digit at position %d: %w", i+1, errdefs.ErrInvalidArgument)
		}
		sum += int(c-'0') * residentIDWeights[i]
	}
	if _, err := time.Parse("20060102", s[6:14]); err != nil {
		return fmt.Errorf("resident id number has an invalid birth date: %w", errdefs.ErrInvalidArgument)
	}
	last := s[17]
	if last == 'x' {
		last = 'X'
	}
	if residentIDCheck[sum%11] != last {
		return fmt.Errorf("resident id number has a wrong check digit: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// ResidentIDBirthDate returns the birth date a valid resident ID number
// carries (characters 7 to 14), at midnight UTC. It checks s with
// ValidResidentID first; the error never contains s.
func ResidentIDBirthDate(s string) (time.Time, error) {
	if err := ValidResidentID(s); err != nil {
		return time.Time{}, err
	}
	return time.Parse("20060102", s[6:14])
}

// ResidentIDCheckChar returns the check character for the first 17 digits
// of a resident ID number. It is used by generators of synthetic data.
func ResidentIDCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("need 17 digits, got %d: %w", len(first17), errdefs.ErrInvalidArgument)
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("non-digit at position %d: %w", i+1, errdefs.ErrInvalidArgument)
		}
		sum += int(c-'0') * residentIDWeights[i]
	}
	return residentIDCheck[sum%11], nil
}

// MaskResidentID returns the masked display form of a valid resident ID
// number: the first 3 and last 4 characters kept, the rest replaced by '*'.
func MaskResidentID(s string) string {
	if len(s) != 18 {
		return "******************"
	}
	return s[:3] + "***********" + s[14:]
}
