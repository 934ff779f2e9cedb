package enroll

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// gw builds a waypoint Gateway for the tests: ready, same-namespace only,
// with no traffic type label, unless options say otherwise.
func gw(ns, name string, opts ...func(*gatewayv1.Gateway)) *gatewayv1.Gateway {
	g := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{}},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: istio.ClassWaypoint,
			Listeners:        []gatewayv1.Listener{{Name: "mesh", Port: 15008, Protocol: "HBONE"}},
		},
	}
	ready(g)
	for _, o := range opts {
		o(g)
	}
	return g
}

func ready(g *gatewayv1.Gateway) {
	g.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed"}}
	g.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.96.0.10"}}
}

func forType(t string) func(*gatewayv1.Gateway) {
	return func(g *gatewayv1.Gateway) { g.Labels[istio.LabelWaypointFor] = t }
}

func class(c string) func(*gatewayv1.Gateway) {
	return func(g *gatewayv1.Gateway) { g.Spec.GatewayClassName = gatewayv1.ObjectName(c) }
}

func notProgrammed(g *gatewayv1.Gateway) {
	g.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "Invalid", Message: "no deployment"}}
	g.Status.Addresses = nil
}

func noAddress(g *gatewayv1.Gateway) { g.Status.Addresses = nil }

func noStatus(g *gatewayv1.Gateway) { g.Status = gatewayv1.GatewayStatus{} }

func allowedFrom(from gatewayv1.FromNamespaces, sel *metav1.LabelSelector) func(*gatewayv1.Gateway) {
	return func(g *gatewayv1.Gateway) {
		g.Spec.Listeners[0].AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from, Selector: sel}}
	}
}

func wps(gws ...*gatewayv1.Gateway) map[string]*mesh.Waypoint {
	return wpsClass(nil, gws...)
}

// wpsClass parses the Gateways with the labels of class istio-waypoint.
func wpsClass(classLabels map[string]string, gws ...*gatewayv1.Gateway) map[string]*mesh.Waypoint {
	m := map[string]*mesh.Waypoint{}
	for _, g := range gws {
		w := mesh.Parse(g, &mesh.Class{Name: istio.ClassWaypoint, Labels: classLabels})
		m[w.Key()] = &w
	}
	return m
}

func parsed(g *gatewayv1.Gateway) *mesh.Waypoint {
	w := mesh.Parse(g, nil)
	return &w
}

func use(name string) map[string]string { return map[string]string{istio.LabelUseWaypoint: name} }

func useIn(name, ns string) map[string]string {
	return map[string]string{istio.LabelUseWaypoint: name, istio.LabelUseWaypointNamespace: ns}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// resolveCase is one rule of Resolve: the input and what it must give.
type resolveCase struct {
	rule string
	in   ResolveInput
	// want
	reason   string
	uses     bool
	problem  bool
	waypoint string
	source   Source
	// step is a fragment one of the steps must contain.
	step string
}

func TestResolve(t *testing.T) {
	byName := func(name string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{istio.LabelNamespaceName: name}}
	}
	cases := []resolveCase{
		// Labels and precedence.
		{rule: "no label anywhere: no waypoint",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews"},
			reason: ReasonNoWaypoint},
		{rule: "namespace label: a service without its own label inherits it",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint"))},
			reason: ReasonAccepted, uses: true, waypoint: "default/waypoint", source: SourceNamespace},
		{rule: "own label: the service's label names the waypoint",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", Labels: use("reviews-svc-waypoint"), Waypoints: wps(gw("default", "reviews-svc-waypoint"))},
			reason: ReasonAccepted, uses: true, waypoint: "default/reviews-svc-waypoint", source: SourceOwn},
		{rule: "precedence: the service's own label wins over the namespace's",
			in: ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", Labels: use("reviews-svc-waypoint"), NamespaceLabels: use("waypoint"),
				Waypoints: wps(gw("default", "reviews-svc-waypoint"), gw("default", "waypoint"))},
			reason: ReasonAccepted, uses: true, waypoint: "default/reviews-svc-waypoint", source: SourceOwn, step: "wins over the label of namespace default"},
		{rule: "precedence: the pod's own label wins over the namespace's",
			in: ResolveInput{Kind: KindPod, Namespace: "default", Name: "reviews-v2", Labels: use("reviews-v2-pod-waypoint"), NamespaceLabels: use("waypoint"),
				Waypoints: wps(gw("default", "reviews-v2-pod-waypoint", forType("workload")), gw("default", "waypoint", forType("all")))},
			reason: ReasonAccepted, uses: true, waypoint: "default/reviews-v2-pod-waypoint", source: SourceOwn},
		{rule: "opt-out: the service's own none wins over an enrolled namespace",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "ratings", Labels: use("none"), NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint"))},
			reason: ReasonOptedOut, source: SourceOwn},
		{rule: "opt-out: the pod's own none wins over an enrolled namespace",
			in:     ResolveInput{Kind: KindPod, Namespace: "default", Name: "p", Labels: use("none"), NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint", forType("all")))},
			reason: ReasonOptedOut, source: SourceOwn},
		{rule: "opt-out: a namespace labelled none gives its resources no waypoint",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", NamespaceLabels: use("none")},
			reason: ReasonOptedOut, source: SourceNamespace},
		{rule: "opt-out: the service's label wins over a namespace labelled none",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", Labels: use("w"), NamespaceLabels: use("none"), Waypoints: wps(gw("default", "w"))},
			reason: ReasonAccepted, uses: true, waypoint: "default/w", source: SourceOwn},
		{rule: "opt-out: use-waypoint-namespace next to none is ignored",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", Labels: useIn("none", "infra")},
			reason: ReasonOptedOut, source: SourceOwn},
		{rule: "labels: use-waypoint-namespace alone names no waypoint; the namespace decides",
			in: ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", Labels: map[string]string{istio.LabelUseWaypointNamespace: "infra"},
				NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint"))},
			reason: ReasonAccepted, uses: true, waypoint: "default/waypoint", source: SourceNamespace},

		// No fallback.
		{rule: "no fallback: a missing waypoint named by the service's label leaves it without one",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", Labels: use("gone"), NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint"))},
			reason: ReasonNotReady, problem: true, waypoint: "default/gone", source: SourceOwn, step: "not replaced by the namespace's"},
		{rule: "no fallback: an unready waypoint named by the pod's label leaves it without one",
			in: ResolveInput{Kind: KindPod, Namespace: "default", Name: "p", Labels: use("pw"), NamespaceLabels: use("waypoint"),
				Waypoints: wps(gw("default", "pw", forType("workload"), notProgrammed), gw("default", "waypoint", forType("all")))},
			reason: ReasonNotReady, problem: true, waypoint: "default/pw", source: SourceOwn, step: "not replaced by the namespace's"},
		{rule: "missing: the namespace's waypoint does not exist",
			in:     ResolveInput{Kind: KindServiceEntry, Namespace: "default", Name: "se", NamespaceLabels: use("waypoint")},
			reason: ReasonNotReady, problem: true, waypoint: "default/waypoint", source: SourceNamespace, step: "does not exist"},

		// Readiness.
		{rule: "readiness: Programmed=False is not ready",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", Labels: use("w"), Waypoints: wps(gw("default", "w", notProgrammed))},
			reason: ReasonNotReady, problem: true, waypoint: "default/w", source: SourceOwn, step: "reason Invalid"},
		{rule: "readiness: Programmed=True without an address is not ready",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", Labels: use("w"), Waypoints: wps(gw("default", "w", noAddress))},
			reason: ReasonNotReady, problem: true, waypoint: "default/w", source: SourceOwn, step: "no address yet"},
		{rule: "readiness: no status at all (istiod not running) is not ready",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", NamespaceLabels: use("w"), Waypoints: wps(gw("default", "w", noStatus))},
			reason: ReasonNotReady, problem: true, waypoint: "default/w", source: SourceNamespace, step: "no Programmed condition"},
		{rule: "readiness comes before attachment: an unready, disallowed waypoint reports not ready",
			in: ResolveInput{Kind: KindService, Namespace: "app", Name: "s", Labels: useIn("w", "infra"),
				Waypoints: wps(gw("infra", "w", notProgrammed))},
			reason: ReasonNotReady, problem: true, waypoint: "infra/w", source: SourceOwn, step: "has no address yet"},

		// Traffic type.
		{rule: "traffic type: a service needs service or all; workload is unsupported",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", Labels: use("w"), Waypoints: wps(gw("default", "w", forType("workload")))},
			reason: ReasonUnsupportedTrafficType, problem: true, waypoint: "default/w", source: SourceOwn},
		{rule: "traffic type: a service inheriting a workload waypoint gets UnsupportedTrafficType from istiod",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "reviews", NamespaceLabels: use("w"), Waypoints: wps(gw("default", "w", forType("workload")))},
			reason: ReasonUnsupportedTrafficType, problem: true, waypoint: "default/w", source: SourceNamespace},
		{rule: "traffic type: a ServiceEntry is served by an all waypoint",
			in:     ResolveInput{Kind: KindServiceEntry, Namespace: "default", Name: "se", Labels: use("w"), Waypoints: wps(gw("default", "w", forType("all")))},
			reason: ReasonAccepted, uses: true, waypoint: "default/w", source: SourceOwn},
		{rule: "traffic type: a ServiceEntry is not served by a none waypoint",
			in:     ResolveInput{Kind: KindServiceEntry, Namespace: "default", Name: "se", Labels: use("w"), Waypoints: wps(gw("default", "w", forType("none")))},
			reason: ReasonUnsupportedTrafficType, problem: true, waypoint: "default/w", source: SourceOwn},
		{rule: "traffic type: a service-only waypoint named on the pod is an error",
			in:     ResolveInput{Kind: KindPod, Namespace: "default", Name: "p", Labels: use("w"), Waypoints: wps(gw("default", "w", forType("service")))},
			reason: ReasonUnsupportedTrafficType, problem: true, waypoint: "default/w", source: SourceOwn},
		{rule: "traffic type: a service-only waypoint inherited from the namespace gives a pod none, silently",
			in:     ResolveInput{Kind: KindPod, Namespace: "default", Name: "p", NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint"))},
			reason: ReasonNoWaypoint, waypoint: "default/waypoint", source: SourceNamespace, step: "does not apply to a pod"},
		{rule: "traffic type: a pod inherits a workload waypoint from the namespace",
			in:     ResolveInput{Kind: KindPod, Namespace: "default", Name: "p", NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint", forType("workload")))},
			reason: ReasonAccepted, uses: true, waypoint: "default/waypoint", source: SourceNamespace},
		{rule: "traffic type: no label anywhere means service",
			in:     ResolveInput{Kind: KindPod, Namespace: "default", Name: "p", Labels: use("w"), Waypoints: wps(gw("default", "w"))},
			reason: ReasonUnsupportedTrafficType, problem: true, waypoint: "default/w", source: SourceOwn, step: "the default"},
		{rule: "traffic type: the GatewayClass label applies when the Gateway has none",
			in: ResolveInput{Kind: KindPod, Namespace: "default", Name: "p", Labels: use("w"),
				Waypoints: wpsClass(map[string]string{istio.LabelWaypointFor: "workload"}, gw("default", "w"))},
			reason: ReasonAccepted, uses: true, waypoint: "default/w", source: SourceOwn, step: "GatewayClass istio-waypoint"},
		{rule: "traffic type: the Gateway label wins over the GatewayClass label",
			in: ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: use("w"),
				Waypoints: wpsClass(map[string]string{istio.LabelWaypointFor: "all"}, gw("default", "w", forType("workload")))},
			reason: ReasonUnsupportedTrafficType, problem: true, waypoint: "default/w", source: SourceOwn},

		// Cross-namespace attachment.
		{rule: "attachment: from Same (the default) keeps other namespaces out",
			in:     ResolveInput{Kind: KindServiceEntry, Namespace: "consumer", Name: "istio-site", Labels: useIn("egress-gateway", "infra"), Waypoints: wps(gw("infra", "egress-gateway"))},
			reason: ReasonAttachmentDenied, problem: true, waypoint: "infra/egress-gateway", source: SourceOwn, step: "admits Same"},
		{rule: "attachment: from All lets every namespace in",
			in: ResolveInput{Kind: KindServiceEntry, Namespace: "consumer", Name: "istio-site", Labels: useIn("egress-gateway", "infra"),
				Waypoints: wps(gw("infra", "egress-gateway", allowedFrom(gatewayv1.NamespacesFromAll, nil)))},
			reason: ReasonAccepted, uses: true, waypoint: "infra/egress-gateway", source: SourceOwn},
		{rule: "attachment: a selector on the namespace name lets that namespace in",
			in: ResolveInput{Kind: KindServiceEntry, Namespace: "cross-namespace-waypoint-consumer", Name: "istio-site", Labels: useIn("egress-gateway", "common-infrastructure"),
				NamespaceLabels: map[string]string{istio.LabelNamespaceName: "cross-namespace-waypoint-consumer"},
				Waypoints:       wps(gw("common-infrastructure", "egress-gateway", allowedFrom(gatewayv1.NamespacesFromSelector, byName("cross-namespace-waypoint-consumer"))))},
			reason: ReasonAccepted, uses: true, waypoint: "common-infrastructure/egress-gateway", source: SourceOwn},
		{rule: "attachment: a selector that does not match the namespace's labels keeps it out",
			in: ResolveInput{Kind: KindService, Namespace: "other", Name: "s", Labels: useIn("egress-gateway", "common-infrastructure"),
				NamespaceLabels: map[string]string{istio.LabelNamespaceName: "other"},
				Waypoints:       wps(gw("common-infrastructure", "egress-gateway", allowedFrom(gatewayv1.NamespacesFromSelector, byName("cross-namespace-waypoint-consumer"))))},
			reason: ReasonAttachmentDenied, problem: true, waypoint: "common-infrastructure/egress-gateway", source: SourceOwn},
		{rule: "attachment: a matchExpressions In selector lets each named namespace in",
			in: ResolveInput{Kind: KindService, Namespace: "team-b", Name: "s", Labels: useIn("w", "infra"),
				NamespaceLabels: map[string]string{istio.LabelNamespaceName: "team-b"},
				Waypoints: wps(gw("infra", "w", allowedFrom(gatewayv1.NamespacesFromSelector, &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: istio.LabelNamespaceName, Operator: metav1.LabelSelectorOpIn, Values: []string{"team-a", "team-b"}}}})))},
			reason: ReasonAccepted, uses: true, waypoint: "infra/w", source: SourceOwn},
		{rule: "attachment: a namespace inheriting a cross-namespace waypoint is checked against its own labels",
			in: ResolveInput{Kind: KindService, Namespace: "app", Name: "s", NamespaceLabels: with(useIn("w", "infra"), "team", "a"),
				Waypoints: wps(gw("infra", "w", allowedFrom(gatewayv1.NamespacesFromSelector, &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}})))},
			reason: ReasonAccepted, uses: true, waypoint: "infra/w", source: SourceNamespace},
		{rule: "attachment: from Selector without a selector matches nothing",
			in: ResolveInput{Kind: KindService, Namespace: "app", Name: "s", Labels: useIn("w", "infra"),
				Waypoints: wps(gw("infra", "w", allowedFrom(gatewayv1.NamespacesFromSelector, nil)))},
			reason: ReasonAttachmentDenied, problem: true, waypoint: "infra/w", source: SourceOwn},
		{rule: "attachment: from Same still admits the waypoint's own namespace",
			in:     ResolveInput{Kind: KindService, Namespace: "infra", Name: "s", Labels: useIn("w", "infra"), Waypoints: wps(gw("infra", "w"))},
			reason: ReasonAccepted, uses: true, waypoint: "infra/w", source: SourceOwn},
		{rule: "attachment comes before traffic type: a denied workload waypoint reports AttachmentDenied",
			in: ResolveInput{Kind: KindService, Namespace: "app", Name: "s", Labels: useIn("w", "infra"),
				Waypoints: wps(gw("infra", "w", forType("workload")))},
			reason: ReasonAttachmentDenied, problem: true, waypoint: "infra/w", source: SourceOwn, step: "does not allow namespace app"},
		{rule: "attachment: only the HBONE listener on 15008 counts",
			in: ResolveInput{Kind: KindService, Namespace: "app", Name: "s", Labels: useIn("w", "infra"),
				Waypoints: wps(gw("infra", "w", func(g *gatewayv1.Gateway) {
					all := gatewayv1.NamespacesFromAll
					g.Spec.Listeners = append([]gatewayv1.Listener{{Name: "other", Port: 15009, Protocol: "HBONE",
						AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &all}}}}, g.Spec.Listeners...)
				}))},
			reason: ReasonAttachmentDenied, problem: true, waypoint: "infra/w", source: SourceOwn},

		// Objects of a waypoint itself.
		{rule: "waypoint pods: a pod with the gateway-name label never gets a waypoint",
			in: ResolveInput{Kind: KindPod, Namespace: "default", Name: "waypoint-abc", Labels: with(use("other"), LabelGatewayName, "waypoint"),
				NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint", forType("all")), gw("default", "other", forType("all")))},
			reason: ReasonIsWaypoint},
		{rule: "waypoint services: the service istiod made for a waypoint never gets one",
			in: ResolveInput{Kind: KindService, Namespace: "default", Name: "waypoint", Labels: map[string]string{LabelGatewayManaged: ManagedMeshController},
				NamespaceLabels: use("waypoint"), Waypoints: wps(gw("default", "waypoint"))},
			reason: ReasonIsWaypoint},

		// Namespaces.
		{rule: "namespace: enrolled into a ready waypoint of its own",
			in:     ResolveInput{Kind: KindNamespace, Name: "default", Labels: use("waypoint"), Waypoints: wps(gw("default", "waypoint"))},
			reason: ReasonAccepted, uses: true, waypoint: "default/waypoint", source: SourceOwn, step: "services and ServiceEntries (not its pods)"},
		{rule: "namespace: no label names no waypoint",
			in:     ResolveInput{Kind: KindNamespace, Name: "default"},
			reason: ReasonNoWaypoint},
		{rule: "namespace: none opts its resources out",
			in:     ResolveInput{Kind: KindNamespace, Name: "default", Labels: use("none")},
			reason: ReasonOptedOut, source: SourceOwn},
		{rule: "namespace: a cross-namespace waypoint that does not allow it",
			in: ResolveInput{Kind: KindNamespace, Name: "app", Labels: with(useIn("w", "infra"), istio.LabelNamespaceName, "app"),
				Waypoints: wps(gw("infra", "w", allowedFrom(gatewayv1.NamespacesFromSelector, byName("other"))))},
			reason: ReasonAttachmentDenied, problem: true, waypoint: "infra/w", source: SourceOwn},
		{rule: "namespace: a waypoint for no traffic serves nothing",
			in:     ResolveInput{Kind: KindNamespace, Name: "default", Labels: use("w"), Waypoints: wps(gw("default", "w", forType("none")))},
			reason: ReasonUnsupportedTrafficType, problem: true, waypoint: "default/w", source: SourceOwn},

		// Gateway classes.
		{rule: "class: an agentgateway waypoint is a waypoint",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: use("w"), Waypoints: wps(gw("default", "w", class(istio.ClassAgentgatewayWaypoint)))},
			reason: ReasonAccepted, uses: true, waypoint: "default/w", source: SourceOwn},
		{rule: "class: istiod binds any ready Gateway it is pointed at; the note says it is no waypoint",
			in:     ResolveInput{Kind: KindService, Namespace: "default", Name: "s", Labels: use("w"), Waypoints: wps(gw("default", "w", class("istio")))},
			reason: ReasonAccepted, uses: true, waypoint: "default/w", source: SourceOwn, step: "not a waypoint class"},
	}
	cases = append(cases, istiodRuleCases()...)
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			got := Resolve(tc.in)
			if got.Reason != tc.reason || got.Uses != tc.uses || got.Problem != tc.problem ||
				got.Waypoint != tc.waypoint || got.Source != tc.source {
				t.Errorf("got reason=%s uses=%v problem=%v waypoint=%q source=%q\nwant reason=%s uses=%v problem=%v waypoint=%q source=%q\nsteps:\n  %s",
					got.Reason, got.Uses, got.Problem, got.Waypoint, got.Source,
					tc.reason, tc.uses, tc.problem, tc.waypoint, tc.source, strings.Join(got.Steps, "\n  "))
			}
			if tc.step != "" && !strings.Contains(strings.Join(got.Steps, "\n"), tc.step) {
				t.Errorf("no step mentions %q:\n  %s", tc.step, strings.Join(got.Steps, "\n  "))
			}
			if got.Message == "" || len(got.Steps) == 0 {
				t.Errorf("want a message and steps, got %q, %v", got.Message, got.Steps)
			}
			// Resolve looks up the waypoint WantedWaypoints names.
			if want := WantedWaypoints(tc.in); tc.waypoint != "" && !slices.Contains(want, tc.waypoint) {
				t.Errorf("WantedWaypoints = %q, want %q in it", want, tc.waypoint)
			}
		})
	}
}
