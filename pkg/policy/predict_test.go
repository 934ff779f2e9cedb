package policy

import (
	"testing"

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
