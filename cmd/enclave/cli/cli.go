// Package cli is the enclave command line: nouns and verbs after
// DESIGN.md section 7, tables by default and JSON with --json, distinct exit
// codes for usage errors, denials and failures.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/client"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the request failed (bad input, not found, conflict, the daemon failed)
	ExitUsage   = 2 // the command line itself is wrong
	ExitDenied  = 3 // no valid token, or the policy denied the action
)

// DefaultAddr is the daemon's socket in the default data directory.
const DefaultAddr = "/var/lib/enclave/enclaved.sock"

// env is what a command runs with.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	addr, cacert string
	json         bool
	output       string // -o: table, json or yaml ("" is table, or json with --json)
	https        bool   // the daemon's address is an https URL
	withCA       bool   // and a CA certificate was given for it
	client       *client.Client

	// clientCert and clientKey are an application system's client
	// certificate and key (PEM files), presented on an https address.
	clientCert, clientKey string
}

// command is one verb of one noun.
type command struct {
	path  string // "org add"
	args  string // "NAME"
	short string
	flags func(fs *flag.FlagSet) // the command's own flags
	run   func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error
	// minArgs and maxArgs bound the positional arguments (-1: unbounded).
	minArgs, maxArgs int
	// noDaemon says the command works offline.
	noDaemon bool
	// examples, optional, are shown in the command's help: one command
	// line an example, with a comment line starting with # before it.
	examples string
}

var commands []*command

func register(cs ...*command) { commands = append(commands, cs...) }

// usageError is a mistake in the command line.
type usageError struct {
	msg string
	ran bool // the command's run found it, after its flags parsed
}

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{msg: fmt.Sprintf(format, a...)} }

// globalFlags adds the flags every command takes to fs, with what e holds
// already (from before the noun) as their defaults.
func (e *env) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.addr, "addr", e.addr, "daemon address: a unix socket path or an https URL (default $ENCLAVE_ADDR, the config file, or "+DefaultAddr+")")
	fs.BoolVar(&e.json, "json", e.json, "print JSON instead of tables")
	fs.StringVar(&e.cacert, "cacert", e.cacert, "PEM file of the daemon's TLS certificate, for https addresses")
	fs.StringVar(&e.output, "o", e.output, "output format: table, json or yaml (--json is -o json)")
	fs.StringVar(&e.clientCert, "client-cert", e.clientCert, "PEM file of an application system's client certificate (credential issue --cert), for https addresses (default $ENCLAVE_CLIENT_CERT)")
	fs.StringVar(&e.clientKey, "client-key", e.clientKey, "PEM file of the client certificate's key (default $ENCLAVE_CLIENT_KEY)")
}

func describeArgs(c *command) string {
	if c.args == "" {
		return "no arguments"
	}
	return c.args
}

func (e *env) fail(path string, err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "enclave %s: %v\n", path, err)
		return ExitUsage
	}
	code := ExitFailure
	if errdefs.IsUnauthorized(err) || errdefs.IsPermissionDenied(err) {
		code = ExitDenied
	}
	msg := message(err)
	if e.untrusted(msg) {
		msg = "the daemon's TLS certificate is not trusted: give it with --cacert DATA/tls/cert.pem (DATA is enclaved's data directory) or ENCLAVE_CACERT"
	}
	if e.json {
		body := map[string]any{"error": msg, "exit": code}
		var ce *client.Error
		if errors.As(err, &ce) {
			body["class"] = ce.Class
			body["request_id"] = ce.RequestID
			body["reasons"] = ce.Reasons
		}
		enc := json.NewEncoder(e.stderr)
		enc.SetIndent("", "  ")
		enc.Encode(body)
	} else {
		fmt.Fprintf(e.stderr, "%s %s\n", paint(e.colourTo(e.stderr), "31", "enclave "+path+":"), msg)
	}
	return code
}

// config is the CLI's config file: ~/.config/enclave/config.json.
type config struct {
	Addr   string `json:"addr"`
	Token  string `json:"token"`
	CACert string `json:"cacert"`
}

func (e *env) configPath() string {
	if p := e.getenv("ENCLAVE_CONFIG"); p != "" {
		return p
	}
	dir := e.getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := e.getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "enclave", "config.json")
}

func (e *env) loadConfig() (config, error) {
	var c config
	p := e.configPath()
	if p == "" {
		return c, nil
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read config file %q: %w", p, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config file %q: %v: %w", p, err, errdefs.ErrInvalidArgument)
	}
	return c, nil
}

func (e *env) connect() error {
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	return e.connectWith(first(e.getenv("ENCLAVE_TOKEN"), cfg.Token))
}

// connectWith makes the client with token, the address and CA certificate
// of the flags, the environment or the config file.
func (e *env) connectWith(token string) error {
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	addr := first(e.addr, e.getenv("ENCLAVE_ADDR"), cfg.Addr, DefaultAddr)
	cacert := first(e.cacert, e.getenv("ENCLAVE_CACERT"), cfg.CACert)
	var opts []client.Option
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil {
			return fmt.Errorf("read CA certificate %q: %w", cacert, err)
		}
		opts = append(opts, client.WithCACert(pem))
	}
	if cert, key := first(e.clientCert, e.getenv("ENCLAVE_CLIENT_CERT")), first(e.clientKey, e.getenv("ENCLAVE_CLIENT_KEY")); cert != "" || key != "" {
		if cert == "" || key == "" {
			return usagef("--client-cert and --client-key go together")
		}
		cp, err := os.ReadFile(cert)
		if err != nil {
			return fmt.Errorf("read client certificate %q: %w", cert, err)
		}
		kp, err := os.ReadFile(key)
		if err != nil {
			return fmt.Errorf("read client key %q: %w", key, err)
		}
		opts = append(opts, client.WithClientCert(cp, kp))
	}
	e.https, e.withCA = strings.HasPrefix(addr, "https://"), cacert != ""
	c, err := client.New(addr, token, opts...)
	if err != nil {
		return err
	}
	e.client = c
	return nil
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func find(args []string) (*command, []string) {
	var best *command
	bestLen := 0
	for _, c := range commands {
		words := strings.Fields(c.path)
		if len(words) > len(args) || len(words) <= bestLen {
			continue
		}
		match := true
		for i, w := range words {
			if args[i] != w {
				match = false
				break
			}
		}
		if match {
			best, bestLen = c, len(words)
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, args[bestLen:]
}

// splitList splits a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// classes are the errdefs classes whose names end the errors of the
// client and the daemon (": unavailable") and read as jargon: the exit code
// says the class, the message leaves it out. The classes that read as
// English ("not found", "already exists", "permission denied", "conflict")
// stay: they are what the message says.
var classes = []error{errdefs.ErrUnknown, errdefs.ErrInvalidArgument, errdefs.ErrFailedPrecondition,
	errdefs.ErrNotModified, errdefs.ErrAborted, errdefs.ErrOutOfRange, errdefs.ErrNotImplemented, errdefs.ErrInternal,
	errdefs.ErrUnavailable, errdefs.ErrDataLoss}

// message is err's text without the class names at its end.
func message(err error) string {
	s := err.Error()
	for trimmed := true; trimmed; {
		trimmed = false
		for _, c := range classes {
			if t, ok := strings.CutSuffix(s, ": "+c.Error()); ok {
				s, trimmed = t, true
			}
		}
	}
	return s
}

// untrusted says whether msg is a TLS certificate the CLI could not verify
// on an https address given without a CA certificate.
func (e *env) untrusted(msg string) bool {
	return e.https && !e.withCA && (strings.Contains(msg, "x509:") || strings.Contains(msg, "tls: failed to verify certificate"))
}
