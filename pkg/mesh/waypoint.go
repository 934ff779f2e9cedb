// Package mesh holds the one model of a waypoint: a Gateway as istiod sees
// it when it binds services, ServiceEntries, WorkloadEntries and pods to it.
// It parses a Gateway (and its GatewayClass) once into a Waypoint; the
// lifecycle commands (pkg/waypoint) and the enrollment rules (pkg/enroll)
// both read waypoints through it. It also reads the GatewayClasses and the
// mesh-wide ServiceEntry visibility that istiod applies. It changes nothing
// in the cluster and knows nothing of the resources that use a waypoint.
//
// The rules follow istiod's pilot/pkg/serviceregistry/ambient/waypoints.go:
//   - a Gateway is a waypoint to istiod as soon as it has an address in
//     status.addresses ("bound": istiod sends traffic to it); Programmed is
//     not read for that, it is what waiting for a waypoint waits for;
//   - the traffic type is the Gateway's istio.io/waypoint-for label when it
//     has one, else its GatewayClass's, else service; a label that is there
//     is taken literally, so an empty one serves nothing;
//   - who may attach is read from the allowedRoutes of one listener: the one
//     the inbound-binding annotation (on the Gateway, else on its class)
//     binds to, else the first HBONE listener on port 15008, else Same.
package mesh

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// Where a waypoint's traffic type, or its bound listener, comes from.
const (
	FromGateway = "gateway"
	FromClass   = "class"
	FromDefault = "default"
)

// Class is what istiod reads of a GatewayClass: its labels (the default
// traffic type) and annotations (the default inbound binding).
type Class struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
}

// ClassOf reads a GatewayClass.
func ClassOf(gc *gatewayv1.GatewayClass) *Class {
	if gc == nil {
		return nil
	}
	return &Class{Name: gc.Name, Labels: gc.Labels, Annotations: gc.Annotations}
}

// Waypoint is a Gateway as istiod sees it, parsed once.
type Waypoint struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Class     string `json:"class"`
	Revision  string `json:"revision,omitempty"`
	// TrafficType is what istiod uses; it may be empty or a value istiod
	// does not know, and then it serves nothing.
	TrafficType istio.TrafficType `json:"trafficType"`
	// TrafficTypeFrom is where it comes from: gateway, class or default.
	TrafficTypeFrom string `json:"trafficTypeFrom"`
	// Programmed is the Gateway's Programmed condition; nil when there is none.
	Programmed *metav1.Condition `json:"programmed,omitempty"`
	Addresses  []string          `json:"addresses,omitempty"`
	// Bound is true when the Gateway has an address: istiod then sends the
	// traffic of the resources bound to it there, programmed or not.
	Bound bool `json:"bound"`
	// Binding is the value of the inbound-binding annotation, BindingFrom
	// where it was found (gateway or class); both empty when there is none.
	Binding     string `json:"inboundBinding,omitempty"`
	BindingFrom string `json:"inboundBindingFrom,omitempty"`
	// Listener is the name of the listener whose allowedRoutes istiod
	// reads; empty when there is none (only the own namespace may attach).
	Listener string `json:"listener,omitempty"`
	// ListenerByBinding is true when the inbound binding picked Listener,
	// false when it is the HBONE listener.
	ListenerByBinding bool `json:"listenerByBinding,omitempty"`
	// From is allowedRoutes.namespaces.from of that listener, Same when unset.
	From gatewayv1.FromNamespaces `json:"from"`
	// AllowedFrom says who may attach, in the words list -o wide and
	// explain both print: Same, All, or Selector(...).
	AllowedFrom string `json:"allowedFrom"`

	// Created is when the Gateway was created, for an AGE column.
	Created time.Time `json:"-"`

	// Gateway is the object itself, when the reader was asked to keep it.
	Gateway *gatewayv1.Gateway `json:"-"`

	selector      labels.Selector
	labelSelector *metav1.LabelSelector
}

// Parse reads a Gateway as istiod does; class is its GatewayClass, nil when
// it does not exist or cannot be read (istiod then uses its defaults).
func Parse(gw *gatewayv1.Gateway, class *Class) Waypoint {
	w := Waypoint{
		Namespace:       gw.Namespace,
		Name:            gw.Name,
		Class:           string(gw.Spec.GatewayClassName),
		Revision:        gw.Labels[istio.LabelRev],
		TrafficType:     istio.TrafficService,
		TrafficTypeFrom: FromDefault,
		Created:         gw.CreationTimestamp.Time,
	}
	// istiod sets the class's label first, then lets the Gateway's override
	// it; a label that is present counts even when empty.
	if class != nil {
		if v, ok := class.Labels[istio.LabelWaypointFor]; ok {
			w.TrafficType, w.TrafficTypeFrom = istio.TrafficType(v), FromClass
		}
	}
	if v, ok := gw.Labels[istio.LabelWaypointFor]; ok {
		w.TrafficType, w.TrafficTypeFrom = istio.TrafficType(v), FromGateway
	}
	if c := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed)); c != nil {
		cond := *c // a copy, so that a Waypoint does not hold on to its page
		w.Programmed = &cond
	}
	for _, a := range gw.Status.Addresses {
		w.Addresses = append(w.Addresses, a.Value)
	}
	w.Bound = len(gw.Status.Addresses) > 0

	if v, ok := gw.Annotations[istio.AnnotationInboundBinding]; ok {
		w.Binding, w.BindingFrom = v, FromGateway
	} else if class != nil {
		if v, ok := class.Annotations[istio.AnnotationInboundBinding]; ok {
			w.Binding, w.BindingFrom = v, FromClass
		}
	}
	w.From = gatewayv1.NamespacesFromSame
	if l, byBinding, ok := boundListener(gw, w.Binding, w.BindingFrom != ""); ok {
		w.Listener, w.ListenerByBinding = string(l.Name), byBinding
		if l.AllowedRoutes != nil && l.AllowedRoutes.Namespaces != nil {
			if f := l.AllowedRoutes.Namespaces.From; f != nil {
				w.From = *f
			}
			w.labelSelector = l.AllowedRoutes.Namespaces.Selector
			// A missing selector selects nothing; one that does not parse
			// leaves selector nil, which matches nothing here.
			w.selector, _ = metav1.LabelSelectorAsSelector(w.labelSelector)
		}
	}
	switch w.From {
	case gatewayv1.NamespacesFromAll, gatewayv1.NamespacesFromSame, gatewayv1.NamespacesFromSelector:
	default:
		w.From = gatewayv1.NamespacesFromSame // istiod treats anything else as Same
	}
	w.AllowedFrom = w.allowedFrom()
	return w
}

// inboundBinding parses the annotation as istiod does: "<protocol>" or
// "<protocol>/<port>", the protocol NONE or PROXY. ok is false when it does
// not parse. The port is what strconv.ParseUint gives istiod, which logs the
// error and keeps the value: 0 when it is not a number, 4294967295 when it
// is one beyond 32 bits (so no listener has it).
func inboundBinding(v string) (protocol string, port int, ok bool) {
	parts := strings.Split(v, "/")
	if len(parts) > 2 || (parts[0] != "NONE" && parts[0] != "PROXY") {
		return "", 0, false
	}
	if len(parts) == 2 {
		n, _ := strconv.ParseUint(parts[1], 10, 32)
		port = int(n)
	}
	return parts[0], port, true
}

// boundListener is the listener whose allowedRoutes istiod reads: the one
// the inbound binding names (by port, else a PROXY binding's istio.io/PROXY
// listener), else the first HBONE listener on 15008.
func boundListener(gw *gatewayv1.Gateway, binding string, hasBinding bool) (l gatewayv1.Listener, byBinding, ok bool) {
	if hasBinding {
		if proto, port, ok := inboundBinding(binding); ok {
			for _, l := range gw.Spec.Listeners {
				if (port != 0 && int(l.Port) == port) ||
					(port == 0 && proto == "PROXY" && l.Protocol == istio.ListenerProtocolProxy) {
					return l, true, true
				}
			}
		}
	}
	for _, l := range gw.Spec.Listeners {
		if l.Protocol == istio.ListenerProtocol && l.Port == istio.ListenerPort {
			return l, false, true
		}
	}
	return gatewayv1.Listener{}, false, false
}

func (w Waypoint) allowedFrom() string {
	if w.From != gatewayv1.NamespacesFromSelector {
		return string(w.From)
	}
	switch {
	case w.labelSelector == nil:
		return "Selector(<none>)"
	case w.selector == nil:
		return "Selector(<invalid>)"
	case w.selector.Empty():
		return "Selector(<everything>)"
	}
	return "Selector(" + w.selector.String() + ")"
}

// Key is namespace/name.
func (w Waypoint) Key() string { return w.Namespace + "/" + w.Name }

// IsWaypointClass reports whether the Gateway's class is a waypoint class.
// istiod binds to any Gateway with an address; the tool manages only these.
func (w Waypoint) IsWaypointClass() bool { return istio.IsWaypointClass(w.Class) }

// IsProgrammed reports whether the Programmed condition is True.
func (w Waypoint) IsProgrammed() bool {
	return w.Programmed != nil && w.Programmed.Status == metav1.ConditionTrue
}

// Ready reports what waiting for a waypoint waits for: programmed, with an
// address.
func (w Waypoint) Ready() bool { return w.IsProgrammed() && w.Bound }

// ProgrammedText is the Programmed status for a table: True, False or Unknown.
func (w Waypoint) ProgrammedText() string {
	if w.Programmed == nil {
		return string(metav1.ConditionUnknown)
	}
	return string(w.Programmed.Status)
}

// ProgrammedReason says why the waypoint is not programmed; "" when it is.
func (w Waypoint) ProgrammedReason() string {
	switch c := w.Programmed; {
	case w.IsProgrammed():
		return ""
	case c == nil:
		return "no Programmed condition yet (is istiod running?)"
	default:
		return fmt.Sprintf("Programmed=%s, reason %s: %s", c.Status, c.Reason, c.Message)
	}
}

// NotReadyReason says why the waypoint is not what waiting waits for; ""
// when it is ready.
func (w Waypoint) NotReadyReason() string {
	switch {
	case w.Ready():
		return ""
	case !w.IsProgrammed():
		return w.ProgrammedReason()
	}
	return "Programmed=True but no address yet"
}

// UpdateStatus takes the status of gw (a newer version of the same
// Gateway): Programmed and the addresses.
func (w *Waypoint) UpdateStatus(gw *gatewayv1.Gateway) {
	u := Parse(gw, nil)
	w.Programmed, w.Addresses, w.Bound = u.Programmed, u.Addresses, u.Bound
}

// StateText says in a few words whether istiod sends traffic to the
// waypoint and whether it is programmed.
func (w Waypoint) StateText() string {
	bound := "bound: address " + strings.Join(w.Addresses, ", ")
	if !w.Bound {
		bound = "not bound: no address yet, istiod sends it no traffic"
	}
	prog := "programmed"
	if !w.IsProgrammed() {
		prog = "not programmed (" + w.ProgrammedReason() + ")"
	}
	return bound + "; " + prog
}

// Allows reports whether resources of namespace, whose labels are nsLabels,
// may attach: All, a Selector over the namespace's labels, or Same.
func (w Waypoint) Allows(namespace string, nsLabels map[string]string) bool {
	switch w.From {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSelector:
		return w.selector != nil && w.selector.Matches(labels.Set(nsLabels))
	}
	return namespace == w.Namespace
}

// ListenerText names the listener istiod reads for attachment, and why.
func (w Waypoint) ListenerText() string {
	switch {
	case w.Listener == "":
		return "no HBONE listener on 15008"
	case w.ListenerByBinding:
		where := "the Gateway's"
		if w.BindingFrom == FromClass {
			where = "GatewayClass " + w.Class + "'s"
		}
		return "listener " + w.Listener + " (bound by " + where + " " + istio.AnnotationInboundBinding + "=" + w.Binding + ")"
	}
	return "HBONE listener " + w.Listener
}

// AllowedNames returns the namespace names a Selector allows when it
// selects by kubernetes.io/metadata.name and nothing else, as
// --allow-namespace renders it; ok is false for any other selector.
func (w Waypoint) AllowedNames() (names []string, ok bool) {
	if w.From != gatewayv1.NamespacesFromSelector || w.selector == nil || w.labelSelector == nil {
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
	return names, true
}

// MatchLabels returns the selector's matchLabels when the selector is only
// those; ok is false otherwise. Labelling a namespace with them lets it in.
func (w Waypoint) MatchLabels() (map[string]string, bool) {
	if w.From != gatewayv1.NamespacesFromSelector || w.selector == nil || w.labelSelector == nil ||
		len(w.labelSelector.MatchExpressions) > 0 || len(w.labelSelector.MatchLabels) == 0 {
		return nil, false
	}
	return w.labelSelector.MatchLabels, true
}

// Selector is the namespace selector in kubectl syntax when From is
// Selector and it parses; "" otherwise.
func (w Waypoint) Selector() string {
	if w.From != gatewayv1.NamespacesFromSelector || w.selector == nil || w.labelSelector == nil {
		return ""
	}
	return w.selector.String()
}

// SameBinding reports whether istiod binds the same resources to w and to
// other: the same traffic type and the same namespaces admitted.
func (w Waypoint) SameBinding(other Waypoint) bool {
	return w.TrafficType == other.TrafficType && w.From == other.From && w.AllowedFrom == other.AllowedFrom &&
		w.Bound == other.Bound
}

// IsWaypointGateway reports whether the Gateway's class is a waypoint class:
// the Gateways the tool lists, applies and deletes.
func IsWaypointGateway(gw *gatewayv1.Gateway) bool {
	return istio.IsWaypointClass(string(gw.Spec.GatewayClassName))
}
