// Package policy reads the Layer 7 policies that take effect only through a
// waypoint (Gateway API routes with parentRefs, and Istio's
// AuthorizationPolicy, RequestAuthentication, WasmPlugin and Telemetry with
// targetRefs), what each attaches to, the condition istiod wrote on it, and
// predicts whether it is enforced by the rules istiod applies in
// pilot/pkg/serviceregistry/ambient/policies.go. Which waypoint a Service or
// ServiceEntry uses is decided by pkg/enroll; this package never decides it
// again. It changes nothing in the cluster and never imports cobra.
package policy

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// ConditionWaypointAccepted is the condition istiod writes on an
// AuthorizationPolicy with targetRefs.
const ConditionWaypointAccepted = "WaypointAccepted"

// The reasons of WaypointAccepted, and ours for what istiod does not judge.
const (
	ReasonAccepted         = "Accepted"
	ReasonAncestorNotBound = "AncestorNotBound"
	ReasonTargetNotFound   = "TargetNotFound"
	ReasonInvalid          = "Invalid"
	ReasonPartiallyInvalid = "PartiallyInvalid"
	// ReasonUnknownKind is a target of a kind no waypoint serves.
	ReasonUnknownKind = "UnsupportedTargetKind"
)

// MeshController is the controller name of waypoint GatewayClasses; a
// policy on a GatewayClass applies only to classes of that controller.
const MeshController = "istio.io/mesh-controller"

// Target is one targetRef or parentRef of a policy.
type Target struct {
	// Kind is Gateway, GatewayClass, Service or ServiceEntry (or another
	// kind, which no waypoint serves).
	Kind      string `json:"kind"`
	Group     string `json:"group,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// Key is namespace/name of the target, the name of a GatewayClass.
func (t Target) Key() string {
	if t.Kind == "GatewayClass" {
		return t.Name
	}
	return t.Namespace + "/" + t.Name
}

// String is Kind/namespace/name.
func (t Target) String() string { return t.Kind + "/" + t.Key() }

// TargetState is what the cluster holds of a target, already read.
type TargetState struct {
	// Exists is false when the target is not there.
	Exists bool
	// Gateway is the parsed Gateway of a Gateway target.
	Gateway *mesh.Waypoint
	// Resolution is the waypoint a Service or ServiceEntry target uses, by
	// pkg/enroll's rules.
	Resolution *enroll.Resolution
	// ClassController is the controller of a GatewayClass target.
	ClassController string
}

// Attachment is one target of a policy and whether traffic to it meets the
// policy in a waypoint.
type Attachment struct {
	Target Target `json:"target"`
	// Waypoint is the waypoint that enforces the policy for the target,
	// namespace/name (the class name for a GatewayClass); empty when none.
	Waypoint string `json:"waypoint,omitempty"`
	Enforced bool   `json:"enforced"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
	// Parent is, for a route, what the controllers wrote in its
	// status.parents for this parentRef; nil when none wrote anything.
	Parent *ParentStatus `json:"routeParent,omitempty"`
}

// ParentStatus is a route's status for one parentRef, as a controller
// (istiod: istio.io/gateway-controller) wrote it.
type ParentStatus struct {
	Controller string `json:"controller"`
	// Accepted and ResolvedRefs are the two conditions of the Gateway API;
	// nil when not written. istiod writes Accepted=False (NoMatchingParent)
	// for a parent Service that does not exist, and Accepted=True for one
	// that exists, bound to a waypoint or not.
	Accepted     *metav1.Condition `json:"accepted,omitempty"`
	ResolvedRefs *metav1.Condition `json:"resolvedRefs,omitempty"`
	// ResolvedWaypoints is istiod's own: always True, its message says
	// when the parent has no istio.io/use-waypoint label ("in ambient mode,
	// route will not be respected"); it does not check the waypoint.
	ResolvedWaypoints *metav1.Condition `json:"resolvedWaypoints,omitempty"`
}

// String sums the conditions up: "Accepted=True ResolvedRefs=True", or
// with the reason of each that is not True.
func (ps *ParentStatus) String() string {
	if ps == nil {
		return "<none>"
	}
	var parts []string
	for _, c := range []*metav1.Condition{ps.Accepted, ps.ResolvedRefs} {
		if c == nil {
			continue
		}
		part := c.Type + "=" + string(c.Status)
		if c.Status != metav1.ConditionTrue && c.Reason != "" {
			part += " (" + c.Reason + ")"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, " ")
}

// Predict applies istiod's rules to one target of a policy in namespace
// policyNamespace; rootNamespace is the mesh's root namespace.
func Predict(t Target, policyNamespace, rootNamespace string, s TargetState) Attachment {
	a := Attachment{Target: t}
	switch t.Kind {
	case "GatewayClass":
		switch {
		case policyNamespace != rootNamespace:
			a.Reason, a.Message = ReasonInvalid, fmt.Sprintf("a policy on a GatewayClass must be in the root namespace %s", rootNamespace)
		case !s.Exists:
			a.Reason, a.Message = ReasonTargetNotFound, fmt.Sprintf("GatewayClass %s was not found", t.Name)
		case s.ClassController != MeshController:
			a.Reason, a.Message = ReasonInvalid, fmt.Sprintf("GatewayClass %s is not a waypoint class (controller %s)", t.Name, s.ClassController)
		default:
			a.Enforced, a.Waypoint, a.Reason, a.Message = true, t.Name, ReasonAccepted, "bound to class "+t.Name
		}
	case "Gateway":
		switch {
		case !s.Exists || s.Gateway == nil:
			a.Reason, a.Message = ReasonTargetNotFound, fmt.Sprintf("Gateway %s was not found", t.Key())
		case !s.Gateway.Bound:
			// istiod knows a Gateway as a waypoint only once it has an address.
			a.Reason, a.Message = ReasonTargetNotFound, fmt.Sprintf("Gateway %s has no address yet: istiod does not know it as a waypoint", t.Key())
		default:
			a.Enforced, a.Waypoint, a.Reason, a.Message = true, t.Key(), ReasonAccepted, "bound to "+t.Key()
		}
	case "Service", "ServiceEntry":
		switch {
		case !s.Exists:
			a.Reason, a.Message = ReasonTargetNotFound, fmt.Sprintf("%s %s was not found", t.Kind, t.Key())
		case s.Resolution == nil || !s.Resolution.Uses:
			a.Reason, a.Message = ReasonAncestorNotBound, fmt.Sprintf("%s %s is not bound to a waypoint", t.Kind, t.Key())
			if s.Resolution != nil && s.Resolution.Message != "" {
				a.Message += ": " + s.Resolution.Message
			}
		default:
			a.Enforced, a.Waypoint, a.Reason, a.Message = true, s.Resolution.Waypoint, ReasonAccepted, "bound to "+s.Resolution.Waypoint
		}
	default:
		a.Reason, a.Message = ReasonUnknownKind, fmt.Sprintf("no waypoint serves a target of kind %s", t.Kind)
	}
	return a
}

// Flatten sums the attachments of a policy up as istiod does in its one
// WaypointAccepted condition: one target gives its own reason; of several,
// any enforced one makes the policy Accepted, PartiallyInvalid when others
// are not, and none makes it Invalid.
func Flatten(as []Attachment) (enforced bool, reason, message string) {
	if len(as) == 1 {
		return as[0].Enforced, as[0].Reason, as[0].Message
	}
	var unbound []string
	for _, a := range as {
		if a.Enforced {
			enforced = true
		} else {
			unbound = append(unbound, a.Target.String()+" ("+a.Reason+")")
		}
	}
	switch {
	case enforced && len(unbound) > 0:
		reason = ReasonPartiallyInvalid
	case enforced:
		reason = ReasonAccepted
	default:
		reason = ReasonInvalid
	}
	if len(unbound) > 0 {
		message = "not enforced for " + strings.Join(unbound, ", ")
	}
	return enforced, reason, message
}
