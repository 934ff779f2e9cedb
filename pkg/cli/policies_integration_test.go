package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
)

// policiesOutput is what `policies -o json` prints.
type policiesOutput struct {
	Policies []struct {
		policy.Policy
		VerdictEnforced bool   `json:"verdictEnforced"`
		VerdictReason   string `json:"verdictReason"`
	} `json:"policies"`
}

// createPolicy creates an Istio policy of the kind with targetRefs; its
// namespace is deleted, with it, when the test ends.
func createPolicy(t *testing.T, gvr schema.GroupVersionResource, kind, ns, name string, refs ...map[string]any) {
	t.Helper()
	targets := make([]any, len(refs))
	for i, r := range refs {
		targets[i] = r
	}
	spec := map[string]any{"targetRefs": targets}
	if kind == "AuthorizationPolicy" {
		spec["action"] = "ALLOW"
		spec["rules"] = []any{map[string]any{"to": []any{map[string]any{"operation": map[string]any{"methods": []any{"GET"}}}}}}
	}
	if kind == "WasmPlugin" {
		spec["url"] = "oci://example.com/plugin:1"
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.Group + "/" + gvr.Version, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     spec,
	}}
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := env.Dynamic.Resource(gvr).Namespace(ns).Create(c, obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating %s %s/%s: %v", kind, ns, name, err)
	}
}

func ref(kind, name string) map[string]any {
	group := map[string]string{"Service": "", "Gateway": "gateway.networking.k8s.io", "ServiceEntry": "networking.istio.io"}[kind]
	return map[string]any{"kind": kind, "group": group, "name": name}
}

var (
	authzGVR     = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}
	reqAuthnGVR  = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "requestauthentications"}
	wasmGVR      = schema.GroupVersionResource{Group: "extensions.istio.io", Version: "v1alpha1", Resource: "wasmplugins"}
	telemetryGVR = schema.GroupVersionResource{Group: "telemetry.istio.io", Version: "v1", Resource: "telemetries"}
)

// TestPoliciesAgainstIstiod is the differential test of the policy rules:
// AuthorizationPolicies on Services, ServiceEntries and waypoints, whose
// targets are bound, unbound, bound to a waypoint of the wrong traffic type,
// to a missing waypoint, to one without an address, across namespaces, and
// with several targets. For every one, `policies --all -o json` must predict
// the reason of istiod's WaypointAccepted condition, and exit 1 because some
// are not enforced. It also records what istiod writes on the other kinds.
func TestPoliciesAgainstIstiod(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, nil)
	other := env.Namespace(t, nil)
	use := func(wp string) map[string]string { return map[string]string{istio.LabelUseWaypoint: wp} }

	env.Waypoint(t, ns, "svc-wp", nil)
	env.Waypoint(t, ns, "wl-wp", map[string]string{istio.LabelWaypointFor: string(istio.TrafficWorkload)})
	env.HoldWaypoint(t, ns, "held")
	env.Waypoint(t, ns, "held", nil)
	env.WaitProgrammed(t, ns, "svc-wp")
	env.WaitProgrammed(t, ns, "wl-wp")
	env.WaitNotProgrammed(t, ns, "held")

	env.Service(t, ns, "bound", use("svc-wp"))
	env.Service(t, ns, "unbound", nil)
	env.Service(t, ns, "wrongtype", use("wl-wp"))
	env.Service(t, ns, "missingwp", use("ghost"))
	env.Service(t, ns, "heldsvc", use("held"))
	env.ServiceEntry(t, ns, "se-bound", use("svc-wp"))
	env.ServiceEntry(t, ns, "se-unbound", nil)
	env.ServiceEntry(t, ns, "se-wrongtype", use("wl-wp"))
	// Across namespaces: the waypoint admits only its own namespace.
	env.Service(t, other, "xns", map[string]string{istio.LabelUseWaypoint: "svc-wp", istio.LabelUseWaypointNamespace: ns})

	type apCase struct {
		ns, name string
		refs     []map[string]any
	}
	cases := []apCase{
		{ns, "on-bound", []map[string]any{ref("Service", "bound")}},
		{ns, "on-unbound", []map[string]any{ref("Service", "unbound")}},
		{ns, "on-wrongtype", []map[string]any{ref("Service", "wrongtype")}},
		{ns, "on-missingwp", []map[string]any{ref("Service", "missingwp")}},
		{ns, "on-heldsvc", []map[string]any{ref("Service", "heldsvc")}},
		{ns, "on-nosvc", []map[string]any{ref("Service", "nosvc")}},
		{ns, "on-se-bound", []map[string]any{ref("ServiceEntry", "se-bound")}},
		{ns, "on-se-unbound", []map[string]any{ref("ServiceEntry", "se-unbound")}},
		{ns, "on-se-wrongtype", []map[string]any{ref("ServiceEntry", "se-wrongtype")}},
		{ns, "on-nose", []map[string]any{ref("ServiceEntry", "nose")}},
		{ns, "on-waypoint", []map[string]any{ref("Gateway", "svc-wp")}},
		{ns, "on-wl-waypoint", []map[string]any{ref("Gateway", "wl-wp")}},
		{ns, "on-held-waypoint", []map[string]any{ref("Gateway", "held")}},
		{ns, "on-ghost-waypoint", []map[string]any{ref("Gateway", "ghost")}},
		{ns, "partly", []map[string]any{ref("Service", "bound"), ref("Service", "unbound")}},
		{ns, "none", []map[string]any{ref("Service", "unbound"), ref("Gateway", "ghost")}},
		{ns, "all", []map[string]any{ref("Service", "bound"), ref("Gateway", "svc-wp")}},
		{other, "on-xns", []map[string]any{ref("Service", "xns")}},
	}
	for _, c := range cases {
		createPolicy(t, authzGVR, "AuthorizationPolicy", c.ns, c.name, c.refs...)
	}
	// The other kinds, on a bound Service: what does istiod write on them?
	createPolicy(t, reqAuthnGVR, "RequestAuthentication", ns, "ra-bound", ref("Service", "bound"))
	createPolicy(t, wasmGVR, "WasmPlugin", ns, "wasm-bound", ref("Service", "bound"))
	createPolicy(t, telemetryGVR, "Telemetry", ns, "tel-bound", ref("Service", "bound"))
	createPolicy(t, reqAuthnGVR, "RequestAuthentication", ns, "ra-unbound", ref("Service", "unbound"))
	// Routes on a Service (the prediction only: route parent status is not read yet).
	for name, parent := range map[string]string{"route-bound": "bound", "route-unbound": "unbound", "route-nosvc": "nosvc"} {
		route := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec": map[string]any{"parentRefs": []any{map[string]any{"group": "", "kind": "Service", "name": parent, "port": int64(80)}},
				"rules": []any{map[string]any{"backendRefs": []any{map[string]any{"name": parent, "port": int64(80)}}}}},
		}}
		routes := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
		if _, err := env.Dynamic.Resource(routes).Namespace(ns).Create(context.Background(), route, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating HTTPRoute %s: %v", name, err)
		}
	}

	// istiod writes its conditions as it sees the objects: poll until it
	// has a condition for the current generation on every
	// AuthorizationPolicy and agrees with us, or time out with the last
	// differences.
	read := func() map[string]policiesOutput {
		out := map[string]policiesOutput{}
		for _, n := range []string{ns, other} {
			stdout, stderr, code := runKube(t, "policies", "-n", n, "--all", "-o", "json")
			if code != ExitFailed {
				t.Fatalf("policies -n %s: exit %d, want 1 (some are not enforced)\n%s", n, code, stderr)
			}
			var o policiesOutput
			if err := json.Unmarshal([]byte(stdout), &o); err != nil {
				t.Fatalf("policies -o json: %v\n%s", err, stdout)
			}
			out[n] = o
		}
		return out
	}
	var diffs []string
	deadline := time.Now().Add(90 * time.Second)
	var last map[string]policiesOutput
	for {
		last = read()
		diffs = nil
		seen := 0
		for _, o := range last {
			for _, p := range o.Policies {
				if p.Kind != "AuthorizationPolicy" {
					continue
				}
				seen++
				c := p.Condition
				switch {
				case c == nil:
					diffs = append(diffs, fmt.Sprintf("%s: istiod wrote no WaypointAccepted; we predict %s", p.Key(), p.Reason))
				case c.ObservedGeneration != p.Generation:
					diffs = append(diffs, fmt.Sprintf("%s: istiod's condition is for generation %d", p.Key(), c.ObservedGeneration))
				case c.Reason != p.Reason || (c.Status == metav1.ConditionTrue) != p.Enforced:
					diffs = append(diffs, fmt.Sprintf("%s: istiod %s=%s (%s: %s), we predict %s enforced=%v (%s)",
						p.Key(), c.Type, c.Status, c.Reason, c.Message, p.Reason, p.Enforced, p.Message))
				}
			}
		}
		if seen != len(cases) {
			diffs = append(diffs, fmt.Sprintf("policies listed %d AuthorizationPolicies, want %d", seen, len(cases)))
		}
		if len(diffs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	sort.Strings(diffs)
	for _, d := range diffs {
		t.Error(d)
	}

	// Each reason istiod gives is covered by the plan.
	reasons := map[string]int{}
	for _, o := range last {
		for _, p := range o.Policies {
			if p.Condition != nil {
				reasons[p.Condition.Reason]++
			}
		}
	}
	for _, r := range []string{policy.ReasonAccepted, policy.ReasonAncestorNotBound, policy.ReasonTargetNotFound, policy.ReasonPartiallyInvalid, policy.ReasonInvalid} {
		if reasons[r] == 0 {
			t.Errorf("no policy got reason %s from istiod: %v", r, reasons)
		}
	}
	t.Logf("%d AuthorizationPolicies over 15 targets (3 waypoints, 6 Services, 3 ServiceEntries, 3 missing); istiod's reasons: %v", len(cases), reasons)

	// The other kinds: istiod (by its source) writes WaypointAccepted only
	// on AuthorizationPolicies. Read what it wrote on the others, once it
	// has answered on every AuthorizationPolicy created after them.
	for _, k := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{reqAuthnGVR, "ra-bound"}, {wasmGVR, "wasm-bound"}, {telemetryGVR, "tel-bound"}} {
		obj, err := env.Dynamic.Resource(k.gvr).Namespace(ns).Get(context.Background(), k.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		status, _, _ := unstructured.NestedMap(obj.Object, "status")
		t.Logf("istiod's status on %s %s: %v", k.gvr.Resource, k.name, status)
		if _, has, _ := unstructured.NestedSlice(obj.Object, "status", "conditions"); has {
			t.Errorf("%s %s has conditions %v: the reader must read them", k.gvr.Resource, k.name, status)
		}
	}
	// Their prediction: enforced on the bound Service, not on the unbound one.
	for _, p := range last[ns].Policies {
		want := map[string]bool{"ra-bound": true, "wasm-bound": true, "tel-bound": true, "ra-unbound": false, "route-bound": true, "route-unbound": false}
		if w, ok := want[p.Name]; ok && p.Enforced != w {
			t.Errorf("%s %s: enforced=%v, want %v (%s)", p.Kind, p.Name, p.Enforced, w, p.Message)
		}
	}

	// Route parent status: istiod accepts a route on a Service that exists,
	// bound to a waypoint or not (then warning in ResolvedWaypoints that
	// the route will not be respected), and refuses one on a Service that
	// does not exist (NoMatchingParent), where we predict TargetNotFound.
	routes := map[string]policy.Attachment{}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		for _, p := range read()[ns].Policies {
			if p.Kind == "HTTPRoute" && len(p.Attachments) == 1 {
				routes[p.Name] = p.Attachments[0]
			}
		}
		if (routes["route-bound"].Parent != nil && routes["route-unbound"].Parent != nil && routes["route-nosvc"].Parent != nil) || time.Now().After(deadline) {
			break
		}
	}
	for name, a := range routes {
		ps := a.Parent
		if ps == nil || ps.Accepted == nil || ps.Controller != policy.IstioController {
			t.Errorf("%s: istiod wrote no parent status: %+v", name, ps)
			continue
		}
		if accepted := ps.Accepted.Status == metav1.ConditionTrue; accepted != (a.Reason != policy.ReasonTargetNotFound) {
			t.Errorf("%s: istiod says Accepted=%s (%s), we predict %s", name, ps.Accepted.Status, ps.Accepted.Reason, a.Reason)
		}
		t.Logf("%s: predicted %s; istiod: %s (ResolvedWaypoints: %+v)", name, a.Reason, ps, ps.ResolvedWaypoints)
	}
	if w := routes["route-unbound"].Parent; w == nil || w.ResolvedWaypoints == nil || !strings.Contains(w.ResolvedWaypoints.Message, "will not be respected") {
		t.Errorf("route-unbound: istiod's ResolvedWaypoints does not warn: %+v", w)
	}

	// The table: only what is not enforced, exit 1, the columns.
	stdout, stderr, code := runKube(t, "policies", "-n", ns)
	if code != ExitFailed || !strings.Contains(stderr, "are not enforced") {
		t.Errorf("policies -n %s: exit %d, %q", ns, code, stderr)
	}
	for _, want := range []string{"POLICY", "KIND", "TARGET", "WAYPOINT", "ENFORCED", "REASON", "ISTIOD", "on-unbound", "Service/" + ns + "/unbound", "AncestorNotBound", "ra-unbound", "route-unbound",
		"WaypointAccepted=False", "Accepted=True ResolvedRefs=True", "Accepted=False (NoMatchingParent)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("policies table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "on-bound ") || strings.Contains(stdout, "ra-bound") || strings.Contains(stdout, "route-bound") {
		t.Errorf("policies lists enforced policies without --all:\n%s", stdout)
	}

	// explain lists the policies on the object and on its waypoint.
	explainCases := []struct {
		args []string
		want []string
		not  []string
	}{
		{[]string{"service", "bound"}, []string{
			"AuthorizationPolicy " + ns + "/on-bound on Service/" + ns + "/bound: enforced by " + ns + "/svc-wp (Accepted); istiod reports WaypointAccepted=True",
			"AuthorizationPolicy " + ns + "/on-waypoint on Gateway/" + ns + "/svc-wp: enforced by " + ns + "/svc-wp",
			"AuthorizationPolicy " + ns + "/partly on Service/" + ns + "/bound: enforced",
			"RequestAuthentication " + ns + "/ra-bound", "WasmPlugin " + ns + "/wasm-bound", "Telemetry " + ns + "/tel-bound",
		}, []string{"on-unbound", "wl-wp"}},
		{[]string{"service", "unbound"}, []string{
			"AuthorizationPolicy " + ns + "/on-unbound on Service/" + ns + "/unbound: not enforced: unbound uses no waypoint (AncestorNotBound); istiod reports WaypointAccepted=False",
			"RequestAuthentication " + ns + "/ra-unbound on Service/" + ns + "/unbound: not enforced: unbound uses no waypoint",
			"HTTPRoute " + ns + "/route-unbound on Service/" + ns + "/unbound: not enforced: unbound uses no waypoint (AncestorNotBound); istiod reports the route Accepted=True ResolvedRefs=True (istio.io/use-waypoint label missing",
		}, []string{"on-waypoint", "on-bound"}},
		{[]string{"service", "wrongtype"}, []string{"on-wrongtype on Service/" + ns + "/wrongtype: not enforced: wrongtype uses no waypoint"}, []string{"on-wl-waypoint"}},
		{[]string{"se", "se-bound"}, []string{"on-se-bound on ServiceEntry/" + ns + "/se-bound: enforced by " + ns + "/svc-wp", "on-waypoint"}, nil},
		{[]string{"service", "xns", "-n", other}, []string{"on-xns on Service/" + other + "/xns: not enforced: xns uses no waypoint"}, nil},
	}
	for _, tc := range explainCases {
		args := append([]string{"explain"}, tc.args...)
		if !slices.Contains(args, "-n") {
			args = append(args, "-n", ns)
		}
		stdout, _ := mustRun(t, 0, args...)
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s lacks %q:\n%s", strings.Join(args, " "), w, stdout)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(stdout, w) {
				t.Errorf("%s has %q:\n%s", strings.Join(args, " "), w, stdout)
			}
		}
	}
	// -o wide: MESSAGE is istiod's message where its condition decides,
	// read back from the API server, and ours on a route istiod accepted.
	stdout, _, _ = runKube(t, "policies", "-n", ns, "-o", "wide")
	onUnbound := env.WaitForCondition(t, authzGVR, ns, "on-unbound", policy.ConditionWaypointAccepted, nil)
	for _, want := range []string{
		"on-unbound AuthorizationPolicy Service/" + ns + "/unbound <none> no " + onUnbound.Reason + " WaypointAccepted=" + string(onUnbound.Status) + " " + onUnbound.Message,
		"route-unbound HTTPRoute Service/" + ns + "/unbound <none> no AncestorNotBound Accepted=True",
	} {
		if !hasRowPrefix(stdout, want) {
			t.Errorf("policies -o wide lacks the row %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stdout, "Service "+ns+"/unbound is not bound to a waypoint") {
		t.Errorf("policies -o wide does not say why route-unbound, accepted by istiod, is not enforced:\n%s", stdout)
	}
	stdout, _ = mustRun(t, 0, "explain", "service", "bound", "-n", ns, "-o", "json")
	var ex struct {
		Reason   string          `json:"reason"`
		Policies []policy.Policy `json:"policies"`
	}
	if err := json.Unmarshal([]byte(stdout), &ex); err != nil || ex.Reason == "" || len(ex.Policies) != 8 {
		t.Errorf("explain -o json: %v, reason %q, %d policies, want 8:\n%s", err, ex.Reason, len(ex.Policies), stdout)
	}
}

// TestPoliciesAllEnforced: a namespace whose policies are all enforced
// passes the gate, exit 0; one with none says so.
func TestPoliciesAllEnforced(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, map[string]string{istio.LabelUseWaypoint: "waypoint"})
	if _, stderr, code := runKube(t, "policies", "-n", ns); code != 0 || !strings.Contains(stderr, "enforced") {
		t.Errorf("no policies: exit %d, %q", code, stderr)
	}
	env.Waypoint(t, ns, "waypoint", nil)
	env.WaitProgrammed(t, ns, "waypoint")
	env.Service(t, ns, "api", nil)
	createPolicy(t, authzGVR, "AuthorizationPolicy", ns, "viewer", ref("Gateway", "waypoint"))
	createPolicy(t, authzGVR, "AuthorizationPolicy", ns, "api-get", ref("Service", "api"))
	env.WaitForCondition(t, authzGVR, ns, "api-get", policy.ConditionWaypointAccepted, func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue })
	stdout, stderr, code := runKube(t, "policies", "-n", ns, "--all")
	if code != 0 {
		t.Fatalf("policies --all: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"viewer", "api-get", ns + "/waypoint", "Accepted"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("policies --all lacks %q:\n%s", want, stdout)
		}
	}
	if _, stderr, code := runKube(t, "policies", "-n", ns, "-o", "table"); code != ExitUsage {
		t.Errorf("-o table: exit %d, %q", code, stderr)
	}
}
