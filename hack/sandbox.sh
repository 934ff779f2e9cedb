#!/usr/bin/env bash
# sandbox.sh runs a local Kubernetes API server (etcd + kube-apiserver, the
# Gateway API and Istio CRDs, and a fake istiod that marks waypoints
# Programmed) for trying kubectl-waypoint by hand. No kubelet runs: pods stay
# Pending, which is all enrollment needs.
#
# Usage:
#   hack/sandbox.sh [flags]                 run until Ctrl-C; prints `export KUBECONFIG=...`
#   hack/sandbox.sh --run SCRIPT [flags]    start, run SCRIPT with bash, KUBECONFIG set and
#                                           kubectl on PATH, stop; exits with SCRIPT's code
#
# Flags (hack/sandbox.sh -h lists them all):
#   --addr HOST:PORT            where the API server listens (default 127.0.0.1:6443)
#   --dir DIR                   where the kubeconfig goes (default ${TMPDIR:-/tmp}/kubectl-waypoint-sandbox)
#   --ambient-namespace NS      create NS labelled istio.io/dataplane-mode=ambient (repeatable)
#   --fake-istiod=false         leave waypoints unprogrammed
#   --fake-istiod-delay 1s      how long "istiod" takes to program a waypoint
#   -v                          show the output of etcd and kube-apiserver
#
# The first run builds the control plane binaries (a few minutes, once; see
# hack/controlplane.sh).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# Build the binaries now, so that their build is not mistaken for a slow start.
hack/controlplane.sh bin >/dev/null
hack/controlplane.sh crds >/dev/null

bin=${TMPDIR:-/tmp}/kubectl-waypoint-sandbox/bin/sandbox
go build -o "$bin" ./hack/sandbox
# exec: Ctrl-C and SIGTERM go straight to the sandbox, which stops everything.
exec "$bin" "$@"
