package runcwrap

import (
	"errors"
	"strings"
)

// runc's global flags that take a value (go-runc, which containerd's shim
// uses, passes --root, --log and --log-format).
var globalValueFlags = map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true}

// Bundle returns, for runc's argv (without argv[0]), the bundle directory
// a create or run command names ("." when it names none), and whether the
// command creates a container at all. Other commands (start, state, kill,
// delete, exec, ...) pass through unchanged.
func Bundle(args []string) (bundle string, creates bool, err error) {
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		name, _, hasValue := strings.Cut(a, "=")
		if globalValueFlags[name] && !hasValue {
			i++
		}
	}
	if i >= len(args) {
		return "", false, nil
	}
	switch args[i] {
	case "create", "run":
	default:
		return "", false, nil
	}
	bundle = "."
	seen := false
	for j := i + 1; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(a, "=")
		if name != "--bundle" && name != "-b" {
			continue
		}
		if seen {
			return "", true, errors.New("the bundle is named twice")
		}
		seen = true
		if !hasValue {
			if j+1 >= len(args) {
				return "", true, errors.New("--bundle without a directory")
			}
			j++
			value = args[j]
		}
		if value == "" {
			return "", true, errors.New("--bundle without a directory")
		}
		bundle = value
	}
	return bundle, true, nil
}
