package mesh

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

func gateway(mods ...func(*gatewayv1.Gateway)) *gatewayv1.Gateway {
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "infra", Name: "wp", Labels: map[string]string{}, Annotations: map[string]string{}},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: istio.ClassWaypoint, Listeners: []gatewayv1.Listener{
			{Name: "mesh", Port: 15008, Protocol: "HBONE"},
		}},
	}
	for _, m := range mods {
		m(gw)
	}
	return gw
}

func label(k, v string) func(*gatewayv1.Gateway) {
	return func(gw *gatewayv1.Gateway) { gw.Labels[k] = v }
}

func annotate(k, v string) func(*gatewayv1.Gateway) {
	return func(gw *gatewayv1.Gateway) { gw.Annotations[k] = v }
}

func routes(from gatewayv1.FromNamespaces, sel *metav1.LabelSelector) *gatewayv1.AllowedRoutes {
	return &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from, Selector: sel}}
}

func listener(name string, port int32, proto string, ar *gatewayv1.AllowedRoutes) func(*gatewayv1.Gateway) {
	return func(gw *gatewayv1.Gateway) {
		gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{Name: gatewayv1.SectionName(name), Port: gatewayv1.PortNumber(port), Protocol: gatewayv1.ProtocolType(proto), AllowedRoutes: ar})
	}
}

func meshRoutes(ar *gatewayv1.AllowedRoutes) func(*gatewayv1.Gateway) {
	return func(gw *gatewayv1.Gateway) { gw.Spec.Listeners[0].AllowedRoutes = ar }
}

func TestTrafficType(t *testing.T) {
	classWith := func(v string) *Class {
		return &Class{Name: istio.ClassWaypoint, Labels: map[string]string{istio.LabelWaypointFor: v}}
	}
	cases := []struct {
		name     string
		gw       *gatewayv1.Gateway
		class    *Class
		want     istio.TrafficType
		wantFrom string
	}{
		{"default service", gateway(), nil, "service", FromDefault},
		{"class without the label", gateway(), &Class{Name: istio.ClassWaypoint}, "service", FromDefault},
		{"class label", gateway(), classWith("all"), "all", FromClass},
		{"gateway label wins over the class's", gateway(label(istio.LabelWaypointFor, "workload")), classWith("all"), "workload", FromGateway},
		{"empty gateway label taken literally", gateway(label(istio.LabelWaypointFor, "")), classWith("all"), "", FromGateway},
		{"empty class label taken literally", gateway(), classWith(""), "", FromClass},
		{"unknown value kept", gateway(label(istio.LabelWaypointFor, "Service")), nil, "Service", FromGateway},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := Parse(tc.gw, tc.class)
			if w.TrafficType != tc.want || w.TrafficTypeFrom != tc.wantFrom {
				t.Errorf("got %q from %s, want %q from %s", w.TrafficType, w.TrafficTypeFrom, tc.want, tc.wantFrom)
			}
		})
	}
}

func TestBoundAndProgrammed(t *testing.T) {
	addr := func(gw *gatewayv1.Gateway) {
		gw.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.1"}}
	}
	prog := func(s metav1.ConditionStatus) func(*gatewayv1.Gateway) {
		return func(gw *gatewayv1.Gateway) {
			gw.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: s, Reason: "R"}}
		}
	}
	cases := []struct {
		name                   string
		gw                     *gatewayv1.Gateway
		bound, programmed, rdy bool
		text                   string
	}{
		{"nothing yet", gateway(), false, false, false, "Unknown"},
		{"address without Programmed: bound", gateway(addr), true, false, false, "Unknown"},
		{"address, Programmed=False: bound, not ready", gateway(addr, prog(metav1.ConditionFalse)), true, false, false, "False"},
		{"programmed without address: not bound", gateway(prog(metav1.ConditionTrue)), false, true, false, "True"},
		{"both", gateway(addr, prog(metav1.ConditionTrue)), true, true, true, "True"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := Parse(tc.gw, nil)
			if w.Bound != tc.bound || w.IsProgrammed() != tc.programmed || w.Ready() != tc.rdy || w.ProgrammedText() != tc.text {
				t.Errorf("bound %v programmed %v ready %v text %s", w.Bound, w.IsProgrammed(), w.Ready(), w.ProgrammedText())
			}
			if (w.ProgrammedReason() == "") != tc.programmed {
				t.Errorf("ProgrammedReason %q", w.ProgrammedReason())
			}
		})
	}
}

func TestBoundListener(t *testing.T) {
	all := routes(gatewayv1.NamespacesFromAll, nil)
	names := routes(gatewayv1.NamespacesFromSelector, &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: istio.LabelNamespaceName, Operator: metav1.LabelSelectorOpIn, Values: []string{"b", "a"}}}})
	cases := []struct {
		name      string
		gw        *gatewayv1.Gateway
		class     *Class
		listener  string
		byBinding bool
		from      string
	}{
		{"HBONE listener, from unset", gateway(), nil, "mesh", false, "Same"},
		{"HBONE listener, All", gateway(meshRoutes(all)), nil, "mesh", false, "All"},
		{"no HBONE listener", gateway(func(gw *gatewayv1.Gateway) { gw.Spec.Listeners[0].Port = 15009 }), nil, "", false, "Same"},
		{"namespaces without from", gateway(meshRoutes(&gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{}})), nil, "mesh", false, "Same"},
		{"binding by port", gateway(annotate(istio.AnnotationInboundBinding, "PROXY/15088"), listener("proxy", 15088, "TCP", all)), nil, "proxy", true, "All"},
		{"binding by PROXY protocol", gateway(annotate(istio.AnnotationInboundBinding, "PROXY"), listener("p", 15001, istio.ListenerProtocolProxy, names)), nil, "p", true, "Selector(kubernetes.io/metadata.name in (a,b))"},
		{"NONE without port binds nothing: HBONE", gateway(annotate(istio.AnnotationInboundBinding, "NONE"), meshRoutes(all), listener("p", 15001, istio.ListenerProtocolProxy, names)), nil, "mesh", false, "All"},
		{"bad protocol: HBONE", gateway(annotate(istio.AnnotationInboundBinding, "HTTP/15088"), listener("proxy", 15088, "TCP", all)), nil, "mesh", false, "Same"},
		{"bound port missing: HBONE", gateway(annotate(istio.AnnotationInboundBinding, "PROXY/1"), meshRoutes(all)), nil, "mesh", false, "All"},
		{"class annotation", gateway(listener("proxy", 15088, "TCP", all)),
			&Class{Name: istio.ClassWaypoint, Annotations: map[string]string{istio.AnnotationInboundBinding: "PROXY/15088"}}, "proxy", true, "All"},
		{"gateway annotation wins over the class's, even empty", gateway(annotate(istio.AnnotationInboundBinding, ""), listener("proxy", 15088, "TCP", all)),
			&Class{Name: istio.ClassWaypoint, Annotations: map[string]string{istio.AnnotationInboundBinding: "PROXY/15088"}}, "mesh", false, "Same"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := Parse(tc.gw, tc.class)
			if w.Listener != tc.listener || w.ListenerByBinding != tc.byBinding || w.AllowedFrom != tc.from {
				t.Errorf("listener %q byBinding %v from %q", w.Listener, w.ListenerByBinding, w.AllowedFrom)
			}
			if w.ListenerText() == "" {
				t.Error("no ListenerText")
			}
		})
	}
}

func TestAllows(t *testing.T) {
	sel := func(s *metav1.LabelSelector) *gatewayv1.Gateway {
		return gateway(meshRoutes(routes(gatewayv1.NamespacesFromSelector, s)))
	}
	team := map[string]string{"team": "a", istio.LabelNamespaceName: "app"}
	cases := []struct {
		name    string
		gw      *gatewayv1.Gateway
		ns      string
		labels  map[string]string
		allowed bool
		text    string
	}{
		{"same namespace", gateway(), "infra", nil, true, "Same"},
		{"other namespace, Same", gateway(), "app", team, false, "Same"},
		{"All", gateway(meshRoutes(routes(gatewayv1.NamespacesFromAll, nil))), "app", nil, true, "All"},
		{"Selector matches", sel(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}), "app", team, true, "Selector(team=a)"},
		{"Selector does not match", sel(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}), "app", team, false, "Selector(team=b)"},
		{"Selector matches not even its own namespace", sel(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}), "infra", nil, false, "Selector(team=b)"},
		{"no selector matches nothing", sel(nil), "app", team, false, "Selector(<none>)"},
		{"empty selector matches everything", sel(&metav1.LabelSelector{}), "app", team, true, "Selector(<everything>)"},
		{"invalid selector matches nothing", sel(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Bogus"}}}), "app", team, false, "Selector(<invalid>)"},
		{"unknown from is Same", gateway(meshRoutes(routes("Bogus", nil))), "app", team, false, "Same"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := Parse(tc.gw, nil)
			if got := w.Allows(tc.ns, tc.labels); got != tc.allowed || w.AllowedFrom != tc.text {
				t.Errorf("Allows %v, AllowedFrom %q", got, w.AllowedFrom)
			}
		})
	}
}

func TestAllowedNamesAndMatchLabels(t *testing.T) {
	w := Parse(gateway(meshRoutes(routes(gatewayv1.NamespacesFromSelector, &metav1.LabelSelector{MatchLabels: map[string]string{istio.LabelNamespaceName: "a"}}))), nil)
	if names, ok := w.AllowedNames(); !ok || len(names) != 1 || names[0] != "a" {
		t.Errorf("AllowedNames %v %v", names, ok)
	}
	if l, ok := w.MatchLabels(); !ok || l[istio.LabelNamespaceName] != "a" {
		t.Errorf("MatchLabels %v %v", l, ok)
	}
	w = Parse(gateway(meshRoutes(routes(gatewayv1.NamespacesFromSelector, &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}))), nil)
	if _, ok := w.AllowedNames(); ok {
		t.Error("a team selector names no namespace")
	}
	if w.Selector() != "team=a" {
		t.Errorf("Selector %q", w.Selector())
	}
}

func TestStaticClasses(t *testing.T) {
	c := StaticClasses(&Class{Name: istio.ClassWaypoint, Labels: map[string]string{istio.LabelWaypointFor: "all"}})
	if w := c.Parse(context.Background(), gateway()); w.TrafficType != "all" {
		t.Errorf("got %s", w.TrafficType)
	}
	if c.Get(context.Background(), "other") != nil {
		t.Error("unknown class")
	}
}

func TestVisibility(t *testing.T) {
	v, err := ParseVisibility(`
defaultConfig: {}
serviceEntryVisibility:
  defaultVisibility: NAMESPACE
  policies:
  - visibility: PUBLIC
    matchingRules:
    - namespaceSelector:
        matchLabels: {shared: "true"}
  - visibility: NONE
    matchingRules:
    - namespaceSelector:
        matchLabels: {hidden: "true"}
    - {}
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"shared": "true"}, VisibilityPublic},
		{map[string]string{"hidden": "true"}, VisibilityNamespace}, // a rule without a matcher never matches
		{nil, VisibilityNamespace},
	} {
		if got := v.For(tc.labels); got != tc.want {
			t.Errorf("%v: got %s, want %s", tc.labels, got, tc.want)
		}
	}
	none, _ := ParseVisibility("defaultConfig: {}\n")
	if none.Configured || none.For(nil) != VisibilityPublic {
		t.Error("no setting: everything PUBLIC")
	}
}
