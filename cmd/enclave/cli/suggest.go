package cli

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// unknownCommand is the one line printed for a command line that names no
// command: the closest command ("did you mean"), and for a bare noun its
// verbs.
func unknownCommand(args []string) string {
	// The command is the words before the first flag, as many as the
	// longest command has; the rest are its arguments.
	longest := 0
	for _, c := range commands {
		longest = max(longest, len(strings.Fields(c.path)))
	}
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") || len(words) == longest {
			break
		}
		words = append(words, a)
	}
	typed := strings.Join(words, " ")
	if len(words) == 1 {
		if verbs := verbsOf(words[0]); len(verbs) > 0 {
			verb := verbs[0]
			if slices.Contains(verbs, "list") {
				verb = "list"
			}
			return fmt.Sprintf("enclave: %q needs a verb; did you mean \"enclave %s %s\"? (its verbs: %s)", typed, typed, verb, strings.Join(verbs, ", "))
		}
	}
	if c := closest(words); c != nil {
		return fmt.Sprintf("enclave: unknown command %q; did you mean \"enclave %s\"? (enclave help lists the commands)", typed, c.path)
	}
	if typed == "" {
		typed = strings.Join(args, " ")
	}
	return fmt.Sprintf("enclave: unknown command %q (enclave help lists the commands)", typed)
}

// verbsOf returns the verbs of noun, sorted, or nothing when no command
// starts with it.
func verbsOf(noun string) []string {
	var verbs []string
	for _, c := range commands {
		if v, ok := strings.CutPrefix(c.path, noun+" "); ok {
			verbs = append(verbs, v)
		}
	}
	sort.Strings(verbs)
	return verbs
}

// closest returns the command whose path is nearest to the words typed
// (each command compared with as many words as it has; a command that
// starts with what was typed counts as one edit away), or nil for no words.
func closest(words []string) *command {
	if len(words) == 0 {
		return nil
	}
	var best *command
	bestDist := 0
	for _, c := range commands {
		n := len(strings.Fields(c.path))
		if n > len(words) {
			n = len(words)
		}
		typed := strings.Join(words[:n], " ")
		d := distance(typed, c.path)
		if strings.HasPrefix(c.path, typed) && len(typed) >= 3 {
			d = 1 // a prefix of the command is as near as one typo
		}
		if best == nil || d < bestDist || (d == bestDist && c.path < best.path) {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
