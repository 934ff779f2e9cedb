#!/usr/bin/env bash
# controlplane-all.sh builds everything the tests run: the current control
# plane and its CRDs, istiod and istioctl, and the version matrix's older
# control plane and CRDs (see controlplane.sh and istiod.sh; each keeps its
# own cache entry and lock). On a new machine the jobs download modules and
# compile at the same time, instead of one after the other; on a warm one
# each finds its cache entry at once.
#
# The current control plane and istiod are one job, one after the other:
# they share k8s.io/api, client-go and all below them (hack/tools and
# hack/istiod pin the same versions), and two go builds at once would both
# compile those, since the Go build cache shares only what is finished.
#
# With --current it builds only what make demo and make sandbox run: the
# current control plane and istiod, not the version matrix's.
#
# Every job runs to its end; the script fails if any failed, after naming
# it. Progress goes to stderr; nothing to stdout. With CONTROLPLANE_TIMES
# naming a file, each step's wall, user and system seconds are appended to
# it (hack/cold-ci.sh reads them).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# step NAME COMMAND runs COMMAND, timed into CONTROLPLANE_TIMES when set.
step() {
	if [[ -n ${CONTROLPLANE_TIMES:-} ]]; then
		/usr/bin/time -a -o "$CONTROLPLANE_TIMES" -f "$1|%e|%U|%S" bash -c "$2" >/dev/null
	else
		bash -c "$2" >/dev/null
	fi
}

current() {
	step "control plane" 'hack/controlplane.sh && hack/controlplane.sh crds' &&
		step "istiod (after the control plane)" 'hack/istiod.sh'
}

matrix() {
	step "control plane of the version matrix" 'CONTROLPLANE_PINS=k8s-1.34 hack/controlplane.sh && CONTROLPLANE_PINS=k8s-1.34 hack/controlplane.sh crds && CONTROLPLANE_PINS=gateway-api-1.2 hack/controlplane.sh crds'
}

declare -A pids
current &
pids["control plane and istiod"]=$!
if [[ ${1:-} != --current ]]; then
	matrix &
	pids["control plane of the version matrix"]=$!
fi
failed=0
for name in "${!pids[@]}"; do
	if ! wait "${pids[$name]}"; then
		echo "controlplane-all.sh: building the $name failed (its output is above)" >&2
		failed=1
	fi
done
exit $failed
