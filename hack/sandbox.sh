#!/usr/bin/env bash
# sandbox.sh runs a local Kubernetes API server (etcd + kube-apiserver, the
# Gateway API and Istio CRDs) with a real istiod and a stand-in for the nodes
# that runs each waypoint's pod, for trying kubectl-waypoint by hand. istiod
# deploys and programs waypoints; other pods stay Pending, which is all
# enrollment needs.
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
#   --istiod=false              no istiod: waypoints stay unprogrammed
#   -v                          show the output of etcd, kube-apiserver and istiod
#
# The first run builds the control plane binaries and istiod (several minutes,
# once; see hack/controlplane.sh and hack/istiod.sh).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# Build the binaries now, so that their build is not mistaken for a slow start.
hack/controlplane.sh bin >/dev/null
hack/controlplane.sh crds >/dev/null
hack/istiod.sh >/dev/null

bin=${TMPDIR:-/tmp}/kubectl-waypoint-sandbox/bin/sandbox
go build -o "$bin" ./hack/sandbox
# exec: Ctrl-C and SIGTERM go straight to the sandbox, which stops everything.
exec "$bin" "$@"
