package testenv

import (
	"context"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// waypointClasses are the GatewayClasses istiod deploys waypoints for.
var waypointClasses = map[gwv1.ObjectName]bool{
	"istio-waypoint":              true,
	"istio-agentgateway-waypoint": true,
}

// FakeIstiod runs, until the test ends, a stand-in for the part of istiod
// that deploys waypoints: every waypoint Gateway (class istio-waypoint or
// istio-agentgateway-waypoint) in namespace becomes Programmed, with
// addresses, delay after it is created or changed. Other Gateways are left
// alone. Scope it to the test's own namespace so that parallel tests that
// want unready waypoints are not disturbed.
func (e *Env) FakeIstiod(t testing.TB, namespace string, delay time.Duration) {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.RunFakeIstiod(c, namespace, delay) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fake istiod: %v", err)
		}
	})
}

// RunFakeIstiod is FakeIstiod until c is done; namespace "" watches all
// namespaces. It returns nil when c ends, or the error that stopped it.
func (e *Env) RunFakeIstiod(c context.Context, namespace string, delay time.Duration) error {
	gateways := e.Gateway.GatewayV1().Gateways(namespace)
	for c.Err() == nil {
		list, err := gateways.List(c, metav1.ListOptions{})
		if err != nil {
			if c.Err() != nil {
				break
			}
			return fmt.Errorf("listing gateways: %w", err)
		}
		for i := range list.Items {
			e.reconcileWaypoint(c, &list.Items[i], delay)
		}
		w, err := gateways.Watch(c, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			if c.Err() != nil {
				break
			}
			return fmt.Errorf("watching gateways: %w", err)
		}
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			if gw, ok := ev.Object.(*gwv1.Gateway); ok {
				e.reconcileWaypoint(c, gw, delay)
			}
		}
		w.Stop()
		// The watch ended (timeout, compaction, or c): list again.
	}
	return nil
}

// reconcileWaypoint programs gw after delay unless it is not a waypoint or
// already programmed for its generation.
func (e *Env) reconcileWaypoint(c context.Context, gw *gwv1.Gateway, delay time.Duration) {
	if !waypointClasses[gw.Spec.GatewayClassName] || gw.DeletionTimestamp != nil || isProgrammed(gw) {
		return
	}
	ns, name := gw.Namespace, gw.Name
	program := func() {
		if c.Err() != nil {
			return
		}
		// Errors are left to the next event: the Gateway may have been
		// deleted meanwhile.
		_, _ = e.updateGatewayStatus(c, ns, name, func(gw *gwv1.Gateway) {
			if isProgrammed(gw) {
				return
			}
			programmed(FakeAddresses(ns, name))(gw)
		})
	}
	if delay <= 0 {
		program()
		return
	}
	time.AfterFunc(delay, program)
}

func isProgrammed(gw *gwv1.Gateway) bool {
	c := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == gw.Generation
}

// FakeAddresses are the addresses the fake istiod gives the waypoint ns/name:
// a stable IP in 10.96.128.0/17, as the waypoint Service's cluster IP would
// be, and the Service's DNS name.
func FakeAddresses(ns, name string) []string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(ns + "/" + name))
	n := h.Sum32()
	ip := fmt.Sprintf("10.96.%d.%d", 128+n%128, 1+(n/128)%254)
	return []string{ip, name + "." + ns + ".svc.cluster.local"}
}
