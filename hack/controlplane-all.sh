#!/usr/bin/env bash
# controlplane-all.sh builds everything the tests run, at once: the current
# control plane and its CRDs, istiod and istioctl, and the version matrix's
# older control plane and CRDs (see controlplane.sh and istiod.sh; each keeps
# its own cache entry and lock). On a new machine the builds download modules
# and compile at the same time, instead of one after the other; on a warm one
# each finds its cache entry at once.
#
# With --current it builds only what make demo and make sandbox run: the
# current control plane and istiod, not the version matrix's.
#
# Every build runs to its end; the script fails if any failed, after naming
# it. Progress goes to stderr; nothing to stdout. With CONTROLPLANE_TIMES
# naming a file, each build's wall, user and system seconds are appended to
# it (hack/cold-ci.sh reads them).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

declare -A jobs
jobs["control plane"]='hack/controlplane.sh && hack/controlplane.sh crds'
jobs["istiod"]='hack/istiod.sh'
if [[ ${1:-} != --current ]]; then
	jobs["control plane of the version matrix"]='CONTROLPLANE_PINS=k8s-1.34 hack/controlplane.sh && CONTROLPLANE_PINS=k8s-1.34 hack/controlplane.sh crds && CONTROLPLANE_PINS=gateway-api-1.2 hack/controlplane.sh crds'
fi

declare -A pids
for name in "${!jobs[@]}"; do
	if [[ -n ${CONTROLPLANE_TIMES:-} ]]; then
		/usr/bin/time -a -o "$CONTROLPLANE_TIMES" -f "$name|%e|%U|%S" bash -c "${jobs[$name]}" >/dev/null &
	else
		bash -c "${jobs[$name]}" >/dev/null &
	fi
	pids[$name]=$!
done
failed=0
for name in "${!pids[@]}"; do
	if ! wait "${pids[$name]}"; then
		echo "controlplane-all.sh: building the $name failed (its output is above)" >&2
		failed=1
	fi
done
exit $failed
