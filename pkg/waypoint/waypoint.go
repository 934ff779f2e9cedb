// Package waypoint holds the lifecycle operations on waypoint Gateways: apply,
// list, status and delete. It takes API clients and returns typed results; it
// prints nothing.
package waypoint

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// DefaultPageSize is how many Gateways one list request asks for.
const DefaultPageSize = 500

// Waypoint is a waypoint Gateway with what istiod derives from it.
type Waypoint struct {
	Namespace string
	Name      string
	Class     string
	Revision  string
	// TrafficType is the effective traffic type: the Gateway's label, else its
	// GatewayClass's, else service.
	TrafficType istio.TrafficType
	// Programmed is the Programmed condition, nil when there is none.
	Programmed *metav1.Condition
	Addresses  []string
	// AllowedFrom says who may attach: "Same", "All", or the selector.
	AllowedFrom string
	// Gateway is the object itself; List leaves it nil unless asked to keep it.
	Gateway *gatewayv1.Gateway
}

// Key is namespace/name.
func (w Waypoint) Key() string { return w.Namespace + "/" + w.Name }

// Ready reports whether istiod has programmed the waypoint and given it an
// address.
func (w Waypoint) Ready() bool {
	return w.Programmed != nil && w.Programmed.Status == metav1.ConditionTrue && len(w.Addresses) > 0
}

// IsWaypoint reports whether the Gateway is a waypoint.
func IsWaypoint(gw *gatewayv1.Gateway) bool {
	return istio.IsWaypointClass(string(gw.Spec.GatewayClassName))
}

// FromGateway describes a waypoint Gateway; classLabels are the labels of its
// GatewayClass (nil when unknown).
func FromGateway(gw *gatewayv1.Gateway, classLabels map[string]string) Waypoint {
	w := Waypoint{
		Namespace:   gw.Namespace,
		Name:        gw.Name,
		Class:       string(gw.Spec.GatewayClassName),
		Revision:    gw.Labels[istio.LabelRev],
		TrafficType: istio.EffectiveTrafficType(gw.Labels, classLabels),
		AllowedFrom: allowedFrom(gw),
	}
	if c := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed)); c != nil {
		// A copy, so that a Waypoint does not hold on to the page it came from.
		cond := *c
		w.Programmed = &cond
	}
	for _, a := range gw.Status.Addresses {
		w.Addresses = append(w.Addresses, a.Value)
	}
	return w
}

// allowedFrom summarises the allowedRoutes of the listener istiod reads: the
// HBONE listener on port 15008.
func allowedFrom(gw *gatewayv1.Gateway) string {
	for _, l := range gw.Spec.Listeners {
		if l.Protocol != istio.ListenerProtocol || l.Port != istio.ListenerPort {
			continue
		}
		if l.AllowedRoutes == nil || l.AllowedRoutes.Namespaces == nil || l.AllowedRoutes.Namespaces.From == nil {
			return string(gatewayv1.NamespacesFromSame)
		}
		from := *l.AllowedRoutes.Namespaces.From
		if from == gatewayv1.NamespacesFromSelector {
			sel, err := metav1.LabelSelectorAsSelector(l.AllowedRoutes.Namespaces.Selector)
			if err != nil {
				return "Selector(invalid)"
			}
			return "Selector(" + sel.String() + ")"
		}
		return string(from)
	}
	return string(gatewayv1.NamespacesFromSame)
}

// ClassLabels reads the labels of the waypoint GatewayClasses, which give the
// default traffic type. A cluster where they cannot be read gets none, and
// istiod's own default (service) applies.
type ClassLabels struct {
	client gatewayclient.Interface
	loaded bool
	labels map[string]map[string]string
}

// NewClassLabels reads GatewayClass labels through client, once, on demand.
func NewClassLabels(client gatewayclient.Interface) *ClassLabels {
	return &ClassLabels{client: client}
}

// For returns the labels of the named class.
func (c *ClassLabels) For(ctx context.Context, class string) map[string]string {
	if !c.loaded {
		c.loaded = true
		c.labels = map[string]map[string]string{}
		for _, name := range []string{istio.ClassWaypoint, istio.ClassAgentgatewayWaypoint} {
			gc, err := c.client.GatewayV1().GatewayClasses().Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				c.labels[name] = gc.Labels
			}
		}
	}
	return c.labels[class]
}

// Ref names one waypoint.
type Ref struct {
	Namespace string
	Name      string
}

func (r Ref) String() string { return r.Namespace + "/" + r.Name }

// ParseRef parses namespace/name.
func ParseRef(s string) (Ref, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" {
		return Ref{}, fmt.Errorf("invalid waypoint %q: want namespace/name", s)
	}
	return Ref{Namespace: ns, Name: name}, nil
}
