package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/migrate"
)

var authorizationPolicies = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}

// sidecarEraRules are rule sets of sidecar-era AuthorizationPolicies: every
// HTTP attribute istiod knows, alone and beside L4 matches, in one rule and
// split over two, with values istiod drops (a port that is not a number).
var sidecarEraRules = map[string][]any{
	"l4-ports":        {rule(to(op("ports", "8080")))},
	"l4-from":         {rule(from(src("namespaces", "a")))},
	"l4-when":         {rule(when("source.namespace", "a"))},
	"empty-rule":      {map[string]any{}},
	"methods":         {rule(to(op("methods", "GET")))},
	"paths":           {rule(to(op("paths", "/admin")))},
	"hosts":           {rule(to(op("hosts", "x.example")))},
	"not-methods":     {rule(to(op("notMethods", "DELETE")))},
	"not-paths":       {rule(to(op("notPaths", "/health")))},
	"not-hosts":       {rule(to(op("notHosts", "y.example")))},
	"req-principals":  {rule(from(src("requestPrincipals", "issuer/sub")))},
	"not-req-princ":   {rule(from(src("notRequestPrincipals", "*")))},
	"remote-ip":       {rule(from(src("remoteIpBlocks", "10.0.0.0/8")))},
	"not-remote-ip":   {rule(from(src("notRemoteIpBlocks", "10.1.0.0/16")))},
	"header-when":     {rule(when("request.headers[x-user]", "alice"))},
	"jwt-claim-when":  {rule(when("request.auth.claims[group]", "admin"))},
	"mixed-rule":      {rule(from(src("namespaces", "a")), to(op("methods", "GET")))},
	"mixed-same-op":   {rule(to(op("ports", "8080", "methods", []any{"GET"})))},
	"two-rules":       {rule(from(src("namespaces", "a"))), rule(to(op("paths", "/x")))},
	"bad-port-method": {rule(to(op("ports", "http", "methods", []any{"GET"})))},
	"http-and-l4when": {rule(to(op("methods", "POST")), when("source.ip", "10.0.0.1"))},
	"many-http":       {rule(to(op("methods", "GET", "paths", []any{"/a"})), from(src("requestPrincipals", "*")), when("request.headers[x]", "y"))},
}

// ztunnelPolicy is an authorization policy as ambientz shows it.
type ztunnelPolicy struct {
	Name, Namespace, Action string
	Groups                  []struct {
		Rules []struct {
			Matches []map[string]any
		}
	}
}

// effective says whether ztunnel can ever match the policy: it skips a
// match with no field set, so a group matches only when it has no rules
// or each of its rules has a match with a field.
func (p ztunnelPolicy) effective() bool {
	for _, g := range p.Groups {
		can := true
		for _, r := range g.Rules {
			if !slices.ContainsFunc(r.Matches, func(m map[string]any) bool { return len(m) > 0 }) {
				can = false
			}
		}
		if can {
			return true
		}
	}
	return false
}

// ztunnelPolicies are the authorization policies of namespace ns that
// istiod sends to ztunnel, by name, read from its /debug/ambientz.
func ztunnelPolicies(c context.Context, ns string) (map[string]ztunnelPolicy, error) {
	az, err := env.Ambientz(c)
	if err != nil {
		return nil, err
	}
	out := map[string]ztunnelPolicy{}
	for _, raw := range az.Policies {
		var p ztunnelPolicy
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		if p.Namespace == ns {
			out[p.Name] = p
		}
	}
	return out, nil
}

func rule(parts ...map[string]any) map[string]any {
	r := map[string]any{}
	for _, p := range parts {
		for k, v := range p {
			r[k] = v
		}
	}
	return r
}
func op(field, value string, more ...any) map[string]any {
	o := map[string]any{field: []any{value}}
	for i := 0; i+1 < len(more); i += 2 {
		o[more[i].(string)] = more[i+1]
	}
	return o
}
func to(o map[string]any) map[string]any {
	return map[string]any{"to": []any{map[string]any{"operation": o}}}
}
func src(field, value string) map[string]any {
	return map[string]any{field: []any{value}}
}
func from(s map[string]any) map[string]any {
	return map[string]any{"from": []any{map[string]any{"source": s}}}
}
func when(key, value string) map[string]any {
	return map[string]any{"when": []any{map[string]any{"key": key, "values": []any{value}}}}
}

// TestMigratePlanAgainstIstiod is the differential of migrate plan's
// prediction for sidecar-era AuthorizationPolicies: every action × every
// rule set of sidecarEraRules × selector or namespace scope (and CUSTOM,
// AUDIT and dry-run beside them) is created in the API server, and for each
// the finding of `migrate plan -o json` must equal istiod's ZtunnelAccepted
// condition: its status, reason and message (which names the HTTP
// attributes), and no finding where istiod says Accepted.
func TestMigratePlanAgainstIstiod(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, map[string]string{"istio-injection": "enabled"})
	env.Service(t, ns, "app", nil)
	c := context.Background()
	var names []string
	create := func(name string, spec map[string]any, annotations map[string]string) {
		t.Helper()
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec":     spec,
		}}
		obj.SetAnnotations(annotations)
		if _, err := env.Dynamic.Resource(authorizationPolicies).Namespace(ns).Create(c, obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		names = append(names, name)
	}
	selector := map[string]any{"matchLabels": map[string]any{"app": "app"}}
	for _, action := range []string{"ALLOW", "DENY"} {
		for rules, rs := range sidecarEraRules {
			for _, scoped := range []bool{true, false} {
				spec := map[string]any{"action": action, "rules": rs}
				name := strings.ToLower(action) + "-" + rules + "-ns"
				if scoped {
					spec["selector"], name = selector, strings.ToLower(action)+"-"+rules+"-sel"
				}
				create(name, spec, nil)
			}
		}
	}
	create("audit", map[string]any{"action": "AUDIT", "selector": selector, "rules": []any{rule(to(op("methods", "GET")))}}, nil)
	create("custom", map[string]any{"action": "CUSTOM", "provider": map[string]any{"name": "ext-authz"}, "rules": []any{rule(to(op("paths", "/x")))}}, nil)
	create("dry-run", map[string]any{"action": "DENY", "rules": []any{rule(to(op("methods", "GET")))}}, map[string]string{"istio.io/dry-run": "true"})
	create("no-rules", map[string]any{}, nil)
	if len(names) < 60 {
		t.Fatalf("the generated set has %d policies, want at least 60", len(names))
	}

	// istiod's verdict on each: its ZtunnelAccepted for the current
	// generation, and what it sends to ztunnel (ambientz). The wait ends
	// when every policy has its condition, every policy ambientz lists has
	// one, and every one whose condition says it is sent is listed.
	// istiod writes the condition of the two policies it does not send
	// (CUSTOM, AUDIT) only on a later change that reaches it (seen with
	// istiod 1.31): those may have none yet.
	late := []string{"audit", "custom"}
	start := time.Now()
	istiod := map[string]metav1.Condition{}
	var sent map[string]ztunnelPolicy
	read := func(c context.Context) (bool, error) {
		list, err := env.Dynamic.Resource(authorizationPolicies).Namespace(ns).List(c, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for i := range list.Items {
			obj := &list.Items[i]
			if cond := meta.FindStatusCondition(kube.Conditions(obj), "ZtunnelAccepted"); cond != nil && cond.ObservedGeneration == obj.GetGeneration() {
				istiod[obj.GetName()] = *cond
			}
		}
		if sent, err = ztunnelPolicies(c, ns); err != nil {
			return false, nil
		}
		for _, n := range names {
			cond, written := istiod[n]
			_, listed := sent[n]
			if !written && !slices.Contains(late, n) || listed && !written || written && cond.Status == metav1.ConditionTrue && !listed {
				return false, nil
			}
		}
		return true, nil
	}
	if err := wait.PollUntilContextTimeout(c, 100*time.Millisecond, testenv.WaitTimeout, true, read); err != nil {
		t.Fatalf("istiod's conditions (%d of %d written) and ambientz (%d listed) did not settle: %v", len(istiod), len(names), len(sent), err)
	}
	t.Logf("istiod settled in %v", time.Since(start).Round(time.Millisecond))

	stdout, stderr, code := runKube(t, "migrate", "plan", "-n", ns, "-o", "json")
	if code != ExitFailed {
		t.Fatalf("migrate plan: exit %d, want 1 (findings left); stderr: %s", code, stderr)
	}
	var plan migrate.Plan
	if err := json.Unmarshal([]byte(stdout), &plan); err != nil {
		t.Fatalf("decode: %v\n%s", err, stdout)
	}
	ours := map[string]migrate.Finding{}
	for _, n := range plan.Namespaces {
		for _, f := range n.Findings {
			if f.Object.Kind == "AuthorizationPolicy" && f.Object.Namespace == ns {
				ours[f.Object.Name] = f
			}
		}
	}
	reasons, codes := map[string]int{}, map[migrate.Code]int{}
	for _, name := range names {
		cond := istiod[name]
		reasons[orDefault(cond.Reason, "none yet")]++
		f, found := ours[name]
		if found {
			codes[f.Code]++
		}
		// What ztunnel gets: the policy, or nothing; a DENY that can
		// match, or one that denies nothing.
		pol, listed := sent[name]
		if predicted := !found || f.Ztunnel.Sent; predicted != listed {
			t.Errorf("%s: ambientz lists it: %v; we predict that istiod sends it: %v (%+v)", name, listed, predicted, f.Ztunnel)
		}
		if listed && pol.Action == "DENY" {
			noEffect := found && f.Ztunnel.Effect == migrate.EffectDenyNoEffect
			if pol.effective() == noEffect {
				t.Errorf("%s: ztunnel gets %+v (can match: %v); we predict %+v", name, pol, pol.effective(), f.Ztunnel)
			}
		}
		if cond.Type == "" {
			if !found || f.Ztunnel.Sent {
				t.Errorf("%s: istiod sends it without writing ZtunnelAccepted", name)
			}
			continue
		}
		switch {
		case cond.Reason == migrate.ReasonAccepted && cond.Status == metav1.ConditionTrue:
			if found {
				t.Errorf("%s: istiod says %s=%s (%s) %q; we report %s: %s", name, cond.Type, cond.Status, cond.Reason, cond.Message, f.Code, f.Ambient)
			}
		case !found:
			t.Errorf("%s: istiod says %s=%s (%s) %q; we report nothing", name, cond.Type, cond.Status, cond.Reason, cond.Message)
		default:
			status := metav1.ConditionFalse
			if f.Ztunnel.Sent {
				status = metav1.ConditionTrue
			}
			if f.Ztunnel.Reason != cond.Reason || f.Ztunnel.Message != cond.Message || status != cond.Status {
				t.Errorf("%s: istiod says %s (%s) %q; we predict %s (%s) %q", name, cond.Status, cond.Reason, cond.Message, status, f.Ztunnel.Reason, f.Ztunnel.Message)
			}
			if f.ZtunnelAccepted == nil || f.ZtunnelAccepted.Message != cond.Message {
				t.Errorf("%s: the finding does not carry istiod's condition: %+v", name, f.ZtunnelAccepted)
			}
		}
	}
	if reasons[migrate.ReasonAccepted] == 0 || reasons[migrate.ReasonUnsupportedValue] == 0 {
		t.Errorf("the set must give istiod both verdicts; it gave %v", reasons)
	}
	for _, code := range []migrate.Code{migrate.CodeAuthzAllowHTTP, migrate.CodeAuthzDenyHTTP, migrate.CodeAuthzDenyNoEffect, migrate.CodeAuthzUnsupportedAction, migrate.CodeAuthzDryRun} {
		if codes[code] == 0 {
			t.Errorf("no policy of the set gave %s; findings by code: %v", code, codes)
		}
	}
	t.Logf("%d policies, istiod's reasons: %v, our findings: %v", len(names), reasons, codes)
}

// createObject creates an Istio object of gvr from its spec.
func createObject(t *testing.T, gvr schema.GroupVersionResource, kind, ns, name string, spec map[string]any) {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.Group + "/" + gvr.Version, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     spec,
	}}
	if _, err := env.Dynamic.Resource(gvr).Namespace(ns).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create %s %s/%s: %v", kind, ns, name, err)
	}
}

// sidecarPod creates a pod as the injector leaves it: with the
// sidecar.istio.io/status annotation and an istio-proxy container.
func sidecarPod(t *testing.T, ns, name string, labels map[string]string, sidecar bool) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
	}
	if sidecar {
		pod.Annotations = map[string]string{"sidecar.istio.io/status": `{"containers":["istio-proxy"]}`}
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.31.1"})
	}
	if _, err := env.Kube.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
}

// TestMigratePlanWalkthrough plans a sidecar-era namespace with one object
// of every kind the plan knows, checks each finding against the objects in
// the API server, carries out the steps (with the tool where it has the
// command, with the API where the plan names kubectl), checks with istiod
// that the routes' Service is then bound to the waypoint, and that a
// re-run of the plan finds nothing left to do.
func TestMigratePlanWalkthrough(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, map[string]string{"istio-injection": "enabled"})
	env.Service(t, ns, "reviews", nil)
	sidecarPod(t, ns, "reviews-v1", map[string]string{"app": "reviews"}, true)
	sidecarPod(t, ns, "batch", map[string]string{"app": "batch"}, true)
	byApp := func(app string) map[string]any { return map[string]any{"matchLabels": map[string]any{"app": app}} }
	createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, "get-only", map[string]any{"selector": byApp("reviews"), "rules": []any{rule(to(op("methods", "GET")))}})
	createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, "l4-only", map[string]any{"selector": byApp("reviews"), "rules": []any{rule(from(src("namespaces", ns)))}})
	createObject(t, schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "requestauthentications"}, "RequestAuthentication", ns, "jwt",
		map[string]any{"selector": byApp("reviews"), "jwtRules": []any{map[string]any{"issuer": "https://issuer.example"}}})
	createObject(t, schema.GroupVersionResource{Group: "telemetry.istio.io", Version: "v1", Resource: "telemetries"}, "Telemetry", ns, "batch-logs",
		map[string]any{"selector": byApp("batch"), "accessLogging": []any{map[string]any{"providers": []any{map[string]any{"name": "envoy"}}}}})
	vs := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	createObject(t, vs, "VirtualService", ns, "reviews-route", map[string]any{"hosts": []any{"reviews"},
		"http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}}}}})
	createObject(t, vs, "VirtualService", ns, "ingress-only", map[string]any{"hosts": []any{"reviews"}, "gateways": []any{"istio-system/ingress"},
		"http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}}}}})
	createObject(t, schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}, "DestinationRule", ns, "reviews-dr",
		map[string]any{"host": "reviews." + ns + ".svc.cluster.local", "trafficPolicy": map[string]any{"loadBalancer": map[string]any{"simple": "ROUND_ROBIN"}}})
	createObject(t, schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1alpha3", Resource: "envoyfilters"}, "EnvoyFilter", ns, "lua",
		map[string]any{"configPatches": []any{}})
	createObject(t, schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "sidecars"}, "Sidecar", ns, "default",
		map[string]any{"egress": []any{map[string]any{"hosts": []any{"./*"}}}})

	plan := func() (migrate.Plan, string, int) {
		t.Helper()
		stdout, stderr, code := runKube(t, "migrate", "plan", "-n", ns, "-o", "json")
		var p migrate.Plan
		if err := json.Unmarshal([]byte(stdout), &p); err != nil {
			t.Fatalf("decode: %v\n%s\n%s", err, stdout, stderr)
		}
		return p, stderr, code
	}
	p, stderr, code := plan()
	if code != ExitFailed {
		t.Fatalf("plan: exit %d, want 1; stderr: %s", code, stderr)
	}
	got := map[string]migrate.Finding{}
	for _, n := range p.Namespaces {
		if n.Name != ns {
			continue
		}
		if n.Mode != migrate.ModeSidecar {
			t.Errorf("mode %s, want sidecar", n.Mode)
		}
		for _, f := range n.Findings {
			got[string(f.Code)+" "+objectName(f.Object)] = f
		}
	}
	want := map[string]string{ // finding -> a word its steps must say
		"WaypointNeeded namespace/" + ns:                  "kubectl waypoint apply -n " + ns + " --enroll-namespace",
		"AuthzAllowHTTP authorizationpolicy/get-only":     "targetRefs to the Services of its pods: reviews",
		"SelectorPolicyIgnored requestauthentication/jwt": "targetRefs to the Services of its pods: reviews",
		"SelectorPolicyIgnored telemetry/batch-logs":      "the pods its selector picks (batch) are in no Service",
		"RouteNeedsWaypoint virtualservice/reviews-route": "enroll service " + ns + "/reviews",
		"RouteNeedsWaypoint destinationrule/reviews-dr":   "enroll service " + ns + "/reviews",
		"EnvoyFilterUnsupported envoyfilter/lua":          "kubectl delete envoyfilter lua -n " + ns,
		"SidecarResourceIgnored sidecar/default":          "kubectl delete sidecar default -n " + ns,
		"NamespaceToAmbient namespace/" + ns:              "restart the 2 pods that run a sidecar (batch, reviews-v1)",
	}
	for key, word := range want {
		f, ok := got[key]
		if !ok {
			t.Errorf("no finding %s; got %v", key, keys(got))
			continue
		}
		if !strings.Contains(fmt.Sprint(f.Steps), word) {
			t.Errorf("%s: steps %+v do not say %q", key, f.Steps, word)
		}
		for _, step := range f.Steps {
			if step.Phase == migrate.PhaseCleanup && f.Code != migrate.CodeSidecarResourceIgnored && !strings.HasPrefix(step.Do, "after phase 2") {
				t.Errorf("%s: a step of phase 3 does not wait for phase 2 while the pods run sidecars: %s", key, step.Do)
			}
		}
		if f.Object.Kind != "Namespace" {
			// The oracle of a finding's object is the API server.
			if _, err := env.Dynamic.Resource(findingGVR(t, f.Object.Kind)).Namespace(ns).Get(context.Background(), f.Object.Name, metav1.GetOptions{}); err != nil {
				t.Errorf("%s names an object the API server does not have: %v", key, err)
			}
		}
	}
	if f := got["SelectorPolicyIgnored telemetry/batch-logs"]; !strings.Contains(fmt.Sprint(f.Steps), "once what it does is done another way") {
		t.Errorf("the deletion of a policy with no exact conversion does not wait for its replacement: %+v", f.Steps)
	}
	if f := got["NamespaceToAmbient namespace/"+ns]; !strings.Contains(fmt.Sprint(f.Steps), "kubectl label namespace "+ns+" istio-injection- istio.io/dataplane-mode=ambient") {
		t.Errorf("the label command removes labels the namespace does not have, or misses one: %+v", f.Steps)
	}
	for key := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("unexpected finding %s: %+v", key, got[key])
		}
	}

	// The table groups the steps by phase.
	table, _, _ := runKube(t, "migrate", "plan", "-n", ns)
	var phases []string
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[1:] {
		if fields := strings.Fields(line); len(fields) > 1 && fields[0] == ns {
			phases = append(phases, fields[1])
		}
	}
	if !slices.IsSorted(phases) || len(phases) < 10 {
		t.Errorf("the table's rows are not grouped by phase: %v\n%s", phases, table)
	}

	// Phase 1: the waypoint and its enrollment, by the tool.
	if _, stderr, code := runKube(t, "apply", "-n", ns, "--enroll-namespace", "--wait"); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, stderr)
	}
	env.WaitForCondition(t, testenv.ServiceResource, ns, "reviews", "istio.io/WaypointBound", func(c metav1.Condition) bool {
		return c.Status == metav1.ConditionTrue && strings.Contains(c.Message, ns+"/waypoint")
	})
	// The converted copies, as the plan gives them: the original's rules,
	// targetRefs in place of the selector; istiod's WaypointAccepted on
	// the AuthorizationPolicy's copy is the oracle that the waypoint
	// enforces it.
	copies := 0
	for key, f := range got {
		if f.Copy == nil {
			continue
		}
		copies++
		orig, err := env.Dynamic.Resource(findingGVR(t, f.Object.Kind)).Namespace(ns).Get(context.Background(), f.Object.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		origSpec, _, _ := unstructured.NestedMap(orig.Object, "spec")
		copySpec, _, _ := unstructured.NestedMap(f.Copy.Object, "spec")
		delete(origSpec, "selector")
		delete(copySpec, "targetRefs")
		if !equality.Semantic.DeepEqual(origSpec, copySpec) {
			t.Errorf("%s: the copy's spec %v is not the original's %v without its selector", key, copySpec, origSpec)
		}
		if _, err := env.Dynamic.Resource(findingGVR(t, f.Object.Kind)).Namespace(ns).Create(context.Background(), f.Copy, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: create its copy: %v", key, err)
		}
	}
	if copies != 2 {
		t.Errorf("%d copies, want 2 (get-only, jwt)", copies)
	}
	env.WaitForCondition(t, authorizationPolicies, ns, "get-only-waypoint", "WaypointAccepted", func(c metav1.Condition) bool {
		return c.Status == metav1.ConditionTrue
	})
	// A re-run knows phase 1 is done: the copies exist, the namespace and
	// its Service use the waypoint.
	p, _, _ = plan()
	for _, n := range p.Namespaces {
		for _, f := range n.Findings {
			for _, step := range f.Steps {
				if n.Name == ns && step.Phase == migrate.PhaseWaypoints && f.Code != migrate.CodeSelectorPolicyIgnored {
					t.Errorf("after phase 1, %s %s still has a step of phase 1: %s", f.Code, objectName(f.Object), step.Do)
				}
			}
			if n.Name == ns && f.Object.Name == "get-only" && !strings.Contains(fmt.Sprint(f.Steps), "its copy get-only-waypoint exists") {
				t.Errorf("after phase 1, get-only's steps do not name its copy: %+v", f.Steps)
			}
		}
	}
	// Phase 2: the namespace to ambient, the pods restarted without sidecars.
	nsObj, err := env.Kube.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(nsObj.Labels, "istio-injection")
	nsObj.Labels["istio.io/dataplane-mode"] = "ambient"
	if _, err := env.Kube.CoreV1().Namespaces().Update(context.Background(), nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	for _, pod := range []string{"reviews-v1", "batch"} {
		if err := env.Kube.CoreV1().Pods(ns).Delete(context.Background(), pod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
	}
	sidecarPod(t, ns, "reviews-v2", map[string]string{"app": "reviews"}, false)
	// Phase 3 is due now: its steps no longer wait for phase 2.
	p, _, _ = plan()
	cleanups := 0
	var replacement *unstructured.Unstructured
	for _, n := range p.Namespaces {
		for _, f := range n.Findings {
			if n.Name == ns && f.Replacement != nil {
				if f.Code != migrate.CodeVirtualServiceToHTTPRoute || objectName(f.Object) != "virtualservice/reviews-route" {
					t.Errorf("a replacement for %s %s", f.Code, objectName(f.Object))
				}
				replacement = f.Replacement
			}
			for _, step := range f.Steps {
				if n.Name == ns && step.Phase == migrate.PhaseCleanup {
					cleanups++
					if strings.HasPrefix(step.Do, "after phase 2") {
						t.Errorf("after phase 2, %s %s still waits for it: %s", f.Code, objectName(f.Object), step.Do)
					}
				}
			}
		}
	}
	if cleanups != 6 {
		t.Errorf("after phase 2, %d steps of phase 3, want 6 (get-only, jwt, batch-logs, lua, default, reviews-route)", cleanups)
	}
	if replacement == nil {
		t.Fatal("after phase 2, no HTTPRoute replaces VirtualService reviews-route")
	}
	// Phase 3: the originals.
	for _, f := range got {
		if f.Object.Kind == "Namespace" || f.Code == migrate.CodeRouteNeedsWaypoint {
			continue
		}
		if err := env.Dynamic.Resource(findingGVR(t, f.Object.Kind)).Namespace(ns).Delete(context.Background(), f.Object.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The VirtualService's replacement: istiod must accept it on its
	// Service, then the VirtualService goes.
	if _, err := env.Dynamic.Resource(httpRoutes).Namespace(ns).Create(context.Background(), replacement, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the HTTPRoute: %v", err)
	}
	waitRouteAccepted(t, ns, replacement.GetName(), "reviews")
	p, _, _ = plan()
	if !strings.Contains(fmt.Sprint(p.Namespaces), "now that HTTPRoute reviews-route-waypoint does what it did") {
		t.Errorf("with its HTTPRoute created, the VirtualService's step is not its deletion: %+v", p.Namespaces)
	}
	if err := env.Dynamic.Resource(findingGVR(t, "VirtualService")).Namespace(ns).Delete(context.Background(), "reviews-route", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p, stderr, code = plan()
	if code != 0 || p.Count() != 0 {
		t.Errorf("plan after the migration: exit %d, %d findings: %+v; stderr: %s", code, p.Count(), p.Namespaces, stderr)
	}
}

var httpRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// waitRouteAccepted waits until istiod accepts HTTPRoute ns/name on
// Service parent: Accepted=True in the route's status for that parent.
func waitRouteAccepted(t *testing.T, ns, name, parent string) {
	t.Helper()
	var last any
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, testenv.WaitTimeout, true, func(c context.Context) (bool, error) {
		obj, err := env.Dynamic.Resource(httpRoutes).Namespace(ns).Get(c, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		parents, _, _ := unstructured.NestedSlice(obj.Object, "status", "parents")
		last = parents
		for _, p := range parents {
			pm, _ := p.(map[string]any)
			ref, _ := pm["parentRef"].(map[string]any)
			if ref["kind"] != "Service" || ref["name"] != parent {
				continue
			}
			conds, _ := pm["conditions"].([]any)
			for _, c := range conds {
				cm, _ := c.(map[string]any)
				if cm["type"] == "Accepted" && cm["status"] == "True" {
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("istiod did not accept HTTPRoute %s/%s on Service %s: %v; parents %v", ns, name, parent, err, last)
	}
}

func keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// findingGVR is the resource of a finding's kind.
func findingGVR(t *testing.T, kind string) schema.GroupVersionResource {
	t.Helper()
	for _, g := range []schema.GroupVersionResource{
		authorizationPolicies,
		{Group: "security.istio.io", Version: "v1", Resource: "requestauthentications"},
		{Group: "telemetry.istio.io", Version: "v1", Resource: "telemetries"},
		{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"},
		{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"},
		{Group: "networking.istio.io", Version: "v1alpha3", Resource: "envoyfilters"},
		{Group: "networking.istio.io", Version: "v1", Resource: "sidecars"},
	} {
		if strings.EqualFold(g.Resource, kind+"s") || strings.EqualFold(strings.TrimSuffix(g.Resource, "ies")+"y", kind) {
			return g
		}
	}
	t.Fatalf("no resource for kind %s", kind)
	return schema.GroupVersionResource{}
}

// TestMigratePlanRequests pins the requests of a plan of the whole mesh:
// one list of namespaces, one of each kind the plan reads (HTTPRoutes for
// the VirtualServices' replacements), of Services,
// pods and Gateways, and a read of each waypoint class in use; never one
// per namespace or per object.
func TestMigratePlanRequests(t *testing.T) {
	for i := range 3 {
		ns := env.Namespace(t, map[string]string{"istio-injection": "enabled"})
		env.Service(t, ns, "reviews", nil)
		sidecarPod(t, ns, "reviews-v1", map[string]string{"app": "reviews"}, true)
		createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, fmt.Sprintf("get-only-%d", i),
			map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "reviews"}}, "rules": []any{rule(to(op("methods", "GET")))}})
	}
	env.Waypoint(t, env.Namespace(t, testenv.AmbientLabels()), "waypoint", map[string]string{"istio.io/waypoint-for": "service"})
	log := &requestLog{}
	if _, errOut, code := executeLogged(log, "migrate", "plan", "-A"); code != ExitFailed {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	sort.Strings(log.reqs)
	want := "GET authorizationpolicies,GET destinationrules,GET envoyfilters,GET gateways,GET httproutes,GET istio-waypoint,GET namespaces,GET pods," +
		"GET requestauthentications,GET services,GET sidecars,GET telemetries,GET virtualservices,GET wasmplugins"
	if got := strings.Join(log.reqs, ","); got != want {
		t.Errorf("migrate plan -A made %s, want %s", got, want)
	}
}

// TestMigratePlanOutputDir carries out phases 1 and 2 with the manifests of
// --output-dir, applied by kubectl as a GitOps tool would: the cluster and
// istiod must then hold what the steps say (the waypoint, the enrollment
// that survives phase 2's patch of the same namespace, the copies accepted
// by the waypoint, the namespace in ambient), and the plan must end empty.
func TestMigratePlanOutputDir(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, map[string]string{"istio-injection": "enabled"})
	env.Service(t, ns, "reviews", nil)
	sidecarPod(t, ns, "reviews-v1", map[string]string{"app": "reviews"}, true)
	createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, "get-only",
		map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "reviews"}}, "rules": []any{rule(to(op("methods", "GET")))}})
	createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, "deny-admin",
		map[string]any{"action": "DENY", "rules": []any{rule(to(op("paths", "/admin")))}})
	dir := t.TempDir()
	if _, stderr, code := runKube(t, "migrate", "plan", "-n", ns, "--output-dir", dir); code != ExitFailed {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	if out, err := kubectlKustomize(filepath.Join(dir, "phase-1")); err != nil {
		t.Fatalf("kubectl apply -k phase-1: %v\n%s", err, out)
	}
	env.WaitForCondition(t, testenv.ServiceResource, ns, "reviews", "istio.io/WaypointBound", func(c metav1.Condition) bool {
		return c.Status == metav1.ConditionTrue && strings.Contains(c.Message, ns+"/waypoint")
	})
	for _, copied := range []string{"get-only-waypoint", "deny-admin-waypoint"} {
		env.WaitForCondition(t, authorizationPolicies, ns, copied, "WaypointAccepted", func(c metav1.Condition) bool {
			return c.Status == metav1.ConditionTrue
		})
	}
	if out, err := kubectlKustomize(filepath.Join(dir, "phase-2"), "--force-conflicts"); err != nil {
		t.Fatalf("kubectl apply -k phase-2: %v\n%s", err, out)
	}
	got, err := env.Kube.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"istio.io/dataplane-mode": "ambient", "istio-injection": "disabled", "istio.io/use-waypoint": "waypoint"} {
		if got.Labels[k] != v {
			t.Errorf("after phase 2 the namespace's %s is %q, want %q (labels %v)", k, got.Labels[k], v, got.Labels)
		}
	}
	// The rest of phase 2 and phase 3, which no manifest says.
	zero := int64(0)
	if err := env.Kube.CoreV1().Pods(ns).Delete(context.Background(), "reviews-v1", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"get-only", "deny-admin"} {
		if err := env.Dynamic.Resource(authorizationPolicies).Namespace(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, stderr, code := runKube(t, "migrate", "plan", "-n", ns, "--output-dir", dir); code != 0 {
		t.Errorf("plan after the migration: exit %d: %s", code, stderr)
	}
	kust, err := os.ReadFile(filepath.Join(dir, "phase-1", "kustomization.yaml"))
	if err != nil || !strings.Contains(string(kust), "resources: []") {
		t.Errorf("with nothing left, phase-1's kustomization lists %q (%v)", kust, err)
	}
}

// TestMigrateApply migrates a sidecar-era namespace with migrate apply,
// one phase per run, and judges each run by the API server and istiod:
// a dry run writes nothing; phase 1 applies the waypoint, enrolls the
// namespace and creates the copy (WaypointAccepted); phase 2 relabels the
// namespace and restarts the Deployment whose pod runs a sidecar; phase 3
// waits while that pod is there, then deletes the originals, replaces the
// VirtualService with its HTTPRoute (Accepted by istiod), and leaves the
// EnvoyFilter, which has no exact conversion.
func TestMigrateApply(t *testing.T) {
	t.Parallel()
	c := context.Background()
	ns := env.Namespace(t, map[string]string{"istio-injection": "enabled"})
	env.Service(t, ns, "reviews", nil)
	// A Deployment's pod with a sidecar, as the controllers leave it (none
	// runs here: the chain of owners is written by hand).
	replicas := int32(1)
	labels := map[string]string{"app": "reviews"}
	dep, err := env.Kube.AppsV1().Deployments(ns).Create(c, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "reviews-v1", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	rs, err := env.Kube.AppsV1().ReplicaSets(ns).Create(c, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "reviews-v1-abc", Namespace: ns, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID, Controller: &yes}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: dep.Spec.Template},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "reviews-v1-abc-x", Namespace: ns, Labels: labels,
			Annotations:     map[string]string{"sidecar.istio.io/status": "{}"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &yes}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}, {Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.31.1"}}},
	}
	if _, err := env.Kube.CoreV1().Pods(ns).Create(c, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, "get-only",
		map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "reviews"}}, "rules": []any{rule(to(op("methods", "GET")))}})
	createObject(t, schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "sidecars"}, "Sidecar", ns, "default",
		map[string]any{"egress": []any{map[string]any{"hosts": []any{"./*"}}}})
	createObject(t, schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}, "VirtualService", ns, "reviews-route",
		map[string]any{"hosts": []any{"reviews"}, "http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}}}}})
	createObject(t, schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1alpha3", Resource: "envoyfilters"}, "EnvoyFilter", ns, "lua",
		map[string]any{"configPatches": []any{}})
	exists := func(gvr schema.GroupVersionResource, name string) bool {
		_, err := env.Dynamic.Resource(gvr).Namespace(ns).Get(c, name, metav1.GetOptions{})
		return err == nil
	}
	nsLabels := func() map[string]string {
		got, err := env.Kube.CoreV1().Namespaces().Get(c, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got.Labels
	}
	apply := func(args ...string) (string, string) {
		t.Helper()
		stdout, stderr, code := runKube(t, append([]string{"migrate", "apply", "-n", ns}, args...)...)
		if code != 0 {
			t.Fatalf("migrate apply %v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		return stdout, stderr
	}

	apply("--dry-run=server")
	if _, err := env.Gateway.GatewayV1().Gateways(ns).Get(c, "waypoint", metav1.GetOptions{}); err == nil || exists(authorizationPolicies, "get-only-waypoint") || nsLabels()["istio.io/use-waypoint"] != "" {
		t.Fatal("a server dry run wrote to the cluster")
	}

	// Phase 1.
	apply()
	if nsLabels()["istio.io/use-waypoint"] != "waypoint" || nsLabels()["istio-injection"] != "enabled" {
		t.Errorf("after phase 1 the namespace's labels are %v", nsLabels())
	}
	env.WaitProgrammed(t, ns, "waypoint")
	env.WaitForCondition(t, authorizationPolicies, ns, "get-only-waypoint", "WaypointAccepted", func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue })
	if !exists(authorizationPolicies, "get-only") {
		t.Error("phase 1 deleted the original")
	}

	// Phase 2.
	apply()
	if l := nsLabels(); l["istio.io/dataplane-mode"] != "ambient" || l["istio-injection"] != "" || l["istio.io/use-waypoint"] != "waypoint" {
		t.Errorf("after phase 2 the namespace's labels are %v", l)
	}
	got, err := env.Kube.AppsV1().Deployments(ns).Get(c, "reviews-v1", metav1.GetOptions{})
	if err != nil || got.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Errorf("phase 2 did not restart Deployment reviews-v1: %v %v", got.Spec.Template.Annotations, err)
	}

	// Phase 3 waits for the pod that still runs a sidecar.
	_, stderr := apply()
	if !strings.Contains(stderr, "phase 3 waits: 1 pods still run a sidecar (reviews-v1-abc-x); it starts once they are replaced without one") || !exists(authorizationPolicies, "get-only") {
		t.Errorf("phase 3 did not wait for the sidecar pod: %s", stderr)
	}
	// The ReplicaSet's controller would replace the pod.
	zero := int64(0)
	if err := env.Kube.CoreV1().Pods(ns).Delete(c, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	apply()
	for gvr, name := range map[schema.GroupVersionResource]string{authorizationPolicies: "get-only", findingGVR(t, "Sidecar"): "default", findingGVR(t, "VirtualService"): "reviews-route"} {
		if exists(gvr, name) {
			t.Errorf("phase 3 left %s %s", gvr.Resource, name)
		}
	}
	if !exists(findingGVR(t, "EnvoyFilter"), "lua") {
		t.Error("phase 3 deleted the EnvoyFilter, which has no exact conversion")
	}
	waitRouteAccepted(t, ns, "reviews-route-waypoint", "reviews")
	// What is left is the user's: the EnvoyFilter.
	p, _, code := runKube(t, "migrate", "plan", "-n", ns, "-o", "json")
	var plan migrate.Plan
	if err := json.Unmarshal([]byte(p), &plan); err != nil || code != ExitFailed || plan.Count() != 1 || plan.Namespaces[0].Findings[0].Code != migrate.CodeEnvoyFilterUnsupported {
		t.Errorf("after migrate apply, the plan (exit %d) is %s", code, p)
	}
	if _, stderr := apply(); !strings.Contains(stderr, "Nothing to do") {
		t.Errorf("a run with only the user's steps left: %s", stderr)
	}
}
