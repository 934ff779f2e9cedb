#!/usr/bin/env bash
# demo.sh runs the waypoint walkthrough of the Istio documentation (the seed
# documents) through bin/kubectl-waypoint, used as the kubectl plugin
# "kubectl waypoint", against a local API server started by hack/sandbox.sh
# (etcd, kube-apiserver, the Gateway API and Istio CRDs, a real istiod, and a
# stand-in for the nodes that runs each waypoint's pod, so that istiod programs
# the waypoints). Every command is printed before its output.
#
# Usage:
#   make demo        build the binary and the control plane, then run this
#   hack/demo.sh     the same, with bin/kubectl-waypoint already built
#
# Environment:
#   DEMO_ADDR   HOST:PORT for the API server (default: the first free port from
#               127.0.0.1:16444 on, so that a running `make sandbox` is left alone)
#   DEMO_BIN_DIR  the directory of the kubectl-waypoint binary (default bin/)
#   CONTROLPLANE_PINS  run against older versions of the version matrix, e.g.
#               k8s-1.34 or gateway-api-1.2 (see hack/controlplane.sh)
#
# The demo exits non-zero as soon as a command fails that was not expected to.
#
# To extend it, add a line to the walkthrough below:
#   step "what this shows" kubectl waypoint ...            must succeed
#   step_fails 2 "what this shows" kubectl waypoint ...    must exit with code 2
#   step_stdin "what this shows" kubectl apply -f - <<'EOF' ... EOF
#                                                          shows its input as well
#   check "what must be so" get ... -o custom-columns=... <<'EOF' TABLE EOF
#                     reads the cluster with the control plane's kubectl (never
#                     with kubectl-waypoint) and stops the demo unless it prints
#                     TABLE (blanks squashed)
# After each step that writes, a check reads back what it should have written.
# Commands that are not written yet go in a section guarded by `has_command`,
# so the demo grows with the tool.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---------------------------------------------------------------------------
# Outside the sandbox: start it and run this script again inside it.
# ---------------------------------------------------------------------------
if [[ ${1:-} != --in-sandbox ]]; then
	cd "$repo_root"
	[[ -x ${DEMO_BIN_DIR:-bin}/kubectl-waypoint ]] || {
		echo "demo.sh: bin/kubectl-waypoint is missing; run make demo (or make build)" >&2
		exit 1
	}

	# port_in_use PORT succeeds when something accepts connections on PORT.
	port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

	addr=${DEMO_ADDR:-}
	if [[ -z $addr ]]; then
		for port in $(seq 16444 16543); do
			if ! port_in_use "$port"; then
				addr=127.0.0.1:$port
				break
			fi
		done
		[[ -n $addr ]] || {
			echo "demo.sh: no free port in 16444-16543; set DEMO_ADDR=HOST:PORT" >&2
			exit 1
		}
	fi

	# A directory of our own for the kubeconfig: the default one belongs to
	# `make sandbox`, which may be running.
	dir=$(mktemp -d "${TMPDIR:-/tmp}/kubectl-waypoint-demo.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
	script=$(printf '%q --in-sandbox' "$repo_root/hack/demo.sh")
	code=0
	hack/sandbox.sh --addr "$addr" --dir "$dir" --run "$script" || code=$?
	if ((code == 0)); then
		echo
		echo "demo: every step passed"
	else
		echo "demo: failed (exit $code)" >&2
	fi
	exit "$code"
fi

# ---------------------------------------------------------------------------
# Inside the sandbox: KUBECONFIG is set and the control plane's kubectl is on
# PATH. bin/ goes first so that kubectl finds kubectl-waypoint as a plugin.
# ---------------------------------------------------------------------------
cd "$repo_root"
export PATH=${DEMO_BIN_DIR:-$repo_root/bin}:$PATH
export NO_COLOR=1 # plain lines, as in the Istio docs, whatever the terminal

if [[ -t 1 ]]; then
	bold=$'\e[1m' dim=$'\e[2m' cyan=$'\e[36m' red=$'\e[31m' reset=$'\e[0m'
else
	bold='' dim='' cyan='' red='' reset=''
fi

# shell_words prints its arguments as one command line a reader can paste:
# words that need it are single-quoted.
shell_words() {
	local out='' w
	for w in "$@"; do
		if [[ $w =~ ^[A-Za-z0-9_./=:,@%+-]+$ ]]; then
			out+=" $w"
		else
			out+=" '${w//\'/\'\\\'\'}'"
		fi
	done
	printf '%s' "${out# }"
}

# show DESCRIPTION CMD... prints the description and the command line.
show() {
	local description=$1
	shift
	if [[ -n $description ]]; then
		printf '\n%s# %s%s\n' "$cyan" "$description" "$reset"
	fi
	printf '%s$ %s%s\n' "$bold" "$(shell_words "$@")" "$reset"
}

# fail prints why the demo stops and exits 1.
fail() {
	printf '%sdemo: %s%s\n' "$red" "$*" "$reset" >&2
	exit 1
}

# step DESCRIPTION CMD... shows and runs CMD, which must succeed.
step() {
	show "$@"
	shift
	local code=0
	"$@" || code=$?
	((code == 0)) || fail "step failed with exit code $code: $(shell_words "$@")"
}

# step_fails CODE DESCRIPTION CMD... shows and runs CMD, which must exit with
# CODE (a safety check at work).
step_fails() {
	local want=$1
	shift
	show "$@"
	shift
	local code=0
	"$@" || code=$?
	((code == want)) || fail "expected exit code $want, got $code: $(shell_words "$@")"
	printf '%s(exit code %d, as expected)%s\n' "$dim" "$code" "$reset"
}

# step_stdin DESCRIPTION CMD... shows CMD with the here-document it reads from
# stdin, then runs it with that input; it must succeed.
step_stdin() {
	local description=$1 input code=0
	shift
	input=$(cat)
	printf '\n%s# %s%s\n' "$cyan" "$description" "$reset"
	printf '%s$ %s <<EOF%s\n' "$bold" "$(shell_words "$@")" "$reset"
	printf '%s%s\nEOF%s\n' "$dim" "$input" "$reset"
	"$@" <<<"$input" || code=$?
	((code == 0)) || fail "step failed with exit code $code: $(shell_words "$@")"
}

# squash prints its input with each run of blanks made one space, and
# without blank lines or blanks at the ends of lines.
squash() {
	sed -e 's/[[:space:]][[:space:]]*/ /g' -e 's/^ //' -e 's/ $//' -e '/^$/d'
}

# check DESCRIPTION KUBECTL-ARGS... reads the cluster with the control
# plane's kubectl, shows the command and what it printed, and stops the demo
# unless that is the table on stdin (blanks squashed; empty when nothing may
# be found). The walkthrough is judged by these reads of the API server, not
# by what kubectl-waypoint says of itself.
check() {
	local description=$1 want got
	shift
	want=$(squash)
	show "$description" kubectl "$@"
	got=$(kubectl "$@") || fail "reading the cluster failed: kubectl $(shell_words "$@")"
	if [[ -n $got ]]; then
		printf '%s\n' "$got"
	else
		printf '%s(nothing)%s\n' "$dim" "$reset"
	fi
	got=$(squash <<<"$got")
	[[ $got == "$want" ]] || fail "the cluster is not as expected: kubectl $(shell_words "$@")
--- in the cluster
${got:-(nothing)}
--- expected
${want:-(nothing)}"
	printf '%s(the cluster holds what was expected)%s\n' "$dim" "$reset"
}

# What the checks read: every Gateway with its class and traffic type; the
# enrollment labels of the ambient namespaces and of namespaced objects.
gateways=(get gateways.gateway.networking.k8s.io -A
	-o 'custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,CLASS:.spec.gatewayClassName,FOR:.metadata.labels.istio\.io/waypoint-for')
namespaces='custom-columns=NAME:.metadata.name,USE-WAYPOINT:.metadata.labels.istio\.io/use-waypoint,WAYPOINT-NAMESPACE:.metadata.labels.istio\.io/use-waypoint-namespace'
ambient_namespaces=(get namespaces -l istio.io/dataplane-mode=ambient -o "$namespaces")
enrollment='custom-columns=KIND:.kind,NAMESPACE:.metadata.namespace,NAME:.metadata.name,USE-WAYPOINT:.metadata.labels.istio\.io/use-waypoint,WAYPOINT-NAMESPACE:.metadata.labels.istio\.io/use-waypoint-namespace'

# section TITLE prints a heading.
section() {
	printf '\n%s== %s ==%s\n' "$bold" "$1" "$reset"
}

# has_command NAME succeeds when kubectl-waypoint has the subcommand NAME.
# Exit code 0 alone proves nothing: cobra answers "UNKNOWN --help" with the
# root's help and code 0, so the usage line must name the subcommand.
has_command() {
	local help
	help=$(kubectl-waypoint "$1" --help 2>/dev/null) || return 1
	[[ $help == *"Usage:"*"kubectl-waypoint $1"* ]]
}

# ---------------------------------------------------------------------------
# The walkthrough
# ---------------------------------------------------------------------------

section "Set-up: an ambient namespace and the applications of the walkthrough"
step "kubectl finds our binary as a plugin" kubectl waypoint version
step "Put namespace default in the ambient mesh" \
	kubectl label namespace default istio.io/dataplane-mode=ambient
step "Namespaces and their data-plane mode" \
	kubectl get namespaces -L istio.io/dataplane-mode
step_stdin "The reviews service and two versions of its pods (no kubelet runs: they stay Pending)" \
	kubectl apply -f - <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: default
  labels: {app: reviews}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v1
  namespace: default
  labels: {app: reviews, version: v1}
spec:
  containers: [{name: reviews, image: docker.io/istio/examples-bookinfo-reviews-v1:1.20.3}]
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v2
  namespace: default
  labels: {app: reviews, version: v2}
spec:
  containers: [{name: reviews, image: docker.io/istio/examples-bookinfo-reviews-v2:1.20.3}]
EOF
step_stdin "A namespace for shared waypoints, and a consumer with a ServiceEntry for istio.io" \
	kubectl apply -f - <<'EOF'
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
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: istio-site
  namespace: cross-namespace-waypoint-consumer
spec:
  hosts: [istio.io]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
EOF

section "Waypoints: generate, apply, enroll a namespace"
step "Print the waypoint Gateway; no cluster needed" \
	kubectl waypoint generate --for service -n default
step "Deploy a waypoint for namespace default" \
	kubectl waypoint apply -n default
step "Deploy it and label the namespace to use it" \
	kubectl waypoint apply -n default --enroll-namespace
check "The label --enroll-namespace wrote (what 'kubectl label ns default istio.io/use-waypoint=waypoint' does)" \
	"${ambient_namespaces[@]}" <<'EOF'
NAME                                USE-WAYPOINT   WAYPOINT-NAMESPACE
common-infrastructure               <none>         <none>
cross-namespace-waypoint-consumer   <none>         <none>
default                             waypoint       <none>
EOF
step "A waypoint for the reviews service" \
	kubectl waypoint apply -n default --name reviews-svc-waypoint
step "A waypoint for pods: --for workload" \
	kubectl waypoint apply -n default --name reviews-v2-pod-waypoint --for workload
step "A waypoint other namespaces may use (cross-namespace)" \
	kubectl waypoint generate --name egress-gateway -n common-infrastructure \
	--allow-namespace cross-namespace-waypoint-consumer
step "Deploy it, and wait until istiod has programmed it" \
	kubectl waypoint apply --name egress-gateway -n common-infrastructure \
	--allow-namespace cross-namespace-waypoint-consumer --wait --timeout 30s
step_fails 2 "Bad input is refused before anything reaches the cluster" \
	kubectl waypoint apply -n default --name none
demo_waypoints='
NAMESPACE               NAME                      CLASS            FOR
common-infrastructure   egress-gateway            istio-waypoint   <none>
default                 reviews-svc-waypoint      istio-waypoint   <none>
default                 reviews-v2-pod-waypoint   istio-waypoint   workload
default                 waypoint                  istio-waypoint   <none>
'
check "The Gateways in the API server: the four applied, none named none" \
	"${gateways[@]}" <<<"$demo_waypoints"
check "Who may use the shared waypoint: the consumer namespace, by name" \
	get gateways.gateway.networking.k8s.io egress-gateway -n common-infrastructure \
	-o 'jsonpath={.spec.listeners[0].allowedRoutes.namespaces}' <<'EOF'
{"from":"Selector","selector":{"matchLabels":{"kubernetes.io/metadata.name":"cross-namespace-waypoint-consumer"}}}
EOF
check "--wait returned once istiod had programmed it" \
	get gateways.gateway.networking.k8s.io egress-gateway -n common-infrastructure \
	-o 'jsonpath={.status.conditions[?(@.type=="Programmed")].status}' <<<True

section "Waypoints: list and status"
step "The waypoints of namespace default" \
	kubectl waypoint list -n default
step "Every waypoint, with address and who may use it" \
	kubectl waypoint list -A -o wide
step "Wait until the waypoints of namespace default are programmed" \
	kubectl waypoint status -n default --wait --timeout 30s
step "Their status across the cluster" \
	kubectl waypoint status -A

if has_command enroll && has_command unenroll && has_command explain; then
	have_enroll=true
	section "Enrollment: services, pods and ServiceEntries"
	step "Send the traffic of service reviews through its own waypoint" \
		kubectl waypoint enroll service reviews --waypoint reviews-svc-waypoint -n default
	step "Send the traffic of the reviews-v2 pods through the workload waypoint" \
		kubectl waypoint enroll pod -l version=v2,app=reviews --waypoint reviews-v2-pod-waypoint -n default
	step "Enroll the ServiceEntry into the waypoint of another namespace" \
		kubectl waypoint enroll serviceentry istio-site -n cross-namespace-waypoint-consumer \
		--waypoint egress-gateway --waypoint-namespace common-infrastructure
	step "Which waypoint the traffic of service reviews uses, and why" \
		kubectl waypoint explain service reviews -n default
	step "Which waypoint pod reviews-v2 uses, and why" \
		kubectl waypoint explain pod reviews-v2 -n default
	step "Which waypoint the ServiceEntry uses, and why" \
		kubectl waypoint explain serviceentry istio-site -n cross-namespace-waypoint-consumer
	step "Take the ServiceEntry out again" \
		kubectl waypoint unenroll serviceentry istio-site -n cross-namespace-waypoint-consumer
else
	have_enroll=false
	section "Enrollment with kubectl label (enroll, unenroll and explain are not built yet)"
	step "Send the traffic of service reviews through its own waypoint" \
		kubectl label service reviews -n default istio.io/use-waypoint=reviews-svc-waypoint
	step "Send the traffic of the reviews-v2 pods through the workload waypoint" \
		kubectl label pod -n default -l version=v2,app=reviews istio.io/use-waypoint=reviews-v2-pod-waypoint
	step "Enroll the ServiceEntry into the waypoint of another namespace" \
		kubectl label serviceentries.networking.istio.io istio-site -n cross-namespace-waypoint-consumer \
		istio.io/use-waypoint=egress-gateway istio.io/use-waypoint-namespace=common-infrastructure
	step "Take the ServiceEntry out again" \
		kubectl label serviceentries.networking.istio.io istio-site -n cross-namespace-waypoint-consumer \
		istio.io/use-waypoint- istio.io/use-waypoint-namespace-
fi
check "The enrollment labels of the reviews service and pods" \
	get services,pods -n default -l app=reviews -o "$enrollment" <<'EOF'
KIND      NAMESPACE   NAME         USE-WAYPOINT              WAYPOINT-NAMESPACE
Service   default     reviews      reviews-svc-waypoint      <none>
Pod       default     reviews-v1   <none>                    <none>
Pod       default     reviews-v2   reviews-v2-pod-waypoint   <none>
EOF
check "The ServiceEntry, enrolled across namespaces and then taken out again" \
	get serviceentries.networking.istio.io -A -o "$enrollment" <<'EOF'
KIND           NAMESPACE                           NAME         USE-WAYPOINT   WAYPOINT-NAMESPACE
ServiceEntry   cross-namespace-waypoint-consumer   istio-site   <none>         <none>
EOF
step "istiod binds service reviews to its waypoint and says so on the service" \
	kubectl wait --for=condition=istio.io/WaypointBound service/reviews -n default --timeout 60s
step "The condition as istiod wrote it" \
	kubectl get service reviews -n default \
	-o 'jsonpath={range .status.conditions[*]}{.type}={.status}, reason {.reason}: {.message}{"\n"}{end}'
step "Traffic from an ingress gateway to reviews takes its waypoint too" \
	kubectl waypoint enroll service reviews --waypoint reviews-svc-waypoint -n default --ingress
check "The label istiod reads for ingress traffic" \
	get services -n default -l app=reviews \
	-o 'custom-columns=NAME:.metadata.name,INGRESS-USE-WAYPOINT:.metadata.labels.istio\.io/ingress-use-waypoint' <<'EOF'
NAME      INGRESS-USE-WAYPOINT
reviews   true
EOF
step "explain says so, and why" \
	kubectl waypoint explain service reviews -n default

have_policies=false
if $have_enroll && has_command policies; then
	have_policies=true
	section "L7 policies take effect only through a waypoint (docs/policies.md)"
	step "Let service reviews use the namespace's waypoint again" \
		kubectl waypoint unenroll service reviews -n default
	check "Its labels are gone" \
		get services -n default -l app=reviews -o "$enrollment" <<'EOF'
KIND      NAMESPACE   NAME      USE-WAYPOINT   WAYPOINT-NAMESPACE
Service   default     reviews   <none>         <none>
EOF
	step_stdin "The seeds' viewer AuthorizationPolicy on the waypoint: only GET" \
		kubectl apply -f - <<'EOF'
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: viewer
  namespace: default
spec:
  targetRefs:
  - kind: Gateway
    group: gateway.networking.k8s.io
    name: waypoint
  action: ALLOW
  rules:
  - from:
    - source:
        namespaces: ["default", "istio-system"]
    to:
    - operation:
        methods: ["GET"]
EOF
	step_stdin "The seeds' reviews HTTPRoute on the reviews service" \
		kubectl apply -n default -f - <<'EOF'
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata:
  name: reviews
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: reviews
    port: 9080
  rules:
  - backendRefs:
    - name: reviews-v1
      port: 9080
      weight: 90
    - name: reviews-v2
      port: 9080
      weight: 10
EOF
	step "istiod accepts the policy on the waypoint" \
		kubectl wait --for=condition=WaypointAccepted authorizationpolicy/viewer -n default --timeout 60s
	step "explain lists both on the traffic of service reviews, enforced by the waypoint" \
		kubectl waypoint explain service reviews -n default
	step "Every L7 policy of the namespace, and whether a waypoint enforces it" \
		kubectl waypoint policies -n default --all
	step_fails 2 "Deleting the waypoint would switch both off: refused, and they are named" \
		kubectl waypoint delete waypoint -n default
	step_fails 2 "So would unenrolling the namespace" \
		kubectl waypoint unenroll namespace default
	step_fails 1 "In bulk, the waypoint is skipped and the rest is done (a dry run here)" \
		kubectl waypoint delete --all -n default --dry-run=server
	check "Refused and dry runs change nothing: every waypoint is still there" \
		"${gateways[@]}" <<<"$demo_waypoints"
	check "" "${ambient_namespaces[@]}" <<'EOF'
NAME                                USE-WAYPOINT   WAYPOINT-NAMESPACE
common-infrastructure               <none>         <none>
cross-namespace-waypoint-consumer   <none>         <none>
default                             waypoint       <none>
EOF
fi

section "Many namespaces in one call, as a CI pipeline does (docs/ci.md)"
step "Three namespaces of team payments, in the ambient mesh" \
	bash -c 'for n in 1 2 3; do kubectl create namespace payments-$n && kubectl label namespace payments-$n team=payments istio.io/dataplane-mode=ambient; done'
step "What would change, asked of the API server without persisting anything" \
	kubectl waypoint apply --namespace-selector team=payments --for all --enroll-namespace --dry-run=server
check "Nothing was persisted: no waypoint in the payments namespaces" \
	"${gateways[@]}" <<<"$demo_waypoints"
step "A waypoint in each, enrolled once it is ready; one watch for all" \
	kubectl waypoint apply --namespace-selector team=payments --for all --enroll-namespace --wait --timeout 60s
payments_waypoints="$demo_waypoints
payments-1              waypoint                  istio-waypoint   all
payments-2              waypoint                  istio-waypoint   all
payments-3              waypoint                  istio-waypoint   all
"
check "A Gateway for all traffic in each" "${gateways[@]}" <<<"$payments_waypoints"
check "Each namespace enrolled, and each waypoint programmed by istiod" \
	get namespaces -l team=payments -o "$namespaces" <<'EOF'
NAME         USE-WAYPOINT   WAYPOINT-NAMESPACE
payments-1   waypoint       <none>
payments-2   waypoint       <none>
payments-3   waypoint       <none>
EOF
check "" get gateways.gateway.networking.k8s.io -A \
	-o 'jsonpath={range .items[?(@.metadata.name=="waypoint")]}{.metadata.namespace} {.status.conditions[?(@.type=="Programmed")].status}{"\n"}{end}' <<'EOF'
default True
payments-1 True
payments-2 True
payments-3 True
EOF
step "Again: nothing changes, and the report (-o yaml or -o json) says so" \
	kubectl waypoint apply --namespace-selector team=payments --for all --enroll-namespace -o yaml
step "Delete them and their enrollment in one call" \
	kubectl waypoint delete --all --unenroll --namespace-selector team=payments
check "Gone from the API server, labels and all" "${gateways[@]}" <<<"$demo_waypoints"
check "" get namespaces -l team=payments -o "$namespaces" <<'EOF'
NAME         USE-WAYPOINT   WAYPOINT-NAMESPACE
payments-1   <none>         <none>
payments-2   <none>         <none>
payments-3   <none>         <none>
EOF

section "Production: replicas, a disruption budget, an autoscaler (docs/production.md)"
step "A namespace for the store, in the ambient mesh" \
	bash -c 'kubectl create namespace store && kubectl label namespace store istio.io/dataplane-mode=ambient'
step "Three replicas spread over zones, sized proxies, a budget that lets one go at a time" \
	kubectl waypoint apply -n store --replicas 3 --max-unavailable 1 --topology-spread zone \
	--requests cpu=200m,memory=256Mi --wait --timeout 60s
step "istiod creates the budget with the Deployment" \
	kubectl wait --for=create poddisruptionbudget/waypoint -n store --timeout 60s
check "What istiod deployed: three replicas with the requests asked for" \
	get deployments -n store \
	-o 'custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,CPU:.spec.template.spec.containers[?(@.name=="istio-proxy")].resources.requests.cpu' <<'EOF'
NAME       REPLICAS   CPU
waypoint   3          200m
EOF
check "And the budget" \
	get poddisruptionbudgets -n store -o 'custom-columns=NAME:.metadata.name,MAX-UNAVAILABLE:.spec.maxUnavailable' <<'EOF'
NAME       MAX-UNAVAILABLE
waypoint   1
EOF
step "An autoscaler between 2 and 5 replicas instead of a fixed count" \
	kubectl waypoint apply -n store --min-replicas 2 --max-replicas 5 --cpu-percent 70 --max-unavailable 1
step "istiod creates the autoscaler" \
	kubectl wait --for=create horizontalpodautoscaler/waypoint -n store --timeout 60s
check "" get horizontalpodautoscalers -n store \
	-o 'custom-columns=NAME:.metadata.name,MIN:.spec.minReplicas,MAX:.spec.maxReplicas' <<'EOF'
NAME       MIN   MAX
waypoint   2     5
EOF
step "Delete the waypoint: the ConfigMap of its parameters goes with it" \
	kubectl waypoint delete waypoint -n store
check "No ConfigMap of kubectl-waypoint is left in the namespace" \
	get configmaps -n store -l app.kubernetes.io/managed-by=kubectl-waypoint -o name <<'EOF'
EOF

section "Clean-up"
if $have_policies; then
	step "Remove the L7 policies first (or delete with --force)" \
		kubectl delete authorizationpolicy/viewer httproute/reviews -n default
fi
if $have_enroll; then
	step "Delete every waypoint of namespace default and unenroll what used them" \
		kubectl waypoint delete --all -n default --unenroll
else
	step "Delete every waypoint of namespace default (it names what still uses them)" \
		kubectl waypoint delete --all -n default
	step "Unenroll what used them" \
		kubectl label namespace default istio.io/use-waypoint-
	step "" kubectl label service reviews -n default istio.io/use-waypoint-
	step "" kubectl label pod -n default -l version=v2,app=reviews istio.io/use-waypoint-
fi
step "Delete the shared waypoint" \
	kubectl waypoint delete egress-gateway -n common-infrastructure
step "What kubectl waypoint lists now" \
	kubectl waypoint list -A
check "No Gateway is left in the API server, of any class" \
	get gateways.gateway.networking.k8s.io -A -o name </dev/null
enrollable=namespaces,services,pods,serviceentries.networking.istio.io,workloadentries.networking.istio.io
check "No object keeps an istio.io/use-waypoint label" \
	get "$enrollable" -A -l istio.io/use-waypoint -o name </dev/null
check "Nor an istio.io/use-waypoint-namespace label" \
	get "$enrollable" -A -l istio.io/use-waypoint-namespace -o name </dev/null
