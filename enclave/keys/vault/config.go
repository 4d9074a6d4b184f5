package vault

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// Config says how to reach Vault and which transit keys to use. The daemon
// fills Address from --vault-addr and Token from VAULT_TOKEN (read in cmd/,
// never here).
type Config struct {
	// Address is Vault's URL: "https://vault.example:8200", or
	// "unix:///path/to/socket" for a local agent.
	Address string
	// Token authenticates every request. It never appears in errors.
	Token string
	// Namespace is the Vault Enterprise namespace; empty for none.
	Namespace string
	// Mount is the path of the transit secrets engine ("transit").
	Mount string
	// KeyPrefix starts the name of every per-object transit key
	// ("enclave-"); the rest is derived from the object name.
	KeyPrefix string
	// SigningKey names the ed25519 transit key used by Sign
	// ("enclave-signing"); it is created on first use.
	SigningKey string
	// SecretsKey names the transit key whose HMAC derives Secret
	// ("enclave-secrets"); it is created on first use.
	SecretsKey string
	// TLS, when set, is the TLS client configuration (CA roots, client
	// certificate); nil uses the system roots.
	TLS *tls.Config
	// Timeout bounds each request to Vault (30s).
	Timeout time.Duration
}

// Default returns the configuration with every field but Address and
// Token set to its default.
func Default() Config {
	return Config{
		Mount:      "transit",
		KeyPrefix:  "enclave-",
		SigningKey: "enclave-signing",
		SecretsKey: "enclave-secrets",
		Timeout:    30 * time.Second,
	}
}

// withDefaults returns c with its empty fields set from Default.
func (c Config) withDefaults() Config {
	d := Default()
	if c.Mount == "" {
		c.Mount = d.Mount
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = d.KeyPrefix
	}
	if c.SigningKey == "" {
		c.SigningKey = d.SigningKey
	}
	if c.SecretsKey == "" {
		c.SecretsKey = d.SecretsKey
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	return c
}

var (
	// keyNameRE is what Vault's transit engine accepts as a key name
	// (framework.GenericNameRegex).
	keyNameRE = regexp.MustCompile(`^\w([\w.-]*\w)?$`)
	prefixRE  = regexp.MustCompile(`^\w[\w.-]*$`)
	mountRE   = regexp.MustCompile(`^[\w.-]+(/[\w.-]+)*$`)
)

// Validate checks c after defaults are applied (New applies them). It
// returns an errdefs.ErrInvalidArgument class error naming the first bad
// field; the token's value is never part of it.
func (c Config) Validate() error {
	c = c.withDefaults()
	u, err := url.Parse(c.Address)
	if c.Address == "" || err != nil {
		return fmt.Errorf("vault address is empty or not a URL: %w", errdefs.ErrInvalidArgument)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("vault address %q has no host: %w", u.Redacted(), errdefs.ErrInvalidArgument)
		}
	case "unix":
	default:
		return fmt.Errorf("vault address %q must use http, https or unix: %w", u.Redacted(), errdefs.ErrInvalidArgument)
	}
	if u.User != nil {
		return fmt.Errorf("vault address %q must not carry credentials: %w", u.Redacted(), errdefs.ErrInvalidArgument)
	}
	if c.Token == "" {
		return fmt.Errorf("vault token is empty: %w", errdefs.ErrInvalidArgument)
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		return fmt.Errorf("vault token contains white space: %w", errdefs.ErrInvalidArgument)
	}
	if !mountRE.MatchString(c.Mount) || hasDotSegment(c.Mount) {
		return fmt.Errorf("vault mount %q is not a valid path: %w", c.Mount, errdefs.ErrInvalidArgument)
	}
	if !prefixRE.MatchString(c.KeyPrefix) || len(c.KeyPrefix) > 64 {
		return fmt.Errorf("vault key prefix %q must start with a letter, digit or underscore and hold only those, dots and dashes: %w", c.KeyPrefix, errdefs.ErrInvalidArgument)
	}
	for _, k := range []struct{ field, name string }{{"signing key", c.SigningKey}, {"secrets key", c.SecretsKey}} {
		if !keyNameRE.MatchString(k.name) || len(k.name) > 128 {
			return fmt.Errorf("vault %s name %q is not a valid transit key name: %w", k.field, k.name, errdefs.ErrInvalidArgument)
		}
	}
	if c.SigningKey == c.SecretsKey {
		return fmt.Errorf("vault signing key and secrets key must differ: %w", errdefs.ErrInvalidArgument)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("vault timeout is negative: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// hasDotSegment reports whether a slash-separated path has a "." or ".."
// segment, which could lead a request outside the transit mount.
func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
