#!/usr/bin/env bash
# tour-fixtures.sh creates what the README's tour and the Istio docs' seeds
# use, in the cluster of the current KUBECONFIG (meant for `make sandbox`):
# the namespaces default (labelled ambient), common-infrastructure and
# cross-namespace-waypoint-consumer, the Bookinfo services productpage,
# reviews and ratings with pods of reviews v1 and v2, the ServiceEntry
# istio-site, two namespaces for the bulk example (label team=tour), and the
# istio-waypoint GatewayClass when no istiod has created it yet. Safe to run
# again. It refuses a context that does not look like a local sandbox unless
# TOUR_FIXTURES_ANY_CLUSTER=1.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if ! command -v kubectl >/dev/null; then
  PATH=$("$repo_root/hack/controlplane.sh" bin):$PATH
fi
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
case "$server" in
  https://127.0.0.1:* | https://localhost:*) ;;
  *)
    if [ "${TOUR_FIXTURES_ANY_CLUSTER:-}" != 1 ]; then
      echo "tour-fixtures: $server is not a local sandbox; set TOUR_FIXTURES_ANY_CLUSTER=1 to use it anyway" >&2
      exit 2
    fi
    ;;
esac

kubectl apply --server-side --field-manager tour-fixtures -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels: {istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Namespace
metadata:
  name: common-infrastructure
  labels: {istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Namespace
metadata:
  name: cross-namespace-waypoint-consumer
  labels: {istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Namespace
metadata:
  name: tour-payments
  labels: {team: tour, istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Namespace
metadata:
  name: tour-orders
  labels: {team: tour, istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: default, labels: {app: productpage}}
spec: {selector: {app: productpage}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default, labels: {app: reviews}}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default, labels: {app: ratings}}
spec: {selector: {app: ratings}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, namespace: default, labels: {app: reviews, version: v1}}
spec: {containers: [{name: reviews, image: docker.io/istio/examples-bookinfo-reviews-v1:1.20.2}]}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2, namespace: default, labels: {app: reviews, version: v2}}
spec: {containers: [{name: reviews, image: docker.io/istio/examples-bookinfo-reviews-v2:1.20.2}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: istio-site, namespace: cross-namespace-waypoint-consumer}
spec:
  hosts: [istio.io]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
YAML

# istiod creates this class when it starts in ambient mode; a sandbox without
# one gets it here so that apply does not warn that Istio is missing.
if ! kubectl get gatewayclass istio-waypoint >/dev/null 2>&1; then
  kubectl create -f - >/dev/null <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: istio-waypoint}
spec: {controllerName: istio.io/mesh-controller}
YAML
fi
echo "tour fixtures ready: namespaces default, common-infrastructure, cross-namespace-waypoint-consumer, tour-payments, tour-orders"
