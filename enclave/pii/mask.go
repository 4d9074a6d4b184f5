package pii

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/containerd/errdefs"
)

// Kind names a kind of identifier that this package recognises.
type Kind string

// The identifier kinds. Their string values are the names used in import
// specs (for example `mask: {as: mobile}` or `acknowledge: [resident-id]`).
const (
	KindResidentID Kind = "resident-id"
	KindMobile     Kind = "mobile"
	KindUSCC       Kind = "uscc"
	KindBankCard   Kind = "bank-card"
	KindEmail      Kind = "email"
)

// Kinds lists every identifier kind in a stable order.
func Kinds() []Kind {
	return []Kind{KindResidentID, KindMobile, KindUSCC, KindBankCard, KindEmail}
}

// ParseKind returns the Kind named s, or an errdefs.ErrInvalidArgument
// class error naming s (a kind name, never a data value).
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown identifier kind %q: %w", s, errdefs.ErrInvalidArgument)
}

// Personal reports whether the kind identifies a natural person. The
// unified social credit code identifies an organisation and is not
// personal.
func (k Kind) Personal() bool { return k != KindUSCC }

// Validate checks v as an identifier of kind k.
func (k Kind) Validate(v string) error {
	switch k {
	case KindResidentID:
		return ValidResidentID(v)
	case KindMobile:
		return ValidMobile(v)
	case KindUSCC:
		return ValidUSCC(v)
	case KindBankCard:
		return ValidBankCard(v)
	case KindEmail:
		return ValidEmail(v)
	}
	return fmt.Errorf("unknown identifier kind %q: %w", string(k), errdefs.ErrInvalidArgument)
}

// Mask returns the conventional masked display form of v as an identifier
// of kind k:
//
//	resident-id  first 3 and last 4 kept          110***********123X
//	mobile       first 3 and last 4 kept          138****5678
//	uscc         first 8 (authority, type, division) and last 2 kept
//	bank-card    first 6 (issuer) and last 4 kept
//	email        first character of the local part and the domain kept
//
// A value that is not a valid identifier of kind k is masked entirely
// (every character replaced), so that masking never leaks an unexpected
// value.
func Mask(k Kind, v string) string {
	if k.Validate(v) != nil {
		return MaskAll(v, '*')
	}
	switch k {
	case KindResidentID:
		return MaskResidentID(v)
	case KindMobile:
		d := stripSeparators(v)
		n := len(d)
		return d[:n-8] + "****" + d[n-4:]
	case KindUSCC:
		return v[:8] + "********" + v[16:]
	case KindBankCard:
		d := stripSeparators(v)
		return d[:6] + strings.Repeat("*", len(d)-10) + d[len(d)-4:]
	case KindEmail:
		at := strings.IndexByte(v, '@')
		return v[:1] + "***" + v[at:]
	}
	return MaskAll(v, '*')
}

// MaskAll replaces every character of v by c.
func MaskAll(v string, c rune) string {
	return strings.Repeat(string(c), utf8.RuneCountInString(v))
}

// MaskKeep keeps the first and last characters (runes) of v and replaces
// the rest by c. When first+last covers the whole value, everything is
// masked, so that no rule can keep a value whole by accident.
func MaskKeep(v string, first, last int, c rune) string {
	n := utf8.RuneCountInString(v)
	if first < 0 {
		first = 0
	}
	if last < 0 {
		last = 0
	}
	if first+last >= n {
		return MaskAll(v, c)
	}
	var b strings.Builder
	b.Grow(len(v))
	i := 0
	for _, r := range v {
		if i < first || i >= n-last {
			b.WriteRune(r)
		} else {
			b.WriteRune(c)
		}
		i++
	}
	return b.String()
}
