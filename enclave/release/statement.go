package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
)

// Signed statements other than a release's attestation (a service's
// daily usage statement, issue 19 item 6) use the same envelope and key:
// an in-toto v1 statement in a DSSE envelope, signed over PAE by the
// enclave's ed25519 key, whose one subject is the SHA-256 of the
// predicate as signed. ParseEnvelope and OpenStatement check one offline.

// MaxEnvelope bounds a statement envelope read from outside.
const MaxEnvelope = 1 << 20

// ParseEnvelope reads a DSSE envelope from JSON, strictly: no unknown
// field, nothing after it, at most MaxEnvelope bytes. Errors never quote
// the input.
func ParseEnvelope(data []byte) (*Envelope, error) {
	if len(data) > MaxEnvelope {
		return nil, fmt.Errorf("statement: larger than %d bytes: %w", MaxEnvelope, errdefs.ErrInvalidArgument)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var env Envelope
	if err := dec.Decode(&env); err != nil || dec.More() {
		return nil, fmt.Errorf("statement: not one DSSE envelope in JSON: %w", errdefs.ErrInvalidArgument)
	}
	return &env, nil
}

// OpenStatement checks env with pub: its payload type, a signature by pub
// (ErrDataLoss when none verifies), an in-toto v1 statement of
// predicateType with one subject whose SHA-256 is the predicate's; it
// returns the predicate as signed. Nothing of an envelope that fails is
// returned.
func OpenStatement(env *Envelope, pub ed25519.PublicKey, predicateType string) (json.RawMessage, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key must be %d bytes of ed25519: %w", ed25519.PublicKeySize, errdefs.ErrInvalidArgument)
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("statement: payload type %q, want %q: %w", clean(env.PayloadType), PayloadType, errdefs.ErrInvalidArgument)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("statement: payload is not base64: %w", errdefs.ErrInvalidArgument)
	}
	if !env.signedBy(pub, payload) {
		return nil, fmt.Errorf("statement: no signature verifies with the key %s: %w", KeyID(pub)[:16], errdefs.ErrDataLoss)
	}
	var st struct {
		Type          string          `json:"_type"`
		Subject       []Subject       `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("statement: signed payload does not parse: %w", errdefs.ErrDataLoss)
	}
	if st.Type != StatementType || st.PredicateType != predicateType {
		return nil, fmt.Errorf("statement: not a %s statement: %w", predicateType, errdefs.ErrInvalidArgument)
	}
	sum := sha256.Sum256(st.Predicate)
	if len(st.Subject) != 1 || st.Subject[0].Digest.SHA256 != hex.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("statement: its subject does not match the SHA-256 of its predicate: %w", errdefs.ErrDataLoss)
	}
	return st.Predicate, nil
}

// signedBy reports whether one of env's signatures is pub's over DSSE's
// PAE of payload (env's payload, decoded).
func (env *Envelope) signedBy(pub ed25519.PublicKey, payload []byte) bool {
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err == nil && ed25519.Verify(pub, PAE(env.PayloadType, payload), sig) {
			return true
		}
	}
	return false
}

// OpenUsageStatement checks a service's signed daily usage statement
// (OpenStatement) and decodes its predicate strictly.
func OpenUsageStatement(env *Envelope, pub ed25519.PublicKey) (*api.UsageStatement, error) {
	raw, err := OpenStatement(env, pub, api.UsageStatementType)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var st api.UsageStatement
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("statement: its predicate is not a usage statement: %w", errdefs.ErrInvalidArgument)
	}
	return &st, nil
}
