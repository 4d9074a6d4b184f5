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
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

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
	client       *client.Client
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
}

var commands []*command

func register(cs ...*command) { commands = append(commands, cs...) }

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// Main runs the command line and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	// The global flags may come before the noun (enclave --addr S whoami),
	// as with ctr, kubectl and docker; the command's own flag set takes
	// them again after the verb, where the later one wins.
	global := flag.NewFlagSet("enclave", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	e.globalFlags(global)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout)
			return ExitOK
		}
		fmt.Fprintf(stderr, "enclave: %v before the command (only --addr, --json and --cacert go there; enclave help lists the commands)\n", err)
		return ExitUsage
	}
	args = global.Args()
	if len(args) == 0 || args[0] == "help" {
		if len(args) > 1 {
			if c, rest := find(args[1:]); c != nil && len(rest) == 0 {
				fs := c.flagSet(e)
				commandHelp(stdout, c, fs)
				return ExitOK
			}
			fmt.Fprintln(stderr, unknownCommand(args[1:]))
			return ExitUsage
		}
		printHelp(stdout)
		return ExitOK
	}
	cmd, rest := find(args)
	if cmd == nil {
		fmt.Fprintln(stderr, unknownCommand(args))
		return ExitUsage
	}
	fs := cmd.flagSet(e)
	pos, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		commandHelp(stdout, cmd, fs)
		return ExitOK
	}
	if err == nil {
		if len(pos) < cmd.minArgs || (cmd.maxArgs >= 0 && len(pos) > cmd.maxArgs) {
			err = usagef("%s takes %s", cmd.path, describeArgs(cmd))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "enclave %s: %v\n", cmd.path, err)
		commandHelp(stderr, cmd, fs)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !cmd.noDaemon {
		if err := e.connect(); err != nil {
			return e.fail(cmd, err)
		}
	}
	if err := cmd.run(ctx, e, fs, pos); err != nil {
		return e.fail(cmd, err)
	}
	return ExitOK
}

// globalFlags adds the flags every command takes to fs, with what e holds
// already (from before the noun) as their defaults.
func (e *env) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.addr, "addr", e.addr, "daemon address: a unix socket path or an https URL (default $ENCLAVE_ADDR, the config file, or "+DefaultAddr+")")
	fs.BoolVar(&e.json, "json", e.json, "print JSON instead of tables")
	fs.StringVar(&e.cacert, "cacert", e.cacert, "PEM file of the daemon's TLS certificate, for https addresses")
}

// flagSet returns the command's flag set: the global flags and its own.
func (c *command) flagSet(e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("enclave "+c.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e.globalFlags(fs)
	if c.flags != nil {
		c.flags(fs)
	}
	return fs
}

func describeArgs(c *command) string {
	if c.args == "" {
		return "no arguments"
	}
	return c.args
}

func (e *env) fail(cmd *command, err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "enclave %s: %v\n", cmd.path, err)
		return ExitUsage
	}
	code := ExitFailure
	if errdefs.IsUnauthorized(err) || errdefs.IsPermissionDenied(err) {
		code = ExitDenied
	}
	if e.json {
		body := map[string]any{"error": err.Error(), "exit": code}
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
		fmt.Fprintf(e.stderr, "enclave %s: %v\n", cmd.path, err)
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
	addr := first(e.addr, e.getenv("ENCLAVE_ADDR"), cfg.Addr, DefaultAddr)
	token := first(e.getenv("ENCLAVE_TOKEN"), cfg.Token)
	cacert := first(e.cacert, e.getenv("ENCLAVE_CACERT"), cfg.CACert)
	var opts []client.Option
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil {
			return fmt.Errorf("read CA certificate %q: %w", cacert, err)
		}
		opts = append(opts, client.WithCACert(pem))
	}
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

// parseInterspersed parses flags that may come before, between or after
// positional arguments; everything after a bare "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	for i, a := range args {
		if a == "--" {
			tail = append([]string{}, args[i+1:]...)
			args = args[:i]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if tail != nil {
		pos = append(pos, "--")
		pos = append(pos, tail...)
	}
	return pos, nil
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

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "usage: enclave [--addr A] [--json] [--cacert F] NOUN VERB [ARGS] [FLAGS]")
	fmt.Fprintln(w, "       (every command takes --addr, --json and --cacert, before the noun or after the verb)")
	fmt.Fprintln(w)
	cs := append([]*command{}, commands...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].path < cs[j].path })
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, c := range cs {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.path, c.args, c.short)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nThe token comes from ENCLAVE_TOKEN or the config file (~/.config/enclave/config.json).")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 failed, 2 usage error, 3 unauthenticated or denied.")
}

func commandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: enclave %s %s\n  %s\n\nflags:\n", c.path, c.args, c.short)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// print writes v as JSON with --json, or calls table otherwise.
func (e *env) print(v any, table func(tw *tabwriter.Writer)) error {
	if e.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
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
