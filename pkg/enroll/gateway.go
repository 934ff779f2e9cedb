package enroll

import (
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// Where a waypoint's traffic type comes from.
const (
	TrafficTypeFromGateway = "gateway"
	TrafficTypeFromClass   = "class"
	TrafficTypeFromDefault = "default"
)

// WaypointFacts are what istiod derives from a waypoint Gateway when it
// decides whether a resource may use it.
type WaypointFacts struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Class     string `json:"class"`
	Revision  string `json:"revision,omitempty"`
	// TrafficType is the effective traffic type: the Gateway's
	// istio.io/waypoint-for label, else its GatewayClass's, else service.
	TrafficType istio.TrafficType `json:"trafficType"`
	// TrafficTypeFrom is where TrafficType comes from: gateway, class or default.
	TrafficTypeFrom string `json:"trafficTypeFrom"`
	// Programmed is the Gateway's Programmed condition; nil when there is none.
	Programmed *metav1.Condition `json:"programmed,omitempty"`
	Addresses  []string          `json:"addresses,omitempty"`
	// From is allowedRoutes.namespaces.from of the HBONE listener on port
	// 15008: Same when unset or when there is no such listener.
	From gatewayv1.FromNamespaces `json:"allowedFrom"`
	// Selector is the namespace selector when From is Selector, in kubectl
	// syntax; "<invalid>" when it does not parse (istiod then matches nothing).
	Selector string `json:"allowedSelector,omitempty"`

	selector      labels.Selector
	labelSelector *metav1.LabelSelector
}

// FactsOf reads a waypoint Gateway; classLabels are the labels of its
// GatewayClass (nil when unknown).
func FactsOf(gw *gatewayv1.Gateway, classLabels map[string]string) WaypointFacts {
	w := WaypointFacts{
		Namespace:       gw.Namespace,
		Name:            gw.Name,
		Class:           string(gw.Spec.GatewayClassName),
		Revision:        gw.Labels[istio.LabelRev],
		TrafficType:     istio.EffectiveTrafficType(gw.Labels, classLabels),
		TrafficTypeFrom: TrafficTypeFromDefault,
		From:            gatewayv1.NamespacesFromSame,
	}
	switch {
	case gw.Labels[istio.LabelWaypointFor] != "":
		w.TrafficTypeFrom = TrafficTypeFromGateway
	case classLabels[istio.LabelWaypointFor] != "":
		w.TrafficTypeFrom = TrafficTypeFromClass
	}
	if c := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed)); c != nil {
		cond := *c
		w.Programmed = &cond
	}
	for _, a := range gw.Status.Addresses {
		w.Addresses = append(w.Addresses, a.Value)
	}
	// istiod reads the listener that carries HBONE on 15008; without one,
	// only the waypoint's own namespace may attach.
	for _, l := range gw.Spec.Listeners {
		if l.Protocol != istio.ListenerProtocol || l.Port != istio.ListenerPort {
			continue
		}
		if l.AllowedRoutes == nil || l.AllowedRoutes.Namespaces == nil || l.AllowedRoutes.Namespaces.From == nil {
			break
		}
		w.From = *l.AllowedRoutes.Namespaces.From
		if w.From == gatewayv1.NamespacesFromSelector {
			w.labelSelector = l.AllowedRoutes.Namespaces.Selector
			sel, err := metav1.LabelSelectorAsSelector(w.labelSelector)
			if w.labelSelector == nil {
				w.Selector = "<none>"
			} else if err != nil {
				w.Selector = "<invalid>"
			} else {
				w.selector = sel
				w.Selector = sel.String()
			}
		}
		break
	}
	return w
}

// Key is namespace/name.
func (w WaypointFacts) Key() string { return w.Namespace + "/" + w.Name }

// IsWaypointClass reports whether the Gateway's class is a waypoint class.
func (w WaypointFacts) IsWaypointClass() bool { return istio.IsWaypointClass(w.Class) }

// Ready reports whether istiod has programmed the waypoint and given it an
// address: only then does traffic go through it.
func (w WaypointFacts) Ready() bool {
	return w.Programmed != nil && w.Programmed.Status == metav1.ConditionTrue && len(w.Addresses) > 0
}

// NotReadyReason says why the waypoint is not ready; "" when it is.
func (w WaypointFacts) NotReadyReason() string {
	switch {
	case w.Ready():
		return ""
	case w.Programmed == nil:
		return "it has no Programmed condition yet (is istiod running?)"
	case w.Programmed.Status != metav1.ConditionTrue:
		msg := "it is not programmed (Programmed=" + string(w.Programmed.Status)
		if w.Programmed.Reason != "" {
			msg += ", reason " + w.Programmed.Reason
		}
		msg += ")"
		if w.Programmed.Message != "" {
			msg += ": " + w.Programmed.Message
		}
		return msg
	}
	return "it is programmed but has no address yet"
}

// Allows reports whether resources of namespace, whose labels are nsLabels,
// may use the waypoint, by the rules of allowedRoutes.namespaces: All, a
// Selector over the namespace's labels, or Same (the default).
func (w WaypointFacts) Allows(namespace string, nsLabels map[string]string) bool {
	switch w.From {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSelector:
		// A selector that does not parse matches nothing; a missing one too.
		return w.selector != nil && w.labelSelector != nil && w.selector.Matches(labels.Set(nsLabels))
	}
	return namespace == w.Namespace
}

// AllowedDescription says in words who may use the waypoint.
func (w WaypointFacts) AllowedDescription() string {
	switch w.From {
	case gatewayv1.NamespacesFromAll:
		return "every namespace (from: All)"
	case gatewayv1.NamespacesFromSelector:
		if names, ok := w.AllowedNames(); ok {
			return "namespaces " + strings.Join(names, ", ") + " (from: Selector)"
		}
		return "namespaces matching " + w.Selector + " (from: Selector)"
	}
	return "only its own namespace " + w.Namespace + " (from: Same)"
}

// AllowedNames returns the namespace names a Selector allows when it selects
// by kubernetes.io/metadata.name and nothing else, as --allow-namespace
// renders it; ok is false for any other selector.
func (w WaypointFacts) AllowedNames() (names []string, ok bool) {
	if w.From != gatewayv1.NamespacesFromSelector || w.selector == nil {
		return nil, false
	}
	reqs, _ := w.selector.Requirements()
	if len(reqs) != 1 || reqs[0].Key() != istio.LabelNamespaceName {
		return nil, false
	}
	switch reqs[0].Operator() {
	case selection.Equals, selection.DoubleEquals, selection.In:
	default:
		return nil, false
	}
	names = reqs[0].Values().UnsortedList()
	sort.Strings(names)
	return slices.Compact(names), true
}

// MatchLabels returns the selector's matchLabels when the selector is only
// those; ok is false otherwise. Labelling a namespace with them lets it in.
func (w WaypointFacts) MatchLabels() (map[string]string, bool) {
	if w.From != gatewayv1.NamespacesFromSelector || w.selector == nil || w.labelSelector == nil ||
		len(w.labelSelector.MatchExpressions) > 0 || len(w.labelSelector.MatchLabels) == 0 {
		return nil, false
	}
	return w.labelSelector.MatchLabels, true
}
