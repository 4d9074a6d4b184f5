package ingest

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// Level is a classification level after GB/T 43697-2024, ordered from the
// least to the most sensitive. The zero value is not a valid level. `core`
// data is refused at import and has no Level.
type Level int

// The levels, in order.
const (
	General1 Level = iota + 1
	General2
	General3
	General4
	Important
)

var levelNames = map[Level]string{
	General1: "general-1", General2: "general-2", General3: "general-3",
	General4: "general-4", Important: "important",
}

// String returns the level's name as written in specs and marks.
func (l Level) String() string {
	if s, ok := levelNames[l]; ok {
		return s
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// ParseLevel parses a level name; `core` and unknown names are
// errdefs.ErrInvalidArgument class errors.
func ParseLevel(s string) (Level, error) {
	for l, n := range levelNames {
		if n == s {
			return l, nil
		}
	}
	if s == "core" {
		return 0, fmt.Errorf("level %q is refused: %w", s, errdefs.ErrInvalidArgument)
	}
	return 0, fmt.Errorf("unknown level %q: %w", s, errdefs.ErrInvalidArgument)
}

// Market is the market class of a dataset.
type Market string

// The market classes.
const (
	MarketOrdinary   Market = "ordinary"
	MarketAuthorized Market = "authorized"
	MarketWithheld   Market = "withheld"
)

// ParseMarket parses a market class.
func ParseMarket(s string) (Market, error) {
	switch m := Market(s); m {
	case MarketOrdinary, MarketAuthorized, MarketWithheld:
		return m, nil
	}
	return "", fmt.Errorf("unknown market class %q: %w", s, errdefs.ErrInvalidArgument)
}

// Sharing is the sharing class of a dataset (R-02, 000 art. 14; 002 art.
// 8): unconditional, conditional (an application names its conditions,
// which the authority sees), or none (never granted).
type Sharing string

// The sharing classes.
const (
	SharingUnconditional Sharing = "unconditional"
	SharingConditional   Sharing = "conditional"
	SharingNone          Sharing = "none"
)

// ParseSharing parses a sharing class.
func ParseSharing(s string) (Sharing, error) {
	switch v := Sharing(s); v {
	case SharingUnconditional, SharingConditional, SharingNone:
		return v, nil
	}
	return "", fmt.Errorf("unknown sharing class %q: %w", s, errdefs.ErrInvalidArgument)
}

// PIType is the personal-information type of a column.
type PIType string

// The personal-information types; PINone is the empty string.
const (
	PINone            PIType = ""
	PIIdentity        PIType = "identity"
	PIProperty        PIType = "property"
	PIHealth          PIType = "health"
	PIBiometric       PIType = "biometric"
	PINetworkIdentity PIType = "network-identity"
)

// ParsePIType parses a personal-information type; "" is PINone.
func ParsePIType(s string) (PIType, error) {
	switch p := PIType(s); p {
	case PINone, PIIdentity, PIProperty, PIHealth, PIBiometric, PINetworkIdentity:
		return p, nil
	}
	return "", fmt.Errorf("unknown personal-information type %q: %w", s, errdefs.ErrInvalidArgument)
}

// Metadata keys of the marks. Field marks sit in each field's metadata,
// dataset marks in the schema's metadata. Users cannot remove them: jobs
// only ever see copies, and the egress checks refuse outputs without them.
const (
	MarkLevel      = "enclave.level"       // field and schema (the highest field level)
	MarkPI         = "enclave.pi"          // field: personal-information type, "" for none
	MarkRule       = "enclave.rule"        // field: the rule applied, as Rule.String
	MarkSource     = "enclave.source"      // field: "dataset@version/column"
	MarkEpsilon    = "enclave.epsilon"     // field: the Laplace epsilon of a noise rule
	MarkDataset    = "enclave.dataset"     // schema
	MarkVersion    = "enclave.version"     // schema
	MarkMarket     = "enclave.market"      // schema
	MarkSharing    = "enclave.sharing"     // schema (issue 20)
	MarkCategory   = "enclave.category"    // schema
	MarkImportedAt = "enclave.imported_at" // schema, RFC 3339 UTC
	MarkSpecSHA256 = "enclave.spec_sha256" // schema
)

// MarshalText writes the level's name, so that JSON shows "general-3".
func (l Level) MarshalText() ([]byte, error) {
	if _, ok := levelNames[l]; !ok {
		return nil, fmt.Errorf("level %d: %w", int(l), errdefs.ErrInvalidArgument)
	}
	return []byte(l.String()), nil
}

// UnmarshalText parses a level name.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
