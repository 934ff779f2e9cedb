package mesh

import (
	"context"
	"maps"
	"slices"
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

func TestIstioNames(t *testing.T) {
	// The names istiod reads, spelled out: a typo in pkg/istio would
	// otherwise only ever be compared with itself.
	for got, want := range map[string]string{
		istio.LabelWaypointFor:         "istio.io/waypoint-for",
		istio.LabelRev:                 "istio.io/rev",
		istio.AnnotationInboundBinding: "ambient.istio.io/waypoint-inbound-binding",
		istio.ListenerProtocolProxy:    "istio.io/PROXY",
		istio.ListenerProtocol:         "HBONE",
		istio.LabelNamespaceName:       "kubernetes.io/metadata.name",
		istio.ClassWaypoint:            "istio-waypoint",
		FromGateway:                    "gateway",
		FromClass:                      "class",
		FromDefault:                    "default",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	if istio.ListenerPort != 15008 {
		t.Errorf("HBONE port %d", istio.ListenerPort)
	}
}

func TestParseFacts(t *testing.T) {
	gw := gateway(label(istio.LabelRev, "canary"), func(gw *gatewayv1.Gateway) {
		gw.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.1"}, {Value: "fd00::1"}}
		gw.Status.Conditions = []metav1.Condition{
			{Type: "Accepted", Status: metav1.ConditionTrue},
			{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "Pending", Message: "no pod"},
		}
	})
	w := Parse(gw, nil)
	if w.Namespace != "infra" || w.Name != "wp" || w.Key() != "infra/wp" || w.Class != istio.ClassWaypoint || w.Revision != "canary" {
		t.Errorf("identity: %+v", w)
	}
	if len(w.Addresses) != 2 || w.Addresses[0] != "10.0.0.1" || w.Addresses[1] != "fd00::1" || !w.Bound {
		t.Errorf("addresses %v bound %v", w.Addresses, w.Bound)
	}
	if w.Programmed == nil || w.Programmed.Reason != "Pending" {
		t.Fatalf("Programmed %+v", w.Programmed)
	}
	gw.Status.Conditions[1].Reason = "Changed"
	if w.Programmed.Reason != "Pending" {
		t.Error("the Waypoint keeps a copy of the condition, not the Gateway's")
	}
	if !w.IsWaypointClass() || !IsWaypointGateway(gw) {
		t.Error("istio-waypoint is a waypoint class")
	}
	gw.Spec.GatewayClassName = "istio"
	if Parse(gw, nil).IsWaypointClass() || IsWaypointGateway(gw) {
		t.Error("class istio is not a waypoint class")
	}
	gw.Spec.GatewayClassName = istio.ClassAgentgatewayWaypoint
	if !Parse(gw, nil).IsWaypointClass() || !IsWaypointGateway(gw) {
		t.Error("the agentgateway class is a waypoint class")
	}
}

func TestStatusTexts(t *testing.T) {
	addr := func(gw *gatewayv1.Gateway) {
		gw.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.1"}, {Value: "10.0.0.2"}}
	}
	prog := func(s metav1.ConditionStatus) func(*gatewayv1.Gateway) {
		return func(gw *gatewayv1.Gateway) {
			gw.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: s, Reason: "Why", Message: "because"}}
		}
	}
	cases := []struct {
		name                    string
		gw                      *gatewayv1.Gateway
		programmedReason, ready string
		state                   string
	}{
		{"nothing yet", gateway(), "no Programmed condition yet (is istiod running?)", "no Programmed condition yet (is istiod running?)",
			"not bound: no address yet, istiod sends it no traffic; not programmed (no Programmed condition yet (is istiod running?))"},
		{"address, Programmed=False", gateway(addr, prog(metav1.ConditionFalse)), "Programmed=False, reason Why: because", "Programmed=False, reason Why: because",
			"bound: address 10.0.0.1, 10.0.0.2; not programmed (Programmed=False, reason Why: because)"},
		{"Programmed=Unknown", gateway(prog(metav1.ConditionUnknown)), "Programmed=Unknown, reason Why: because", "Programmed=Unknown, reason Why: because",
			"not bound: no address yet, istiod sends it no traffic; not programmed (Programmed=Unknown, reason Why: because)"},
		{"programmed without address", gateway(prog(metav1.ConditionTrue)), "", "Programmed=True but no address yet",
			"not bound: no address yet, istiod sends it no traffic; programmed"},
		{"ready", gateway(addr, prog(metav1.ConditionTrue)), "", "", "bound: address 10.0.0.1, 10.0.0.2; programmed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := Parse(tc.gw, nil)
			if got := w.ProgrammedReason(); got != tc.programmedReason {
				t.Errorf("ProgrammedReason %q", got)
			}
			if got := w.NotReadyReason(); got != tc.ready {
				t.Errorf("NotReadyReason %q", got)
			}
			if got := w.StateText(); got != tc.state {
				t.Errorf("StateText %q", got)
			}
		})
	}
	if got := Parse(gateway(prog(metav1.ConditionUnknown)), nil).ProgrammedText(); got != "Unknown" {
		t.Errorf("ProgrammedText of Unknown: %s", got)
	}
}

func TestUpdateStatus(t *testing.T) {
	old := Parse(gateway(label(istio.LabelWaypointFor, "all"), meshRoutes(routes(gatewayv1.NamespacesFromAll, nil))), nil)
	newer := gateway(func(gw *gatewayv1.Gateway) {
		gw.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.9"}}
		gw.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue}}
	})
	w := old
	w.UpdateStatus(newer)
	if !w.Ready() || len(w.Addresses) != 1 || w.Addresses[0] != "10.0.0.9" || !w.Bound {
		t.Errorf("status not taken: %+v", w)
	}
	if w.TrafficType != "all" || w.AllowedFrom != "All" {
		t.Errorf("UpdateStatus took more than the status: %s %s", w.TrafficType, w.AllowedFrom)
	}
	w.UpdateStatus(gateway())
	if w.Bound || w.Programmed != nil || len(w.Addresses) != 0 {
		t.Errorf("a status that went away: %+v", w)
	}
}

func TestListenerText(t *testing.T) {
	all := routes(gatewayv1.NamespacesFromAll, nil)
	proxyClass := &Class{Name: istio.ClassWaypoint, Annotations: map[string]string{istio.AnnotationInboundBinding: "PROXY/15088"}}
	cases := []struct {
		name  string
		gw    *gatewayv1.Gateway
		class *Class
		want  string
	}{
		{"HBONE", gateway(), nil, "HBONE listener mesh"},
		{"none", gateway(func(gw *gatewayv1.Gateway) { gw.Spec.Listeners = nil }), nil, "no HBONE listener on 15008"},
		{"by the Gateway's binding", gateway(annotate(istio.AnnotationInboundBinding, "PROXY/15088"), listener("proxy", 15088, "TCP", all)), nil,
			"listener proxy (bound by the Gateway's ambient.istio.io/waypoint-inbound-binding=PROXY/15088)"},
		{"by the class's binding", gateway(listener("proxy", 15088, "TCP", all)), proxyClass,
			"listener proxy (bound by GatewayClass istio-waypoint's ambient.istio.io/waypoint-inbound-binding=PROXY/15088)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Parse(tc.gw, tc.class).ListenerText(); got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestInboundBindingPorts(t *testing.T) {
	// The Gateway has an HBONE listener (Same), a PROXY-protocol one
	// (Selector) and one on the bound port (All): which one istiod reads
	// shows in AllowedFrom.
	sel := routes(gatewayv1.NamespacesFromSelector, &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}})
	all := routes(gatewayv1.NamespacesFromAll, nil)
	cases := []struct {
		binding  string
		port     int32
		listener string
		from     string
	}{
		{"PROXY/15080", 15080, "bound", "All"},
		{"PROXY/15090", 15090, "bound", "All"},
		{"PROXY/9", 9, "bound", "All"},
		{"NONE/15088", 15088, "bound", "All"},
		{"PROXY", 15088, "proxy", "Selector(team=a)"},
		{"PROXY/", 15088, "proxy", "Selector(team=a)"},
		{"PROXY/15x88", 15088, "proxy", "Selector(team=a)"},
		{"PROXY/-1", 15088, "proxy", "Selector(team=a)"},
		{"PROXY/4294967295", 15088, "mesh", "Same"},
		{"NONE", 15088, "mesh", "Same"},
		{"NONE/x", 15088, "mesh", "Same"},
		{"PROXY/15088/1", 15088, "mesh", "Same"},
		{"proxy/15088", 15088, "mesh", "Same"},
		{"", 15088, "mesh", "Same"},
	}
	for _, tc := range cases {
		t.Run(tc.binding, func(t *testing.T) {
			gw := gateway(annotate(istio.AnnotationInboundBinding, tc.binding),
				listener("proxy", 15001, istio.ListenerProtocolProxy, sel), listener("bound", tc.port, "TCP", all))
			w := Parse(gw, nil)
			if w.Listener != tc.listener || w.AllowedFrom != tc.from || w.ListenerByBinding != (tc.listener != "mesh") {
				t.Errorf("listener %q (by binding %v) from %s, want %q from %s", w.Listener, w.ListenerByBinding, w.AllowedFrom, tc.listener, tc.from)
			}
			if w.Binding != tc.binding || w.BindingFrom != FromGateway {
				t.Errorf("binding %q from %q", w.Binding, w.BindingFrom)
			}
		})
	}
}

func TestHBONEListenerNeedsPortAndProtocol(t *testing.T) {
	all := routes(gatewayv1.NamespacesFromAll, nil)
	gw := gateway(func(gw *gatewayv1.Gateway) { gw.Spec.Listeners = nil },
		listener("tcp", 15008, "TCP", all), listener("other", 15009, "HBONE", all), listener("real", 15008, "HBONE", all), listener("later", 15008, "HBONE", nil))
	if w := Parse(gw, nil); w.Listener != "real" || w.AllowedFrom != "All" {
		t.Errorf("the first HBONE listener on 15008: %q from %s", w.Listener, w.AllowedFrom)
	}
	gw.Spec.Listeners = gw.Spec.Listeners[:2]
	if w := Parse(gw, nil); w.Listener != "" || w.From != gatewayv1.NamespacesFromSame || w.AllowedFrom != "Same" {
		t.Errorf("no HBONE listener on 15008: %q from %s", w.Listener, w.AllowedFrom)
	}
	// allowedRoutes without namespaces: Same.
	gw = gateway(meshRoutes(&gatewayv1.AllowedRoutes{}))
	if w := Parse(gw, nil); w.Listener != "mesh" || w.AllowedFrom != "Same" || w.Allows("other", nil) {
		t.Errorf("allowedRoutes without namespaces: %q from %s", w.Listener, w.AllowedFrom)
	}
}

func TestSelectorViews(t *testing.T) {
	sel := func(s *metav1.LabelSelector) Waypoint {
		return Parse(gateway(meshRoutes(routes(gatewayv1.NamespacesFromSelector, s))), nil)
	}
	expr := func(key string, op metav1.LabelSelectorOperator, values ...string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	cases := []struct {
		name     string
		w        Waypoint
		names    []string // nil: AllowedNames not ok
		match    map[string]string
		selector string
	}{
		{"names by In, sorted", sel(expr(istio.LabelNamespaceName, metav1.LabelSelectorOpIn, "b", "a")), []string{"a", "b"}, nil, "kubernetes.io/metadata.name in (a,b)"},
		{"name by matchLabels", sel(&metav1.LabelSelector{MatchLabels: map[string]string{istio.LabelNamespaceName: "a"}}), []string{"a"},
			map[string]string{istio.LabelNamespaceName: "a"}, "kubernetes.io/metadata.name=a"},
		{"NotIn names no namespace", sel(expr(istio.LabelNamespaceName, metav1.LabelSelectorOpNotIn, "a")), nil, nil, "kubernetes.io/metadata.name notin (a)"},
		{"Exists names no namespace", sel(expr(istio.LabelNamespaceName, metav1.LabelSelectorOpExists)), nil, nil, "kubernetes.io/metadata.name"},
		{"another key", sel(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}), nil, map[string]string{"team": "a"}, "team=a"},
		{"two requirements", sel(&metav1.LabelSelector{MatchLabels: map[string]string{istio.LabelNamespaceName: "a", "team": "a"}}), nil,
			map[string]string{istio.LabelNamespaceName: "a", "team": "a"}, "kubernetes.io/metadata.name=a,team=a"},
		{"labels and expressions", sel(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists}}}), nil, nil, "team=a,tier"},
		{"empty selector", sel(&metav1.LabelSelector{}), nil, nil, ""},
		{"no selector", sel(nil), nil, nil, ""},
		{"invalid selector", sel(expr("team", "Bogus")), nil, nil, ""},
		{"All", Parse(gateway(meshRoutes(routes(gatewayv1.NamespacesFromAll, &metav1.LabelSelector{MatchLabels: map[string]string{istio.LabelNamespaceName: "a"}}))), nil), nil, nil, ""},
		{"Same", Parse(gateway(meshRoutes(routes(gatewayv1.NamespacesFromSame, &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}))), nil), nil, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			names, ok := tc.w.AllowedNames()
			if ok != (tc.names != nil) || !slices.Equal(names, tc.names) {
				t.Errorf("AllowedNames %v %v, want %v", names, ok, tc.names)
			}
			m, ok := tc.w.MatchLabels()
			if ok != (tc.match != nil) || !maps.Equal(m, tc.match) {
				t.Errorf("MatchLabels %v %v, want %v", m, ok, tc.match)
			}
			if got := tc.w.Selector(); got != tc.selector {
				t.Errorf("Selector %q, want %q", got, tc.selector)
			}
		})
	}
}

func TestSameBinding(t *testing.T) {
	bound := func(gw *gatewayv1.Gateway) {
		gw.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.1"}}
	}
	base := Parse(gateway(bound), nil)
	cases := []struct {
		name  string
		other Waypoint
		same  bool
	}{
		{"itself", base, true},
		{"another address, programmed", Parse(gateway(func(gw *gatewayv1.Gateway) {
			gw.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.2"}}
			gw.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue}}
		}), nil), true},
		{"other traffic type", Parse(gateway(bound, label(istio.LabelWaypointFor, "all")), nil), false},
		{"other from", Parse(gateway(bound, meshRoutes(routes(gatewayv1.NamespacesFromAll, nil))), nil), false},
		{"other selector", Parse(gateway(bound, meshRoutes(routes(gatewayv1.NamespacesFromSelector, &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}))), nil), false},
		{"not bound", Parse(gateway(), nil), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := base.SameBinding(tc.other); got != tc.same {
				t.Errorf("SameBinding %v", got)
			}
			if got := tc.other.SameBinding(base); got != tc.same {
				t.Errorf("SameBinding the other way %v", got)
			}
		})
	}
	a := Parse(gateway(bound, meshRoutes(routes(gatewayv1.NamespacesFromSelector, &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}))), nil)
	b := Parse(gateway(bound, meshRoutes(routes(gatewayv1.NamespacesFromSelector, &metav1.LabelSelector{MatchLabels: map[string]string{"a": "c"}}))), nil)
	if a.SameBinding(b) {
		t.Error("two selectors that differ")
	}
}
