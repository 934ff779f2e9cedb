#!/usr/bin/env bash
# bench-lifecycle.sh measures list and status on a cluster with 1,000
# waypoints and 500 other Gateways in 500 namespaces, against a local
# kube-apiserver (see docs/performance.md). Needs hyperfine and GNU time.
#
#   hack/bench-lifecycle.sh [NAMESPACES]     default 500
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
namespaces=${1:-500}
make -s build
command -v hyperfine >/dev/null || { echo "bench-lifecycle: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }

script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat >"$script" <<SCRIPT
set -euo pipefail
export PATH=$repo_root/bin:\$PATH
objects=\$(mktemp)
for i in \$(seq 1 $namespaces); do
  ns=bench-\$i
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n' "\$ns"
  for w in waypoint reviews-waypoint; do
    kubectl-waypoint generate -n "\$ns" --name "\$w" --for service 2>/dev/null || true
    echo ---
  done
  printf 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: ingress\n  namespace: %s\nspec:\n  gatewayClassName: istio\n  listeners:\n  - name: http\n    port: 80\n    protocol: HTTP\n---\n' "\$ns"
done >"\$objects"
echo "populating: $namespaces namespaces, \$(grep -c '^kind: Gateway' "\$objects") Gateways"
start=\$(date +%s)
kubectl apply --server-side -f "\$objects" >/dev/null
echo "populated in \$((\$(date +%s) - start)) s; waiting for istiod to program the waypoints"
kubectl-waypoint status -A --wait --timeout 300s >/dev/null
echo
echo "== list -A against kubectl get gateways -A"
hyperfine -N --warmup 2 -r 10 'kubectl-waypoint list -A' 'kubectl get gateways -A'
echo "== status -A, every waypoint ready"
hyperfine -N --warmup 2 -r 10 'kubectl-waypoint status -A'
echo "== peak memory (max RSS) by page size"
for size in 50 100 500 1500; do
  /usr/bin/time -f "list -A --chunk-size \$size: %M KiB" kubectl-waypoint list -A --chunk-size \$size >/dev/null
done
/usr/bin/time -f "status -A: %M KiB" kubectl-waypoint status -A >/dev/null
/usr/bin/time -f "kubectl get gateways -A: %M KiB" kubectl get gateways -A >/dev/null
echo "rows: \$(kubectl-waypoint list -A | tail -n +2 | wc -l) waypoints listed"
SCRIPT
hack/sandbox.sh --addr 127.0.0.1:16445 --dir "$(mktemp -d)" --run "bash $script"
