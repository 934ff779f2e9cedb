// Package render builds the waypoint Gateway from a request and prints objects
// and tables. It is the one renderer of the tool: `generate` prints what it
// builds and `apply` sends the same object to the cluster.
package render

import (
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// Request says what waypoint to build. The zero value of every field but Name
// means "not asked for": no label, no namespace, same-namespace attachment.
type Request struct {
	// Name of the Gateway; empty means istio.DefaultWaypointName.
	Name string
	// Namespace of the Gateway; empty leaves metadata.namespace out.
	Namespace string
	// For is the traffic type label; empty leaves the label out so that
	// istiod falls back to the GatewayClass's default.
	For string
	// Revision is the istio.io/rev label; empty leaves it out.
	Revision string
	// AllowNamespaces names the namespaces whose resources may use the
	// waypoint. istiod matches the selector against every consumer, the
	// waypoint's own namespace included: leave it out and it is refused.
	AllowNamespaces []string
	// AllowNamespaceSelector is a label selector, in kubectl's syntax, over the
	// namespaces whose resources may use the waypoint.
	AllowNamespaceSelector string
	// AllowAllNamespaces lets resources of every namespace use the waypoint.
	AllowAllNamespaces bool
	// Infra sizes and places the waypoint's Deployment through istiod's
	// parameters (spec.infrastructure and the ConfigMap of ConfigMap).
	Infra Infrastructure
	// Class is the waypoint's GatewayClass; empty means
	// istio.ClassWaypoint.
	Class string
}

// ClassName is the GatewayClass the Gateway will have.
func (r Request) ClassName() string {
	if r.Class == "" {
		return istio.ClassWaypoint
	}
	return r.Class
}

// WaypointName is the name the Gateway will have.
func (r Request) WaypointName() string {
	if r.Name == "" {
		return istio.DefaultWaypointName
	}
	return r.Name
}

// Validate checks the request without building anything. Each error names the
// bad value and what is allowed.
func (r Request) Validate() error {
	_, err := r.allowedRoutes()
	if err != nil {
		return err
	}
	name := r.WaypointName()
	if name == istio.NoWaypoint {
		return errors.New(`invalid waypoint name "none": "none" is reserved for opting resources out of waypoints; choose another --name`)
	}
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return fmt.Errorf("invalid waypoint name %q: %s", name, msgs[0])
	}
	if r.Namespace != "" {
		if msgs := validation.IsDNS1123Label(r.Namespace); len(msgs) > 0 {
			return fmt.Errorf("invalid namespace %q: %s", r.Namespace, msgs[0])
		}
	}
	if r.For != "" {
		if _, err := istio.ParseTrafficType(r.For); err != nil {
			return fmt.Errorf("--for: %w", err)
		}
	}
	if r.Revision != "" {
		if msgs := validation.IsValidLabelValue(r.Revision); len(msgs) > 0 {
			return fmt.Errorf("invalid revision %q: %s", r.Revision, msgs[0])
		}
	}
	if !istio.IsWaypointClass(r.ClassName()) {
		return fmt.Errorf("invalid --class %q: the waypoint classes istiod serves are %s and %s", r.Class, istio.ClassWaypoint, istio.ClassAgentgatewayWaypoint)
	}
	return r.Infra.Validate()
}

// Gateway builds the waypoint Gateway for the request.
func Gateway(r Request) (*gatewayv1.Gateway, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	routes, _ := r.allowedRoutes()
	gw := &gatewayv1.Gateway{
		TypeMeta: metav1.TypeMeta{
			APIVersion: gatewayv1.GroupVersion.String(),
			Kind:       "Gateway",
		},
		ObjectMeta: metav1.ObjectMeta{
			Name:      r.WaypointName(),
			Namespace: r.Namespace,
		},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(r.ClassName()),
			Listeners: []gatewayv1.Listener{{
				Name:          istio.ListenerName,
				Port:          istio.ListenerPort,
				Protocol:      istio.ListenerProtocol,
				AllowedRoutes: routes,
			}},
			Infrastructure: r.Infra.infrastructure(r.WaypointName()),
		},
	}
	if r.For != "" {
		setLabel(gw, istio.LabelWaypointFor, r.For)
	}
	if r.Revision != "" {
		setLabel(gw, istio.LabelRev, r.Revision)
	}
	return gw, nil
}

func setLabel(gw *gatewayv1.Gateway, key, value string) {
	if gw.Labels == nil {
		gw.Labels = map[string]string{}
	}
	gw.Labels[key] = value
}

// allowedRoutes turns the cross-namespace fields into the listener's
// allowedRoutes, or nil for the default (same namespace only).
func (r Request) allowedRoutes() (*gatewayv1.AllowedRoutes, error) {
	set := 0
	for _, on := range []bool{len(r.AllowNamespaces) > 0, r.AllowNamespaceSelector != "", r.AllowAllNamespaces} {
		if on {
			set++
		}
	}
	if set > 1 {
		return nil, errors.New("--allow-namespace, --allow-namespace-selector and --allow-all-namespaces are mutually exclusive: use one of them")
	}
	switch {
	case r.AllowAllNamespaces:
		return fromNamespaces(gatewayv1.NamespacesFromAll, nil), nil
	case r.AllowNamespaceSelector != "":
		sel, err := namespaceSelector(r.AllowNamespaceSelector)
		if err != nil {
			return nil, fmt.Errorf("invalid --allow-namespace-selector %q: %w", r.AllowNamespaceSelector, err)
		}
		return fromNamespaces(gatewayv1.NamespacesFromSelector, sel), nil
	case len(r.AllowNamespaces) > 0:
		var names []string
		for _, ns := range r.AllowNamespaces {
			if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
				return nil, fmt.Errorf("invalid --allow-namespace %q: %s", ns, msgs[0])
			}
			if !slices.Contains(names, ns) {
				names = append(names, ns)
			}
		}
		return fromNamespaces(gatewayv1.NamespacesFromSelector, namespaceNameSelector(names)), nil
	}
	return nil, nil
}

// namespaceSelector parses a selector in kubectl's syntax into the
// LabelSelector of the listener's allowedRoutes. metav1.ParseToLabelSelector
// refuses kubectl's "k!=v", for which a LabelSelector has no operator; it
// means "k notin (v)", and is written so.
func namespaceSelector(s string) (*metav1.LabelSelector, error) {
	reqs, err := labels.ParseToRequirements(s)
	if err != nil {
		return nil, err
	}
	for i, req := range reqs {
		if req.Operator() != selection.NotEquals {
			continue
		}
		notIn, err := labels.NewRequirement(req.Key(), selection.NotIn, req.Values().List())
		if err != nil {
			return nil, err
		}
		reqs[i] = *notIn
	}
	return metav1.ParseToLabelSelector(labels.NewSelector().Add(reqs...).String())
}

// namespaceNameSelector selects namespaces by name. One name fits matchLabels;
// several need one matchExpressions entry, since a map cannot hold the same
// matchLabels key twice.
func namespaceNameSelector(names []string) *metav1.LabelSelector {
	if len(names) == 1 {
		return &metav1.LabelSelector{MatchLabels: map[string]string{istio.LabelNamespaceName: names[0]}}
	}
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key:      istio.LabelNamespaceName,
		Operator: metav1.LabelSelectorOpIn,
		Values:   names,
	}}}
}

func fromNamespaces(from gatewayv1.FromNamespaces, sel *metav1.LabelSelector) *gatewayv1.AllowedRoutes {
	return &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from, Selector: sel}}
}
