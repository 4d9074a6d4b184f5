#!/bin/sh
# install-deps.sh: install what the enclave needs on a Debian machine when
# it is missing: containerd and runc (the job sandbox), busybox-static (the
# toolbox image), python3 (the demo reads JSON with it). `make deps` runs it,
# and `make images` (so `make demo` and `make test`) after it. Run as root
# when something is missing.
set -eu
need=""
command -v containerd >/dev/null 2>&1 || need="$need containerd"
command -v runc >/dev/null 2>&1 || need="$need runc"
[ -e /usr/share/doc/busybox-static ] || need="$need busybox-static"
command -v python3 >/dev/null 2>&1 || need="$need python3"
if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: need root to install:$need" >&2
		exit 1
	fi
	echo "install-deps: installing$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq $need >/dev/null
fi
