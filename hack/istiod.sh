#!/usr/bin/env bash
# istiod.sh builds Istio's control plane (pilot-discovery) and istioctl at the
# versions pinned in hack/istiod/go.mod, and extracts from istioctl's own
# ambient-profile manifest the ConfigMaps istiod reads (`istio`: the mesh
# config; `istio-sidecar-injector`: the injection templates, `waypoint` among
# them, and the values; `values`). The integration tests, `make sandbox` and
# `make demo` run that istiod against their API server.
#
# Everything lands in a cache outside the work tree, keyed by the pins (a hash
# of hack/istiod/go.mod and go.sum): bumping a pin picks a new directory, and a
# cache entry that is already there is used as is.
#
# Usage:
#   hack/istiod.sh [dir]   build when missing; print the directory, which holds
#                          pilot-discovery, istioctl, configmaps.yaml and version
#   hack/istiod.sh key     print the cache key, build nothing
#
# Environment:
#   KUBECTL_WAYPOINT_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-waypoint)
#
# Only the directory goes to stdout; progress goes to stderr. A build is done in
# a temporary directory beside the cache entry and moved into place when it is
# complete, so an interrupted build never leaves a half-filled cache.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod_dir=$repo_root/hack/istiod
mod_file=$mod_dir/go.mod

die() {
	echo "istiod.sh: $*" >&2
	exit 1
}

log() {
	echo "istiod.sh: $*" >&2
}

[[ -f $mod_file && -f $mod_dir/go.sum ]] || die "missing $mod_file or its go.sum"
command -v go >/dev/null || die "go is not on PATH"

# The Istio pseudo-version names the entry; the hash covers every pin and
# replacement, so that changing any of them builds anew.
istio_version=$(awk '$1 == "require" && $2 == "istio.io/istio" { print $3; exit } $1 == "istio.io/istio" && $2 ~ /^v/ { print $2; exit }' "$mod_file")
[[ -n $istio_version ]] || die "$mod_file does not require istio.io/istio"
pins_hash=$(cat "$mod_file" "$mod_dir/go.sum" | sha256sum | cut -c1-12)

cache_root=${KUBECTL_WAYPOINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-waypoint}
key=istio-$istio_version-$pins_hash
out_dir=$cache_root/istiod/$key

case $out_dir/ in
"$repo_root"/*) die "cache $out_dir is inside the work tree $repo_root; set KUBECTL_WAYPOINT_CACHE elsewhere" ;;
esac

# The ConfigMaps istiod needs; the manifest must hold each of them.
configmaps=(istio istio-sidecar-injector values)

with_lock() {
	mkdir -p "$cache_root/istiod"
	if command -v flock >/dev/null; then
		(
			flock 9
			# Holding the lock, any temporary directory left is from an
			# interrupted run: remove it.
			rm -rf "$cache_root"/istiod/.build-*
			"$@"
		) 9>"$cache_root/istiod/.lock"
	else
		"$@"
	fi
}

complete_dir() {
	[[ -x $1/pilot-discovery && -x $1/istioctl && -s $1/configmaps.yaml && -f $1/.complete ]]
}

# extract_configmaps prints the ConfigMap documents of a multi-document YAML
# stream (stdin) whose metadata.name is one of the arguments.
extract_configmaps() {
	awk -v names="$*" '
		BEGIN { n = split(names, list, " "); for (i = 1; i <= n; i++) want[list[i]] = 1 }
		function flush() {
			if (doc != "" && kind == "ConfigMap" && (name in want)) {
				printf "---\n%s", doc
			}
			doc = ""; kind = ""; name = ""; inmeta = 0
		}
		/^---/ { flush(); next }
		{
			doc = doc $0 "\n"
			if ($0 ~ /^kind: /) { kind = $2 }
			if ($0 ~ /^metadata:/) { inmeta = 1; next }
			if (inmeta && $0 ~ /^[^ ]/) { inmeta = 0 }
			if (inmeta && $0 ~ /^  name: /) { name = $2; gsub(/["\047]/, "", name) }
		}
		END { flush() }
	'
}

build() {
	complete_dir "$out_dir" && return 0

	local tmp
	tmp=$(mktemp -d "$cache_root/istiod/.build-$key.XXXXXX")
	chmod 0755 "$tmp"
	trap 'rm -rf "$tmp"' EXIT

	log "building pilot-discovery and istioctl $istio_version into $out_dir (a cold build takes about 5 minutes)"
	local start=$SECONDS
	(
		cd "$mod_dir"
		go mod download istio.io/istio
		src=$(go list -m -f '{{.Dir}}' istio.io/istio)
		# The version stamps Istio's own build sets (only the link step sees
		# them): the branch of its VERSION file, and the commit of the pin.
		pkg=istio.io/istio/pkg/version
		ldflags="-X $pkg.buildVersion=$(cat "$src/VERSION")-dev"
		ldflags+=" -X $pkg.buildGitRevision=${istio_version##*-}"
		ldflags+=" -X $pkg.buildTag=$istio_version"
		ldflags+=" -X $pkg.buildStatus=Clean"
		go build -ldflags "$ldflags" -o "$tmp/" istio.io/istio/pilot/cmd/pilot-discovery istio.io/istio/istioctl/cmd/istioctl
	) || die "building istiod in $mod_dir failed (see the go build output above)"
	[[ -x $tmp/pilot-discovery && -x $tmp/istioctl ]] || die "the build did not produce pilot-discovery and istioctl (got: $(ls "$tmp"))"
	"$tmp/pilot-discovery" version --short 2>/dev/null | sed -n 's/^client version: //p' >"$tmp/version"
	[[ -s $tmp/version ]] || die "the pilot-discovery binary does not run (or does not say its version)"
	log "built in $((SECONDS - start))s"

	# Istio's own ambient profile, rendered by istioctl from the charts it
	# embeds: never a hand-written template.
	"$tmp/istioctl" manifest generate --set profile=ambient >"$tmp/manifest.yaml" 2>"$tmp/manifest.err" ||
		die "istioctl manifest generate --set profile=ambient failed: $(tail -n 3 "$tmp/manifest.err")"
	extract_configmaps "${configmaps[@]}" <"$tmp/manifest.yaml" >"$tmp/configmaps.yaml"
	local cm
	for cm in "${configmaps[@]}"; do
		awk -v n="$cm" '$0 == "  name: " n || $0 == "  name: \"" n "\"" { found = 1 } END { exit !found }' "$tmp/configmaps.yaml" ||
			die "istioctl's ambient manifest has no ConfigMap $cm"
	done
	grep -q 'waypoint' "$tmp/configmaps.yaml" || die "the istio-sidecar-injector ConfigMap has no waypoint template"
	rm -f "$tmp/manifest.err"
	touch "$tmp/.complete"

	rm -rf "$out_dir"
	mv "$tmp" "$out_dir"
	trap - EXIT
	log "extracted the ConfigMaps ${configmaps[*]} of the ambient profile into $out_dir/configmaps.yaml"
}

mode=${1:-dir}
case $mode in
dir | bin)
	with_lock build
	echo "$out_dir"
	;;
key)
	echo "$key"
	;;
-h | --help | help)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
	;;
*)
	die "unknown mode \"$mode\"; use dir or key"
	;;
esac
