package enroll

import (
	"fmt"
	"strconv"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// Ingress says whether the traffic an ingress gateway sends to a service or
// ServiceEntry goes through its waypoint, and why, by istiod's rule
// (ingressUseWaypointFromLabels in
// pilot/pkg/serviceregistry/ambient/services.go):
//
//   - the object's own istio.io/ingress-use-waypoint label, when present
//     (even empty, even a value istiod cannot read), wins over its
//     namespace's;
//   - istiod reads the value with Go's strconv.ParseBool: 1, t, T, true,
//     True and TRUE are true; 0, f, F, false, False and FALSE are false;
//     any other value ("yes", "tRuE", "") is false too, and istiod logs a
//     warning;
//   - only an object bound to a waypoint has its ingress traffic sent
//     there: istiod reads the label for no other.
type Ingress struct {
	// UsesWaypoint is true when ingress traffic goes through Waypoint.
	UsesWaypoint bool `json:"usesWaypoint"`
	// Waypoint is the waypoint the object is bound to, namespace/name;
	// empty when it is bound to none: its ingress traffic cannot take one.
	Waypoint string `json:"waypoint,omitempty"`
	// Source says whose label decides: the object's own, its namespace's,
	// or none (SourceNone: no label, so ingress traffic skips the waypoint).
	Source Source `json:"source,omitempty"`
	// Value is the deciding label's value as written; nil when no label
	// decides.
	Value *string `json:"value,omitempty"`
	// Invalid is true when istiod cannot read Value as true or false: it
	// takes it as false and logs a warning.
	Invalid bool `json:"invalid,omitempty"`
	// Message sums it up in one line.
	Message string `json:"message"`
	// Warning names an Invalid value and what istiod makes of it; empty
	// otherwise.
	Warning string `json:"warning,omitempty"`
}

// IngressLabel is the istio.io/ingress-use-waypoint label that decides for
// an object with labels in a namespace with namespaceLabels: the object's
// own when present (even empty), else its namespace's. The source is
// SourceNone, and the value empty, when neither has it.
func IngressLabel(labels, namespaceLabels map[string]string) (value string, source Source) {
	if v, ok := labels[istio.LabelIngressUseWaypoint]; ok {
		return v, SourceOwn
	}
	if v, ok := namespaceLabels[istio.LabelIngressUseWaypoint]; ok {
		return v, SourceNamespace
	}
	return "", SourceNone
}

// ParseIngress reads a value of istio.io/ingress-use-waypoint as istiod
// does (strconv.ParseBool): valid is false for a value it refuses, which
// istiod takes as false.
func ParseIngress(value string) (uses, valid bool) {
	b, err := strconv.ParseBool(value)
	return err == nil && b, err == nil
}

// IngressUses reports whether the ingress label that decides for an object
// with labels in a namespace with namespaceLabels sends its ingress traffic
// through its waypoint, when it has one.
func IngressUses(labels, namespaceLabels map[string]string) bool {
	v, source := IngressLabel(labels, namespaceLabels)
	uses, _ := ParseIngress(v)
	return source != SourceNone && uses
}

// IngressFor resolves the ingress traffic of a service or ServiceEntry of
// kind, namespace and name, with its labels and its namespace's, bound to
// waypoint (namespace/name; empty when it is bound to none).
func IngressFor(kind Kind, namespace, name string, labels, namespaceLabels map[string]string, waypoint string) *Ingress {
	what := describeKind(kind)
	in := &Ingress{Waypoint: waypoint}
	value, source := IngressLabel(labels, namespaceLabels)
	in.Source = source
	var why string
	uses := false
	switch source {
	case SourceNone:
		why = fmt.Sprintf("neither the %s nor namespace %s has the label %s", what, namespace, istio.LabelIngressUseWaypoint)
	case SourceOwn:
		why = fmt.Sprintf("its own label %s=%q", istio.LabelIngressUseWaypoint, value)
		if nsValue, ok := namespaceLabels[istio.LabelIngressUseWaypoint]; ok {
			why += fmt.Sprintf(", which wins over namespace %s's (%q),", namespace, nsValue)
		}
	default:
		why = fmt.Sprintf("the label %s=%q of namespace %s (the %s has none of its own)", istio.LabelIngressUseWaypoint, value, namespace, what)
	}
	if source != SourceNone {
		v := value
		in.Value = &v
		var valid bool
		uses, valid = ParseIngress(value)
		if !valid {
			in.Invalid = true
			owner := fmt.Sprintf("%s %s/%s", what, namespace, name)
			if source == SourceNamespace {
				owner = "namespace " + namespace
			}
			in.Warning = fmt.Sprintf("label %s=%q of %s is neither true nor false to istiod, which reads it as false (and logs a warning); write true or false",
				istio.LabelIngressUseWaypoint, value, owner)
		}
	}
	switch {
	case waypoint == "" && uses:
		in.Message = fmt.Sprintf("ingress traffic cannot go through a waypoint: the %s uses none (%s says true, which takes effect once it does)", what, why)
	case waypoint == "":
		in.Message = fmt.Sprintf("ingress traffic cannot go through a waypoint: the %s uses none", what)
	case uses:
		in.UsesWaypoint = true
		in.Message = fmt.Sprintf("ingress traffic goes through waypoint %s: %s says true", waypoint, why)
	case source == SourceNone:
		in.Message = fmt.Sprintf("ingress traffic bypasses waypoint %s: %s; only traffic from inside the mesh goes through it", waypoint, why)
	case in.Invalid:
		in.Message = fmt.Sprintf("ingress traffic bypasses waypoint %s: %s is not a value istiod reads as true", waypoint, why)
	default:
		in.Message = fmt.Sprintf("ingress traffic bypasses waypoint %s: %s says false", waypoint, why)
	}
	return in
}
