package enroll

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

func ingressLabels(value string) map[string]string {
	if value == absent {
		return map[string]string{}
	}
	return map[string]string{istio.LabelIngressUseWaypoint: value}
}

// TestParseIngress holds the values to what the istiod we test against
// did with them (each checked in /debug/ambientz): strconv.ParseBool, not
// "true in any case".
func TestParseIngress(t *testing.T) {
	for value, want := range map[string][2]bool{ // uses, valid
		"true": {true, true}, "TRUE": {true, true}, "True": {true, true}, "t": {true, true}, "T": {true, true}, "1": {true, true},
		"false": {false, true}, "FALSE": {false, true}, "False": {false, true}, "f": {false, true}, "0": {false, true},
		"tRuE": {false, false}, "yes": {false, false}, "": {false, false}, "on": {false, false}, " true": {false, false},
	} {
		uses, valid := ParseIngress(value)
		if uses != want[0] || valid != want[1] {
			t.Errorf("%q: uses %v valid %v, want %v %v", value, uses, valid, want[0], want[1])
		}
	}
}

// TestIngressFor: the Service's label, present even empty or unreadable,
// wins over its namespace's; a service bound to no waypoint has no
// ingress through one, whatever the labels say.
func TestIngressFor(t *testing.T) {
	for _, tc := range []struct {
		own, ns  string
		waypoint string
		uses     bool
		source   Source
		invalid  bool
		message  string
	}{
		{absent, absent, "wp/waypoint", false, SourceNone, false,
			"ingress traffic bypasses waypoint wp/waypoint: neither the service nor namespace app has the label istio.io/ingress-use-waypoint; only traffic from inside the mesh goes through it"},
		{"true", absent, "wp/waypoint", true, SourceOwn, false,
			`ingress traffic goes through waypoint wp/waypoint: its own label istio.io/ingress-use-waypoint="true" says true`},
		{absent, "TRUE", "wp/waypoint", true, SourceNamespace, false,
			`ingress traffic goes through waypoint wp/waypoint: the label istio.io/ingress-use-waypoint="TRUE" of namespace app (the service has none of its own) says true`},
		{"false", "true", "wp/waypoint", false, SourceOwn, false,
			`ingress traffic bypasses waypoint wp/waypoint: its own label istio.io/ingress-use-waypoint="false", which wins over namespace app's ("true"), says false`},
		{"", "true", "wp/waypoint", false, SourceOwn, true,
			`ingress traffic bypasses waypoint wp/waypoint: its own label istio.io/ingress-use-waypoint="", which wins over namespace app's ("true"), is not a value istiod reads as true`},
		{absent, "yes", "wp/waypoint", false, SourceNamespace, true,
			`ingress traffic bypasses waypoint wp/waypoint: the label istio.io/ingress-use-waypoint="yes" of namespace app (the service has none of its own) is not a value istiod reads as true`},
		{"1", "false", "wp/waypoint", true, SourceOwn, false, ""},
		{"true", absent, "", false, SourceOwn, false,
			`ingress traffic cannot go through a waypoint: the service uses none (its own label istio.io/ingress-use-waypoint="true" says true, which takes effect once it does)`},
		{absent, absent, "", false, SourceNone, false, "ingress traffic cannot go through a waypoint: the service uses none"},
		{"tRuE", absent, "", false, SourceOwn, true, "ingress traffic cannot go through a waypoint: the service uses none"},
	} {
		in := IngressFor(KindService, "app", "reviews", ingressLabels(tc.own), ingressLabels(tc.ns), tc.waypoint)
		name := "own " + tc.own + ", namespace " + tc.ns + ", waypoint " + tc.waypoint
		if in.UsesWaypoint != tc.uses || in.Source != tc.source || in.Invalid != tc.invalid || in.Waypoint != tc.waypoint {
			t.Errorf("%s: %+v", name, in)
		}
		if tc.message != "" && in.Message != tc.message {
			t.Errorf("%s: message\n got %q\nwant %q", name, in.Message, tc.message)
		}
		if (in.Value == nil) != (tc.source == SourceNone) {
			t.Errorf("%s: value %v with source %q", name, in.Value, in.Source)
		}
		if in.Invalid != (in.Warning != "") {
			t.Errorf("%s: warning %q", name, in.Warning)
		}
	}
	in := IngressFor(KindServiceEntry, "app", "api", nil, ingressLabels("nope"), "wp/waypoint")
	if want := `label istio.io/ingress-use-waypoint="nope" of namespace app is neither true nor false to istiod, which reads it as false (and logs a warning); write true or false`; in.Warning != want {
		t.Errorf("warning\n got %q\nwant %q", in.Warning, want)
	}
	in = IngressFor(KindServiceEntry, "app", "api", ingressLabels("nope"), nil, "wp/waypoint")
	if !strings.Contains(in.Warning, "of ServiceEntry app/api is neither") {
		t.Errorf("warning %q", in.Warning)
	}
	if IngressUses(nil, nil) || !IngressUses(nil, ingressLabels("T")) || IngressUses(ingressLabels("0"), ingressLabels("true")) {
		t.Error("IngressUses")
	}
}

// TestResolveIngress: Resolve gives services and ServiceEntries their
// ingress answer, bound or not, and other kinds none.
func TestResolveIngress(t *testing.T) {
	waypoints := map[string]*mesh.Waypoint{"app/wp": parsed(gw("app", "wp", forType("all")))}
	for _, tc := range []struct {
		kind     Kind
		labels   map[string]string
		ingress  bool
		waypoint string
	}{
		{KindService, with(use("wp"), istio.LabelIngressUseWaypoint, "true"), true, "app/wp"},
		{KindServiceEntry, with(use("wp"), istio.LabelIngressUseWaypoint, "true"), true, "app/wp"},
		{KindService, with(use("gone"), istio.LabelIngressUseWaypoint, "true"), false, ""},
		{KindService, with(use("none"), istio.LabelIngressUseWaypoint, "true"), false, ""},
		{KindService, with(map[string]string{LabelGatewayManaged: ManagedMeshController}, istio.LabelIngressUseWaypoint, "true"), false, ""},
	} {
		r := Resolve(ResolveInput{Kind: tc.kind, Namespace: "app", Name: "s", Labels: tc.labels, Waypoints: waypoints})
		if r.Ingress == nil || r.Ingress.UsesWaypoint != tc.ingress || r.Ingress.Waypoint != tc.waypoint {
			t.Errorf("%s %v: ingress %+v (reason %s)", tc.kind, tc.labels, r.Ingress, r.Reason)
		}
	}
	for _, k := range []Kind{KindPod, KindWorkloadEntry, KindNamespace} {
		r := Resolve(ResolveInput{Kind: k, Namespace: "app", Name: "s", Labels: with(use("wp"), istio.LabelIngressUseWaypoint, "true"), Waypoints: waypoints})
		if r.Ingress != nil {
			t.Errorf("%s has an ingress answer: %+v", k, r.Ingress)
		}
	}
}

// TestExplainIngress reads the labels through the Reader: the namespace's
// label (read once, as for the waypoint) decides for a Service without
// its own, and istiod's condition is held against the answer.
func TestExplainIngress(t *testing.T) {
	ingressCond := func(msg string) func(*corev1.Service) {
		return func(s *corev1.Service) {
			s.Status.Conditions = []metav1.Condition{{Type: ConditionWaypointBound, Status: metav1.ConditionTrue, Reason: ReasonAccepted, Message: msg}}
		}
	}
	c := newFakeCluster(
		nsObj("app", map[string]string{istio.LabelIngressUseWaypoint: "TRUE"}),
		gw("app", "wp", forType("service")),
		svcObj("app", "inherits", use("wp"), ingressCond("Successfully attached to waypoint app/wp. Ingress traffic will traverse the waypoint")),
		svcObj("app", "own-false", with(use("wp"), istio.LabelIngressUseWaypoint, "false"),
			ingressCond("Successfully attached to waypoint app/wp. Ingress traffic will traverse the waypoint")),
		svcObj("app", "unbound", with(use("gone"), istio.LabelIngressUseWaypoint, "true")),
	)
	r := NewReader(c.clients())
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		uses     bool
		source   Source
		disagree string
	}{
		{"inherits", true, SourceNamespace, ""},
		// istiod has not seen the label yet: said, not trusted.
		{"own-false", false, SourceOwn, "istiod's istio.io/WaypointBound condition says ingress traffic goes through the waypoint where the rules say otherwise"},
		{"unbound", false, SourceOwn, "istiod has written no istio.io/WaypointBound condition"},
	} {
		ex, err := r.Explain(ctx, KindService, "app", tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if in := ex.Ingress; in == nil || in.UsesWaypoint != tc.uses || in.Source != tc.source {
			t.Errorf("%s: ingress %+v", tc.name, ex.Ingress)
		}
		if !strings.HasPrefix(ex.Disagreement, tc.disagree) || (tc.disagree == "") != (ex.Disagreement == "") {
			t.Errorf("%s: disagreement %q, want %q", tc.name, ex.Disagreement, tc.disagree)
		}
	}
	if n := c.requests("get", "namespaces"); n != 1 {
		t.Errorf("%d reads of namespace app, want 1", n)
	}
}

// TestExplainIngressUnreadWaypoint: with the waypoint forbidden, istiod's
// condition says whether the service is bound, and the labels what its
// ingress traffic does.
func TestExplainIngressUnreadWaypoint(t *testing.T) {
	c := newFakeCluster(nsObj("app", nil),
		svcObj("app", "s", with(useIn("wp", "infra"), istio.LabelIngressUseWaypoint, "1"), boundCondition(ReasonAccepted)))
	c.fail("get", "gateways", forbidden("gateways"))
	ex, err := NewReader(c.clients()).Explain(context.Background(), KindService, "app", "s")
	if err != nil {
		t.Fatal(err)
	}
	if ex.UnreadWaypoint != "infra/wp" || ex.Ingress == nil || !ex.Ingress.UsesWaypoint || ex.Ingress.Waypoint != "infra/wp" {
		t.Errorf("unread %q, ingress %+v", ex.UnreadWaypoint, ex.Ingress)
	}
}

// TestWriteIngressChangedSince: a write that sets or removes the ingress
// label leaves the object alone when that label changed after the read,
// as it does for the enrollment labels; a write that does not touch it
// does not care.
func TestWriteIngressChangedSince(t *testing.T) {
	ctx := context.Background()
	ingress := func(v string) map[string]string { return with(use("wp"), istio.LabelIngressUseWaypoint, v) }
	for _, tc := range []struct {
		name      string
		change    LabelChange
		read, now map[string]string
		refused   bool
	}{
		{"set, and someone wrote false since", IngressChange(EnrollChange("app", "wp", "")), use("wp"), ingress("false"), true},
		{"set, and only another label changed", IngressChange(EnrollChange("app", "wp", "")), use("wp"), with(use("wp"), "team", "a"), false},
		{"removed, and someone rewrote it since", UnenrollIngressChange(), ingress("true"), ingress("1"), true},
		{"removed, and someone removed it since", UnenrollIngressChange(), ingress("true"), use("wp"), false},
		{"an enrollment, and the ingress label changed since", EnrollChange("app", "other", ""), use("wp"), ingress("true"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster(svcObj("app", "s", tc.now))
			calls := 0
			c.kube.PrependReactor("patch", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
				calls++
				if calls == 1 {
					return true, nil, conflict("services", "s")
				}
				return false, nil, nil
			})
			w := Write{Kind: KindService, Namespace: "app", Name: "s", Labels: tc.read, ResourceVersion: "0", Change: tc.change}
			_, err := w.Do(ctx, c.clients())
			if refused := errors.Is(err, ErrChangedSince); refused != tc.refused || (!tc.refused && err != nil) {
				t.Errorf("error %v, want refused %v", err, tc.refused)
			}
		})
	}
}
