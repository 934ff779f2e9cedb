package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
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
		pod.Labels = maps.Clone(labels)
		pod.Labels["security.istio.io/tlsMode"] = "istio" // as the injector labels the pods it injects
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
	bookinfoSidecarEra(t, ns)

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
	table, tableErr, _ := runKube(t, "migrate", "plan", "-n", ns)
	checkDocRun(t, "migrate.md", "kubectl waypoint migrate plan -n bookinfo", 0, ns, table, tableErr)
	// kubectl's generic formats print one item per finding: each names an
	// object the API server has, as many as -o json has.
	lines, _, _ := runKube(t, "migrate", "plan", "-n", ns, "--sort-by", "{.object.name}",
		"-o", `jsonpath={range .items[*]}{.namespace} {.object.kind} {.object.name}{"\n"}{end}`)
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(lines), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 3 || fields[0] != ns {
			t.Fatalf("-o jsonpath printed %q", line)
		}
		names = append(names, fields[2])
		if fields[1] != "Namespace" {
			getObject(t, findingGVR(t, fields[1]), ns, fields[2])
		}
	}
	if !slices.IsSorted(names) || len(names) != p.Count() {
		t.Errorf("-o jsonpath --sort-by {.object.name} printed %v; -o json has %d findings", names, p.Count())
	}
	sortedJSON, _, _ := runKube(t, "migrate", "plan", "-n", ns, "--sort-by", "{.object.name}", "-o", "json")
	var sorted migrate.Plan
	if err := json.Unmarshal([]byte(sortedJSON), &sorted); err != nil || sorted.Count() != p.Count() {
		t.Fatalf("-o json --sort-by: %v, %d findings", err, sorted.Count())
	}
	for _, n := range sorted.Namespaces {
		if !slices.IsSortedFunc(n.Findings, func(a, b migrate.Finding) int { return strings.Compare(a.Object.Name, b.Object.Name) }) {
			t.Errorf("-o json --sort-by {.object.name}: the findings of %s are not in that order", n.Name)
		}
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
		"NamespaceToAmbient namespace/" + ns:              "restart the 2 pods that run a sidecar (batch, reviews-v1-abc-x)",
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
	for _, pod := range []string{"reviews-v1-abc-x", "batch"} {
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
	createObject(t, findingGVR(t, "VirtualService"), "VirtualService", ns, "reviews-route",
		map[string]any{"hosts": []any{"reviews"}, "http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}}}}})
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
	if sel, _, _ := unstructured.NestedStringMap(getObject(t, authorizationPolicies, ns, "get-only").Object, "spec", "selector", "matchLabels"); sel["security.istio.io/tlsMode"] != "istio" || sel["app"] != "reviews" {
		t.Errorf("after phase 2, get-only selects %v; want it narrowed to the pods with a sidecar", sel)
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
	if out, err := kubectlKustomize(filepath.Join(dir, "phase-3")); err != nil {
		t.Fatalf("kubectl apply -k phase-3: %v\n%s", err, out)
	}
	waitRouteAccepted(t, ns, "reviews-route-waypoint", "reviews")
	if err := env.Dynamic.Resource(findingGVR(t, "VirtualService")).Namespace(ns).Delete(context.Background(), "reviews-route", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runKube(t, "migrate", "plan", "-n", ns, "--output-dir", dir); code != 0 {
		t.Errorf("plan after the migration: exit %d: %s", code, stderr)
	}
	checkMigrated(t, ns, map[string]string{"reviews": "waypoint"})
	kust, err := os.ReadFile(filepath.Join(dir, "phase-1", "kustomization.yaml"))
	if err != nil || !strings.Contains(string(kust), "resources: []") {
		t.Errorf("with nothing left, phase-1's kustomization lists %q (%v)", kust, err)
	}

	// A waypoint per Service: phase 1 applies it and a Service patch.
	perService := env.Namespace(t, map[string]string{"istio-injection": "enabled"})
	env.Service(t, perService, "reviews", nil)
	sidecarPod(t, perService, "reviews-v1", map[string]string{"app": "reviews"}, true)
	createObject(t, authorizationPolicies, "AuthorizationPolicy", perService, "get-only",
		map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "reviews"}}, "rules": []any{rule(to(op("methods", "GET")))}})
	dir = t.TempDir()
	if _, stderr, code := runKube(t, "migrate", "plan", "-n", perService, "--granularity", "service", "--output-dir", dir); code != ExitFailed {
		t.Fatalf("plan --granularity service: exit %d: %s", code, stderr)
	}
	if out, err := kubectlKustomize(filepath.Join(dir, "phase-1")); err != nil {
		t.Fatalf("kubectl apply -k phase-1 of --granularity service: %v\n%s", err, out)
	}
	waitBound(t, testenv.ServiceResource, perService, "reviews", perService+"/reviews-svc-waypoint")
	env.WaitForCondition(t, authorizationPolicies, perService, "get-only-waypoint", "WaypointAccepted", func(c metav1.Condition) bool {
		return c.Status == metav1.ConditionTrue
	})
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
	bookinfoSidecarEra(t, ns)
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
	stdout, stderr := apply()
	checkDocRun(t, "migrate.md", "kubectl waypoint migrate apply -n bookinfo", 0, ns, stdout, stderr)
	if nsLabels()["istio.io/use-waypoint"] != "waypoint" || nsLabels()["istio-injection"] != "enabled" {
		t.Errorf("after phase 1 the namespace's labels are %v", nsLabels())
	}
	env.WaitProgrammed(t, ns, "waypoint")
	env.WaitForCondition(t, authorizationPolicies, ns, "get-only-waypoint", "WaypointAccepted", func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue })
	if !exists(authorizationPolicies, "get-only") {
		t.Error("phase 1 deleted the original")
	}

	// Phase 2.
	stdout, stderr = apply()
	checkDocRun(t, "migrate.md", "kubectl waypoint migrate apply -n bookinfo", 1, ns, stdout, stderr)
	if l := nsLabels(); l["istio.io/dataplane-mode"] != "ambient" || l["istio-injection"] != "" || l["istio.io/use-waypoint"] != "waypoint" {
		t.Errorf("after phase 2 the namespace's labels are %v", l)
	}
	got, err := env.Kube.AppsV1().Deployments(ns).Get(c, "reviews-v1", metav1.GetOptions{})
	if err != nil || got.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Errorf("phase 2 did not restart Deployment reviews-v1: %v %v", got.Spec.Template.Annotations, err)
	}
	// Before the restart, phase 2 narrowed get-only to the pods that run a
	// sidecar: istiod must no longer give it to ztunnel for a pod the
	// rollout brings back without one, and still for the one with a sidecar.
	if sel, _, _ := unstructured.NestedStringMap(getObject(t, authorizationPolicies, ns, "get-only").Object, "spec", "selector", "matchLabels"); sel["security.istio.io/tlsMode"] != "istio" || sel["app"] != "reviews" {
		t.Errorf("after phase 2, get-only selects %v", sel)
	}
	sidecarPod(t, ns, "reviews-v1-abc-y", map[string]string{"app": "reviews"}, false)
	// Workloads to istiod (addresses of no other test).
	env.SetPodIP(t, ns, "reviews-v1-abc-x", "10.253.9.1")
	env.SetPodIP(t, ns, "reviews-v1-abc-y", "10.253.9.2")
	waitZtunnelPolicies(t, ns, map[string]bool{"reviews-v1-abc-x": true, "reviews-v1-abc-y": false}, ns+"/get-only")

	// Phase 3 waits for the pods that still run a sidecar.
	stdout, stderr = apply()
	checkDocRun(t, "migrate.md", "kubectl waypoint migrate apply -n bookinfo", 2, ns, stdout, stderr)
	if !strings.Contains(stderr, "phase 3 waits: 2 pods still run a sidecar (batch, reviews-v1-abc-x); it starts once they are replaced without one") || !exists(authorizationPolicies, "get-only") {
		t.Errorf("phase 3 did not wait for the sidecar pods: %s", stderr)
	}
	// The ReplicaSet's controller would replace its pod; batch, which has
	// none, is the user's to create again.
	zero := int64(0)
	for _, pod := range []string{"reviews-v1-abc-x", "batch"} {
		if err := env.Kube.CoreV1().Pods(ns).Delete(c, pod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
	}
	sidecarPod(t, ns, "batch", map[string]string{"app": "batch"}, false)
	stdout, stderr = apply()
	checkDocRun(t, "migrate.md", "kubectl waypoint migrate apply -n bookinfo", 3, ns, stdout, stderr)
	for _, kind := range []string{"AuthorizationPolicy/get-only", "RequestAuthentication/jwt", "Sidecar/default", "VirtualService/reviews-route"} {
		kind, name, _ := strings.Cut(kind, "/")
		if exists(findingGVR(t, kind), name) {
			t.Errorf("phase 3 left %s %s", kind, name)
		}
	}
	for _, kind := range []string{"AuthorizationPolicy/l4-only", "Telemetry/batch-logs", "EnvoyFilter/lua", "VirtualService/ingress-only", "DestinationRule/reviews-dr"} {
		kind, name, _ := strings.Cut(kind, "/")
		if !exists(findingGVR(t, kind), name) {
			t.Errorf("phase 3 deleted %s %s, which ztunnel enforces as written, has no exact conversion, or works as it is", kind, name)
		}
	}
	waitRouteAccepted(t, ns, "reviews-route-waypoint", "reviews")
	checkMigrated(t, ns, map[string]string{"reviews": "waypoint"})
	// What is left is the user's: the Telemetry and the EnvoyFilter.
	p, _, code := runKube(t, "migrate", "plan", "-n", ns, "-o", "json")
	var plan migrate.Plan
	if err := json.Unmarshal([]byte(p), &plan); err != nil || code != ExitFailed || plan.Count() != 2 {
		t.Fatalf("after migrate apply, the plan (exit %d) is %s", code, p)
	}
	var left []string
	for _, f := range plan.Namespaces[0].Findings {
		left = append(left, string(f.Code)+" "+objectName(f.Object))
	}
	if want := []string{"SelectorPolicyIgnored telemetry/batch-logs", "EnvoyFilterUnsupported envoyfilter/lua"}; !slices.Equal(left, want) {
		t.Errorf("after migrate apply, the plan has %v, want %v", left, want)
	}
	stdout, stderr, _ = runKube(t, "migrate", "plan", "-n", ns)
	checkDocRun(t, "migrate.md", "kubectl waypoint migrate plan -n bookinfo", 1, ns, stdout, stderr)
	if _, stderr := apply(); !strings.Contains(stderr, "Nothing to do") {
		t.Errorf("a run with only the user's steps left: %s", stderr)
	}
}

// TestMigrateApplyPerService migrates a sidecar-era namespace with a
// waypoint per Service (--granularity service, --all-phases) and judges the
// result by istiod: each Service that a policy or a route concerns is
// enrolled in its own waypoint, bound to it (WaypointBound) and sent to
// ztunnel with it (/debug/ambientz); the copies, the namespace-wide one
// targeting those Services, are WaypointAccepted; once the originals are
// gone no policy is left that ztunnel enforces without its HTTP rules; and
// the plan ends empty.
func TestMigrateApplyPerService(t *testing.T) {
	t.Parallel()
	c := context.Background()
	ns := env.Namespace(t, map[string]string{"istio-injection": "enabled"})
	for _, svc := range []string{"reviews", "ratings"} {
		env.Service(t, ns, svc, nil)
		sidecarPod(t, ns, svc+"-v1", map[string]string{"app": svc}, true)
	}
	createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, "get-only",
		map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "reviews"}}, "rules": []any{rule(to(op("methods", "GET")))}})
	createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, "deny-admin",
		map[string]any{"action": "DENY", "rules": []any{rule(to(op("paths", "/admin")))}})
	createObject(t, findingGVR(t, "VirtualService"), "VirtualService", ns, "ratings-route",
		map[string]any{"hosts": []any{"ratings"}, "http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "ratings"}}}}}})

	table, tableErr, _ := runKube(t, "migrate", "plan", "-n", ns, "--granularity", "service")
	checkDocRun(t, "migrate.md", "kubectl waypoint migrate plan -n bookinfo --granularity service", 0, ns, table, tableErr)
	p, stderr, code := runKube(t, "migrate", "plan", "-n", ns, "--granularity", "service", "-o", "json")
	var plan migrate.Plan
	if err := json.Unmarshal([]byte(p), &plan); err != nil || code != ExitFailed || len(plan.Namespaces) != 1 {
		t.Fatalf("plan: exit %d, %v: %s%s", code, err, p, stderr)
	}
	waypoints := map[string]string{}
	for _, f := range plan.Namespaces[0].Findings {
		switch {
		case f.Code == migrate.CodeWaypointNeeded && f.Object.Kind == "Service":
			waypoints[f.Object.Name] = f.WaypointName
		case f.Code == migrate.CodeWaypointNeeded || f.Code == migrate.CodeNamespaceEnrollment:
			t.Errorf("with a waypoint per Service, the plan has %s for %s", f.Code, f.Object)
		case f.Object.Name == "deny-admin" && f.Copy != nil:
			refs, _, _ := unstructured.NestedSlice(f.Copy.Object, "spec", "targetRefs")
			if len(refs) != 2 || refs[0].(map[string]any)["name"] != "ratings" || refs[1].(map[string]any)["name"] != "reviews" {
				t.Errorf("the namespace-wide policy's copy targets %v, want Services ratings and reviews", refs)
			}
		}
	}
	if !slices.ContainsFunc(plan.Namespaces[0].Findings, func(f migrate.Finding) bool { return f.Object.Name == "deny-admin" && f.Copy != nil }) {
		t.Error("the namespace-wide policy has no copy")
	}
	if want := map[string]string{"reviews": "reviews-svc-waypoint", "ratings": "ratings-svc-waypoint"}; !maps.Equal(waypoints, want) {
		t.Fatalf("the plan's waypoints are %v, want %v", waypoints, want)
	}

	// Phases 1 and 2; phase 3 waits for the pods, which no controller here
	// replaces.
	if stdout, stderr, code := runKube(t, "migrate", "apply", "-n", ns, "--granularity", "service", "--all-phases"); code != 0 || !strings.Contains(stderr, "phase 3 waits") {
		t.Fatalf("migrate apply: exit %d\n%s%s", code, stdout, stderr)
	}
	got, err := env.Kube.CoreV1().Namespaces().Get(c, ns, metav1.GetOptions{})
	if err != nil || got.Labels["istio.io/dataplane-mode"] != "ambient" || got.Labels["istio.io/use-waypoint"] != "" {
		t.Errorf("after phase 2 the namespace's labels are %v (%v); want ambient, not enrolled", got.Labels, err)
	}
	for _, wp := range waypoints {
		env.WaitProgrammed(t, ns, wp)
	}
	for _, copied := range []string{"get-only-waypoint", "deny-admin-waypoint"} {
		env.WaitForCondition(t, authorizationPolicies, ns, copied, "WaypointAccepted", func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue })
	}

	// The pods come back without sidecars; phase 3.
	zero := int64(0)
	for _, svc := range []string{"reviews", "ratings"} {
		if err := env.Kube.CoreV1().Pods(ns).Delete(c, svc+"-v1", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		sidecarPod(t, ns, svc+"-v2", map[string]string{"app": svc}, false)
	}
	if stdout, stderr, code := runKube(t, "migrate", "apply", "-n", ns, "--granularity", "service"); code != 0 {
		t.Fatalf("migrate apply, phase 3: exit %d\n%s%s", code, stdout, stderr)
	}
	waitRouteAccepted(t, ns, "ratings-route-waypoint", "ratings")
	checkMigrated(t, ns, waypoints)
	left, err := env.Dynamic.Resource(authorizationPolicies).Namespace(ns).List(c, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Items) != 2 {
		t.Errorf("after phase 3, %d AuthorizationPolicies are left, want the 2 copies", len(left.Items))
	}
	if _, stderr, code := runKube(t, "migrate", "plan", "-n", ns, "--granularity", "service"); code != 0 {
		t.Errorf("plan after the migration: exit %d: %s", code, stderr)
	}
}

// docRun is a command a ```console block of a doc shows, with the lines it
// shows it printing.
type docRun struct {
	command string
	output  []string
}

// docRuns reads the commands of the ```console blocks of docs/name: each
// line "$ cmd" (a trailing "# comment" dropped) and the lines up to the
// next.
func docRuns(t *testing.T, name string) []docRun {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	var runs []docRun
	for _, block := range regexp.MustCompile("(?s)```console\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		for _, line := range strings.Split(strings.TrimSuffix(block[1], "\n"), "\n") {
			if cmd, ok := strings.CutPrefix(line, "$ "); ok {
				cmd, _, _ = strings.Cut(cmd, "#")
				runs = append(runs, docRun{command: strings.TrimSpace(cmd)})
			} else if len(runs) > 0 {
				runs[len(runs)-1].output = append(runs[len(runs)-1].output, line)
			}
		}
	}
	return runs
}

// checkDocRun fails the test unless the nth (from 0) run of command that
// docs/name shows prints what the command printed here: the test's
// namespace ns read as "bookinfo", the lines of both streams in any order
// between them, runs of spaces (a table's padding) as one.
func checkDocRun(t *testing.T, name, command string, nth int, ns, stdout, stderr string) {
	t.Helper()
	lines := func(ls []string) []string {
		var out []string
		for _, l := range ls {
			if l = strings.Join(strings.Fields(l), " "); l != "" {
				out = append(out, l)
			}
		}
		sort.Strings(out)
		return out
	}
	printed := strings.ReplaceAll(stdout+stderr, ns, "bookinfo")
	got := lines(strings.Split(printed, "\n"))
	seen := 0
	for _, r := range docRuns(t, name) {
		if r.command != command {
			continue
		}
		if seen == nth {
			if want := lines(r.output); !slices.Equal(got, want) {
				t.Errorf("docs/%s shows %q printing, spaces collapsed and lines sorted,\n%s\nbut it printed\n%s\nwhich is, as printed (stdout, then stderr):\n%s", name, command, strings.Join(want, "\n"), strings.Join(got, "\n"), printed)
			}
			return
		}
		seen++
	}
	t.Errorf("docs/%s does not show %q (%d times)", name, command, nth+1)
}

// bookinfoSidecarEra builds the namespace of docs/migrate.md's worked
// migration in ns (in sidecar mode): Service reviews with its Deployment's
// pod reviews-v1-abc-x, which runs a sidecar (the chain of owners written
// by hand: no controller runs here), and pod batch with a sidecar and no
// Service or controller; an ALLOW of GET only and an L4-only policy on
// reviews, a JWT RequestAuthentication on reviews, an access-log Telemetry
// on batch, a VirtualService of the mesh and one of an ingress gateway
// only, a DestinationRule, an EnvoyFilter and a Sidecar resource.
func bookinfoSidecarEra(t *testing.T, ns string) {
	t.Helper()
	env.Service(t, ns, "reviews", nil)
	sidecarDeployment(t, ns, "reviews-v1", map[string]string{"app": "reviews"})
	sidecarPod(t, ns, "batch", map[string]string{"app": "batch"}, true)
	byApp := func(app string) map[string]any { return map[string]any{"matchLabels": map[string]any{"app": app}} }
	createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, "get-only", map[string]any{"selector": byApp("reviews"), "rules": []any{rule(to(op("methods", "GET")))}})
	createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, "l4-only", map[string]any{"selector": byApp("reviews"), "rules": []any{rule(from(src("namespaces", ns)))}})
	createObject(t, findingGVR(t, "RequestAuthentication"), "RequestAuthentication", ns, "jwt",
		map[string]any{"selector": byApp("reviews"), "jwtRules": []any{map[string]any{"issuer": "https://issuer.example"}}})
	createObject(t, findingGVR(t, "Telemetry"), "Telemetry", ns, "batch-logs",
		map[string]any{"selector": byApp("batch"), "accessLogging": []any{map[string]any{"providers": []any{map[string]any{"name": "envoy"}}}}})
	vs := findingGVR(t, "VirtualService")
	createObject(t, vs, "VirtualService", ns, "reviews-route", map[string]any{"hosts": []any{"reviews"},
		"http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}}}}})
	createObject(t, vs, "VirtualService", ns, "ingress-only", map[string]any{"hosts": []any{"reviews"}, "gateways": []any{"istio-system/ingress"},
		"http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}}}}})
	createObject(t, findingGVR(t, "DestinationRule"), "DestinationRule", ns, "reviews-dr",
		map[string]any{"host": "reviews." + ns + ".svc.cluster.local", "trafficPolicy": map[string]any{"loadBalancer": map[string]any{"simple": "ROUND_ROBIN"}}})
	createObject(t, findingGVR(t, "EnvoyFilter"), "EnvoyFilter", ns, "lua", map[string]any{"configPatches": []any{}})
	createObject(t, findingGVR(t, "Sidecar"), "Sidecar", ns, "default", map[string]any{"egress": []any{map[string]any{"hosts": []any{"./*"}}}})
}

// getObject reads an object of gvr from the API server.
func getObject(t *testing.T, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	obj, err := env.Dynamic.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("read %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return obj
}

// waitZtunnelPolicies waits until istiod's /debug/ambientz gives each pod
// of ns named in want to ztunnel with policy among its authorization
// policies (true) or without it (false).
func waitZtunnelPolicies(t *testing.T, ns string, want map[string]bool, policy string) {
	t.Helper()
	var last map[string][]string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		az, err := env.Ambientz(ctx)
		if err != nil {
			return false, nil // read again until the deadline
		}
		last = map[string][]string{}
		for _, w := range az.Workloads {
			if _, ok := want[w.Name]; ok && w.Namespace == ns && w.Kind() == "Pod" {
				last[w.Name] = w.AuthorizationPolicies
			}
		}
		for pod, has := range want {
			if got, ok := last[pod]; !ok || slices.Contains(got, policy) != has {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("istiod never gave ztunnel %s as wanted %v; last read: %v", policy, want, last)
	}
}

// TestMigrateApplyReplace rewrites originals in place (--replace) and
// judges it by the API server and istiod: in an ambient namespace whose
// pods run no sidecar, phase 1 rewrites the policy (targetRefs in place of
// its selector, its rules as they were, no copy), the waypoint accepts it
// and istiod stops giving it to ztunnel for the pod; in a sidecar-era
// namespace, phase 3 rewrites the original once its pods run no sidecar,
// and deletes the copy of phase 1.
func TestMigrateApplyReplace(t *testing.T) {
	t.Parallel()
	c := context.Background()
	getOnly := map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "reviews"}}, "rules": []any{rule(to(op("methods", "GET")))}}
	rewritten := func(ns string) {
		t.Helper()
		env.WaitForCondition(t, authorizationPolicies, ns, "get-only", "WaypointAccepted", func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue })
		spec, _, _ := unstructured.NestedMap(getObject(t, authorizationPolicies, ns, "get-only").Object, "spec")
		want := map[string]any{"rules": getOnly["rules"], "targetRefs": []any{map[string]any{"group": "", "kind": "Service", "name": "reviews"}}}
		if !equality.Semantic.DeepEqual(spec, want) {
			t.Errorf("get-only rewritten as %v, want %v", spec, want)
		}
		list, err := env.Dynamic.Resource(authorizationPolicies).Namespace(ns).List(c, metav1.ListOptions{})
		if err != nil || len(list.Items) != 1 {
			t.Errorf("%d AuthorizationPolicies in %s (%v), want get-only alone", len(list.Items), ns, err)
		}
		if _, stderr, code := runKube(t, "migrate", "plan", "-n", ns, "--replace"); code != 0 {
			t.Errorf("plan after the migration: exit %d: %s", code, stderr)
		}
	}

	// An ambient namespace: the original can change in phase 1.
	ambient := env.Namespace(t, testenv.AmbientLabels())
	env.Service(t, ambient, "reviews", nil)
	sidecarPod(t, ambient, "reviews-v1", map[string]string{"app": "reviews"}, false)
	env.SetPodIP(t, ambient, "reviews-v1", "10.253.9.3")
	createObject(t, authorizationPolicies, "AuthorizationPolicy", ambient, "get-only", getOnly)
	waitZtunnelPolicies(t, ambient, map[string]bool{"reviews-v1": true}, ambient+"/get-only")
	if stdout, stderr, code := runKube(t, "migrate", "apply", "-n", ambient, "--replace"); code != 0 || !strings.Contains(stdout, "authorizationpolicy "+ambient+"/get-only rewritten") {
		t.Fatalf("migrate apply --replace: exit %d\n%s%s", code, stdout, stderr)
	}
	rewritten(ambient)
	waitZtunnelPolicies(t, ambient, map[string]bool{"reviews-v1": false}, ambient+"/get-only")

	// A sidecar-era namespace: phase 1 copies, phase 3 rewrites.
	sidecars := env.Namespace(t, map[string]string{"istio-injection": "enabled"})
	env.Service(t, sidecars, "reviews", nil)
	sidecarPod(t, sidecars, "reviews-v1", map[string]string{"app": "reviews"}, true)
	createObject(t, authorizationPolicies, "AuthorizationPolicy", sidecars, "get-only", getOnly)
	if stdout, stderr, code := runKube(t, "migrate", "apply", "-n", sidecars, "--replace", "--all-phases"); code != 0 || !strings.Contains(stdout, "get-only-waypoint created") {
		t.Fatalf("migrate apply --replace --all-phases: exit %d\n%s%s", code, stdout, stderr)
	}
	zero := int64(0)
	if err := env.Kube.CoreV1().Pods(sidecars).Delete(c, "reviews-v1", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	sidecarPod(t, sidecars, "reviews-v2", map[string]string{"app": "reviews"}, false)
	if stdout, stderr, code := runKube(t, "migrate", "apply", "-n", sidecars, "--replace"); code != 0 || !strings.Contains(stdout, "authorizationpolicy "+sidecars+"/get-only-waypoint deleted") {
		t.Fatalf("migrate apply --replace, phase 3: exit %d\n%s%s", code, stdout, stderr)
	}
	rewritten(sidecars)
}

// TestMigrateAmidOtherWriters rewrites an original (--replace) and
// deletes one (phase 3) while another writer changes it between the
// tool's read and its write, as istiod does when it writes the policy's
// status: a change to the status or the metadata is kept and the write
// goes on; a change to the spec (a team's new rule) is kept and the write
// refused, with its reason. A write whose answer is lost (a 503 in place
// of the server's answer) is retried and recorded as done, as it is.
func TestMigrateAmidOtherWriters(t *testing.T) {
	t.Parallel()
	c := context.Background()
	getOnly := map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "reviews"}}, "rules": []any{rule(to(op("methods", "GET")))}}
	policies := func(ns string) dynamic.ResourceInterface {
		return env.Dynamic.Resource(authorizationPolicies).Namespace(ns)
	}
	statusAndLabel := func(ap *unstructured.Unstructured) error {
		_ = unstructured.SetNestedSlice(ap.Object, []any{map[string]any{"type": "Other", "status": "True", "reason": "Meddled", "message": "another writer", "lastTransitionTime": "2026-12-03T00:00:00Z"}}, "status", "conditions")
		updated, err := policies(ap.GetNamespace()).UpdateStatus(c, ap, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		updated.SetLabels(map[string]string{"team": "reviews"})
		_, err = policies(ap.GetNamespace()).Update(c, updated, metav1.UpdateOptions{})
		return err
	}
	newRule := func(ap *unstructured.Unstructured) error {
		_ = unstructured.SetNestedSlice(ap.Object, []any{rule(to(op("methods", "GET"))), rule(to(op("methods", "HEAD")))}, "spec", "rules")
		_, err := policies(ap.GetNamespace()).Update(c, ap, metav1.UpdateOptions{})
		return err
	}
	for _, tc := range []struct {
		name string
		// replace rewrites the original (a PUT); else phase 3 deletes it.
		replace bool
		// meddle changes the policy as the other writer does.
		meddle func(ap *unstructured.Unstructured) error
		// written says whether the write must still take.
		written bool
	}{
		{"rewrite after status and a label", true, statusAndLabel, true},
		{"rewrite after a new rule", true, newRule, false},
		{"rewrite whose answer is lost", true, nil, true},
		{"delete after status and a label", false, statusAndLabel, true},
		{"delete after a new rule", false, newRule, false},
		{"delete whose answer is lost", false, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := env.Namespace(t, testenv.AmbientLabels())
			env.Service(t, ns, "reviews", nil)
			sidecarPod(t, ns, "reviews-v1", map[string]string{"app": "reviews"}, false)
			createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, "get-only", getOnly)
			method, action := http.MethodPut, migrate.Rewritten
			if !tc.replace {
				// Phase 1 makes the copy; phase 3 is due next.
				if stdout, stderr, code := runKube(t, "migrate", "apply", "-n", ns); code != 0 || !strings.Contains(stdout, "get-only-waypoint created") {
					t.Fatalf("migrate apply, phase 1: exit %d\n%s%s", code, stdout, stderr)
				}
				method, action = http.MethodDelete, bulk.Deleted
			}
			// The other writer changes the policy once, just before the
			// tool's write of it reaches the server.
			// Without one, the server's answer to the first write is lost.
			var once sync.Once
			var meddled error
			cfg := rest.CopyConfig(env.Config)
			cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
				return roundTripFunc(func(r *http.Request) (*http.Response, error) {
					first := false
					if r.Method == method && strings.HasSuffix(r.URL.Path, "/authorizationpolicies/get-only") {
						once.Do(func() {
							first = true
							if tc.meddle != nil {
								meddled = tc.meddle(getObject(t, authorizationPolicies, ns, "get-only"))
							}
						})
					}
					resp, err := rt.RoundTrip(r)
					if !first || tc.meddle != nil || err != nil {
						return resp, err
					}
					_ = resp.Body.Close()
					lost := `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"ServiceUnavailable","message":"the answer was lost","code":503}`
					return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{"Content-Type": {"application/json"}},
						Body: io.NopCloser(strings.NewReader(lost)), Request: r}, nil
				})
			})
			clients, err := kube.NewClients(cfg)
			if err != nil {
				t.Fatal(err)
			}
			p := migrate.NewPlanner(clients)
			p.Replace = tc.replace
			res, err := p.Apply(c, migrate.ApplyRequest{Namespaces: []string{ns}})
			if err != nil || meddled != nil {
				t.Fatalf("apply: %v; the other writer: %v", err, meddled)
			}
			var rec *bulk.Record
			for i, r := range res.Records {
				if r.Kind == "AuthorizationPolicy" && r.Name == "get-only" {
					rec = &res.Records[i]
				}
			}
			if rec == nil {
				t.Fatalf("no record of get-only in %+v", res.Records)
			}
			after, err := policies(ns).Get(c, "get-only", metav1.GetOptions{})
			switch {
			case tc.written && !tc.replace:
				if !apierrors.IsNotFound(err) || rec.Action != action {
					t.Errorf("record %s %q; get-only read back: %v, want it deleted", rec.Action, rec.Error, err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			spec, _, _ := unstructured.NestedMap(after.Object, "spec")
			if tc.written {
				want := map[string]any{"rules": getOnly["rules"], "targetRefs": []any{map[string]any{"group": "", "kind": "Service", "name": "reviews"}}}
				if !equality.Semantic.DeepEqual(spec, want) || rec.Action != action {
					t.Errorf("record %s %q; get-only is now %v, want %v", rec.Action, rec.Error, spec, want)
				}
				if tc.meddle == nil {
					return
				}
				if after.GetLabels()["team"] != "reviews" {
					t.Errorf("the other writer's label was lost: %v", after.GetLabels())
				}
				if conds, _, _ := unstructured.NestedSlice(after.Object, "status", "conditions"); len(conds) == 0 {
					t.Errorf("the status was lost: %v", after.Object["status"])
				}
				return
			}
			rules, _, _ := unstructured.NestedSlice(after.Object, "spec", "rules")
			if _, selected := spec["selector"]; !selected || len(rules) != 2 || rec.Action != bulk.Failed || !strings.Contains(rec.Error, "spec changed since") {
				t.Errorf("record %s %q; get-only is now %v, want the other writer's two rules and selector, and a failure that says it changed", rec.Action, rec.Error, spec)
			}
		})
	}
}

// checkMigrated judges a migrated namespace by istiod, as the plan promised
// it: each Service of waypoints is WaypointBound to its waypoint and sent to
// ztunnel with it (/debug/ambientz), and no AuthorizationPolicy is left
// whose ZtunnelAccepted says istiod drops HTTP rules (UnsupportedValue).
func checkMigrated(t *testing.T, ns string, waypoints map[string]string) {
	t.Helper()
	c := context.Background()
	for svc, wp := range waypoints {
		waitBound(t, testenv.ServiceResource, ns, svc, ns+"/"+wp)
		if got, err := ambientWaypoint(c, "Service", ns, svc); err != nil || got != waypointHost(ns, wp) {
			t.Errorf("istiod sends ztunnel service %s/%s with waypoint %s (%v), want %s", ns, svc, got, err, waypointHost(ns, wp))
		}
	}
	left, err := env.Dynamic.Resource(authorizationPolicies).Namespace(ns).List(c, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ap := range left.Items {
		for _, cond := range kube.Conditions(&ap) {
			if cond.Type == "ZtunnelAccepted" && cond.Reason == "UnsupportedValue" {
				t.Errorf("after the migration istiod still drops HTTP rules of %s/%s: %s", ns, ap.GetName(), cond.Message)
			}
		}
	}
}
