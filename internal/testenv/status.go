package testenv

import (
	"context"
	"net"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// SetProgrammed plays istiod, for states the real istiod of the test cannot
// be driven into, such as a waypoint of a revision no istiod runs for
// (istio.io/rev: canary): on a waypoint the running istiod owns, istiod
// overwrites what it writes. Say why at each use. It sets the
// Gateway's Accepted and Programmed conditions to True for its current
// generation and its status.addresses to the given addresses (an IP gives an
// IPAddress entry, anything else a Hostname entry), through the status
// subresource.
func (e *Env) SetProgrammed(t testing.TB, ns, name string, addresses ...string) *gwv1.Gateway {
	t.Helper()
	return e.UpdateGatewayStatus(t, ns, name, programmed(addresses))
}

// SetNotProgrammed plays istiod, under the same terms as SetProgrammed, for
// a waypoint that is accepted but not ready (for a real one, see
// HoldWaypoint): Accepted True, Programmed False with the given reason and message
// (istiod uses reasons such as "Invalid" or "AddressNotAssigned"), and no
// addresses.
func (e *Env) SetNotProgrammed(t testing.TB, ns, name, reason, message string) *gwv1.Gateway {
	t.Helper()
	return e.UpdateGatewayStatus(t, ns, name, func(gw *gwv1.Gateway) {
		setCondition(gw, gwv1.GatewayConditionAccepted, metav1.ConditionTrue, string(gwv1.GatewayReasonAccepted), "Resource accepted")
		setCondition(gw, gwv1.GatewayConditionProgrammed, metav1.ConditionFalse, reason, message)
		gw.Status.Addresses = nil
	})
}

// UpdateGatewayStatus reads a Gateway, lets mutate change its status and
// writes it back through the status subresource, retrying on conflicts. It
// returns the Gateway as stored.
func (e *Env) UpdateGatewayStatus(t testing.TB, ns, name string, mutate func(*gwv1.Gateway)) *gwv1.Gateway {
	t.Helper()
	updated, err := e.updateGatewayStatus(ctx(t), ns, name, mutate)
	if err != nil {
		t.Fatalf("updating the status of gateway %s/%s: %v", ns, name, err)
	}
	return updated
}

func (e *Env) updateGatewayStatus(c context.Context, ns, name string, mutate func(*gwv1.Gateway)) (*gwv1.Gateway, error) {
	gateways := e.Gateway.GatewayV1().Gateways(ns)
	var updated *gwv1.Gateway
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		gw, err := gateways.Get(c, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(gw)
		updated, err = gateways.UpdateStatus(c, gw, metav1.UpdateOptions{})
		return err
	})
	return updated, err
}

// programmed mutates a Gateway's status as istiod does once the waypoint runs.
func programmed(addresses []string) func(*gwv1.Gateway) {
	return func(gw *gwv1.Gateway) {
		setCondition(gw, gwv1.GatewayConditionAccepted, metav1.ConditionTrue, string(gwv1.GatewayReasonAccepted), "Resource accepted")
		setCondition(gw, gwv1.GatewayConditionProgrammed, metav1.ConditionTrue, string(gwv1.GatewayReasonProgrammed),
			"Resource programmed, assigned to service(s) "+gw.Name+"."+gw.Namespace+".svc.cluster.local:15008")
		gw.Status.Addresses = statusAddresses(addresses)
	}
}

// setCondition sets a condition for the Gateway's current generation; the
// transition time changes only when the status does.
func setCondition(gw *gwv1.Gateway, typ gwv1.GatewayConditionType, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&gw.Status.Conditions, metav1.Condition{
		Type:               string(typ),
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: gw.Generation,
	})
}

func statusAddresses(addresses []string) []gwv1.GatewayStatusAddress {
	var out []gwv1.GatewayStatusAddress
	for _, a := range addresses {
		typ := gwv1.HostnameAddressType
		if net.ParseIP(a) != nil {
			typ = gwv1.IPAddressType
		}
		out = append(out, gwv1.GatewayStatusAddress{Type: &typ, Value: a})
	}
	return out
}
