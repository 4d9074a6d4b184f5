#!/bin/sh
# build.sh OUT: build the HashiCorp Vault server used by the keyring tests
# into OUT (a file path, for example build/bin/vault) unless it exists.
#
# Vault is built from this separate module (tools/vault) so that its large
# dependency graph stays out of the project's go.mod. The first build takes
# about 14 minutes of both cores and 4.5 GiB of memory; it runs at the
# lowest priority. Vault v1.16 is BSL-licensed: it is built for the tests
# only and never shipped.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUT" >&2
	exit 2
fi
out=$1
if [ -x "$out" ]; then
	exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
case $out in
/*) abs=$out ;;
*) abs=$(pwd)/$out ;;
esac
mkdir -p "$(dirname "$abs")"

# vault-hcp-lib is missing from the public checksum database; its hash in
# go.sum is the one in Vault v1.16.0's own go.sum.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/hashicorp/vault-hcp-lib"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

tmp="$abs.tmp.$$"
trap 'rm -f "$tmp"' EXIT
cd "$here"
nice -n 19 go build -trimpath -ldflags='-s -w' -o "$tmp" github.com/hashicorp/vault
mv "$tmp" "$abs"
trap - EXIT
echo "built $out" >&2
