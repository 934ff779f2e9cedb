package policy

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

func TestPredict(t *testing.T) {
	bound := &mesh.Waypoint{Namespace: "ns", Name: "wp", Class: "istio-waypoint", Bound: true}
	unbound := &mesh.Waypoint{Namespace: "ns", Name: "wp", Class: "istio-waypoint"}
	uses := &enroll.Resolution{Waypoint: "ns/wp", Uses: true}
	wrongType := &enroll.Resolution{Waypoint: "ns/wp", Reason: "UnsupportedTrafficType", Message: "ns/wp does not serve service traffic"}
	svc := Target{Kind: "Service", Namespace: "ns", Name: "api"}
	se := Target{Kind: "ServiceEntry", Namespace: "ns", Name: "ext"}
	gw := Target{Kind: "Gateway", Namespace: "ns", Name: "wp"}
	gc := Target{Kind: "GatewayClass", Name: "istio-waypoint"}
	tests := []struct {
		name     string
		target   Target
		policyNS string
		state    TargetState
		enforced bool
		reason   string
		waypoint string
	}{
		{"service bound", svc, "ns", TargetState{Exists: true, Resolution: uses}, true, ReasonAccepted, "ns/wp"},
		{"service unbound", svc, "ns", TargetState{Exists: true, Resolution: &enroll.Resolution{Reason: "NoWaypoint"}}, false, ReasonAncestorNotBound, ""},
		{"service on a waypoint of the wrong type", svc, "ns", TargetState{Exists: true, Resolution: wrongType}, false, ReasonAncestorNotBound, ""},
		{"service missing", svc, "ns", TargetState{}, false, ReasonTargetNotFound, ""},
		{"serviceentry bound", se, "ns", TargetState{Exists: true, Resolution: uses}, true, ReasonAccepted, "ns/wp"},
		{"serviceentry unbound", se, "ns", TargetState{Exists: true, Resolution: &enroll.Resolution{}}, false, ReasonAncestorNotBound, ""},
		{"waypoint with an address", gw, "ns", TargetState{Exists: true, Gateway: bound}, true, ReasonAccepted, "ns/wp"},
		{"waypoint without an address", gw, "ns", TargetState{Exists: true, Gateway: unbound}, false, ReasonTargetNotFound, ""},
		{"waypoint missing", gw, "ns", TargetState{}, false, ReasonTargetNotFound, ""},
		{"class from the root namespace", gc, "istio-system", TargetState{Exists: true, ClassController: MeshController}, true, ReasonAccepted, "istio-waypoint"},
		{"class from another namespace", gc, "ns", TargetState{Exists: true, ClassController: MeshController}, false, ReasonInvalid, ""},
		{"class of another controller", gc, "istio-system", TargetState{Exists: true, ClassController: "example.com/x"}, false, ReasonInvalid, ""},
		{"class missing", gc, "istio-system", TargetState{}, false, ReasonTargetNotFound, ""},
		{"a kind no waypoint serves", Target{Kind: "Pod", Namespace: "ns", Name: "p"}, "ns", TargetState{}, false, ReasonUnknownKind, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Predict(tc.target, tc.policyNS, "istio-system", tc.state)
			if a.Enforced != tc.enforced || a.Reason != tc.reason || a.Waypoint != tc.waypoint {
				t.Errorf("got enforced=%v reason=%s waypoint=%q (%s), want %v %s %q", a.Enforced, a.Reason, a.Waypoint, a.Message, tc.enforced, tc.reason, tc.waypoint)
			}
			if a.Message == "" {
				t.Error("no message")
			}
		})
	}
}

func TestFlatten(t *testing.T) {
	yes := Attachment{Target: Target{Kind: "Service", Namespace: "ns", Name: "a"}, Enforced: true, Reason: ReasonAccepted}
	no := Attachment{Target: Target{Kind: "Service", Namespace: "ns", Name: "b"}, Reason: ReasonAncestorNotBound}
	gone := Attachment{Target: Target{Kind: "Gateway", Namespace: "ns", Name: "c"}, Reason: ReasonTargetNotFound}
	tests := []struct {
		name     string
		in       []Attachment
		enforced bool
		reason   string
	}{
		{"one enforced", []Attachment{yes}, true, ReasonAccepted},
		{"one unbound keeps its reason", []Attachment{no}, false, ReasonAncestorNotBound},
		{"one missing keeps its reason", []Attachment{gone}, false, ReasonTargetNotFound},
		{"all enforced", []Attachment{yes, yes}, true, ReasonAccepted},
		{"some enforced", []Attachment{yes, no}, true, ReasonPartiallyInvalid},
		{"none enforced", []Attachment{no, gone}, false, ReasonInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enforced, reason, _ := Flatten(tc.in)
			if enforced != tc.enforced || reason != tc.reason {
				t.Errorf("got %v %s, want %v %s", enforced, reason, tc.enforced, tc.reason)
			}
		})
	}
}

func TestRefs(t *testing.T) {
	ap := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"namespace": "ns", "name": "p"},
		"spec": map[string]any{
			"targetRef": map[string]any{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "wp"},
			"targetRefs": []any{
				map[string]any{"kind": "Service", "group": "", "name": "api"},
				map[string]any{"kind": "ServiceEntry", "group": "networking.istio.io", "name": "ext", "namespace": "other"},
			},
		},
	}}
	got := targetRefs(ap)
	want := []string{"Gateway/ns/wp", "Service/ns/api", "ServiceEntry/other/ext"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("target %d: %s, want %s", i, got[i], want[i])
		}
	}

	route := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"namespace": "ns", "name": "r"},
		"spec": map[string]any{"parentRefs": []any{
			map[string]any{"name": "wp"},
			map[string]any{"name": "wp", "sectionName": "mesh"},
			map[string]any{"kind": "Service", "group": "", "name": "reviews", "port": int64(9080)},
		}},
	}}
	got = parentRefs(route)
	want = []string{"Gateway/ns/wp", "Service/ns/reviews"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("parent %d: %s, want %s", i, got[i], want[i])
		}
	}
}

func TestApplying(t *testing.T) {
	on := func(kind, ns, name string) Attachment {
		return Attachment{Target: Target{Kind: kind, Namespace: ns, Name: name}}
	}
	ps := []Policy{
		{Name: "on-api", Attachments: []Attachment{on("Service", "ns", "api"), on("Service", "ns", "other")}},
		{Name: "on-wp", Attachments: []Attachment{on("Gateway", "wns", "wp")}},
		{Name: "on-other", Attachments: []Attachment{on("Service", "ns", "other")}},
		{Name: "same-name-other-ns", Attachments: []Attachment{on("Service", "x", "api")}},
		{Name: "se-same-name", Attachments: []Attachment{on("ServiceEntry", "ns", "api")}},
	}
	got := Applying(ps, "Service", "ns", "api", "wns/wp")
	if len(got) != 2 || got[0].Name != "on-api" || len(got[0].Attachments) != 1 || got[1].Name != "on-wp" {
		t.Errorf("got %+v", got)
	}
	if got := Applying(ps, "WorkloadEntry", "ns", "api", ""); len(got) != 0 {
		t.Errorf("a WorkloadEntry without a waypoint: got %+v", got)
	}
}

func TestIstioNames(t *testing.T) {
	// istiod's spelling (pilot/pkg/model/kstatus, ambient/policies.go).
	for got, want := range map[string]string{
		ConditionWaypointAccepted: "WaypointAccepted",
		ReasonAccepted:            "Accepted",
		ReasonAncestorNotBound:    "AncestorNotBound",
		ReasonTargetNotFound:      "TargetNotFound",
		ReasonInvalid:             "Invalid",
		ReasonPartiallyInvalid:    "PartiallyInvalid",
		MeshController:            "istio.io/mesh-controller",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}

func TestPredictMessages(t *testing.T) {
	bound := &mesh.Waypoint{Namespace: "ns", Name: "wp", Bound: true}
	svc := Target{Kind: "Service", Namespace: "ns", Name: "api"}
	gw := Target{Kind: "Gateway", Namespace: "ns", Name: "wp"}
	gc := Target{Kind: "GatewayClass", Name: "istio-waypoint"}
	cases := []struct {
		target   Target
		policyNS string
		state    TargetState
		want     string
	}{
		{svc, "ns", TargetState{Exists: true, Resolution: &enroll.Resolution{Waypoint: "ns/wp", Uses: true}}, "bound to ns/wp"},
		{svc, "ns", TargetState{Exists: true, Resolution: &enroll.Resolution{Message: "uses no waypoint: none is named"}},
			"Service ns/api is not bound to a waypoint: uses no waypoint: none is named"},
		{svc, "ns", TargetState{Exists: true, Resolution: &enroll.Resolution{}}, "Service ns/api is not bound to a waypoint"},
		{svc, "ns", TargetState{Exists: true}, "Service ns/api is not bound to a waypoint"},
		{svc, "ns", TargetState{Resolution: &enroll.Resolution{Uses: true}}, "Service ns/api was not found"},
		{gw, "ns", TargetState{Exists: true, Gateway: bound}, "bound to ns/wp"},
		{gw, "ns", TargetState{Exists: true, Gateway: &mesh.Waypoint{}}, "Gateway ns/wp has no address yet: istiod does not know it as a waypoint"},
		{gw, "ns", TargetState{Exists: true}, "Gateway ns/wp was not found"},
		{gw, "ns", TargetState{Gateway: bound}, "Gateway ns/wp was not found"},
		{gc, "istio-system", TargetState{Exists: true, ClassController: MeshController}, "bound to class istio-waypoint"},
		{gc, "ns", TargetState{Exists: true, ClassController: MeshController}, "a policy on a GatewayClass must be in the root namespace istio-system"},
		{gc, "istio-system", TargetState{ClassController: MeshController}, "GatewayClass istio-waypoint was not found"},
		{gc, "istio-system", TargetState{Exists: true, ClassController: "x.io/y"}, "GatewayClass istio-waypoint is not a waypoint class (controller x.io/y)"},
		{Target{Kind: "Pod", Namespace: "ns", Name: "p"}, "ns", TargetState{Exists: true}, "no waypoint serves a target of kind Pod"},
	}
	for _, tc := range cases {
		a := Predict(tc.target, tc.policyNS, "istio-system", tc.state)
		if a.Message != tc.want {
			t.Errorf("%s %+v:\n got %q\nwant %q", tc.target, tc.state, a.Message, tc.want)
		}
		if a.Target != tc.target {
			t.Errorf("target %+v", a.Target)
		}
	}
	// The root namespace is the one given.
	if a := Predict(gc, "mesh-root", "mesh-root", TargetState{Exists: true, ClassController: MeshController}); !a.Enforced {
		t.Errorf("a class policy in another root namespace: %+v", a)
	}
}

func TestFlattenMessage(t *testing.T) {
	yes := Attachment{Target: Target{Kind: "Service", Namespace: "ns", Name: "a"}, Enforced: true, Reason: ReasonAccepted, Message: "bound to ns/wp"}
	no := Attachment{Target: Target{Kind: "Service", Namespace: "ns", Name: "b"}, Reason: ReasonAncestorNotBound, Message: "b is not bound"}
	gone := Attachment{Target: Target{Kind: "GatewayClass", Name: "c"}, Reason: ReasonTargetNotFound}
	for _, tc := range []struct {
		in   []Attachment
		want string
	}{
		{[]Attachment{no}, "b is not bound"},
		{[]Attachment{yes, yes}, ""},
		{[]Attachment{yes, no, gone}, "not enforced for Service/ns/b (AncestorNotBound), GatewayClass/c (TargetNotFound)"},
		{[]Attachment{no, gone}, "not enforced for Service/ns/b (AncestorNotBound), GatewayClass/c (TargetNotFound)"},
	} {
		if _, _, msg := Flatten(tc.in); msg != tc.want {
			t.Errorf("got %q, want %q", msg, tc.want)
		}
	}
	if enforced, reason, msg := Flatten(nil); enforced || reason != ReasonInvalid || msg != "" {
		t.Errorf("no attachments: %v %s %q", enforced, reason, msg)
	}
}

func TestKeys(t *testing.T) {
	if k := (Target{Kind: "GatewayClass", Namespace: "ns", Name: "c"}).Key(); k != "c" {
		t.Errorf("a class is cluster-wide: %s", k)
	}
	if s := (Target{Kind: "Gateway", Namespace: "ns", Name: "wp"}).String(); s != "Gateway/ns/wp" {
		t.Errorf("String %s", s)
	}
	if k := (Policy{Namespace: "ns", Name: "p"}).Key(); k != "ns/p" {
		t.Errorf("Policy.Key %s", k)
	}
}

func TestVerdict(t *testing.T) {
	p := Policy{Generation: 3, Enforced: false, Reason: ReasonAncestorNotBound}
	if e, r := p.Verdict(); e || r != ReasonAncestorNotBound {
		t.Errorf("no condition: the prediction, got %v %s", e, r)
	}
	p.Condition = &metav1.Condition{Type: ConditionWaypointAccepted, Status: metav1.ConditionTrue, Reason: ReasonAccepted, ObservedGeneration: 3}
	if e, r := p.Verdict(); !e || r != ReasonAccepted {
		t.Errorf("a current condition: istiod's, got %v %s", e, r)
	}
	p.Condition.Status = metav1.ConditionFalse
	p.Condition.Reason = ReasonInvalid
	if e, r := p.Verdict(); e || r != ReasonInvalid {
		t.Errorf("a current False condition: istiod's, got %v %s", e, r)
	}
	p.Condition.ObservedGeneration = 2
	p.Enforced, p.Reason = true, ReasonAccepted
	if e, r := p.Verdict(); !e || r != ReasonAccepted {
		t.Errorf("a stale condition: the prediction, got %v %s", e, r)
	}
}

func TestRefsEdges(t *testing.T) {
	ap := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"namespace": "ns", "name": "p"},
		"spec": map[string]any{"targetRefs": []any{
			"not a map",
			map[string]any{"name": "no-kind"},
			map[string]any{"kind": "Service", "name": "api", "namespace": ""},
		}},
	}}
	got := targetRefs(ap)
	if len(got) != 1 || got[0] != (Target{Kind: "Service", Namespace: "ns", Name: "api"}) {
		t.Errorf("targetRefs %+v", got)
	}
	if got := targetRefs(&unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{}}}); len(got) != 0 {
		t.Errorf("no refs: %+v", got)
	}

	route := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"namespace": "ns", "name": "r"},
		"spec": map[string]any{"parentRefs": []any{
			"not a map",
			map[string]any{"name": "wp", "namespace": "infra"},
			map[string]any{"kind": "Gateway", "group": "example.com", "name": "wp", "namespace": "infra"},
			map[string]any{"kind": "Gateway", "name": "wp", "namespace": "infra", "port": int64(15008)},
			map[string]any{"kind": "ServiceEntry", "name": "ext"},
		}},
	}}
	got = parentRefs(route)
	want := []Target{
		{Kind: "Gateway", Group: "gateway.networking.k8s.io", Namespace: "infra", Name: "wp"},
		{Kind: "Gateway", Group: "example.com", Namespace: "infra", Name: "wp"},
		{Kind: "ServiceEntry", Namespace: "ns", Name: "ext"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parentRefs\n got %+v\nwant %+v", got, want)
	}
}

func TestKinds(t *testing.T) {
	var names []string
	for _, k := range Kinds {
		names = append(names, k.Name)
		if k.Route != strings.HasSuffix(k.Name, "Route") {
			t.Errorf("%s: Route %v", k.Name, k.Route)
		}
	}
	if want := []string{"AuthorizationPolicy", "RequestAuthentication", "WasmPlugin", "Telemetry", "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute"}; !slices.Equal(names, want) {
		t.Errorf("Kinds %v", names)
	}
	if g := Kinds[6].GVRs; len(g) != 2 || g[0].Version != "v1" || g[1].Version != "v1alpha2" || g[0].Resource != "tcproutes" {
		t.Errorf("TCPRoute versions %v", g)
	}
}

// TestVerdictMessage: the words follow the same rule as Verdict: istiod's
// message from a condition about the current generation, else ours.
func TestVerdictMessage(t *testing.T) {
	p := Policy{Generation: 3, Message: "Service ns/a is not bound to a waypoint"}
	if m := p.VerdictMessage(); m != p.Message {
		t.Errorf("no condition: %q", m)
	}
	p.Condition = &metav1.Condition{Type: ConditionWaypointAccepted, Status: metav1.ConditionFalse, Reason: ReasonAncestorNotBound, Message: "istiod's words", ObservedGeneration: 3}
	if m := p.VerdictMessage(); m != "istiod's words" {
		t.Errorf("a current condition: %q", m)
	}
	p.Condition.ObservedGeneration = 2
	if m := p.VerdictMessage(); m != p.Message {
		t.Errorf("a stale condition: %q", m)
	}
	if (&Result{Absent: []string{"TCPRoute"}}).GatewayAPIMissing() || !(&Result{Absent: []string{"HTTPRoute", "TCPRoute"}}).GatewayAPIMissing() {
		t.Error("GatewayAPIMissing: only HTTPRoute, a standard kind, says the Gateway API is missing")
	}
}
