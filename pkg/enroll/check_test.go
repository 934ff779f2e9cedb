package enroll

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

func TestCheck(t *testing.T) {
	ambient := map[string]string{istio.LabelDataplaneMode: istio.DataplaneModeAmbient}
	cases := []struct {
		name string
		in   CheckInput
		want CheckResult
	}{
		{"missing waypoint is only a warning",
			CheckInput{Kind: KindService, Namespaces: map[string]map[string]string{"default": ambient}},
			CheckResult{Missing: true}},
		{"service into a service waypoint",
			CheckInput{Kind: KindService, Waypoint: parsed(gw("default", "w")), Namespaces: map[string]map[string]string{"default": ambient}},
			CheckResult{}},
		{"pods into a service waypoint",
			CheckInput{Kind: KindPod, Waypoint: parsed(gw("default", "w", forType("service"))), Namespaces: map[string]map[string]string{"default": nil}},
			CheckResult{TrafficMismatch: true}},
		{"pods into a waypoint whose class says workload",
			CheckInput{Kind: KindPod, Waypoint: wpsClass(map[string]string{istio.LabelWaypointFor: "workload"}, gw("default", "w"))["default/w"], Namespaces: map[string]map[string]string{"default": nil}},
			CheckResult{}},
		{"ServiceEntry into a workload waypoint",
			CheckInput{Kind: KindServiceEntry, Waypoint: parsed(gw("default", "w", forType("workload"))), Namespaces: map[string]map[string]string{"default": nil}},
			CheckResult{TrafficMismatch: true}},
		{"namespace into a none waypoint is a warning, and so is a namespace out of the mesh",
			CheckInput{Kind: KindNamespace, Waypoint: parsed(gw("default", "w", forType("none"))), Namespaces: map[string]map[string]string{"default": nil}},
			CheckResult{NoTraffic: true, NotAmbient: []string{"default"}}},
		{"namespace into a workload waypoint is fine",
			CheckInput{Kind: KindNamespace, Waypoint: parsed(gw("default", "w", forType("workload"))), Namespaces: map[string]map[string]string{"default": ambient}},
			CheckResult{}},
		{"other namespaces denied by Same",
			CheckInput{Kind: KindService, Waypoint: parsed(gw("infra", "w")), Namespaces: map[string]map[string]string{"b": nil, "a": nil}},
			CheckResult{Denied: []string{"a", "b"}}},
		{"one namespace of two allowed by name",
			CheckInput{Kind: KindNamespace, Waypoint: parsed(gw("infra", "w", allowedFrom(gatewayv1.NamespacesFromSelector,
				&metav1.LabelSelector{MatchLabels: map[string]string{istio.LabelNamespaceName: "a"}}))),
				Namespaces: map[string]map[string]string{"a": {istio.LabelNamespaceName: "a"}, "b": {istio.LabelNamespaceName: "b"}}},
			CheckResult{Denied: []string{"b"}, NotAmbient: []string{"a", "b"}}},
		{"a Gateway of another class",
			CheckInput{Kind: KindService, Waypoint: parsed(gw("default", "w", class("istio"))), Namespaces: map[string]map[string]string{"default": nil}},
			CheckResult{NotAWaypoint: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(tc.in)
			got.Facts = nil
			if got.Missing != tc.want.Missing || got.NotAWaypoint != tc.want.NotAWaypoint || got.TrafficMismatch != tc.want.TrafficMismatch ||
				got.NoTraffic != tc.want.NoTraffic || !slices.Equal(got.Denied, tc.want.Denied) || !slices.Equal(got.NotAmbient, tc.want.NotAmbient) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if got.Blocking() != (tc.want.NotAWaypoint || tc.want.TrafficMismatch || len(tc.want.Denied) > 0) {
				t.Errorf("Blocking() = %v", got.Blocking())
			}
		})
	}
}

// TestChangeAll checks, with a fake clientset, that only what needs a change
// is written, that a client dry run writes nothing, and that one failure
// does not stop the others.
func TestChangeAll(t *testing.T) {
	var objs []runtime.Object
	var targets []Target
	for i := range 20 {
		labels := map[string]string{"app": "x"}
		if i%4 == 0 {
			labels[istio.LabelUseWaypoint] = "w"
		}
		name := fmt.Sprintf("p%02d", i)
		objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: labels}})
		targets = append(targets, Target{Kind: KindPod, Namespace: "ns", Name: name, Labels: labels, ResourceVersion: "1"})
	}
	client := fake.NewClientset(objs...)
	client.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.PatchAction).GetName() == "p07" {
			return true, nil, errors.New("boom")
		}
		return false, nil, nil
	})
	c := &kube.Clients{Kube: client}
	change := func(t Target) LabelChange { return EnrollChange(t.Own(), "w", "") }

	out := ChangeAll(context.Background(), c, targets, change, kube.DryRunClient, 4, nil)
	if n := len(client.Actions()); n != 0 {
		t.Errorf("client dry run sent %d requests", n)
	}
	for _, o := range out {
		if o.After[istio.LabelUseWaypoint] != "w" {
			t.Errorf("%s: after %v", o.Target.Name, o.After)
		}
	}

	out = ChangeAll(context.Background(), c, targets, change, kube.DryRunNone, 4, nil)
	patches, failed := 0, 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "patch" {
			patches++
		}
	}
	for i, o := range out {
		if o.Target.Name != targets[i].Name {
			t.Fatalf("outcome %d is %s: order lost", i, o.Target.Name)
		}
		if o.Err != nil {
			failed++
			continue
		}
		if o.After[istio.LabelUseWaypoint] != "w" || o.Changed != (i%4 != 0) {
			t.Errorf("%s: changed=%v after=%v", o.Target.Name, o.Changed, o.After)
		}
	}
	if patches != 15 || failed != 1 || out[7].Err == nil {
		t.Errorf("patches %d (want 15: 20 pods, 5 already enrolled), failed %d", patches, failed)
	}
}
