package testenv

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// Resources whose conditions istiod writes, for WaitForCondition.
var (
	ServiceResource       = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	WorkloadEntryResource = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "workloadentries"}
)

// WaitTimeout bounds the waits for istiod of WaitProgrammed and
// WaitForCondition.
const WaitTimeout = 60 * time.Second

// WaitProgrammed waits until istiod has programmed the waypoint ns/name: its
// Programmed condition is True for the current generation and it has an
// address. It returns the Gateway as stored then.
func (e *Env) WaitProgrammed(t testing.TB, ns, name string) *gwv1.Gateway {
	t.Helper()
	var gw *gwv1.Gateway
	err := wait.PollUntilContextTimeout(ctx(t), 50*time.Millisecond, WaitTimeout, true, func(c context.Context) (bool, error) {
		got, err := e.Gateway.GatewayV1().Gateways(ns).Get(c, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		gw = got
		p := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
		return p != nil && p.Status == metav1.ConditionTrue && p.ObservedGeneration == gw.Generation && len(gw.Status.Addresses) > 0, nil
	})
	if err != nil {
		t.Fatalf("waiting for istiod to program waypoint %s/%s: %v; status: %+v", ns, name, err, statusOf(gw))
	}
	return gw
}

// WaitNotProgrammed waits until istiod reports that the waypoint ns/name has
// no ready endpoint: Programmed=False for the current generation, reason
// AddressNotAssigned. That is where a held waypoint (HoldWaypoint) settles;
// on its way there istiod may first say AddressNotUsable, while it has not
// seen the waypoint's Service yet. It returns the Gateway.
func (e *Env) WaitNotProgrammed(t testing.TB, ns, name string) *gwv1.Gateway {
	t.Helper()
	var gw *gwv1.Gateway
	err := wait.PollUntilContextTimeout(ctx(t), 50*time.Millisecond, WaitTimeout, true, func(c context.Context) (bool, error) {
		got, err := e.Gateway.GatewayV1().Gateways(ns).Get(c, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		gw = got
		p := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
		return p != nil && p.Status == metav1.ConditionFalse && p.ObservedGeneration == gw.Generation &&
			p.Reason == string(gwv1.GatewayReasonAddressNotAssigned), nil
	})
	if err != nil {
		t.Fatalf("waiting for istiod to report waypoint %s/%s without a ready endpoint: %v; status: %+v", ns, name, err, statusOf(gw))
	}
	return gw
}

func statusOf(gw *gwv1.Gateway) any {
	if gw == nil {
		return nil
	}
	return gw.Status
}

// WaitForCondition waits until the object ns/name of resource gvr (a
// Service, ServiceEntry or WorkloadEntry, say) has a condition of type
// condType in its status for which done returns true (any such condition
// when done is nil), and returns it. Istio's own conditions (on
// ServiceEntries) are read the same way as Kubernetes' ones.
func (e *Env) WaitForCondition(t testing.TB, gvr schema.GroupVersionResource, ns, name, condType string, done func(metav1.Condition) bool) metav1.Condition {
	t.Helper()
	var found *metav1.Condition
	var last []metav1.Condition
	err := wait.PollUntilContextTimeout(ctx(t), 50*time.Millisecond, WaitTimeout, true, func(c context.Context) (bool, error) {
		obj, err := e.Dynamic.Resource(gvr).Namespace(ns).Get(c, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = kube.Conditions(obj)
		found = meta.FindStatusCondition(last, condType)
		return found != nil && (done == nil || done(*found)), nil
	})
	if err != nil {
		t.Fatalf("waiting for condition %s on %s %s/%s: %v; conditions: %+v", condType, gvr.Resource, ns, name, err, last)
	}
	return *found
}
