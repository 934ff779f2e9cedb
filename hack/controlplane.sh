#!/usr/bin/env bash
# controlplane.sh builds the binaries of a real Kubernetes control plane
# (kube-apiserver, etcd, kubectl) and gathers the CRDs the integration tests,
# `make sandbox` and `make demo` install. Everything comes from the versions
# pinned in hack/tools/go.mod and lands in a cache outside the work tree, keyed
# by those versions and a hash of the pins: bumping anything in go.mod picks a
# new directory, and a cache that is already there is used as is.
#
# Usage:
#   hack/controlplane.sh [bin]   build the binaries when missing; print their directory
#   hack/controlplane.sh crds    gather the CRD files when missing; print their directory
#   hack/controlplane.sh key     print the cache key, build nothing
#
# Environment:
#   KUBECTL_WAYPOINT_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-waypoint)
#   CONTROLPLANE_PINS       a folder under hack/tools (k8s-1.34, gateway-api-1.2) whose
#                           go.mod pins older versions for the version matrix: the
#                           k8s.io/kubernetes and sigs.k8s.io/gateway-api it requires
#                           replace those of hack/tools/go.mod; etcd and the Istio CRDs
#                           always come from hack/tools/go.mod. Such an entry builds
#                           kube-apiserver only: its etcd and kubectl are links to the
#                           current control plane's (built when missing), which saves
#                           a new machine the compile of a second kubectl
#
# Only the directory goes to stdout; progress goes to stderr. A build is done in
# a temporary directory beside the cache entry and moved into place when it is
# complete, so an interrupted build never leaves a half-filled cache.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools_dir=$repo_root/hack/tools
tools_mod=$tools_dir/go.mod

die() {
	echo "controlplane.sh: $*" >&2
	exit 1
}

log() {
	echo "controlplane.sh: $*" >&2
}

# required_version MODULE [GOMOD] prints the version GOMOD (default
# hack/tools/go.mod) requires for MODULE, or nothing when MODULE is optional
# ("?" as third argument) and not required.
required_version() {
	local v mod=${2:-$tools_mod}
	v=$(awk -v mod="$1" '
		$1 == "require" && $2 == mod { print $3; exit }
		$1 == mod && $2 ~ /^v[0-9]/ { print $2; exit }
	' "$mod")
	[[ -n $v || ${3:-} == "?" ]] || die "$mod does not require $1"
	echo "$v"
}

[[ -f $tools_mod ]] || die "missing $tools_mod"
command -v go >/dev/null || die "go is not on PATH"

# The module that pins kube-apiserver and kubectl, and the one that pins the
# Gateway API CRDs: hack/tools, unless CONTROLPLANE_PINS names a folder whose
# go.mod requires them.
k8s_dir=$tools_dir
gwapi_dir_mod=$tools_dir
if [[ -n ${CONTROLPLANE_PINS:-} ]]; then
	pins_dir=$tools_dir/$CONTROLPLANE_PINS
	[[ $CONTROLPLANE_PINS != */* && -f $pins_dir/go.mod ]] ||
		die "CONTROLPLANE_PINS=$CONTROLPLANE_PINS: no $pins_dir/go.mod (use a folder of hack/tools such as k8s-1.34)"
	[[ -n $(required_version k8s.io/kubernetes "$pins_dir/go.mod" "?") ]] && k8s_dir=$pins_dir
	[[ -n $(required_version sigs.k8s.io/gateway-api "$pins_dir/go.mod" "?") ]] && gwapi_dir_mod=$pins_dir
fi

k8s_version=$(required_version k8s.io/kubernetes "$k8s_dir/go.mod")
etcd_version=$(required_version go.etcd.io/etcd/server/v3)
gwapi_version=$(required_version sigs.k8s.io/gateway-api "$gwapi_dir_mod/go.mod")
istio_api_version=$(required_version istio.io/api)

# The versions name the entry; the hash covers every pin of the modules the
# binaries are built from, so that bumping any dependency builds anew.
pins_hash=$(cat "$tools_mod" "$tools_dir/go.sum" "$k8s_dir/go.mod" "$k8s_dir/go.sum" | sha256sum | cut -c1-12)

cache_root=${KUBECTL_WAYPOINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-waypoint}
key=k8s-$k8s_version-etcd-$etcd_version-$pins_hash
bin_dir=$cache_root/controlplane/$key
crd_dir=$bin_dir/crds/gateway-api-$gwapi_version-istio-api-$istio_api_version

case $bin_dir/ in
"$repo_root"/*) die "cache $bin_dir is inside the work tree $repo_root; set KUBECTL_WAYPOINT_CACHE elsewhere" ;;
esac

# with_lock runs "$@" while holding the cache entry's lock, so that test packages
# started in parallel by `go test ./...` build once and the others wait for that
# build. Each entry has its own lock: building the version matrix's older control
# plane does not hold up tests of the current one.
with_lock() {
	mkdir -p "$cache_root/controlplane"
	if command -v flock >/dev/null; then
		(
			flock 9
			# Holding the lock, any temporary directory left is from an
			# interrupted run: remove it.
			rm -rf "$cache_root/controlplane/.tmp-$key".* "$bin_dir"/crds/.gather.*
			"$@"
		) 9>"$cache_root/controlplane/.lock-$key"
	else
		"$@"
	fi
}

# complete_bin DIR succeeds when DIR holds all three binaries.
complete_bin() {
	[[ -x $1/kube-apiserver && -x $1/etcd && -x $1/kubectl ]]
}

build_bin() {
	complete_bin "$bin_dir" && return 0

	local tmp
	tmp=$(mktemp -d "$cache_root/controlplane/.tmp-$key.XXXXXX")
	chmod 0755 "$tmp"
	# The trap runs in this (sub)shell: an interrupted build removes its own
	# temporary directory and nothing else.
	trap 'rm -rf "$tmp"' EXIT

	if [[ $k8s_dir == "$tools_dir" ]]; then
		log "building kube-apiserver $k8s_version, kubectl $k8s_version and etcd $etcd_version into $bin_dir (a cold build takes a few minutes)"
	else
		log "building kube-apiserver $k8s_version into $bin_dir, with the current control plane's etcd and kubectl (a cold build takes a few minutes)"
	fi
	local start=$SECONDS
	# The version stamps only touch the link step, so the Go build cache is
	# shared with any plain `go build` of the same packages.
	local ldflags="" pkg
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=$k8s_version"
		ldflags+=" -X $pkg.gitMajor=$(cut -d. -f1 <<<"${k8s_version#v}")"
		ldflags+=" -X $pkg.gitMinor=$(cut -d. -f2 <<<"${k8s_version#v}")"
		ldflags+=" -X $pkg.gitTreeState=clean"
	done
	if [[ $k8s_dir == "$tools_dir" ]]; then
		(
			cd "$tools_dir"
			go build -ldflags "$ldflags" -o "$tmp/" \
				go.etcd.io/etcd/server/v3 \
				k8s.io/kubernetes/cmd/kube-apiserver \
				k8s.io/kubernetes/cmd/kubectl
		) || die "building the control plane in $tools_dir failed (see the go build output above)"
	else
		# An older kube-apiserver from its own module; etcd and kubectl are
		# links to the current control plane's (waited for, or built, after
		# this compile, which can run beside it). It serves one short test
		# (TestVersionMatrix) and shares no package but the standard
		# library with any other build, so its own packages are compiled
		# without optimisation or debug information: 17% less CPU on a
		# cold machine (15.8 against 13.1 CPU-minutes, measured apart, with
		# an empty build cache). The standard library keeps the default
		# flags (the later, narrower -gcflags wins for it), so it is shared.
		(
			cd "$k8s_dir"
			go build -gcflags='all=-N -l -dwarf=false' -gcflags='std=' -ldflags "-s -w $ldflags" -o "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver
		) || die "building kube-apiserver in $k8s_dir failed (see the go build output above)"
		local current
		current=$(CONTROLPLANE_PINS='' "${BASH_SOURCE[0]}" bin) ||
			die "building the current control plane, whose etcd and kubectl the pinned one uses, failed"
		ln -s "$current/etcd" "$tmp/etcd"
		ln -s "$current/kubectl" "$tmp/kubectl"
	fi

	# go build names the etcd main package after its path without the /v3 suffix.
	if [[ -x $tmp/server ]]; then
		mv "$tmp/server" "$tmp/etcd"
	fi
	complete_bin "$tmp" || die "the build did not produce kube-apiserver, etcd and kubectl (got: $(ls "$tmp"))"
	"$tmp/etcd" --version >/dev/null || die "the etcd binary does not run"
	"$tmp/kube-apiserver" --version >/dev/null || die "the kube-apiserver binary does not run"

	rm -rf "$bin_dir.old"
	if [[ -e $bin_dir ]]; then
		# An incomplete entry (say, from an older script): keep the CRDs apart.
		mv "$bin_dir" "$bin_dir.old"
	fi
	mkdir -p "$(dirname "$bin_dir")"
	mv "$tmp" "$bin_dir"
	if [[ -d $bin_dir.old/crds ]]; then
		mv "$bin_dir.old/crds" "$bin_dir/crds"
	fi
	rm -rf "$bin_dir.old"
	trap - EXIT
	log "built in $((SECONDS - start))s"
}

gather_crds() {
	[[ -f $crd_dir/.complete ]] && return 0

	local gwapi_dir istio_dir
	(cd "$tools_dir" && go mod download istio.io/api) &&
		(cd "$gwapi_dir_mod" && go mod download sigs.k8s.io/gateway-api) ||
		die "downloading the CRD sources failed"
	gwapi_dir=$(cd "$gwapi_dir_mod" && go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)
	istio_dir=$(cd "$tools_dir" && go list -m -f '{{.Dir}}' istio.io/api)
	[[ -d $gwapi_dir/config/crd/standard ]] || die "no config/crd/standard in $gwapi_dir"
	[[ -f $istio_dir/kubernetes/customresourcedefinitions.gen.yaml ]] ||
		die "no kubernetes/customresourcedefinitions.gen.yaml in $istio_dir"

	mkdir -p "$(dirname "$crd_dir")"
	local tmp f n=0
	tmp=$(mktemp -d "$(dirname "$crd_dir")/.gather.XXXXXX")
	chmod 0755 "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	for f in "$gwapi_dir"/config/crd/standard/*.yaml; do
		# The folder also holds a ValidatingAdmissionPolicy: keep CRDs only.
		case $(basename "$f") in *vap*) continue ;; esac
		grep -q '^kind: CustomResourceDefinition' "$f" || continue
		install -m 0644 "$f" "$tmp/"
		n=$((n + 1))
	done
	((n > 0)) || die "no CRD files in $gwapi_dir/config/crd/standard"
	install -m 0644 "$istio_dir/kubernetes/customresourcedefinitions.gen.yaml" "$tmp/istio.io_customresourcedefinitions.gen.yaml"
	touch "$tmp/.complete"

	rm -rf "$crd_dir"
	mv "$tmp" "$crd_dir"
	trap - EXIT
	log "gathered $n Gateway API CRD files ($gwapi_version) and the Istio CRDs ($istio_api_version) into $crd_dir"
}

mode=${1:-bin}
case $mode in
bin)
	with_lock build_bin
	echo "$bin_dir"
	;;
crds)
	with_lock gather_crds
	echo "$crd_dir"
	;;
key)
	echo "$key"
	;;
-h | --help | help)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
	;;
*)
	die "unknown mode \"$mode\"; use bin, crds or key"
	;;
esac
