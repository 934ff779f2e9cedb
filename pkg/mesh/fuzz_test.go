package mesh

import (
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// istiodListener is which listener istiod reads for attachment, written from
// istiod's makeInboundBinding and makeAllowedRoutes
// (pilot/pkg/serviceregistry/ambient/waypoints.go) with strconv, as istiod
// parses the annotation: "" when there is none.
func istiodListener(gw *gatewayv1.Gateway, binding string, has bool) string {
	type inbound struct {
		port  uint32
		proxy bool
	}
	var b *inbound
	if parts := strings.Split(binding, "/"); has && len(parts) <= 2 && (parts[0] == "NONE" || parts[0] == "PROXY") {
		b = &inbound{proxy: parts[0] == "PROXY"}
		if len(parts) == 2 {
			parsed, _ := strconv.ParseUint(parts[1], 10, 32) // istiod logs the error and uses the value
			b.port = uint32(parsed)
		}
	}
	if b != nil {
		for _, l := range gw.Spec.Listeners {
			if (b.port != 0 && l.Port == gatewayv1.PortNumber(b.port)) ||
				(b.port == 0 && b.proxy && l.Protocol == istio.ListenerProtocolProxy) {
				return string(l.Name)
			}
		}
	}
	for _, l := range gw.Spec.Listeners {
		if l.Protocol == "HBONE" && l.Port == 15008 {
			return string(l.Name)
		}
	}
	return ""
}

// FuzzParse feeds Parse the labels, annotation and listeners istiod reads
// on a Gateway and its class: it must never panic, must pick the listener
// and traffic type istiod picks, and what it says about who may attach must
// agree with itself: the selector it prints parses back to the same
// decisions, and the names it lists are let in.
func FuzzParse(f *testing.F) {
	f.Add("service", true, "", false, "PROXY/15088", true, "", false, int32(15088), "istio.io/PROXY", "Selector", "team", "a", "In", "b", "team", "a")
	f.Add("", true, "workload", true, "NONE", true, "PROXY", true, int32(15009), "HBONE", "All", "k", "", "Exists", "", "k", "")
	f.Add("all", false, "all", true, "PROXY", false, "PROXY/", true, int32(15008), "istio.io/PROXY", "Same", "", "", "", "", "", "")
	f.Add("bogus", true, "", false, "PROXY/4294967296", true, "", false, int32(15008), "istio.io/PROXY", "Selector", "kubernetes.io/metadata.name", "x", "NotIn", "y", "kubernetes.io/metadata.name", "y")
	f.Add("", false, "", false, "PROXY/015088/x", true, "NONE/15088", true, int32(15088), "TCP", "Other", "a b", "c", "Gt", "1", "a", "c")
	f.Add("none", true, "service", true, "PROXY/+15088", true, "", false, int32(65535), "istio.io/PROXY", "Selector", "", "", "DoesNotExist", "", "x", "")
	f.Fuzz(func(t *testing.T, gwFor string, gwHasFor bool, classFor string, classHasFor bool,
		binding string, gwHasBinding bool, classBinding string, classHasBinding bool,
		port int32, proto, from, matchKey, matchValue, op, exprValue, nsKey, nsValue string) {
		gw := gateway()
		if gwHasFor {
			gw.Labels[istio.LabelWaypointFor] = gwFor
		}
		if gwHasBinding {
			gw.Annotations[istio.AnnotationInboundBinding] = binding
		}
		sel := &metav1.LabelSelector{}
		if matchKey != "" {
			sel.MatchLabels = map[string]string{matchKey: matchValue}
		}
		if op != "" {
			sel.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: matchKey, Operator: metav1.LabelSelectorOperator(op), Values: strings.Split(exprValue, ",")}}
		}
		fromNs := gatewayv1.FromNamespaces(from)
		ar := &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &fromNs, Selector: sel}}
		// Two more listeners besides "mesh": one the binding may name, and a
		// second HBONE one that must never win over the first.
		listener("bound", port, proto, ar)(gw)
		listener("second", 15008, "HBONE", routes(gatewayv1.NamespacesFromAll, nil))(gw)
		class := &Class{Name: istio.ClassWaypoint, Labels: map[string]string{}, Annotations: map[string]string{}}
		if classHasFor {
			class.Labels[istio.LabelWaypointFor] = classFor
		}
		if classHasBinding {
			class.Annotations[istio.AnnotationInboundBinding] = classBinding
		}

		w := Parse(gw, class)

		wantType, wantFrom := istio.TrafficService, FromDefault
		if classHasFor {
			wantType, wantFrom = istio.TrafficType(classFor), FromClass
		}
		if gwHasFor {
			wantType, wantFrom = istio.TrafficType(gwFor), FromGateway
		}
		if w.TrafficType != wantType || w.TrafficTypeFrom != wantFrom {
			t.Fatalf("traffic type %q from %s, istiod reads %q from %s", w.TrafficType, w.TrafficTypeFrom, wantType, wantFrom)
		}
		b, hasB := binding, gwHasBinding
		if !hasB {
			b, hasB = classBinding, classHasBinding
		}
		if want := istiodListener(gw, b, hasB); w.Listener != want {
			t.Fatalf("binding %q (%v): listener %q, istiod reads %q", b, hasB, w.Listener, want)
		}
		switch w.From {
		case gatewayv1.NamespacesFromAll, gatewayv1.NamespacesFromSame, gatewayv1.NamespacesFromSelector:
		default:
			t.Fatalf("from %q: not one istiod knows", w.From)
		}
		_ = w.ListenerText() + w.StateText() + w.AllowedFrom

		nsLabels := map[string]string{nsKey: nsValue}
		allowed := w.Allows("elsewhere", nsLabels)
		if w.From == gatewayv1.NamespacesFromSame && (allowed || !w.Allows(gw.Namespace, nil)) {
			t.Fatalf("Same lets in %v, its own namespace %v", allowed, w.Allows(gw.Namespace, nil))
		}
		if s := w.Selector(); s != "" {
			parsed, err := labels.Parse(s)
			if err != nil {
				t.Fatalf("selector %q (of %+v) does not parse back: %v", s, sel, err)
			}
			if parsed.Matches(labels.Set(nsLabels)) != allowed {
				t.Fatalf("selector %q says %v for %v, Allows says %v", s, !allowed, nsLabels, allowed)
			}
		}
		if names, ok := w.AllowedNames(); ok {
			for _, n := range names {
				if !w.Allows("elsewhere", map[string]string{istio.LabelNamespaceName: n}) {
					t.Fatalf("AllowedNames lists %q, which is not let in (%+v)", n, sel)
				}
			}
		}
		if ml, ok := w.MatchLabels(); ok && !w.Allows("elsewhere", ml) {
			t.Fatalf("MatchLabels %v are not let in", ml)
		}
	})
}

// FuzzInboundBinding holds the annotation's parser to istiod's: the same
// protocol, the same port, the same values refused.
func FuzzInboundBinding(f *testing.F) {
	for _, s := range []string{"PROXY", "NONE", "PROXY/15088", "PROXY/", "PROXY/x", "PROXY/4294967295", "PROXY/4294967296",
		"PROXY/99999999999999999999", "NONE/1/2", "proxy", "", "/", "PROXY/-1", "PROXY/+1", "PROXY/0015008", "PROXY/1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		proto, port, ok := inboundBinding(v)
		parts := strings.Split(v, "/")
		wantOK := len(parts) <= 2 && (parts[0] == "NONE" || parts[0] == "PROXY")
		if ok != wantOK {
			t.Fatalf("%q: ok %v, istiod %v", v, ok, wantOK)
		}
		if !ok {
			return
		}
		var want uint64
		if len(parts) == 2 {
			want, _ = strconv.ParseUint(parts[1], 10, 32)
		}
		if proto != parts[0] || uint64(port) != want {
			t.Fatalf("%q: %s port %d, istiod %s port %d", v, proto, port, parts[0], want)
		}
	})
}
