package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is the CLI's version, set by cmd/enclave from -ldflags -X.
var Version = "dev"

// Main runs the command line and returns the exit code.
//
// The commands are the registered table; Root builds a cobra tree from it
// (one cobra command per noun, one per verb), whose flags are the Go flag
// sets the table declares, adopted by pflag. Main first reads the global
// flags before the noun and finds the command itself, so that a command
// line naming no command gets one line with the nearest command (exit 2)
// instead of cobra's own message.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	args = hoistGlobals(longFlags(args))
	root := e.root()
	root.SetOut(stdout)
	root.SetErr(stderr)

	// The global flags may come before the noun (enclave --addr S whoami),
	// as with ctr, kubectl and docker.
	pre := &env{}
	global := flag.NewFlagSet("enclave", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	pre.globalFlags(global)
	global.StringVar(&pre.output, "output", "", "")
	version := global.Bool("version", false, "")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout)
			return ExitOK
		}
		fmt.Fprintf(stderr, "enclave: %v before the command (only --addr, --json, --cacert and -o go there; enclave help lists the commands)\n", err)
		return ExitUsage
	}
	rest := global.Args()
	switch {
	case *version && len(rest) == 0:
		fmt.Fprintf(stdout, "enclave version %s\n", Version)
		return ExitOK
	case len(rest) == 0:
		printHelp(stdout)
		return ExitOK
	case rest[0] == "help":
		target := rest[1:]
		if len(target) == 0 {
			printHelp(stdout)
			return ExitOK
		}
		if c, _, err := root.Find(target); err == nil && c != root && c.CommandPath() == "enclave "+strings.Join(target, " ") {
			c.SetOut(stdout)
			c.HelpFunc()(c, target)
			return ExitOK
		}
		fmt.Fprintln(stderr, unknownCommand(target))
		return ExitUsage
	case rest[0] == "completion" && (len(rest) < 2 || !slices.Contains([]string{"bash", "zsh", "fish", "powershell", "-h", "--help"}, rest[1])):
		fmt.Fprintln(stderr, "enclave completion: name the shell: enclave completion bash|zsh|fish|powershell")
		return ExitUsage
	case rest[0] == "completion" || strings.HasPrefix(rest[0], cobra.ShellCompRequestCmd) || strings.HasPrefix(rest[0], cobra.ShellCompNoDescRequestCmd):
		// cobra's own: completion scripts and the requests they make.
	default:
		if cmd, _ := find(rest); cmd == nil {
			// A noun with --help shows its verbs; anything else is unknown.
			if len(verbsOf(rest[0])) > 0 && len(rest) > 1 && (rest[1] == "--help" || rest[1] == "-h") {
				c, _, _ := root.Find(rest[:1])
				c.HelpFunc()(c, nil)
				return ExitOK
			}
			fmt.Fprintln(stderr, unknownCommand(rest))
			return ExitUsage
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root.SetArgs(args)
	ran, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		path := strings.TrimPrefix(ran.CommandPath(), "enclave ")
		fmt.Fprintf(stderr, "enclave %s: %v\n", path, err)
		if ran.Runnable() && !ue.ran {
			ran.SetOut(stderr)
			ran.HelpFunc()(ran, nil)
		}
		return ExitUsage
	}
	return e.fail(strings.TrimPrefix(ran.CommandPath(), "enclave "), err)
}

// Root returns the cobra tree of the registered commands, for the man
// pages and completion; its commands run against e.
func (e *env) root() *cobra.Command {
	root := &cobra.Command{
		Use:               "enclave",
		Short:             "the command line of the enclave",
		Long:              "enclave drives the enclave daemon (enclaved) with the caller's own token.",
		Version:           Version,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	root.SetVersionTemplate("enclave version {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&e.addr, "addr", "", "daemon address: a unix socket path or an https URL (default $ENCLAVE_ADDR, the config file, or "+DefaultAddr+")")
	pf.BoolVar(&e.json, "json", false, "print JSON instead of tables (the same as -o json)")
	pf.StringVar(&e.cacert, "cacert", "", "PEM file of the daemon's TLS certificate, for https addresses (default $ENCLAVE_CACERT or the config file)")
	pf.StringVarP(&e.output, "output", "o", "", "output format: table, json or yaml")
	pf.StringVar(&e.clientCert, "client-cert", "", "PEM file of an application system's client certificate (credential issue --cert), for https addresses (default $ENCLAVE_CLIENT_CERT)")
	pf.StringVar(&e.clientKey, "client-key", "", "PEM file of the client certificate's key (default $ENCLAVE_CLIENT_KEY)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{msg: err.Error()} })
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		if c == root {
			printHelp(c.OutOrStdout())
			return
		}
		commandHelp(c.OutOrStdout(), c)
	})
	root.SetUsageFunc(func(c *cobra.Command) error { commandHelp(c.OutOrStderr(), c); return nil })

	nouns := map[string]*cobra.Command{}
	cs := append([]*command{}, commands...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].path < cs[j].path })
	for _, c := range cs {
		words := strings.Fields(c.path)
		parent := root
		for i, w := range words[:len(words)-1] {
			key := strings.Join(words[:i+1], " ")
			n, ok := nouns[key]
			if !ok {
				n = &cobra.Command{Use: w, Short: "the " + w + " commands", Args: cobra.NoArgs,
					RunE: func(c *cobra.Command, args []string) error {
						return usagef("%q needs a verb: enclave help %s lists them", key, key)
					}}
				n.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{msg: err.Error()} })
				nouns[key] = n
				parent.AddCommand(n)
			}
			parent = n
		}
		parent.AddCommand(e.leaf(c, words[len(words)-1]))
	}
	return root
}

// leaf is the cobra command of c: its Go flags adopted by pflag, its
// positional arguments checked, and its run called with the Go flag set.
func (e *env) leaf(c *command, verb string) *cobra.Command {
	fs := flag.NewFlagSet("enclave "+c.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.flags != nil {
		c.flags(fs)
	}
	use := verb
	if c.args != "" {
		use += " " + c.args
	}
	cc := &cobra.Command{
		Use:     use,
		Short:   c.short,
		Example: first(c.examples, examples[c.path]),
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < c.minArgs || (c.maxArgs >= 0 && len(args) > c.maxArgs) {
				return usagef("%s takes %s", c.path, describeArgs(c))
			}
			return nil
		},
		RunE: func(cc *cobra.Command, args []string) error {
			// After a bare "--" everything is positional; the commands
			// that take a command line find it after "--" in their
			// arguments, as before.
			if at := cc.ArgsLenAtDash(); at >= 0 {
				args = slices.Insert(slices.Clone(args), at, "--")
			}
			err := e.resolveOutput()
			if err == nil && !c.noDaemon {
				err = e.connect()
			}
			if err == nil {
				err = c.run(cc.Context(), e, fs, args)
			}
			var ue usageError
			if errors.As(err, &ue) {
				ue.ran = true
				return ue
			}
			return err
		},
	}
	cc.Flags().AddGoFlagSet(fs)
	// A command's own -o (a file to write) keeps its name; the output
	// format is then only --output there. A command's own --output keeps
	// its name too; the format is then -o or --output-format.
	switch local := cc.Flags(); {
	case local.Lookup("o") != nil && local.Lookup("output") == nil:
		local.StringVar(&e.output, "output", "", "output format: table, json or yaml")
	case local.Lookup("output") != nil && local.Lookup("o") == nil && local.ShorthandLookup("o") == nil:
		// job run's --output declares its outputs; -o is the format still.
		local.StringVarP(&e.output, "output-format", "o", "", "output format: table, json or yaml")
	}
	cc.Flags().SortFlags = false
	cc.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{msg: err.Error()} })
	return cc
}

// resolveOutput settles -o and --json: -o json is --json; a format other
// than table, json and yaml is a usage error.
func (e *env) resolveOutput() error {
	switch e.output {
	case "":
		if e.json {
			e.output = "json"
		} else {
			e.output = "table"
		}
	case "json":
		e.json = true
	case "table", "yaml":
		e.json = false
	default:
		return usagef("-o %q: the output format is table, json or yaml", e.output)
	}
	return nil
}

// hoistGlobals moves the global flags given between the words of a
// command (enclave job --json list) before it, where they are read as
// before the noun; a command line that names no command is left as it is.
func hoistGlobals(args []string) []string {
	takesValue := map[string]bool{"--addr": true, "--cacert": true, "--output": true, "-o": true, "--client-cert": true, "--client-key": true}
	var moved, words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if c, rest := find(words); c != nil && len(rest) == 0 {
			if len(moved) == 0 {
				return args
			}
			return append(append(moved, words...), args[i:]...)
		}
		name, _, hasValue := strings.Cut(a, "=")
		switch {
		case takesValue[name] && !hasValue && i+1 < len(args):
			moved = append(moved, a, args[i+1])
			i++
		case takesValue[name] || name == "--json":
			moved = append(moved, a)
		case strings.HasPrefix(a, "-"):
			return args
		default:
			words = append(words, a)
		}
	}
	if c, rest := find(words); c != nil && len(rest) == 0 && len(moved) > 0 {
		return append(moved, words...)
	}
	return args
}

// longFlags turns -name into --name for the long flags the commands know,
// so that the Go flag style of before (-addr S) keeps working under pflag,
// which reads -addr as four one-letter flags.
func longFlags(args []string) []string {
	known := map[string]bool{"addr": true, "json": true, "cacert": true, "output": true, "version": true, "help": true, "client-cert": true, "client-key": true}
	for _, c := range commands {
		fs := flag.NewFlagSet("", flag.ContinueOnError)
		if c.flags != nil {
			c.flags(fs)
		}
		fs.VisitAll(func(f *flag.Flag) { known[f.Name] = len(f.Name) > 1 })
	}
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 2 {
			name, _, _ := strings.Cut(a[1:], "=")
			if known[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "usage: enclave [--addr A] [--json] [--cacert F] NOUN VERB [ARGS] [FLAGS]   (-o table|json|yaml: the output format)")
	fmt.Fprintln(w, "       (every command takes --addr, --json, -o and --cacert, before the noun or after the verb)")
	fmt.Fprintln(w)
	cs := append([]*command{}, commands...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].path < cs[j].path })
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, c := range cs {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.path, c.args, c.short)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nenclave help NOUN (or enclave NOUN --help) shows a noun's verbs with examples;")
	fmt.Fprintln(w, "enclave help NOUN VERB (or --help after the verb) a command's flags.")
	fmt.Fprintln(w, "enclave completion bash|zsh|fish prints a completion script; enclave --version the version.")
	fmt.Fprintln(w, "\nThe token comes from ENCLAVE_TOKEN or the config file ($ENCLAVE_CONFIG, else ~/.config/enclave/config.json).")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 failed, 2 usage error, 3 unauthenticated or denied.")
}

// commandHelp prints the help of a noun (its verbs and their examples) or
// of a verb (usage, flags in --flag style, the global flags, examples).
func commandHelp(w io.Writer, c *cobra.Command) {
	if !c.Runnable() || c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "usage: %s VERB [ARGS] [FLAGS]\n\nverbs:\n", c.CommandPath())
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() {
				fmt.Fprintf(tw, "  %s\t%s\n", s.Use, s.Short)
			}
		}
		tw.Flush()
		var ex []string
		for _, s := range c.Commands() {
			if s.Example != "" {
				ex = append(ex, indent(s.Example))
			}
		}
		if len(ex) > 0 {
			fmt.Fprintf(w, "\nexamples:\n%s\n", strings.Join(ex, "\n"))
		}
		fmt.Fprintf(w, "\nenclave help %s VERB shows a verb's flags.\n", strings.TrimPrefix(c.CommandPath(), "enclave "))
		return
	}
	fmt.Fprintf(w, "usage: %s\n  %s\n", c.UseLine(), c.Short)
	if local := c.LocalFlags(); local.HasAvailableFlags() {
		fmt.Fprintf(w, "\nflags:\n%s", local.FlagUsages())
	}
	if inh := c.InheritedFlags(); inh.HasAvailableFlags() {
		fmt.Fprintf(w, "\nglobal flags:\n%s", inh.FlagUsages())
	}
	if c.Example != "" {
		fmt.Fprintf(w, "\nexamples:\n%s\n", indent(c.Example))
	}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// pflagType names the value of a flag in help when the Go flag's value
// has no type of its own.
var _ pflag.Value = (*multiFlag)(nil)

// Root returns the cobra tree of the commands, for the man pages.
func Root() *cobra.Command {
	return (&env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}).root()
}
