package enroll

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

func bindingTo(value string, l gatewayv1.Listener) func(*gatewayv1.Gateway) {
	return func(g *gatewayv1.Gateway) {
		if g.Annotations == nil {
			g.Annotations = map[string]string{}
		}
		g.Annotations[istio.AnnotationInboundBinding] = value
		g.Spec.Listeners = append(g.Spec.Listeners, l)
	}
}

func proxyListener(from gatewayv1.FromNamespaces) gatewayv1.Listener {
	return gatewayv1.Listener{Name: "proxy", Port: 15088, Protocol: "TCP",
		AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}}}
}

func withAddressOnly(g *gatewayv1.Gateway) {
	g.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "Pending", Message: "no ready pod"}}
}

func visibility(t *testing.T, yaml string) *mesh.Visibility {
	v, err := mesh.ParseVisibility(yaml)
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

// istiodRuleCases are the rules read in istiod's source
// (pilot/pkg/serviceregistry/ambient/waypoints.go, services.go,
// workloads.go) that the first version of the tool got wrong.
func istiodRuleCases() []resolveCase {
	return []resolveCase{
		// Bound, not programmed.
		{rule: "bound: an address with Programmed=False is enough for istiod",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: use("w"), Waypoints: wps(gw("default", "w", withAddressOnly))},
			reason: ReasonAccepted, uses: true, waypoint: "default/w", source: SourceOwn, step: "though it is not programmed"},
		{rule: "bound: an address and no Programmed condition at all",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: use("w"), Waypoints: wps(gw("default", "w", func(g *gatewayv1.Gateway) { g.Status.Conditions = nil }))},
			reason: ReasonAccepted, uses: true, waypoint: "default/w", source: SourceOwn},

		// Empty labels taken literally.
		{rule: "empty: istio.io/use-waypoint=\"\" on the service names namespace/ and istiod reports it not ready",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: use(""), NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint"))},
			reason: ReasonNotReady, problem: true, waypoint: "default/", source: SourceOwn, step: "not replaced by the namespace's"},
		{rule: "empty: istio.io/use-waypoint=\"\" on the namespace names namespace/",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "s", NamespaceLabels: use("")},
			reason: ReasonNotReady, problem: true, waypoint: "default/", source: SourceNamespace},
		{rule: "empty: use-waypoint-namespace=\"\" names a waypoint in no namespace",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: useIn("w", ""), Waypoints: wps(gw("default", "w"))},
			reason: ReasonNotReady, problem: true, waypoint: "/w", source: SourceOwn},
		{rule: "empty: use-waypoint-namespace is read from the namespace's labels, not the service's",
			in: ResolveInput{Kind: KindService, Namespace: "app", Name: "s", Labels: map[string]string{istio.LabelUseWaypointNamespace: "infra"},
				NamespaceLabels: use("w"), Waypoints: wps(gw("app", "w"), gw("infra", "w", allowedFrom(gatewayv1.NamespacesFromAll, nil)))},
			reason: ReasonAccepted, uses: true, waypoint: "app/w", source: SourceNamespace},
		{rule: "empty: an empty waypoint-for label serves nothing",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: use("w"), Waypoints: wps(gw("default", "w", forType("")))},
			reason: ReasonUnsupportedTrafficType, problem: true, waypoint: "default/w", source: SourceOwn, step: `traffic type "" (`},
		{rule: "empty: an empty waypoint-for label on the Gateway overrides the class's all",
			in: ResolveInput{Kind: KindServiceEntry, Namespace: "default", Name: "se", Labels: use("w"),
				Waypoints: wpsClass(map[string]string{istio.LabelWaypointFor: "all"}, gw("default", "w", forType("")))},
			reason: ReasonUnsupportedTrafficType, problem: true, waypoint: "default/w", source: SourceOwn},
		{rule: "empty: an empty class label serves nothing when the Gateway has none",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: use("w"), Waypoints: wpsClass(map[string]string{istio.LabelWaypointFor: ""}, gw("default", "w"))},
			reason: ReasonUnsupportedTrafficType, problem: true, waypoint: "default/w", source: SourceOwn, step: "GatewayClass istio-waypoint"},
		{rule: "empty: a workload named on an empty-type waypoint is an error",
			in:     ResolveInput{Kind: KindWorkloadEntry, Namespace: "default", Name: "we", Labels: use("w"), Waypoints: wps(gw("default", "w", forType("")))},
			reason: ReasonUnsupportedTrafficType, problem: true, waypoint: "default/w", source: SourceOwn},

		// Objects istiod leaves alone.
		{rule: "left alone: an ExternalName service in an enrolled namespace",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "ext", ExternalName: true, NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint"))},
			reason: ReasonExternalName},
		{rule: "left alone: an east-west gateway's service",
			in: ResolveInput{Kind: KindService, Namespace: "default", Name: "eastwest", Labels: map[string]string{LabelGatewayManaged: istio.ManagedEastWestController},
				NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint"))},
			reason: ReasonIsEastWestGateway},
		{rule: "left alone: a ServiceEntry of a waypoint",
			in: ResolveInput{Kind: KindServiceEntry, Namespace: "default", Name: "se", Labels: map[string]string{LabelGatewayManaged: ManagedMeshController},
				NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint"))},
			reason: ReasonIsWaypoint},
		{rule: "gateway-name: a pod naming a Gateway that does not exist is an ordinary pod",
			in: ResolveInput{Kind: KindPod, Namespace: "default", Name: "p", Labels: map[string]string{LabelGatewayName: "gone"},
				NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint", forType("workload")))},
			reason: ReasonAccepted, uses: true, waypoint: "default/waypoint", source: SourceNamespace, step: "ordinary pod"},
		{rule: "gateway-name: a pod naming a Gateway without an address is an ordinary pod",
			in: ResolveInput{Kind: KindPod, Namespace: "default", Name: "p", Labels: map[string]string{LabelGatewayName: "w2"},
				NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint", forType("workload")), gw("default", "w2", noAddress))},
			reason: ReasonAccepted, uses: true, waypoint: "default/waypoint", source: SourceNamespace},
		{rule: "gateway-name: a WorkloadEntry that is an instance of a bound waypoint",
			in: ResolveInput{Kind: KindWorkloadEntry, Namespace: "default", Name: "we", Labels: with(use("w"), LabelGatewayName, "waypoint"),
				Waypoints: wps(gw("default", "waypoint"), gw("default", "w", forType("all")))},
			reason: ReasonIsWaypoint},

		// WorkloadEntries follow the workload rules.
		{rule: "WorkloadEntry: inherits a workload waypoint",
			in:     ResolveInput{Kind: KindWorkloadEntry, Namespace: "default", Name: "we", NamespaceLabels: use("w"), Waypoints: wps(gw("default", "w", forType("workload")))},
			reason: ReasonAccepted, uses: true, waypoint: "default/w", source: SourceNamespace},
		{rule: "WorkloadEntry: a service waypoint inherited from the namespace does not apply, silently",
			in:     ResolveInput{Kind: KindWorkloadEntry, Namespace: "default", Name: "we", NamespaceLabels: use("w"), Waypoints: wps(gw("default", "w"))},
			reason: ReasonNoWaypoint, waypoint: "default/w", source: SourceNamespace},
		{rule: "WorkloadEntry: a missing waypoint inherited from the namespace is not ready",
			in:     ResolveInput{Kind: KindWorkloadEntry, Namespace: "default", Name: "we", NamespaceLabels: use("w")},
			reason: ReasonNotReady, problem: true, waypoint: "default/w", source: SourceNamespace},

		// The bound listener.
		{rule: "binding: the listener the inbound binding names decides, not the HBONE one",
			in: ResolveInput{Kind: KindService, Namespace: "app", Name: "s", Labels: useIn("w", "infra"),
				Waypoints: wps(gw("infra", "w", bindingTo("PROXY/15088", proxyListener(gatewayv1.NamespacesFromAll))))},
			reason: ReasonAccepted, uses: true, waypoint: "infra/w", source: SourceOwn, step: "listener proxy (bound by the Gateway's"},
		{rule: "binding: the bound listener can deny what the HBONE listener allows",
			in: ResolveInput{Kind: KindService, Namespace: "app", Name: "s", Labels: useIn("w", "infra"),
				Waypoints: wps(gw("infra", "w", allowedFrom(gatewayv1.NamespacesFromAll, nil), bindingTo("PROXY/15088", proxyListener(gatewayv1.NamespacesFromSame))))},
			reason: ReasonAttachmentDenied, problem: true, waypoint: "infra/w", source: SourceOwn},
		{rule: "binding: an annotation that binds no listener falls back to the HBONE listener",
			in: ResolveInput{Kind: KindService, Namespace: "app", Name: "s", Labels: useIn("w", "infra"),
				Waypoints: wps(gw("infra", "w", allowedFrom(gatewayv1.NamespacesFromAll, nil), bindingTo("NONE", proxyListener(gatewayv1.NamespacesFromSame))))},
			reason: ReasonAccepted, uses: true, waypoint: "infra/w", source: SourceOwn, step: "HBONE listener mesh"},
	}
}

func TestResolveServiceEntryVisibility(t *testing.T) {
	namespaceOnly := visibility(t, "serviceEntryVisibility:\n  defaultVisibility: NAMESPACE\n  policies:\n  - visibility: PUBLIC\n    matchingRules:\n    - namespaceSelector: {matchLabels: {shared: \"true\"}}\n")
	hidden := visibility(t, "serviceEntryVisibility:\n  defaultVisibility: NONE\n")
	cross := func(nsLabels map[string]string, v *mesh.Visibility) ResolveInput {
		return ResolveInput{Kind: KindServiceEntry, Namespace: "app", Name: "se", Labels: useIn("egress", "infra"), NamespaceLabels: nsLabels,
			Waypoints: wps(gw("infra", "egress", allowedFrom(gatewayv1.NamespacesFromAll, nil))), Visibility: v}
	}
	cases := []struct {
		name   string
		in     ResolveInput
		reason string
	}{
		{"no setting: PUBLIC, cross-namespace is fine", cross(nil, &mesh.Visibility{}), ReasonAccepted},
		{"mesh config unreadable: taken as PUBLIC", cross(nil, nil), ReasonAccepted},
		{"NAMESPACE: no waypoint in another namespace", cross(nil, namespaceOnly), ReasonCrossNamespaceForbidden},
		{"a policy makes the namespace PUBLIC", cross(map[string]string{"shared": "true"}, namespaceOnly), ReasonAccepted},
		{"NAMESPACE: a waypoint in the same namespace is fine",
			ResolveInput{Kind: KindServiceEntry, Namespace: "app", Name: "se", Labels: use("w"), Waypoints: wps(gw("app", "w")), Visibility: namespaceOnly}, ReasonAccepted},
		{"NONE: istiod configures nothing", cross(nil, hidden), ReasonNotVisible},
		{"services are not governed by it",
			ResolveInput{Kind: KindService, Namespace: "app", Name: "s", Labels: useIn("egress", "infra"),
				Waypoints: wps(gw("infra", "egress", allowedFrom(gatewayv1.NamespacesFromAll, nil))), Visibility: namespaceOnly}, ReasonAccepted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Resolve(tc.in); got.Reason != tc.reason {
				t.Errorf("got %s, want %s: %v", got.Reason, tc.reason, got.Steps)
			}
		})
	}
}

func TestResolveCanary(t *testing.T) {
	weight := func(w string) map[string]string { return map[string]string{istio.AnnotationCanaryWeight: w} }
	all := wps(gw("default", "w"), gw("default", "c"), gw("default", "wl", forType("workload")), gw("infra", "far"))
	cases := []struct {
		name        string
		in          ResolveInput
		wantCanary  bool
		active      bool
		weight      int
		canaryWhy   string
		primaryUses bool
	}{
		{"no canary", ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: use("w"), Waypoints: all}, false, false, 0, "", true},
		{"a canary at 20%", ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: with(use("w"), istio.LabelUseWaypointCanary, "c"), Annotations: weight("20"), Waypoints: all},
			true, true, 20, "", true},
		{"no weight means 0%", ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: with(use("w"), istio.LabelUseWaypointCanary, "c"), Waypoints: all},
			true, true, 0, "", true},
		{"a bad weight", ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: with(use("w"), istio.LabelUseWaypointCanary, "c"), Annotations: weight("101"), Waypoints: all},
			true, false, 0, ReasonCanaryInvalidWeight, true},
		{"the canary is the primary", ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: with(use("w"), istio.LabelUseWaypointCanary, "w"), Waypoints: all},
			true, false, 0, ReasonCanarySameAsPrimary, true},
		{"a missing canary", ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: with(use("w"), istio.LabelUseWaypointCanary, "gone"), Waypoints: all},
			true, false, 0, ReasonNotReady, true},
		{"a workload-only canary", ResolveInput{Kind: KindServiceEntry, Namespace: "default", Name: "se", Labels: with(use("w"), istio.LabelUseWaypointCanary, "wl"), Waypoints: all},
			true, false, 0, ReasonUnsupportedTrafficType, true},
		{"a canary elsewhere that does not admit the namespace",
			ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: with(use("w"), istio.LabelUseWaypointCanary, "far", istio.LabelUseWaypointCanaryNamespace, "infra"), Waypoints: all},
			true, false, 0, ReasonAttachmentDenied, true},
		{"inherited with the primary from the namespace, weight too",
			ResolveInput{Kind: KindService, Namespace: "default", Name: "s", NamespaceLabels: with(use("w"), istio.LabelUseWaypointCanary, "c"), NamespaceAnnotations: weight("50"), Waypoints: all},
			true, true, 50, "", true},
		{"not inherited when the service names its own primary",
			ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: use("w"), NamespaceLabels: map[string]string{istio.LabelUseWaypointCanary: "c"}, NamespaceAnnotations: weight("50"), Waypoints: all},
			false, false, 0, "", true},
		{"none as canary names none", ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: with(use("w"), istio.LabelUseWaypointCanary, "none"), Waypoints: all},
			false, false, 0, "", true},
		{"no canary without a bound primary", ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: with(use("gone"), istio.LabelUseWaypointCanary, "c"), Waypoints: all},
			false, false, 0, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Resolve(tc.in)
			if got.Uses != tc.primaryUses {
				t.Fatalf("primary uses %v: %s %v", got.Uses, got.Reason, got.Steps)
			}
			if (got.Canary != nil) != tc.wantCanary {
				t.Fatalf("canary %+v", got.Canary)
			}
			if got.Canary == nil {
				return
			}
			if got.Canary.Active != tc.active || got.Canary.Weight != tc.weight || got.Canary.Reason != tc.canaryWhy {
				t.Errorf("canary %+v", got.Canary)
			}
			if got.Reason != ReasonAccepted {
				t.Errorf("a canary problem keeps the primary WaypointAccepted, got %s", got.Reason)
			}
		})
	}
}

func TestIsIstiodReason(t *testing.T) {
	for _, r := range []string{ReasonAccepted, ReasonNotReady, ReasonAttachmentDenied, ReasonUnsupportedTrafficType, ReasonCrossNamespaceForbidden} {
		if !IsIstiodReason(r) {
			t.Errorf("%s", r)
		}
	}
	for _, r := range []string{ReasonNoWaypoint, ReasonOptedOut, ReasonIsWaypoint, ReasonIsEastWestGateway, ReasonExternalName, ReasonNotVisible, ReasonWaypointUnread} {
		if IsIstiodReason(r) {
			t.Errorf("%s", r)
		}
	}
}

func TestExplanationCompare(t *testing.T) {
	cond := func(reason string) *metav1.Condition {
		return &metav1.Condition{Type: ConditionWaypointBound, Status: metav1.ConditionFalse, Reason: reason}
	}
	cases := []struct {
		name     string
		kind     Kind
		reason   string
		cond     *metav1.Condition
		verdict  string
		disagree bool
	}{
		{"agree", KindService, ReasonAttachmentDenied, cond(ReasonAttachmentDenied), ReasonAttachmentDenied, false},
		{"istiod wins", KindServiceEntry, ReasonAccepted, cond(ReasonNotReady), ReasonNotReady, true},
		{"no condition where one is due", KindWorkloadEntry, ReasonAccepted, nil, ReasonAccepted, true},
		{"no condition, none due", KindService, ReasonOptedOut, nil, ReasonOptedOut, false},
		{"a stale condition where none is due", KindService, ReasonOptedOut, cond(ReasonAccepted), ReasonAccepted, true},
		{"pods get none", KindPod, ReasonAccepted, nil, ReasonAccepted, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex := Explanation{Resolution: Resolution{Kind: tc.kind, Reason: tc.reason}, Condition: tc.cond}
			ex.compare()
			if ex.Verdict != tc.verdict || (ex.Disagreement != "") != tc.disagree {
				t.Errorf("verdict %s, disagreement %q", ex.Verdict, ex.Disagreement)
			}
		})
	}
}

func TestLabelsAnswer(t *testing.T) {
	ex := labelsAnswer(Subject{Kind: KindPod, Namespace: "app", Name: "p"}, "infra/shared")
	if ex.Uses || ex.Problem || ex.Condition != nil || ex.Verdict != ReasonWaypointUnread || ex.Reason != ReasonWaypointUnread ||
		ex.Waypoint != "infra/shared" || ex.UnreadWaypoint != "infra/shared" || ex.Kind != KindPod || ex.Namespace != "app" || ex.Name != "p" ||
		ex.Message != "names waypoint infra/shared, which you may not read: whether it takes this traffic was not checked" || len(ex.Steps) != 1 {
		t.Errorf("%+v", ex)
	}
}
