#!/bin/sh
# build.sh DIR: build etcd, kube-apiserver, kube-controller-manager and kubelet, the smallest real
# Kubernetes that the sandbox's Kubernetes backend is tested on, into DIR
# (for example build/bin) unless they are all there already.
#
# Each comes from a wrapper module of its own (tools/k8s/etcd,
# tools/k8s/kube) so that their dependency graphs stay out of the project's
# go.mod. Kubernetes is pinned to 1.34: 1.35 and later refuse cgroup v1
# unless told otherwise, and this machine has cgroup v1. The wrapper module
# replaces each staging module of k8s.io/kubernetes (a relative path in its
# go.mod) with the published copy of the same release. The first build takes
# about 5.5 minutes of both cores and about 3 GiB of build cache; it runs at
# the lowest priority. The binaries are for the tests only, never shipped.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
out=$1
case $out in
/*) ;;
*) out=$(pwd)/$out ;;
esac
if [ -x "$out/etcd" ] && [ -x "$out/kube-apiserver" ] && [ -x "$out/kubelet" ] && [ -x "$out/kube-controller-manager" ]; then
	exit 0
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
k8sv=v1.34.4
ver="-X k8s.io/component-base/version.gitVersion=$k8sv -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/component-base/version.gitTreeState=clean"

# build MODULE_DIR NAME PACKAGE [LDFLAGS]: build one binary atomically.
build() {
	if [ -x "$out/$2" ]; then
		return 0
	fi
	tmp="$out/.$2.tmp.$$"
	trap 'rm -f "$tmp"' EXIT
	(cd "$here/$1" && nice -n 19 go build -trimpath -ldflags="-s -w ${4:-}" -o "$tmp" "$3")
	mv "$tmp" "$out/$2"
	trap - EXIT
	echo "built $out/$2" >&2
}

build etcd etcd go.etcd.io/etcd/server/v3
build kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ver"
build kube kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$ver"
build kube kubelet k8s.io/kubernetes/cmd/kubelet "$ver"
