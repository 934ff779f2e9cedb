#!/usr/bin/env bash
# bench-istiod-wait.sh measures, against a sandbox with the real istiod and
# the node stand-in, the time from `kubectl waypoint apply --wait` starting to
# it returning once istiod has programmed the waypoint, in 5 fresh namespaces
# (see docs/performance.md, "The istiod test tier"). Prints each run and the
# median.
#
#   hack/bench-istiod-wait.sh [RUNS]     default 5
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
runs=${1:-5}
make -s build

script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat >"$script" <<SCRIPT
set -euo pipefail
export PATH=$repo_root/bin:\$PATH
times=()
for i in \$(seq 1 $runs); do
  ns=wait-\$i
  kubectl create namespace "\$ns" >/dev/null
  kubectl label namespace "\$ns" istio.io/dataplane-mode=ambient >/dev/null
  start=\$(date +%s%N)
  kubectl-waypoint apply -n "\$ns" --wait --timeout 120s >/dev/null
  ms=\$(( (\$(date +%s%N) - start) / 1000000 ))
  echo "run \$i: apply --wait returned after \$ms ms"
  times+=("\$ms")
done
median=\$(printf '%s\n' "\${times[@]}" | sort -n | awk '{ a[NR] = \$1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
echo "median of $runs: \$median ms"
SCRIPT
hack/sandbox.sh --addr 127.0.0.1:16447 --dir "$(mktemp -d)" --run "bash $script"
