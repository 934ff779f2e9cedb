package waypoint

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8stesting "k8s.io/client-go/testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/fakecluster"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// istiodMeta is the metadata istiod gives what it makes for the Gateway
// owner (uid) in ns: its label and the owner reference.
func istiodMeta(ns, name, owner, uid string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{istio.LabelGatewayName: owner},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "gateway.networking.k8s.io/v1", Kind: "Gateway", Name: owner, UID: types.UID(uid)}}}
}

func testDeployment(ns, name, owner, uid string, replicas *int32, ready int32) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: istiodMeta(ns, name, owner, uid), Spec: appsv1.DeploymentSpec{Replicas: replicas},
		Status: appsv1.DeploymentStatus{ReadyReplicas: ready}}
}

// listedWaypoints are the waypoints of the cluster as status lists them
// (their Gateways kept).
func listedWaypoints(t *testing.T, c *fakecluster.Cluster) []mesh.Waypoint {
	t.Helper()
	wps, _, err := List(context.Background(), c.Gateway, ListOptions{Namespace: "app", SkipClasses: true, KeepGateway: true})
	if err != nil {
		t.Fatal(err)
	}
	return wps
}

// lists are the list requests the fake clientset saw, as "resource ns".
func lists(c *fakecluster.Cluster) []string {
	var out []string
	for _, a := range c.Kube.Actions() {
		if a.GetVerb() == "list" {
			out = append(out, a.GetResource().Resource+" "+a.GetNamespace())
		}
	}
	return out
}

// TestReadDeployed: what runs for each waypoint is found by the owner
// reference to its Gateway (a renamed Deployment too, one left by an
// earlier Gateway of the name not), with three lists for any number of
// waypoints.
func TestReadDeployed(t *testing.T) {
	c := testCluster()
	for _, o := range []runtime.Object{
		testDeployment("app", "wp", "wp", "uid-wp", new(int32(3)), 2),
		testDeployment("app", "wp-old", "wp", "uid-earlier", new(int32(9)), 9),
		testDeployment("app", "renamed", "pods", "uid-pods", nil, 1),
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: istiodMeta("app", "renamed", "pods", "uid-pods"),
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 4, Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: new(int32(70))}}}}},
			Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 2}},
		&policyv1.PodDisruptionBudget{ObjectMeta: istiodMeta("app", "wp", "wp", "uid-wp"),
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: new(intstr.FromInt32(2))}},
		&policyv1.PodDisruptionBudget{ObjectMeta: istiodMeta("app", "renamed", "pods", "uid-pods"),
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: new(intstr.FromString("50%"))}},
	} {
		if err := c.Kube.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	read := ReadDeployed(context.Background(), c.Clients(), listedWaypoints(t, c))
	if len(read.Unread) != 0 {
		t.Errorf("unread %+v", read.Unread)
	}
	got := map[string]string{}
	for k, d := range read.ByWaypoint {
		s := fmt.Sprintf("%+v", *d.Replicas)
		if a := d.Autoscaler; a != nil {
			s += fmt.Sprintf(" autoscaler %s %d-%d cpu %v current %v", a.Name, a.Min, a.Max, *a.CPUPercent, *a.Current)
		}
		if b := d.Budget; b != nil {
			s += fmt.Sprintf(" budget %+v", *b)
		}
		got[k] = s
	}
	want := map[string]string{
		"app/wp":   "{Deployment:wp Desired:3 Ready:2} budget {Name:wp MinAvailable:2 MaxUnavailable:}",
		"app/pods": "{Deployment:renamed Desired:1 Ready:1} autoscaler renamed 1-4 cpu 70 current 2 budget {Name:renamed MinAvailable: MaxUnavailable:50%}",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s\nwant %s", k, got[k], w)
		}
	}
	if l := lists(c); !slices.Equal(l, []string{"deployments app", "horizontalpodautoscalers app", "poddisruptionbudgets app"}) {
		t.Errorf("lists %v, want one of each kind in namespace app", l)
	}
	if n, ok := read.ByWaypoint["app/pods"].Fewest(); !ok || n != 1 {
		t.Errorf("fewest replicas of app/pods: %d %v, want the autoscaler's minimum, 1", n, ok)
	}
}

// TestReadDeployedForbidden: a list RBAC forbids leaves that object unknown
// for every waypoint, the others read; nothing is then called a single
// replica.
func TestReadDeployedForbidden(t *testing.T) {
	c := testCluster()
	if err := c.Kube.Tracker().Add(testDeployment("app", "wp", "wp", "uid-wp", nil, 1)); err != nil {
		t.Fatal(err)
	}
	c.Kube.PrependReactor("list", "poddisruptionbudgets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}, "", fmt.Errorf("no"))
	})
	read := ReadDeployed(context.Background(), c.Clients(), listedWaypoints(t, c))
	if len(read.Unread) != 1 || read.Unread[0].Resource != ResourceBudgets || read.Unread[0].Namespace != "app" || !apierrors.IsForbidden(read.Unread[0].Err) {
		t.Fatalf("unread %+v", read.Unread)
	}
	d := read.ByWaypoint["app/wp"]
	if d.Replicas == nil || d.Knows(ObjectBudget) || !d.Knows(ObjectAutoscaler) || SingleReplica(d) {
		t.Errorf("app/wp: %+v, single replica %v", d, SingleReplica(d))
	}
}

func TestSingleReplica(t *testing.T) {
	one := &Replicas{Desired: 1}
	for _, c := range []struct {
		name string
		d    Deployed
		want bool
	}{
		{"one replica, no budget", Deployed{Replicas: one}, true},
		{"one replica, a budget", Deployed{Replicas: one, Budget: &Budget{MaxUnavailable: "1"}}, false},
		{"two replicas", Deployed{Replicas: &Replicas{Desired: 2}}, false},
		{"scaled to zero: nothing to drain", Deployed{Replicas: &Replicas{Desired: 0}}, false},
		{"autoscaled from one", Deployed{Replicas: &Replicas{Desired: 3}, Autoscaler: &Autoscaler{Min: 1, Max: 5}}, true},
		{"autoscaled from two", Deployed{Replicas: one, Autoscaler: &Autoscaler{Min: 2, Max: 5}}, false},
		{"nothing deployed yet", Deployed{}, false},
		{"budget unknown", Deployed{Replicas: one, Unknown: []string{ObjectBudget}}, false},
		{"autoscaler unknown", Deployed{Replicas: one, Unknown: []string{ObjectAutoscaler}}, false},
	} {
		if got := SingleReplica(c.d); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestFindExposed: of the waypoints that run one replica without a budget,
// those with users istiod binds are exposed, each with its users: app/wp
// (service traffic) has the service reviews and the enrolled namespace
// other, not the pod labelled for it (istiod gives a pod no service
// waypoint); app/pods has none. A waypoint with a budget costs no request.
func TestFindExposed(t *testing.T) {
	// app/wp admits every namespace (it replaces testCluster's).
	wp := testWaypoint("app", "wp", "")
	wp.Spec.Listeners[0].AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: new(gatewayv1.NamespacesFromAll)}}
	c := testCluster(wp,
		testNamespace("other", map[string]string{istio.LabelUseWaypoint: "wp", istio.LabelUseWaypointNamespace: "app"}),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "reviews-v1", Labels: map[string]string{istio.LabelUseWaypoint: "wp"}}},
	)
	wps := listedWaypoints(t, c)
	single := DeployedRead{ByWaypoint: map[string]Deployed{
		"app/wp":   {Replicas: &Replicas{Deployment: "wp", Desired: 1, Ready: 1}},
		"app/pods": {Replicas: &Replicas{Deployment: "pods", Desired: 1, Ready: 1}},
	}}
	c.Kube.ClearActions()
	exposed, err := FindExposed(context.Background(), c.Clients(), wps, single, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range exposed {
		var users []string
		for _, u := range e.Users {
			users = append(users, string(u.Kind)+" "+u.Key())
		}
		got = append(got, e.Waypoint.Key()+": "+strings.Join(users, ", "))
	}
	if want := []string{"app/wp: namespace other, service app/reviews"}; !slices.Equal(got, want) {
		t.Errorf("exposed %q, want %q", got, want)
	}

	budgeted := DeployedRead{ByWaypoint: map[string]Deployed{
		"app/wp":   {Replicas: &Replicas{Desired: 1}, Budget: &Budget{MaxUnavailable: "1"}},
		"app/pods": {Replicas: &Replicas{Desired: 2}},
	}}
	c.Kube.ClearActions()
	c.Metadata.ClearActions()
	if exposed, err := FindExposed(context.Background(), c.Clients(), wps, budgeted, []string{"app"}); err != nil || len(exposed) != 0 {
		t.Errorf("with budgets: %+v, %v", exposed, err)
	}
	if n := len(c.Kube.Actions()) + len(c.Metadata.Actions()); n != 0 {
		t.Errorf("with no single replica, %d requests were made", n)
	}
}
