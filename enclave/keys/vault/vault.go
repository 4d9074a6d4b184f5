// Package vault is the keyring of the enclave backed by HashiCorp Vault's
// transit secrets engine: no key material but data keys ever leaves Vault.
//
// Every object has a transit key of its own, of type aes256-gcm96 and not
// exportable, named KeyPrefix + a readable form of the object name + "-" +
// 16 hex digits of its SHA-256 (see KeyName). NewDataKey creates that key
// if needed and asks transit/datakey/plaintext for a 256-bit data key (no
// derivation context); UnwrapDataKey is transit/decrypt; Shred sets
// deletion_allowed on the key and deletes it, after which Vault has no way
// to decrypt the object's wrapped keys. The wrapped form of a data key is
// Vault's ciphertext string ("vault:v1:…") as bytes.
//
// Sign uses an ed25519 transit key (Config.SigningKey, pinned to the
// version that was latest when the keyring was opened) and PublicKey
// returns that version's public key. Secret(purpose) is transit/hmac
// (SHA-256, key version 1) of the fixed label "enclave-vault-secret-v1",
// a zero byte and the purpose under a dedicated key (Config.SecretsKey), so
// secrets are computed by Vault, never stored, and stable for the life of
// that key; they are cached in memory.
//
// Keys are created on first use. A token needs this policy (with the
// default mount and names):
//
//	path "transit/keys/enclave-*"              { capabilities = ["create", "read", "update", "delete"] }
//	path "transit/keys/enclave-*/config"       { capabilities = ["update"] }
//	path "transit/datakey/plaintext/enclave-*" { capabilities = ["update"] }
//	path "transit/decrypt/enclave-*"           { capabilities = ["update"] }
//	path "transit/hmac/enclave-secrets/*"      { capabilities = ["update"] }
//	path "transit/sign/enclave-signing"        { capabilities = ["update"] }
//
// Errors carry errdefs classes and the HTTP status, never the token, key
// material or Vault's own messages. The vault/api client reads some VAULT_*
// environment variables by itself; New overrides the address, token and
// namespace from Config.
package vault

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/hashicorp/vault/api"

	"github.com/enclave-dev/enclave/enclave/keys"
)

const (
	secretLabel = "enclave-vault-secret-v1\x00"
	// maxWrapped bounds a wrapped data key sent to Vault; real ones are
	// about 90 bytes.
	maxWrapped = 1024
)

// Keyring is the Vault transit keyring. Make one with New; it is safe for
// concurrent use.
type Keyring struct {
	cfg    Config
	client *api.Client

	signVersion int
	public      ed25519.PublicKey

	mu      sync.Mutex
	secrets map[string][]byte
}

var _ keys.Keyring = (*Keyring)(nil)

// New connects to Vault, makes sure the signing key (ed25519) and the
// secrets key exist, creating them when missing, and reads the public key.
// Empty fields of cfg take their Default values. An unreachable or sealed
// Vault returns an errdefs.ErrUnavailable class error, a token without the
// needed rights an errdefs.ErrPermissionDenied one, a signing key of
// another type an errdefs.ErrFailedPrecondition one.
func New(ctx context.Context, cfg Config) (*Keyring, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLS != nil {
		transport.TLSClientConfig = cfg.TLS.Clone()
	}
	client, err := api.NewClient(&api.Config{
		Address:    cfg.Address,
		HttpClient: &http.Client{Transport: transport},
		Timeout:    cfg.Timeout,
		MaxRetries: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("vault client for %q: %w", cfg.Address, errdefs.ErrInvalidArgument)
	}
	client.SetToken(cfg.Token)
	if cfg.Namespace != "" {
		client.SetNamespace(cfg.Namespace)
	} else {
		client.ClearNamespace()
	}
	k := &Keyring{cfg: cfg, client: client, secrets: map[string][]byte{}}

	if err := k.ensureKey(ctx, cfg.SigningKey, "ed25519"); err != nil {
		return nil, err
	}
	if err := k.ensureKey(ctx, cfg.SecretsKey, "aes256-gcm96"); err != nil {
		return nil, err
	}
	if err := k.loadPublicKey(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Name returns "vault".
func (k *Keyring) Name() string { return "vault" }

// KeyName returns the name of the transit key of object, such as
// "enclave-dataset_credit_penalties_3-9f86d081884c7d65" for
// "dataset/credit_penalties@3". Characters Vault does not allow in key
// names become underscores; the hash keeps distinct objects apart.
func (k *Keyring) KeyName(object string) string {
	sum := sha256.Sum256([]byte(object))
	var b strings.Builder
	b.WriteString(k.cfg.KeyPrefix)
	for i, r := range object {
		if i >= 48 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	b.WriteByte('-')
	b.WriteString(hex.EncodeToString(sum[:8]))
	return b.String()
}

func (k *Keyring) path(parts ...string) string {
	return k.cfg.Mount + "/" + strings.Join(parts, "/")
}

// NewDataKey creates the object's transit key if it does not exist and
// returns a fresh data key from transit/datakey/plaintext.
func (k *Keyring) NewDataKey(ctx context.Context, object string) (plain, wrapped []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := keys.ValidObject(object); err != nil {
		return nil, nil, err
	}
	name := k.KeyName(object)
	if err := k.createKey(ctx, name, "aes256-gcm96"); err != nil {
		return nil, nil, fmt.Errorf("key of object %q: %w", object, err)
	}
	s, err := k.client.Logical().WriteWithContext(ctx, k.path("datakey", "plaintext", name), map[string]any{"bits": 256})
	if err != nil {
		return nil, nil, fmt.Errorf("data key of object %q: %w", object, classify(ctx, "datakey", err))
	}
	if s == nil {
		return nil, nil, fmt.Errorf("data key of object %q: key %q vanished: %w", object, name, errdefs.ErrNotFound)
	}
	ct, _ := s.Data["ciphertext"].(string)
	pt, _ := s.Data["plaintext"].(string)
	plain, err = base64.StdEncoding.DecodeString(pt)
	if err != nil || len(plain) != 32 || !strings.HasPrefix(ct, "vault:v") {
		return nil, nil, fmt.Errorf("data key of object %q: malformed answer from vault: %w", object, errdefs.ErrUnknown)
	}
	return plain, []byte(ct), nil
}

// UnwrapDataKey decrypts wrapped with the object's transit key. It returns
// an errdefs.ErrNotFound class error when the key does not exist (never
// created or shredded) and an errdefs.ErrDataLoss one when Vault refuses
// the ciphertext (altered, or made for another object).
func (k *Keyring) UnwrapDataKey(ctx context.Context, object string, wrapped []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := keys.ValidObject(object); err != nil {
		return nil, err
	}
	if !plausibleCiphertext(wrapped) {
		return nil, fmt.Errorf("wrapped data key of object %q is malformed: %w", object, errdefs.ErrDataLoss)
	}
	name := k.KeyName(object)
	s, err := k.client.Logical().WriteWithContext(ctx, k.path("decrypt", name), map[string]any{"ciphertext": string(wrapped)})
	if err != nil {
		err = classify(ctx, "decrypt", err)
		if !errdefs.IsInvalidArgument(err) {
			return nil, fmt.Errorf("unwrap data key of object %q: %w", object, err)
		}
		// Vault answers 400 both for a missing key and for a bad
		// ciphertext: tell them apart.
		exists, xerr := k.keyExists(ctx, name)
		switch {
		case xerr != nil:
			return nil, fmt.Errorf("unwrap data key of object %q: %w", object, xerr)
		case !exists:
			return nil, fmt.Errorf("key of object %q (never created or shredded): %w", object, errdefs.ErrNotFound)
		default:
			return nil, fmt.Errorf("wrapped data key of object %q does not decrypt: %w", object, errdefs.ErrDataLoss)
		}
	}
	if s == nil {
		return nil, fmt.Errorf("key of object %q (never created or shredded): %w", object, errdefs.ErrNotFound)
	}
	pt, _ := s.Data["plaintext"].(string)
	plain, err := base64.StdEncoding.DecodeString(pt)
	if err != nil || len(plain) != 32 {
		return nil, fmt.Errorf("wrapped data key of object %q does not hold a 32-byte key: %w", object, errdefs.ErrDataLoss)
	}
	return plain, nil
}

// plausibleCiphertext reports whether b looks like a transit ciphertext,
// so that arbitrary bytes are refused before they reach Vault.
func plausibleCiphertext(b []byte) bool {
	if len(b) > maxWrapped || !strings.HasPrefix(string(b), "vault:v") {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// Shred allows deletion of the object's transit key and deletes it. It
// returns "<mount>/<key name>" as the key id, or an errdefs.ErrNotFound
// class error when the key does not exist.
func (k *Keyring) Shred(ctx context.Context, object string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := keys.ValidObject(object); err != nil {
		return "", err
	}
	name := k.KeyName(object)
	exists, err := k.keyExists(ctx, name)
	if err != nil {
		return "", fmt.Errorf("shred key of object %q: %w", object, err)
	}
	if !exists {
		return "", fmt.Errorf("key of object %q (never created or shredded): %w", object, errdefs.ErrNotFound)
	}
	if _, err := k.client.Logical().WriteWithContext(ctx, k.path("keys", name, "config"), map[string]any{"deletion_allowed": true}); err != nil {
		return "", fmt.Errorf("allow deletion of key of object %q: %w", object, classify(ctx, "keys config", err))
	}
	if _, err := k.client.Logical().DeleteWithContext(ctx, k.path("keys", name)); err != nil {
		return "", fmt.Errorf("delete key of object %q: %w", object, classify(ctx, "keys delete", err))
	}
	// Deleting is idempotent in Vault: confirm the key is gone.
	if exists, err := k.keyExists(ctx, name); err != nil || exists {
		return "", fmt.Errorf("key of object %q still exists after delete: %w", object, errdefs.ErrUnknown)
	}
	return k.cfg.Mount + "/" + name, nil
}

// Secret returns transit/hmac of a fixed label and purpose under the
// secrets key, version 1.
func (k *Keyring) Secret(ctx context.Context, purpose string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := keys.ValidPurpose(purpose); err != nil {
		return nil, err
	}
	k.mu.Lock()
	cached, ok := k.secrets[purpose]
	k.mu.Unlock()
	if ok {
		return append([]byte(nil), cached...), nil
	}
	s, err := k.client.Logical().WriteWithContext(ctx, k.path("hmac", k.cfg.SecretsKey, "sha2-256"), map[string]any{
		"input":       base64.StdEncoding.EncodeToString([]byte(secretLabel + purpose)),
		"key_version": 1,
	})
	if err != nil {
		return nil, fmt.Errorf("secret for purpose %q: %w", purpose, classify(ctx, "hmac", err))
	}
	if s == nil {
		return nil, fmt.Errorf("secret for purpose %q: secrets key %q not found: %w", purpose, k.cfg.SecretsKey, errdefs.ErrNotFound)
	}
	mac, _ := s.Data["hmac"].(string)
	secret, err := decodeVersioned(mac, 1)
	if err != nil || len(secret) != 32 {
		return nil, fmt.Errorf("secret for purpose %q: malformed answer from vault: %w", purpose, errdefs.ErrUnknown)
	}
	k.mu.Lock()
	k.secrets[purpose] = secret
	k.mu.Unlock()
	return append([]byte(nil), secret...), nil
}

// Sign signs msg with the signing key's pinned version.
func (k *Keyring) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := k.client.Logical().WriteWithContext(ctx, k.path("sign", k.cfg.SigningKey), map[string]any{
		"input":       base64.StdEncoding.EncodeToString(msg),
		"key_version": k.signVersion,
	})
	if err != nil {
		return nil, fmt.Errorf("sign with key %q: %w", k.cfg.SigningKey, classify(ctx, "sign", err))
	}
	if s == nil {
		return nil, fmt.Errorf("signing key %q: %w", k.cfg.SigningKey, errdefs.ErrNotFound)
	}
	str, _ := s.Data["signature"].(string)
	sig, err := decodeVersioned(str, k.signVersion)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("sign with key %q: malformed answer from vault: %w", k.cfg.SigningKey, errdefs.ErrUnknown)
	}
	return sig, nil
}

// PublicKey returns the public key of the signing key's pinned version.
func (k *Keyring) PublicKey(ctx context.Context) (ed25519.PublicKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return append(ed25519.PublicKey(nil), k.public...), nil
}

// decodeVersioned decodes Vault's "vault:v<version>:<base64>" form.
func decodeVersioned(s string, version int) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, fmt.Sprintf("vault:v%d:", version))
	if !ok {
		return nil, errors.New("unexpected version prefix")
	}
	return base64.StdEncoding.DecodeString(rest)
}

// keyExists reads transit/keys/<name>: false when Vault answers 404.
var _ keys.Checker = (*Keyring)(nil)

// HasKey reports whether object's transit key exists (a deleted one, as
// Shred leaves it, does not).
func (k *Keyring) HasKey(ctx context.Context, object string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := keys.ValidObject(object); err != nil {
		return false, err
	}
	return k.keyExists(ctx, k.KeyName(object))
}

func (k *Keyring) keyExists(ctx context.Context, name string) (bool, error) {
	s, err := k.client.Logical().ReadWithContext(ctx, k.path("keys", name))
	if err != nil {
		err = classify(ctx, "keys read", err)
		if errdefs.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return s != nil, nil
}

// createKey creates a transit key of the given type; Vault leaves an
// existing key of that name unchanged.
func (k *Keyring) createKey(ctx context.Context, name, typ string) error {
	if _, err := k.client.Logical().WriteWithContext(ctx, k.path("keys", name), map[string]any{"type": typ}); err != nil {
		return classify(ctx, "keys create", err)
	}
	return nil
}

// ensureKey creates the named key with type typ unless it exists, and
// checks the type of an existing one.
func (k *Keyring) ensureKey(ctx context.Context, name, typ string) error {
	s, err := k.client.Logical().ReadWithContext(ctx, k.path("keys", name))
	if err != nil && !errdefs.IsNotFound(classify(ctx, "keys read", err)) {
		return fmt.Errorf("read key %q: %w", name, classify(ctx, "keys read", err))
	}
	if s == nil {
		if err := k.createKey(ctx, name, typ); err != nil {
			return fmt.Errorf("create key %q: %w", name, err)
		}
		return nil
	}
	got, _ := s.Data["type"].(string)
	if typ == "ed25519" && got != typ {
		return fmt.Errorf("key %q has type %q, want %q: %w", name, got, typ, errdefs.ErrFailedPrecondition)
	}
	return nil
}

func (k *Keyring) loadPublicKey(ctx context.Context) error {
	name := k.cfg.SigningKey
	s, err := k.client.Logical().ReadWithContext(ctx, k.path("keys", name))
	if err != nil {
		return fmt.Errorf("read signing key %q: %w", name, classify(ctx, "keys read", err))
	}
	if s == nil {
		return fmt.Errorf("signing key %q: %w", name, errdefs.ErrNotFound)
	}
	latest, err := jsonInt(s.Data["latest_version"])
	if err != nil || latest < 1 {
		return fmt.Errorf("signing key %q has no valid latest version: %w", name, errdefs.ErrUnknown)
	}
	versions, _ := s.Data["keys"].(map[string]any)
	v, _ := versions[fmt.Sprint(latest)].(map[string]any)
	pubStr, _ := v["public_key"].(string)
	pub, err := base64.StdEncoding.DecodeString(pubStr)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("signing key %q version %d has no ed25519 public key: %w", name, latest, errdefs.ErrUnknown)
	}
	k.signVersion = latest
	k.public = pub
	return nil
}

func jsonInt(v any) (int, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err
	case float64:
		return int(n), nil
	case int:
		return n, nil
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

// classify maps an error from the Vault client to an errdefs class. Only
// the operation and HTTP status are kept: Vault's messages and the request
// URL are dropped so that nothing sensitive can reach a log.
func classify(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("vault %s: %w", op, cerr)
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		var class error
		switch {
		case re.StatusCode == http.StatusBadRequest:
			class = errdefs.ErrInvalidArgument
		case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
			class = errdefs.ErrPermissionDenied
		case re.StatusCode == http.StatusNotFound:
			class = errdefs.ErrNotFound
		case re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500:
			class = errdefs.ErrUnavailable
		default:
			class = errdefs.ErrUnknown
		}
		return fmt.Errorf("vault %s: status %d: %w", op, re.StatusCode, class)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("vault %s: %w", op, context.DeadlineExceeded)
	}
	return fmt.Errorf("vault %s: unreachable: %w", op, errdefs.ErrUnavailable)
}
