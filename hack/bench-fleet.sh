#!/usr/bin/env bash
# bench-fleet.sh compares one call over three clusters with three calls one
# after another, and measures requests per cluster and peak memory (see
# docs/performance.md, "Fleets"). Three API servers run on this machine.
#
#   hack/bench-fleet.sh [NAMESPACES] [ROUNDS] [LATENCY]
#
# Defaults: 100 namespaces per cluster, 3 rounds, and two runs: the API
# servers reached directly, then each behind a proxy that delays every
# request by LATENCY (default 20ms), as clusters in other places are.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
make -s build
go run ./hack/bench-fleet -namespaces "${1:-100}" -rounds "${2:-3}"
go run ./hack/bench-fleet -namespaces "${1:-100}" -rounds "${2:-3}" -latency "${3:-20ms}"
