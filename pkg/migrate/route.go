package migrate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// The fields of a VirtualService's HTTP route, and of its matches, that an
// HTTPRoute of the Gateway API's standard channel expresses one-to-one.
// Any other field set (fault, mirror, retries, rewrite, corsPolicy,
// headers, redirect, delegate, a match on the scheme, the authority, the
// port or the source...) leaves the VirtualService without an exact
// conversion, and the plan names that field.
var (
	routeFields = []string{"name", "match", "route", "timeout"}
	matchFields = []string{"name", "uri", "headers", "method", "queryParams"}
)

// routeFieldWhy says, for some fields of a route, why no HTTPRoute of the
// standard channel says the same.
var routeFieldWhy = map[string]string{
	"retries": " (an HTTPRoute's retry is in the Gateway API's experimental channel only, and istiod adds retry conditions of its own to it)",
	"fault":   " (the Gateway API has no fault injection)",
}

// convertRoute makes the HTTPRoute that does what a VirtualService of the
// mesh gateway does for the Services of its own namespace that its hosts
// name (services): the same matches, backends and weights, and timeouts,
// with those Services as parents. why says what prevents an exact
// conversion when route is nil.
func convertRoute(vs *unstructured.Unstructured, services []string, svcs map[string]corev1.Service) (route *unstructured.Unstructured, why string) {
	spec, _, _ := unstructured.NestedMap(vs.Object, "spec")
	for _, f := range []string{"tcp", "tls"} {
		if _, ok := spec[f]; ok {
			return nil, "spec." + f + " (an HTTPRoute routes HTTP only)"
		}
	}
	var rules []any
	for i, r := range sliceOf(spec["http"]) {
		rule, why := convertHTTPRoute(r, vs.GetNamespace(), svcs)
		if why != "" {
			return nil, fmt.Sprintf("spec.http[%d].%s", i, why)
		}
		rules = append(rules, rule)
	}
	if len(rules) == 0 {
		return nil, "spec.http (it has no HTTP route)"
	}
	parents := make([]any, len(services))
	for i, s := range services {
		parents[i] = map[string]any{"group": "", "kind": "Service", "name": s}
	}
	labels := maps.Clone(vs.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[render.LabelManagedBy] = render.ManagedByValue
	route = &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gatewayGroup + "/v1",
		"kind":       "HTTPRoute",
		"spec":       map[string]any{"parentRefs": parents, "rules": rules},
	}}
	route.SetNamespace(vs.GetNamespace())
	route.SetName(copyName(vs.GetName()))
	route.SetLabels(labels)
	route.SetAnnotations(map[string]string{AnnotationConvertedFrom: "VirtualService/" + vs.GetName()})
	return route, ""
}

// convertHTTPRoute converts one HTTP route of a VirtualService into a rule
// of an HTTPRoute; why names the first field it cannot express.
func convertHTTPRoute(r map[string]any, ns string, svcs map[string]corev1.Service) (rule map[string]any, why string) {
	if f := extraField(r, routeFields); f != "" {
		return nil, f + routeFieldWhy[f]
	}
	rule = map[string]any{}
	var matches []any
	for i, m := range sliceOf(r["match"]) {
		match, why := convertMatch(m)
		if why != "" {
			return nil, fmt.Sprintf("match[%d].%s", i, why)
		}
		matches = append(matches, match)
	}
	if len(matches) > 0 {
		rule["matches"] = matches
	}
	var backends []any
	for i, d := range sliceOf(r["route"]) {
		dest, _ := d["destination"].(map[string]any)
		if f := extraField(d, []string{"destination", "weight"}); f != "" {
			return nil, fmt.Sprintf("route[%d].%s", i, f)
		}
		if f := extraField(dest, []string{"host", "port"}); f != "" {
			return nil, fmt.Sprintf("route[%d].destination.%s (no per-version Services to send it to)", i, f)
		}
		host, _ := dest["host"].(string)
		name, ok := localService(host, ns, svcs)
		if !ok {
			return nil, fmt.Sprintf("route[%d].destination.host %q (not a Service of namespace %s)", i, host, ns)
		}
		backend := map[string]any{"name": name}
		if port, ok := dest["port"].(map[string]any); ok {
			number, ok := port["number"].(int64)
			if !ok {
				return nil, fmt.Sprintf("route[%d].destination.port (a port given by name)", i)
			}
			backend["port"] = number
		} else if svc := svcs[name]; len(svc.Spec.Ports) == 1 {
			backend["port"] = int64(svc.Spec.Ports[0].Port)
		} else {
			return nil, fmt.Sprintf("route[%d].destination.port (unset, and Service %s has %d ports)", i, name, len(svc.Spec.Ports))
		}
		if w, ok := d["weight"].(int64); ok {
			backend["weight"] = w
		}
		backends = append(backends, backend)
	}
	if len(backends) == 0 {
		return nil, "route (no destination)"
	}
	rule["backendRefs"] = backends
	if t, ok := r["timeout"].(string); ok {
		if strings.Contains(t, ".") {
			return nil, "timeout " + t + " (a fraction, which the Gateway API's durations do not take)"
		}
		rule["timeouts"] = map[string]any{"request": t}
	}
	return rule, ""
}

// convertMatch converts a match of a VirtualService's HTTP route.
func convertMatch(m map[string]any) (map[string]any, string) {
	if f := extraField(m, matchFields); f != "" {
		return nil, f
	}
	out := map[string]any{}
	if uri, ok := m["uri"].(map[string]any); ok {
		typ, value, ok := stringMatch(uri, map[string]string{"exact": "Exact", "prefix": "PathPrefix", "regex": "RegularExpression"})
		if !ok {
			return nil, "uri"
		}
		out["path"] = map[string]any{"type": typ, "value": value}
	}
	if method, ok := m["method"].(map[string]any); ok {
		_, value, ok := stringMatch(method, map[string]string{"exact": "Exact"})
		if !ok {
			return nil, "method (only an exact method converts)"
		}
		out["method"] = value
	}
	for _, field := range []struct{ vs, route string }{{"headers", "headers"}, {"queryParams", "queryParams"}} {
		values, ok := m[field.vs].(map[string]any)
		if !ok {
			continue
		}
		var list []any
		for _, name := range slices.Sorted(maps.Keys(values)) {
			sm, _ := values[name].(map[string]any)
			typ, value, ok := stringMatch(sm, map[string]string{"exact": "Exact", "regex": "RegularExpression"})
			if !ok {
				return nil, fmt.Sprintf("%s[%s] (only exact and regex convert)", field.vs, name)
			}
			list = append(list, map[string]any{"name": name, "type": typ, "value": value})
		}
		out[field.route] = list
	}
	return out, ""
}

// stringMatch reads Istio's StringMatch (one of exact, prefix, regex) as
// the Gateway API type its kind maps to; ok is false for a kind types
// does not have.
func stringMatch(sm map[string]any, types map[string]string) (typ, value string, ok bool) {
	if len(sm) != 1 {
		return "", "", false
	}
	for k, v := range sm {
		typ, ok = types[k]
		value, _ = v.(string)
	}
	return typ, value, ok
}

// extraField is the first field of m, in name order, that is not one of
// known; "" when there is none.
func extraField(m map[string]any, known []string) string {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(known, k) {
			return k
		}
	}
	return ""
}

// localService is the Service of namespace ns that host names: a short
// name, name.ns, name.ns.svc or the cluster name; ok is false for a host of
// another namespace or none.
func localService(host, ns string, svcs map[string]corev1.Service) (string, bool) {
	name, svcNs, ok := serviceHost(host, ns)
	if !ok || svcNs != ns {
		return "", false
	}
	_, ok = svcs[name]
	return name, ok
}
