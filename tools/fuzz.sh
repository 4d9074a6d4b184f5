#!/bin/sh
# fuzz.sh TIME: run every fuzz target of the module for TIME each (for
# example 20s). Seed corpora live in each package's testdata/fuzz.
set -eu
t=${1:-20s}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "== $pkg $target ($t)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" "$pkg"
	done
done
