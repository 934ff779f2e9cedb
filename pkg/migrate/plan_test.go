package migrate

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
