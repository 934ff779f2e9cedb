package migrate

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

func policy(annotations map[string]string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "p", "namespace": "ns"}, "spec": spec}}
	u.SetAnnotations(annotations)
	return u
}

func rules(rs ...map[string]any) []any {
	out := make([]any, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}

func TestUnitPredictZtunnel(t *testing.T) {
	toPorts := func(ports ...any) map[string]any {
		return map[string]any{"to": []any{map[string]any{"operation": map[string]any{"ports": ports, "methods": []any{"GET"}}}}}
	}
	for _, c := range []struct {
		name        string
		annotations map[string]string
		spec        map[string]any
		ok          bool
		effect      ZtunnelEffect
		attrs       []string
	}{
		{name: "targetRefs are not for ztunnel", spec: map[string]any{"targetRefs": []any{map[string]any{"kind": "Service", "name": "a"}}}},
		{name: "no rules", spec: map[string]any{}, ok: true, effect: EffectEnforced},
		{name: "dry-run false is a normal policy", annotations: map[string]string{dryRunAnnotation: "false"}, spec: map[string]any{}, ok: true, effect: EffectEnforced},
		{name: "dry-run that does not parse is a normal policy", annotations: map[string]string{dryRunAnnotation: "yes"}, spec: map[string]any{}, ok: true, effect: EffectEnforced},
		{name: "dry-run", annotations: map[string]string{dryRunAnnotation: "1"}, spec: map[string]any{}, ok: true, effect: EffectDryRun},
		{name: "deny with a port ztunnel keeps", spec: map[string]any{"action": "DENY", "rules": rules(toPorts("80"))}, ok: true, effect: EffectDenyWithoutHTTP, attrs: []string{"methods"}},
		{name: "deny with a port that is no number", spec: map[string]any{"action": "DENY", "rules": rules(toPorts("http"))}, ok: true, effect: EffectDenyNoEffect, attrs: []string{"methods"}},
		{name: "deny with a port out of range", spec: map[string]any{"action": "DENY", "rules": rules(toPorts("70000"))}, ok: true, effect: EffectDenyNoEffect, attrs: []string{"methods"}},
		{name: "deny: an empty rule matches all", spec: map[string]any{"action": "DENY", "rules": rules(toPorts(), map[string]any{})}, ok: true, effect: EffectDenyWithoutHTTP, attrs: []string{"methods"}},
		{name: "deny: a when on a bad address", spec: map[string]any{"action": "DENY", "rules": rules(map[string]any{
			"to":   []any{map[string]any{"operation": map[string]any{"paths": []any{"/"}}}},
			"when": []any{map[string]any{"key": "source.ip", "values": []any{"not-an-ip"}}}})}, ok: true, effect: EffectDenyNoEffect, attrs: []string{"paths"}},
		{name: "allow: attributes sorted, once", spec: map[string]any{"rules": rules(
			map[string]any{"when": []any{map[string]any{"key": "request.headers[x]"}}, "from": []any{map[string]any{"source": map[string]any{"requestPrincipals": []any{"*"}}}}},
			toPorts("1"))}, ok: true, effect: EffectAllowHTTPOmitted, attrs: []string{"methods", "request.headers[x]", "requestPrincipals"}},
		{name: "custom", spec: map[string]any{"action": "CUSTOM"}, ok: true, effect: EffectUnsupportedAction},
	} {
		v, ok := PredictZtunnel(policy(c.annotations, c.spec))
		if ok != c.ok || v.Effect != c.effect || !slices.Equal(v.HTTPAttributes, c.attrs) {
			t.Errorf("%s: got ok=%v %+v, want ok=%v %s %v", c.name, ok, v, c.ok, c.effect, c.attrs)
		}
	}
}

func TestUnitModeOf(t *testing.T) {
	for labels, want := range map[*map[string]string]Mode{
		{"istio-injection": "enabled"}:                                       ModeSidecar,
		{"istio-injection": "disabled", "istio.io/rev": "canary"}:            ModeNone,
		{"istio.io/rev": "canary"}:                                           ModeSidecar,
		{"istio.io/dataplane-mode": "ambient", "istio-injection": "enabled"}: ModeAmbient,
		{}: ModeNone,
	} {
		if got := ModeOf(*labels); got != want {
			t.Errorf("%v: %s, want %s", *labels, got, want)
		}
	}
}

func TestUnitRouteHosts(t *testing.T) {
	w := &world{services: map[string][]corev1.Service{"a": {{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "a"}}}}}
	for host, want := range map[string]bool{"r": true, "r.a": true, "r.a.svc": true, "r.a.svc.cluster.local": true, "r.b": false, "x": false, "r.a.svc.other": false, "*.a.svc.cluster.local": false} {
		if _, ok := w.service(host, "a"); ok != want {
			t.Errorf("%s from namespace a: found %v, want %v", host, ok, want)
		}
	}
}

func TestUnitConvert(t *testing.T) {
	orig := policy(nil, map[string]any{"action": "DENY", "selector": map[string]any{"matchLabels": map[string]any{"app": "a"}}, "rules": []any{map[string]any{}}})
	orig.SetAPIVersion("security.istio.io/v1")
	orig.SetKind("AuthorizationPolicy")
	orig.SetLabels(map[string]string{"team": "x"})
	c := convert(orig, []target{{kind: "Service", name: "a"}, {kind: "Service", name: "b"}})
	spec := c.Object["spec"].(map[string]any)
	if _, ok := spec["selector"]; ok || spec["action"] != "DENY" || len(spec["rules"].([]any)) != 1 || len(spec["targetRefs"].([]any)) != 2 {
		t.Errorf("copy spec %v", spec)
	}
	if _, ok := orig.Object["spec"].(map[string]any)["selector"]; !ok {
		t.Error("convert changed the original")
	}
	if c.GetName() != "p-waypoint" || c.GetNamespace() != "ns" || c.GetLabels()["team"] != "x" || c.GetAnnotations()[AnnotationConvertedFrom] != "AuthorizationPolicy/p" || c.GetKind() != "AuthorizationPolicy" {
		t.Errorf("copy %v", c.Object)
	}
	if n := copyName(strings.Repeat("a", 260)); len(n) != 253 || !strings.HasSuffix(n, copySuffix) {
		t.Errorf("copyName of a long name: %d characters", len(n))
	}
}

func TestUnitConvertRoute(t *testing.T) {
	svcs := map[string]corev1.Service{
		"reviews": {ObjectMeta: metav1.ObjectMeta{Name: "reviews"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 9080}}}},
		"v2":      {ObjectMeta: metav1.ObjectMeta{Name: "v2"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}, {Port: 81}}}},
	}
	vs := func(http ...any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "r", "namespace": "ns"},
			"spec": map[string]any{"hosts": []any{"reviews"}, "http": http}}}
		u.SetKind("VirtualService")
		return u
	}
	dest := func(host string, more ...any) map[string]any {
		d := map[string]any{"destination": map[string]any{"host": host}}
		for i := 0; i+1 < len(more); i += 2 {
			d[more[i].(string)] = more[i+1]
		}
		return d
	}
	route, why := convertRoute(vs(map[string]any{
		"match": []any{map[string]any{"uri": map[string]any{"prefix": "/api"}, "method": map[string]any{"exact": "GET"},
			"headers": map[string]any{"x-user": map[string]any{"exact": "a"}}}},
		"route":   []any{dest("reviews", "weight", int64(90)), dest("v2.ns.svc.cluster.local", "weight", int64(10))},
		"timeout": "5s",
	}), []string{"reviews"}, map[string]corev1.Service{"reviews": svcs["reviews"], "v2": {ObjectMeta: metav1.ObjectMeta{Name: "v2"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}})
	if route == nil {
		t.Fatalf("no conversion: %s", why)
	}
	want := map[string]any{
		"parentRefs": []any{map[string]any{"group": "", "kind": "Service", "name": "reviews"}},
		"rules": []any{map[string]any{
			"matches": []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/api"}, "method": "GET",
				"headers": []any{map[string]any{"name": "x-user", "type": "Exact", "value": "a"}}}},
			"backendRefs": []any{map[string]any{"name": "reviews", "port": int64(9080), "weight": int64(90)}, map[string]any{"name": "v2", "port": int64(80), "weight": int64(10)}},
			"timeouts":    map[string]any{"request": "5s"},
		}},
	}
	if got := route.Object["spec"]; !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if route.GetName() != "r-waypoint" || route.GetAnnotations()[AnnotationConvertedFrom] != "VirtualService/r" || route.GetKind() != "HTTPRoute" {
		t.Errorf("route %v", route.Object)
	}
	for name, c := range map[string]struct {
		http map[string]any
		why  string
	}{
		"fault":        {map[string]any{"route": []any{dest("reviews")}, "fault": map[string]any{}}, "spec.http[0].fault (the Gateway API has no fault injection)"},
		"subset":       {map[string]any{"route": []any{dest("reviews")}}, ""},
		"retries":      {map[string]any{"route": []any{dest("reviews")}, "retries": map[string]any{}}, "spec.http[0].retries (an HTTPRoute's retry is in the Gateway API's experimental channel only, and istiod adds retry conditions of its own to it)"},
		"header regex": {map[string]any{"route": []any{dest("reviews")}, "match": []any{map[string]any{"headers": map[string]any{"h": map[string]any{"prefix": "a"}}}}}, "spec.http[0].match[0].headers[h] (only exact and regex convert)"},
		"other ns":     {map[string]any{"route": []any{dest("reviews.other")}}, `spec.http[0].route[0].destination.host "reviews.other" (not a Service of namespace ns)`},
		"two ports":    {map[string]any{"route": []any{dest("v2")}}, "spec.http[0].route[0].destination.port (unset, and Service v2 has 2 ports)"},
		"fraction":     {map[string]any{"route": []any{dest("reviews")}, "timeout": "1.5s"}, "spec.http[0].timeout 1.5s (a fraction, which the Gateway API's durations do not take)"},
	} {
		if name == "subset" {
			c.http["route"].([]any)[0].(map[string]any)["destination"].(map[string]any)["subset"] = "v1"
			c.why = "spec.http[0].route[0].destination.subset (no per-version Services to send it to)"
		}
		route, why := convertRoute(vs(c.http), []string{"reviews"}, svcs)
		if route != nil || why != c.why {
			t.Errorf("%s: got %v, %q; want %q", name, route != nil, why, c.why)
		}
	}
}

func TestUnitDue(t *testing.T) {
	step := func(phase int, auto bool) Finding { return Finding{Steps: []Step{{Phase: phase, Auto: auto}}} }
	for _, c := range []struct {
		np      NamespacePlan
		phase   int
		waiting string
	}{
		{NamespacePlan{Mode: ModeSidecar, Findings: []Finding{step(3, true), step(1, true), step(2, true)}}, 1, ""},
		{NamespacePlan{Mode: ModeSidecar, Findings: []Finding{step(3, true), step(1, false), step(2, true)}}, 2, ""},
		{NamespacePlan{Mode: ModeSidecar, Findings: []Finding{step(3, true)}}, 3, "the namespace is not in ambient mode"},
		{NamespacePlan{Mode: ModeAmbient, SidecarPods: []string{"a"}, Findings: []Finding{step(3, true)}}, 3, "1 pods still run a sidecar (a); it starts once they are replaced without one"},
		{NamespacePlan{Mode: ModeAmbient, Findings: []Finding{step(3, true)}}, 3, ""},
		{NamespacePlan{Mode: ModeAmbient, Findings: []Finding{step(1, false), step(3, false)}}, 0, ""},
	} {
		if phase, waiting := c.np.Due(); phase != c.phase || waiting != c.waiting {
			t.Errorf("%+v: phase %d %q, want %d %q", c.np, phase, waiting, c.phase, c.waiting)
		}
	}
}

func TestUnitServiceWaypoints(t *testing.T) {
	if n := serviceWaypointName(strings.Repeat("a", 49) + "-b"); len(n) > 63 || strings.Contains(n, "--") || !strings.HasSuffix(n, serviceWaypointSuffix) {
		t.Errorf("the waypoint of a long Service is %q", n)
	}
	svc := func(name string, labels map[string]string) corev1.Service {
		return corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: labels}}
	}
	wp := func(name string, tt istio.TrafficType) mesh.Waypoint {
		return mesh.Waypoint{Namespace: "ns", Name: name, TrafficType: tt}
	}
	w := &world{perService: true, services: map[string][]corev1.Service{"ns": {
		svc("new", nil), svc("reuse", nil), svc("bound", map[string]string{istio.LabelUseWaypoint: "shared"}),
		svc("out", map[string]string{istio.LabelUseWaypoint: istio.NoWaypoint}), svc("gone", map[string]string{istio.LabelUseWaypoint: "missing"}),
		svc("workload", nil),
	}}, waypointOf: map[string]mesh.Waypoint{}}
	for _, x := range []mesh.Waypoint{wp("shared", istio.TrafficService), wp("reuse-svc-waypoint", istio.TrafficAll), wp("workload-svc-waypoint", istio.TrafficWorkload)} {
		w.waypointOf[x.Key()] = x
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}
	for name, want := range map[string]string{
		"new":      "WaypointNeeded auto",
		"reuse":    "ServiceEnrollment auto",
		"bound":    "",
		"out":      "WaypointNeeded",
		"gone":     "WaypointNeeded",
		"workload": "WaypointNeeded",
		"absent":   "",
	} {
		f, ok := w.serviceWaypointFinding(ns, name)
		got := ""
		if ok {
			got = string(f.Code)
			if auto(f, PhaseWaypoints) {
				got += " auto"
			}
		}
		if got != want {
			t.Errorf("service %s: %q, want %q (%+v)", name, got, want, f.Steps)
		}
	}
	// A namespace whose label names a waypoint keeps it for every Service.
	if w.perServiceIn(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: map[string]string{istio.LabelUseWaypoint: "shared"}}}) || !w.perServiceIn(ns) {
		t.Error("perServiceIn does not follow the namespace's label")
	}
}

func TestUnitNarrowStep(t *testing.T) {
	ap := func(name string, sel map[string]any, annotations map[string]string) unstructured.Unstructured {
		u := unstructured.Unstructured{Object: map[string]any{"kind": kindAuthorizationPolicy, "metadata": map[string]any{"name": name, "namespace": "ns"},
			"spec": map[string]any{"selector": map[string]any{"matchLabels": sel}}}}
		u.SetAnnotations(annotations)
		return u
	}
	w := &world{root: "istio-system", objects: map[string]map[string][]unstructured.Unstructured{kindAuthorizationPolicy: {"ns": {
		ap("planned", map[string]any{"app": "a"}, nil),
		ap("copied", map[string]any{"app": "a"}, nil),
		ap("copied-waypoint", nil, map[string]string{AnnotationConvertedFrom: "AuthorizationPolicy/copied"}),
		ap("no-copy", map[string]any{"app": "a"}, nil),
		ap("narrowed", map[string]any{"app": "a", LabelTLSMode: "istio"}, nil),
		ap("own-mode", map[string]any{LabelTLSMode: "disabled"}, nil),
	}}}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}
	allow := &ZtunnelVerdict{Effect: EffectAllowHTTPOmitted}
	for _, c := range []struct {
		name    string
		verdict *ZtunnelVerdict
		copy    bool
		want    bool
	}{
		{"planned", allow, true, true},
		{"planned", &ZtunnelVerdict{Effect: EffectDenyWithoutHTTP}, true, true},
		{"planned", &ZtunnelVerdict{Effect: EffectDenyNoEffect}, true, false},
		{"planned", nil, true, false},
		{"copied", allow, false, true},
		{"no-copy", allow, false, false},
		{"narrowed", allow, true, false},
		{"own-mode", allow, true, false},
	} {
		f := &Finding{Object: kube.Ref{Kind: kindAuthorizationPolicy, Namespace: "ns", Name: c.name}, Ztunnel: c.verdict}
		if c.copy {
			f.Copy = &unstructured.Unstructured{}
		}
		if _, got := w.narrowStep(ns, f); got != c.want {
			t.Errorf("%s %+v copy=%v: narrow %v, want %v", c.name, c.verdict, c.copy, got, c.want)
		}
	}
}
