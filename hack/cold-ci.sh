#!/usr/bin/env bash
# cold-ci.sh measures what `.ci/run` costs on a new machine: it clones the
# current commit into a temporary directory and runs the steps of .ci/run
# one by one with empty caches (Go modules, Go build cache, the control-plane
# and istiod cache), printing each phase's wall, user and system time.
#
# Usage: hack/cold-ci.sh [--demo] [LOG]   (LOG, default /tmp/cold-ci.log, gets
# the output of every phase; the table goes to stdout as well). With --demo
# it times `make demo` instead, a new user's first command, on empty caches.
#
# It downloads every module again from the module proxy and uses several
# GB of disk under $TMPDIR; the caches are removed at the end. Other work on
# the machine slows every figure: the wall times mean something only on a
# quiet machine, the CPU times (user + sys) somewhat more.
set -euo pipefail
# The whole script is one function, read before it runs: editing the file
# while a run goes on (it takes about an hour) cannot change that run.
main() {
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	demo=false
	if [[ ${1:-} == --demo ]]; then
		demo=true
		shift
	fi
	log=${1:-/tmp/cold-ci.log}
	work=$(mktemp -d "${TMPDIR:-/tmp}/cold-ci.XXXXXX")
	cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
	trap cleanup EXIT

	git clone -q "$repo" "$work/src"
	# ../shared beside the clone, as CI has it.
	[[ -d $repo/../shared ]] && ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
	export GOCACHE=$work/gocache GOMODCACHE=$work/gomodcache XDG_CACHE_HOME=$work/cache
	unset KUBECTL_WAYPOINT_CACHE GOFLAGS
	cd "$work/src"
	: >"$log"
	printf '%-28s %9s %9s %9s\n' phase wall user sys | tee -a "$log"
	phase() {
		local name=$1
		shift
		echo "=== $name: $*" >>"$log"
		if ! /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >>"$log" 2>&1; then
			echo "cold-ci: phase $name failed; see $log" >&2
			exit 1
		fi
		read -r wall user sys <"$work/time"
		printf '%-28s %8.0fs %8.0fs %8.0fs\n' "$name" "$wall" "$user" "$sys" | tee -a "$log"
	}
	start=$(date +%s)
	if $demo; then
		export CONTROLPLANE_TIMES=$work/controlplane-times
		phase "make demo" make --no-print-directory demo
		echo "total wall: $(($(date +%s) - start))s" | tee -a "$log"
		return
	fi
	# make test: lint and the control planes side by side, then the tests.
	export CONTROLPLANE_TIMES=$work/controlplane-times
	phase "lint + control planes (side by side)" make --no-print-directory -j2 lint controlplane
	while IFS='|' read -r name wall user sys; do
		printf '  %-26s %8.0fs %8.0fs %8.0fs\n' "$name" "$wall" "$user" "$sys" | tee -a "$log"
	done <"$CONTROLPLANE_TIMES"
	phase "tests (go test ./...)" go test -count=1 -timeout 40m ./...
	phase "release check" make release-check
	echo "total wall: $(( $(date +%s) - start ))s" | tee -a "$log"
}
main "$@"
exit $?
