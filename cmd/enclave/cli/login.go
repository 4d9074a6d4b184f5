package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/containerd/errdefs"
	"golang.org/x/term"
)

func init() {
	register(
		&command{path: "login", short: "check a token against the daemon and write it, with --addr and --cacert, to the config file ($ENCLAVE_CONFIG)", maxArgs: 0, noDaemon: true,
			examples: `# the token is read from ENCLAVE_TOKEN, else from stdin (not echoed on a terminal)
enclave login --addr https://enclave.example:8443 --cacert DATA/tls/cert.pem
printf '%s\n' "$TOKEN" | enclave login --addr /var/lib/enclave/enclaved.sock`,
			run: runLogin},
		&command{path: "config set", args: "KEY VALUE", short: "set addr, cacert or token in the config file ($ENCLAVE_CONFIG); VALUE - reads it from stdin", minArgs: 2, maxArgs: 2, noDaemon: true,
			examples: `enclave config set addr https://enclave.example:8443
enclave config set cacert /var/lib/enclave/tls/cert.pem
enclave config set token - < token.txt`,
			run: runConfigSet},
		&command{path: "config show", short: "the config file's path and settings (the token only as set or not)", maxArgs: 0, noDaemon: true,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				c, err := e.loadConfig()
				if err != nil {
					return err
				}
				view := map[string]string{"path": e.configPath(), "addr": c.Addr, "cacert": c.CACert, "token": "not set"}
				if c.Token != "" {
					view["token"] = "set"
				}
				return e.print(view, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "path\t%s\naddr\t%s\ncacert\t%s\ntoken\t%s\n", view["path"], dash(c.Addr), dash(c.CACert), view["token"])
				})
			}},
	)
}

func runLogin(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	token := e.getenv("ENCLAVE_TOKEN")
	if token == "" {
		var err error
		if token, err = e.readSecret("token: "); err != nil {
			return err
		}
	}
	if token == "" {
		return usagef("no token: set ENCLAVE_TOKEN or give it on stdin")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	// What login writes is what it checked: the address and CA
	// certificate it used, and the token the daemon accepted.
	cfg.Addr = first(e.addr, e.getenv("ENCLAVE_ADDR"), cfg.Addr, DefaultAddr)
	cfg.CACert = first(e.cacert, e.getenv("ENCLAVE_CACERT"), cfg.CACert)
	if cfg.CACert != "" {
		if cfg.CACert, err = filepath.Abs(cfg.CACert); err != nil {
			return err
		}
	}
	e.addr, e.cacert = cfg.Addr, cfg.CACert
	if err := e.connectWith(token); err != nil {
		return err
	}
	w, err := e.client.Whoami(ctx)
	if err != nil {
		return err
	}
	cfg.Token = token
	if err := e.saveConfig(cfg); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "logged in as %s (%s) at %s; wrote %s\n", w.Person.Name, w.Person.ID, cfg.Addr, e.configPath())
	return nil
}

func runConfigSet(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	key, value := args[0], args[1]
	if value == "-" {
		var err error
		if value, err = e.readSecret(key + ": "); err != nil {
			return err
		}
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	switch key {
	case "addr":
		if !strings.HasPrefix(value, "/") && !strings.HasPrefix(value, "https://") {
			return usagef("addr is a unix socket path (/...) or an https:// URL")
		}
		cfg.Addr = value
	case "cacert":
		abs, err := filepath.Abs(value)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return usagef("cacert %q: no such file", value)
		}
		cfg.CACert = abs
	case "token":
		if strings.TrimSpace(value) == "" {
			return usagef("the token is empty")
		}
		cfg.Token = strings.TrimSpace(value)
	default:
		return usagef("unknown key %q: the keys are addr, cacert and token", key)
	}
	if err := e.saveConfig(cfg); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s in %s\n", key, e.configPath())
	return nil
}

// readSecret reads one line from stdin, without echo on a terminal.
func (e *env) readSecret(prompt string) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		return strings.TrimSpace(string(b)), err
	}
	if e.stdin == nil {
		return "", nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", nil
	}
	return strings.TrimSpace(line), nil
}

// saveConfig writes the config file, readable by its owner only, in one
// rename: a failure leaves the old file as it was.
func (e *env) saveConfig(c config) error {
	p := e.configPath()
	if p == "" {
		return fmt.Errorf("no config file: set ENCLAVE_CONFIG or HOME: %w", errdefs.ErrInvalidArgument)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("create the config directory: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".config-*.json")
	if err != nil {
		return fmt.Errorf("write config file %q: %w", p, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write config file %q: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("write config file %q: %w", p, errors.Unwrap(err))
	}
	return nil
}
