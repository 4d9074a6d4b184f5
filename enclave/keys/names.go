package keys

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/containerd/errdefs"
)

// MaxNameLen is the longest object name or secret purpose, in bytes, that
// a Keyring accepts.
const MaxNameLen = 255

// ValidObject checks an object name given to a Keyring: non-empty, at most
// MaxNameLen bytes of UTF-8 without control characters or spaces, so that
// it is safe to quote in errors and records. It returns an
// errdefs.ErrInvalidArgument class error otherwise.
func ValidObject(object string) error {
	return validName("object", object)
}

// ValidPurpose checks a secret purpose given to Keyring.Secret with the
// same rules as ValidObject.
func ValidPurpose(purpose string) error {
	return validName("purpose", purpose)
}

func validName(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s name: %w", what, errdefs.ErrInvalidArgument)
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("%s name of %d bytes is longer than %d: %w", what, len(s), MaxNameLen, errdefs.ErrInvalidArgument)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s name is not valid UTF-8: %w", what, errdefs.ErrInvalidArgument)
	}
	for i, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%s name has a control or space character at byte %d: %w", what, i, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}
