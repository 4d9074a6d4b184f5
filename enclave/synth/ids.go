package synth

import (
	"fmt"
	"time"

	"github.com/enclave-dev/enclave/enclave/pii"
)

// idDivision is the fictional division code of the people and
// organisations that ResidentID and USCC number: the city of Jinghe
// itself, which none of its districts uses.
const idDivision = "990100"

// MaxIDs bounds the sequence numbers ResidentID and USCC accept.
const MaxIDs = 1000 * 365 * 50

// ResidentID returns the n-th synthetic resident ID number (0 <= n <
// MaxIDs): division 990100 (fictional), a birth date from 1960-01-01 on
// (day n/1000), a sequence number n%1000 and a valid check character.
// Different n give different numbers; the same n always the same one. For
// registering people in demos and tests.
func ResidentID(n int) string {
	if n < 0 || n >= MaxIDs {
		panic(fmt.Sprintf("synth: resident id sequence %d out of range", n))
	}
	birth := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n/1000)
	first17 := idDivision + birth.Format("20060102") + fmt.Sprintf("%03d", n%1000)
	c, _ := pii.ResidentIDCheckChar(first17)
	return first17 + string(c)
}

// USCC returns the n-th synthetic unified social credit code (0 <= n <
// MaxIDs): registered by market regulation (9) as an enterprise (1) in
// division 990100 (fictional), with an organisation code that starts with
// a letter (so that it never reads as a resident ID number) and a valid
// check character. Different n give different codes. For licensing
// organisations in demos and tests.
func USCC(n int) string {
	if n < 0 || n >= MaxIDs {
		panic(fmt.Sprintf("synth: credit code sequence %d out of range", n))
	}
	const alpha = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	org := []byte("P00000000")
	for i := len(org) - 1; i > 0 && n > 0; i-- {
		org[i] = alpha[n%len(alpha)]
		n /= len(alpha)
	}
	first17 := "91" + idDivision + string(org)
	c, _ := pii.USCCCheckChar(first17)
	return first17 + string(c)
}
