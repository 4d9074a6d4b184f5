package vault

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/keys/keystest"
	"github.com/enclave-dev/enclave/enclave/keys/vault/vaulttest"
)

// shared is one Vault dev server for all the tests of this package,
// launched by the first test that needs it and stopped by TestMain; each
// test uses object names of its own.
var shared struct {
	once   sync.Once
	server *vaulttest.Server
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.server != nil {
		shared.server.Stop()
	}
	os.Exit(code)
}

func testServer(t *testing.T) *vaulttest.Server {
	t.Helper()
	shared.once.Do(func() { shared.server, shared.err = vaulttest.Launch() })
	if shared.err != nil {
		vaulttest.SkipOrFail(t, shared.err)
	}
	return shared.server
}

func newTestKeyring(t *testing.T, mutate func(*Config)) *Keyring {
	t.Helper()
	s := testServer(t)
	cfg := Default()
	cfg.Address, cfg.Token = s.Addr, s.Token
	if mutate != nil {
		mutate(&cfg)
	}
	kr, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: got error %v, want nil", err)
	}
	return kr
}

func TestContract(t *testing.T) {
	keystest.Run(t, func(t *testing.T) keys.Keyring { return newTestKeyring(t, nil) })
	keystest.RunPersistence(t, func(t *testing.T) (keys.Keyring, func(t *testing.T) keys.Keyring) {
		return newTestKeyring(t, nil), func(t *testing.T) keys.Keyring { return newTestKeyring(t, nil) }
	})
}

func TestShredDeletesTransitKey(t *testing.T) {
	kr := newTestKeyring(t, nil)
	ctx := context.Background()
	obj := keystest.Object(t, "shred-vault")
	if _, _, err := kr.NewDataKey(ctx, obj); err != nil {
		t.Fatalf("NewDataKey: got error %v, want nil", err)
	}
	name := kr.KeyName(obj)
	s := testServer(t)
	if code, _, err := s.Do(http.MethodGet, "/v1/transit/keys/"+name, ""); err != nil || code != http.StatusOK {
		t.Fatalf("transit key before Shred: got status %d (%v), want 200", code, err)
	}
	id, err := kr.Shred(ctx, obj)
	if err != nil {
		t.Fatalf("Shred: got error %v, want nil", err)
	}
	if want := "transit/" + name; id != want {
		t.Errorf("Shred: got id %q, want %q", id, want)
	}
	if code, _, err := s.Do(http.MethodGet, "/v1/transit/keys/"+name, ""); err != nil || code != http.StatusNotFound {
		t.Errorf("transit key after Shred: got status %d (%v), want 404", code, err)
	}
}

func TestSecretsDifferPerVault(t *testing.T) {
	// The same purpose under another secrets key gives another secret:
	// the secret comes from the key, not from the label alone.
	a := newTestKeyring(t, nil)
	b := newTestKeyring(t, func(c *Config) { c.SecretsKey = "enclave-secrets-other" })
	ctx := context.Background()
	sa, err := a.Secret(ctx, "pseudonym")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Secret(ctx, "pseudonym")
	if err != nil {
		t.Fatal(err)
	}
	if string(sa) == string(sb) {
		t.Errorf("Secret under two secrets keys: got equal secrets, want distinct")
	}
}

func TestSigningKeyOfWrongType(t *testing.T) {
	s := testServer(t)
	if code, body, err := s.Do(http.MethodPost, "/v1/transit/keys/not-ed25519", `{"type":"aes256-gcm96"}`); err != nil || code/100 != 2 {
		t.Fatalf("create key: got status %d %s (%v), want 2xx", code, body, err)
	}
	cfg := Default()
	cfg.Address, cfg.Token, cfg.SigningKey = s.Addr, s.Token, "not-ed25519"
	if _, err := New(context.Background(), cfg); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("New with an aes signing key: got %v, want a failed-precondition error", err)
	}
}

func TestWrongToken(t *testing.T) {
	s := testServer(t)
	cfg := Default()
	cfg.Address, cfg.Token = s.Addr, "hvs.not-the-token-0123456789"
	_, err := New(context.Background(), cfg)
	if !errdefs.IsPermissionDenied(err) {
		t.Fatalf("New with a wrong token: got %v, want a permission-denied error", err)
	}
	if strings.Contains(err.Error(), cfg.Token) {
		t.Errorf("New with a wrong token: error quotes the token, want it left out")
	}
}

func TestKeyName(t *testing.T) {
	kr := &Keyring{cfg: Default()}
	valid := regexp.MustCompile(`^\w([\w.-]*\w)?$`)
	tests := []struct {
		object, wantPrefix string
	}{
		{"dataset/credit_penalties@3", "enclave-dataset_credit_penalties_3-"},
		{"dataset/credit_penalties@4", "enclave-dataset_credit_penalties_4-"},
		{"数据/甲@1", "enclave-_____1-"},
		{strings.Repeat("x", keys.MaxNameLen), "enclave-" + strings.Repeat("x", 48) + "-"},
		{"a", "enclave-a-"},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		t.Run(tc.object, func(t *testing.T) {
			got := kr.KeyName(tc.object)
			if !strings.HasPrefix(got, tc.wantPrefix) || len(got) != len(tc.wantPrefix)+16 {
				t.Errorf("KeyName(%q): got %q, want %q and 16 hex digits", tc.object, got, tc.wantPrefix)
			}
			if !valid.MatchString(got) {
				t.Errorf("KeyName(%q): got %q, not a valid transit key name", tc.object, got)
			}
			if got != kr.KeyName(tc.object) {
				t.Errorf("KeyName(%q): got a different name on a second call", tc.object)
			}
			if other, ok := seen[got]; ok {
				t.Errorf("KeyName(%q): got %q, the same as for %q", tc.object, got, other)
			}
			seen[got] = tc.object
		})
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		c := Default()
		c.Address, c.Token = "https://vault.example:8200", "hvs.secret-token"
		return c
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"defaults", func(*Config) {}, true},
		{"unix socket", func(c *Config) { c.Address = "unix:///run/vault.sock" }, true},
		{"empty fields take defaults", func(c *Config) { c.Mount, c.KeyPrefix, c.SigningKey = "", "", "" }, true},
		{"nested mount", func(c *Config) { c.Mount = "enclave/transit" }, true},
		{"no address", func(c *Config) { c.Address = "" }, false},
		{"ftp address", func(c *Config) { c.Address = "ftp://vault" }, false},
		{"address without host", func(c *Config) { c.Address = "https://" }, false},
		{"credentials in address", func(c *Config) { c.Address = "https://u:p@vault" }, false},
		{"no token", func(c *Config) { c.Token = "" }, false},
		{"token with newline", func(c *Config) { c.Token = "abc\n" }, false},
		{"mount with dot-dot path", func(c *Config) { c.Mount = "transit/../sys" }, false},
		{"mount with dot segment", func(c *Config) { c.Mount = "./transit" }, false},
		{"mount with dotted name", func(c *Config) { c.Mount = "transit.v2" }, true},
		{"mount with space", func(c *Config) { c.Mount = "trans it" }, false},
		{"prefix starting with dash", func(c *Config) { c.KeyPrefix = "-x" }, false},
		{"prefix with slash", func(c *Config) { c.KeyPrefix = "a/b" }, false},
		{"signing key ending with dash", func(c *Config) { c.SigningKey = "sign-" }, false},
		{"same signing and secrets key", func(c *Config) { c.SecretsKey = c.SigningKey }, false},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mutate(&c)
			err := c.Validate()
			if tc.ok && err != nil {
				t.Errorf("Validate: got %v, want nil", err)
			}
			if !tc.ok && !errdefs.IsInvalidArgument(err) {
				t.Errorf("Validate: got %v, want an invalid-argument error", err)
			}
			if err != nil && strings.Contains(err.Error(), "hvs.secret-token") {
				t.Errorf("Validate: error quotes the token, want it left out")
			}
		})
	}
}

// fakeVault answers every request with one status and body, to check the
// mapping of Vault's answers to error classes without a Vault server.
func fakeVault(t *testing.T, status int, body any) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestNewErrorClasses(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	tests := []struct {
		name string
		addr func(t *testing.T) string
		is   func(error) bool
	}{
		{"sealed", func(t *testing.T) string {
			return fakeVault(t, http.StatusServiceUnavailable, map[string]any{"errors": []string{"vault-message-marker"}})
		}, errdefs.IsUnavailable},
		{"forbidden", func(t *testing.T) string {
			return fakeVault(t, http.StatusForbidden, map[string]any{"errors": []string{"vault-message-marker"}})
		}, errdefs.IsPermissionDenied},
		{"unreachable", func(t *testing.T) string { return closedURL }, errdefs.IsUnavailable},
		{"teapot", func(t *testing.T) string {
			return fakeVault(t, http.StatusTeapot, map[string]any{"errors": []string{"x"}})
		}, errdefs.IsUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			cfg.Address, cfg.Token = tc.addr(t), "hvs.fake-token-value"
			cfg.Timeout = 5e9
			_, err := New(context.Background(), cfg)
			if !tc.is(err) {
				t.Fatalf("New: got %v, want a different error class", err)
			}
			if strings.Contains(err.Error(), cfg.Token) || strings.Contains(err.Error(), "vault-message-marker") {
				t.Errorf("New: error %q quotes the token or Vault's message, want neither", err)
			}
		})
	}
}

// A fake Vault that returns a malformed public key makes New fail rather
// than hand out a keyring that cannot sign verifiably.
func TestMalformedPublicKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
			"type":           "ed25519",
			"latest_version": 1,
			"keys":           map[string]any{"1": map[string]any{"public_key": "not base64!"}},
		}})
	}))
	defer srv.Close()
	cfg := Default()
	cfg.Address, cfg.Token = srv.URL, "hvs.fake"
	if _, err := New(context.Background(), cfg); !errdefs.IsUnknown(err) {
		t.Errorf("New: got %v, want an unknown-class error", err)
	}
}
