#!/usr/bin/env bash
# bench-bulk.sh compares one bulk call with a shell loop that calls the tool
# once per namespace, over 200 ambient namespaces on a local kube-apiserver
# (see docs/performance.md).
#
#   hack/bench-bulk.sh [NAMESPACES]     default 200
#   BENCH_LOOP_ROUNDS=0 BENCH_CALL_ROUNDS=5 hack/bench-bulk.sh 2000
#                                       one calls only (peak memory at scale)
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
n=${1:-200}
loop_rounds=${BENCH_LOOP_ROUNDS:-2}
call_rounds=${BENCH_CALL_ROUNDS:-5}
make -s build

script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat >"$script" <<SCRIPT
set -euo pipefail
export PATH=$repo_root/bin:\$PATH
for i in \$(seq 1 $n); do
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bulk-%d\n  labels:\n    bench: bulk\n    istio.io/dataplane-mode: ambient\n---\n' "\$i"
done | kubectl apply -f - >/dev/null
nss=\$(kubectl get ns -l bench=bulk -o name | sed 's#namespace/##')
secs() { local s=\$(date +%s%N); "\$@" >/dev/null; echo "scale=2; (\$(date +%s%N) - \$s) / 1000000000" | bc; }
loop_apply() { for ns in \$nss; do kubectl-waypoint apply -n "\$ns" --enroll-namespace --for all; done; }
loop_delete() { for ns in \$nss; do kubectl-waypoint delete --all -n "\$ns" --unenroll; done; }
echo "namespaces: $n"
for round in \$(seq 1 $loop_rounds); do
  echo "shell loop, round \$round: apply --enroll-namespace --for all \$(secs loop_apply) s; delete --all --unenroll \$(secs loop_delete) s"
done
for round in \$(seq 1 $call_rounds); do
  /usr/bin/time -f "one call, round \$round: apply --enroll-namespace --for all %e s, max RSS %M KiB" \
    kubectl-waypoint apply --namespace-selector bench=bulk --enroll-namespace --for all >/dev/null
  /usr/bin/time -f "one call, round \$round: delete --all --unenroll %e s, max RSS %M KiB" \
    kubectl-waypoint delete --all --unenroll --namespace-selector bench=bulk >/dev/null
done
SCRIPT
hack/sandbox.sh --addr 127.0.0.1:16446 --dir "$(mktemp -d)" --istiod=false --run "bash $script"
