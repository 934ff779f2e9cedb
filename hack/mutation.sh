#!/usr/bin/env bash
# mutation.sh runs gremlins on each domain package with that package's own
# tests, and prints its mutation score: mutants killed (or timed out) over all
# mutants found, those no test covers included. It fails when a package scores
# below MUTATION_MIN (default 80).
#
# Usage: hack/mutation.sh GREMLINS PKG...   (make mutation passes them)
# The full report of each package goes to bin/mutation/<pkg>.txt.
#
# gremlins gives each mutant MUTATION_TIMEOUT_COEFFICIENT (default 30) times
# the first test run (build included) before it calls it timed out, and
# counts a timeout as a kill: its own default, 3, turns a slow build on a
# loaded machine into kills. It reads the coefficient only from its flag (an
# environment value is ignored). go vet is make lint's business, not each
# mutant's (-vet=off).
#
# A mutant can make a page loop endless (the continue token's test turned
# round): its test then allocates until the machine has no memory left (a
# pkg/policy mutant took 14 GiB in two minutes). Every process of the run is
# held to MUTATION_MEMORY_KB of address space (default 4 GiB): such a test
# dies of it and the mutant counts as killed, as it is.
set -euo pipefail
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-vet=off"
ulimit -v "${MUTATION_MEMORY_KB:-4194304}"

gremlins=$1
shift
min=${MUTATION_MIN:-80}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
mkdir -p bin/mutation

fail=0
printf '%-16s %7s %6s %12s %7s\n' package killed lived "not covered" score
for p in "$@"; do
	report=bin/mutation/$p.txt
	"$gremlins" unleash --workers "${MUTATION_WORKERS:-1}" \
		--timeout-coefficient "${MUTATION_TIMEOUT_COEFFICIENT:-30}" "./pkg/$p" >"$report" 2>&1 ||
		{ echo "mutation.sh: gremlins failed on pkg/$p; see $report" >&2; exit 1; }
	read -r killed lived notcov timedout < <(awk '
		/^Killed:/ { gsub(",", ""); k = $2; l = $4; n = $7 }
		/^Timed out:/ { gsub(",", ""); t = $3 }
		END { print k + 0, l + 0, n + 0, t + 0 }' "$report")
	total=$((killed + timedout + lived + notcov))
	score=0
	((total > 0)) && score=$(((killed + timedout) * 100 / total))
	printf '%-16s %7d %6d %12d %6d%%\n' "pkg/$p" "$((killed + timedout))" "$lived" "$notcov" "$score"
	((score >= min)) || fail=1
done
if ((fail)); then
	echo "mutation.sh: a package scores below $min%; the mutants that lived are in bin/mutation/<pkg>.txt" >&2
	exit 1
fi
