package enroll

import (
	"fmt"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// Reasons of a Resolution. The first four are istiod's reasons in the
// istio.io/WaypointBound condition; the others name outcomes istiod writes no
// condition for.
const (
	ReasonAccepted               = "WaypointAccepted"
	ReasonNotReady               = "WaypointIsNotReady"
	ReasonAttachmentDenied       = "AttachmentDenied"
	ReasonUnsupportedTrafficType = "UnsupportedTrafficType"
	// ReasonNoWaypoint: neither the resource nor its namespace names a
	// waypoint that serves it.
	ReasonNoWaypoint = "NoWaypoint"
	// ReasonOptedOut: the label that decides is istio.io/use-waypoint=none.
	ReasonOptedOut = "OptedOut"
	// ReasonIsWaypoint: the resource belongs to a waypoint itself.
	ReasonIsWaypoint = "IsWaypoint"
)

// ConditionWaypointBound is the condition istiod writes on Services and
// ServiceEntries about their waypoint.
const ConditionWaypointBound = "istio.io/WaypointBound"

// Labels that mark the objects of a waypoint itself.
const (
	// LabelGatewayName is on the pods of a Gateway's deployment.
	LabelGatewayName = "gateway.networking.k8s.io/gateway-name"
	// LabelGatewayManaged is on the Service istiod creates for a waypoint,
	// with the value ManagedMeshController.
	LabelGatewayManaged   = "gateway.istio.io/managed"
	ManagedMeshController = "istio.io-mesh-controller"
)

// Source says which label decided a resource's waypoint.
type Source string

// The sources of a waypoint.
const (
	SourceNone      Source = ""
	SourceOwn       Source = "own-label"
	SourceNamespace Source = "namespace-label"
)

// ResolveInput is everything Resolve needs, already read from the cluster.
type ResolveInput struct {
	Kind Kind
	// Namespace of the resource; for a namespace, its own name.
	Namespace string
	Name      string
	// Labels are the resource's own labels.
	Labels map[string]string
	// NamespaceLabels are the labels of the resource's namespace (for a
	// namespace, its own labels; Labels is used then).
	NamespaceLabels map[string]string
	// Waypoints are the Gateways looked up, keyed namespace/name: at least
	// the one WantedWaypoint names. A key that is absent is a waypoint that
	// does not exist.
	Waypoints map[string]*gatewayv1.Gateway
	// ClassLabels are the labels of GatewayClasses by name; a class that is
	// absent has none.
	ClassLabels map[string]map[string]string
}

// Resolution is which waypoint a resource's traffic uses, and why.
type Resolution struct {
	Kind      Kind   `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Source is the label that named the waypoint; empty when none did.
	Source Source `json:"source,omitempty"`
	// Waypoint is the waypoint the deciding label names, namespace/name;
	// empty when none is named (or the label says none).
	Waypoint string `json:"waypoint,omitempty"`
	// Facts describe Waypoint when its Gateway exists.
	Facts *WaypointFacts `json:"waypointFacts,omitempty"`
	// Uses is true when traffic goes through Waypoint now.
	Uses bool `json:"usesWaypoint"`
	// Reason is istiod's reason (WaypointAccepted, WaypointIsNotReady,
	// AttachmentDenied, UnsupportedTrafficType) or one of ours (NoWaypoint,
	// OptedOut, IsWaypoint).
	Reason string `json:"reason"`
	// Problem is true when the labels ask for a waypoint the resource cannot
	// use: istiod reports it as an error.
	Problem bool `json:"problem"`
	// Message sums the outcome up in one line.
	Message string `json:"message"`
	// Steps are the rules applied, in order, in words.
	Steps []string `json:"steps"`
}

// Key is namespace/name of a namespaced resource, the name of a namespace.
func (r Resolution) Key() string {
	if r.Kind == KindNamespace {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// useWaypoint reads the enrollment labels as istiod does: the waypoint they
// name (namespace/name, the namespace defaulting to own), whether they opt
// out with "none", and whether istio.io/use-waypoint is there at all.
func useWaypoint(labels map[string]string, own string) (key string, none, set bool) {
	name, ok := labels[istio.LabelUseWaypoint]
	if !ok {
		return "", false, false
	}
	if name == istio.NoWaypoint {
		return "", true, true
	}
	ns := own
	if override, ok := labels[istio.LabelUseWaypointNamespace]; ok {
		ns = override
	}
	return ns + "/" + name, false, true
}

// WantedWaypoint is the waypoint (namespace/name) Resolve will look up for the
// resource: the one its own label names, else the one its namespace's label
// names; "" when neither names one.
func WantedWaypoint(in ResolveInput) string {
	in = normalize(in)
	if belongsToWaypoint(in) {
		return ""
	}
	key, _, set := useWaypoint(in.Labels, in.Namespace)
	if set || in.Kind == KindNamespace {
		return key
	}
	key, _, _ = useWaypoint(in.NamespaceLabels, in.Namespace)
	return key
}

// normalize makes a namespace its own namespace, with its own labels.
func normalize(in ResolveInput) ResolveInput {
	if in.Kind == KindNamespace {
		in.Namespace = in.Name
		in.NamespaceLabels = in.Labels
	}
	return in
}

func belongsToWaypoint(in ResolveInput) bool {
	switch in.Kind {
	case KindPod:
		return in.Labels[LabelGatewayName] != ""
	case KindService, KindServiceEntry:
		return in.Labels[LabelGatewayManaged] == ManagedMeshController
	}
	return false
}

// Resolve decides, by istiod's rules, which waypoint the traffic of a
// resource uses:
//
//   - the objects of a waypoint itself never use one;
//   - the resource's own istio.io/use-waypoint label wins over its
//     namespace's; "none" opts out;
//   - a waypoint named by the resource's own label that is missing or not
//     ready leaves it without a waypoint: there is no fallback to the
//     namespace's;
//   - the waypoint must allow the resource's namespace (allowedRoutes);
//   - services and ServiceEntries need traffic type service or all, pods
//     workload or all; a service-only waypoint inherited from the namespace
//     just does not apply to a pod, named on the pod itself it is an error.
func Resolve(in ResolveInput) Resolution {
	in = normalize(in)
	r := Resolution{Kind: in.Kind, Name: in.Name, Steps: []string{}}
	if in.Kind != KindNamespace {
		r.Namespace = in.Namespace
	}
	what := describeKind(in.Kind)
	step := func(format string, args ...any) { r.Steps = append(r.Steps, fmt.Sprintf(format, args...)) }

	if belongsToWaypoint(in) {
		r.Reason = ReasonIsWaypoint
		if in.Kind == KindPod {
			step("the pod is an instance of waypoint %s/%s (label %s=%s): the pods of a waypoint never use a waypoint",
				in.Namespace, in.Labels[LabelGatewayName], LabelGatewayName, in.Labels[LabelGatewayName])
		} else {
			step("the %s belongs to a waypoint (label %s=%s): a waypoint's own %s never uses a waypoint",
				what, LabelGatewayManaged, ManagedMeshController, what)
		}
		r.Message = "uses no waypoint: it belongs to a waypoint"
		return r
	}

	key, none, set := useWaypoint(in.Labels, in.Namespace)
	r.Source = SourceOwn
	switch {
	case set && none:
		r.Reason = ReasonOptedOut
		if in.Kind == KindNamespace {
			step("the namespace's label %s=%s opts its resources out of waypoints, unless their own label names one", istio.LabelUseWaypoint, istio.NoWaypoint)
			r.Message = "opts its resources out of waypoints"
			return r
		}
		step("the %s's own label %s=%s opts it out of waypoints, whatever its namespace says", what, istio.LabelUseWaypoint, istio.NoWaypoint)
		r.Message = "uses no waypoint: opted out by its own label"
		return r
	case set:
		step("the %s's own label %s names waypoint %s%s", what, istio.LabelUseWaypoint, key, namespaceLabelNote(in.Labels))
		if in.Kind != KindNamespace {
			if nsKey, nsNone, nsSet := useWaypoint(in.NamespaceLabels, in.Namespace); nsSet {
				other := nsKey
				if nsNone {
					other = istio.NoWaypoint
				}
				step("it wins over the label of namespace %s (%s)", in.Namespace, other)
			}
		}
	case in.Kind == KindNamespace:
		r.Source, r.Reason = SourceNone, ReasonNoWaypoint
		step("the namespace has no %s label: its resources use a waypoint only when their own label names one", istio.LabelUseWaypoint)
		r.Message = "names no waypoint"
		return r
	default:
		r.Source = SourceNamespace
		key, none, set = useWaypoint(in.NamespaceLabels, in.Namespace)
		switch {
		case !set:
			r.Source, r.Reason = SourceNone, ReasonNoWaypoint
			step("neither the %s nor namespace %s has an %s label", what, in.Namespace, istio.LabelUseWaypoint)
			r.Message = "uses no waypoint: none is named"
			return r
		case none:
			r.Reason = ReasonOptedOut
			step("the %s has no %s label of its own; namespace %s opts out with %s=%s", what, istio.LabelUseWaypoint, in.Namespace, istio.LabelUseWaypoint, istio.NoWaypoint)
			r.Message = "uses no waypoint: its namespace opts out"
			return r
		}
		step("the %s has no %s label of its own, so the label of namespace %s decides: it names waypoint %s%s",
			what, istio.LabelUseWaypoint, in.Namespace, key, namespaceLabelNote(in.NamespaceLabels))
	}
	r.Waypoint = key

	gw := in.Waypoints[key]
	if gw == nil {
		r.Reason, r.Problem = ReasonNotReady, true
		step("waypoint %s does not exist", key)
		if r.Source == SourceOwn && in.Kind != KindNamespace {
			step("a waypoint named by the %s's own label that is missing or not ready is not replaced by the namespace's", what)
		}
		r.Message = fmt.Sprintf("uses no waypoint: waypoint %s does not exist", key)
		return r
	}
	facts := FactsOf(gw, in.ClassLabels[string(gw.Spec.GatewayClassName)])
	r.Facts = &facts
	if !facts.IsWaypointClass() {
		step("note: gateway %s has class %q, not a waypoint class (%s or %s)", key, facts.Class, istio.ClassWaypoint, istio.ClassAgentgatewayWaypoint)
	}

	ready := facts.Ready()
	allowed := facts.Allows(in.Namespace, in.NamespaceLabels)
	fits, fitText := trafficFit(in.Kind, facts)
	if !ready {
		r.Reason, r.Problem = ReasonNotReady, true
		step("waypoint %s is not ready: %s", key, facts.NotReadyReason())
		if r.Source == SourceOwn && in.Kind != KindNamespace {
			step("a waypoint named by the %s's own label that is missing or not ready is not replaced by the namespace's", what)
		}
		if !allowed {
			step("also: %s", attachmentText(facts, in.Namespace, false))
		}
		if !fits {
			step("also: %s", fitText)
		}
		r.Message = fmt.Sprintf("uses no waypoint: waypoint %s is not ready", key)
		return r
	}
	step("waypoint %s is ready: Programmed=True, address %s", key, facts.Addresses[0])

	if !allowed {
		r.Reason, r.Problem = ReasonAttachmentDenied, true
		step("%s", attachmentText(facts, in.Namespace, false))
		if !fits {
			step("also: %s", fitText)
		}
		r.Message = fmt.Sprintf("uses no waypoint: waypoint %s does not allow namespace %s", key, in.Namespace)
		return r
	}
	step("%s", attachmentText(facts, in.Namespace, true))

	if !fits {
		if in.Kind == KindPod && r.Source == SourceNamespace {
			// istiod drops the namespace's waypoint for the pod without a word.
			r.Reason = ReasonNoWaypoint
			step("%s; a waypoint inherited from the namespace simply does not apply to pods", fitText)
			r.Message = fmt.Sprintf("uses no waypoint: the namespace's waypoint %s does not take workload traffic", key)
			return r
		}
		r.Reason, r.Problem = ReasonUnsupportedTrafficType, true
		step("%s", fitText)
		r.Message = fmt.Sprintf("uses no waypoint: waypoint %s does not take %s traffic", key, neededTraffic(in.Kind))
		return r
	}
	step("%s", fitText)
	r.Reason, r.Uses = ReasonAccepted, true
	if in.Kind == KindNamespace {
		r.Message = fmt.Sprintf("its %s use waypoint %s unless their own label says otherwise", namespaceUsers(facts.TrafficType), key)
	} else {
		r.Message = "uses waypoint " + key
	}
	return r
}

// namespaceLabelNote mentions the namespace label when it placed the waypoint.
func namespaceLabelNote(labels map[string]string) string {
	if ns, ok := labels[istio.LabelUseWaypointNamespace]; ok {
		return fmt.Sprintf(" (namespace from %s=%s)", istio.LabelUseWaypointNamespace, ns)
	}
	return ""
}

func attachmentText(w WaypointFacts, namespace string, allowed bool) string {
	if namespace == w.Namespace && allowed {
		return fmt.Sprintf("waypoint %s is in the same namespace, %s", w.Key(), namespace)
	}
	verb := "allows"
	if !allowed {
		verb = "does not allow"
	}
	return fmt.Sprintf("waypoint %s %s namespace %s: its HBONE listener admits %s", w.Key(), verb, namespace, w.AllowedDescription())
}

// trafficFit says whether a waypoint of w's traffic type serves kind.
func trafficFit(kind Kind, w WaypointFacts) (bool, string) {
	from := map[string]string{
		TrafficTypeFromGateway: "its " + istio.LabelWaypointFor + " label",
		TrafficTypeFromClass:   "the label of GatewayClass " + w.Class,
		TrafficTypeFromDefault: "the default: neither the Gateway nor its class sets it",
	}[w.TrafficTypeFrom]
	t := w.TrafficType
	var fits bool
	switch kind {
	case KindService, KindServiceEntry:
		fits = t.ServesServices()
	case KindPod:
		fits = t.ServesWorkloads()
	default:
		fits = t.ServesServices() || t.ServesWorkloads()
	}
	if kind == KindNamespace {
		if !fits {
			return false, fmt.Sprintf("waypoint %s has traffic type %s (%s): it takes no traffic at all", w.Key(), t, from)
		}
		return true, fmt.Sprintf("waypoint %s has traffic type %s (%s): it serves the namespace's %s", w.Key(), t, from, namespaceUsers(t))
	}
	if fits {
		return true, fmt.Sprintf("waypoint %s has traffic type %s (%s), which serves %s", w.Key(), t, from, describeKind(kind)+"s")
	}
	return false, fmt.Sprintf("waypoint %s has traffic type %s (%s), but a %s needs %s or all", w.Key(), t, from, describeKind(kind), neededTraffic(kind))
}

func neededTraffic(kind Kind) istio.TrafficType {
	if kind == KindPod {
		return istio.TrafficWorkload
	}
	return istio.TrafficService
}

func namespaceUsers(t istio.TrafficType) string {
	switch t {
	case istio.TrafficService:
		return "services and ServiceEntries (not its pods)"
	case istio.TrafficWorkload:
		return "pods (not its services)"
	case istio.TrafficAll:
		return "services, ServiceEntries and pods"
	}
	return "resources: none"
}

// describeKind names a kind in messages.
func describeKind(k Kind) string {
	if k == KindServiceEntry {
		return "ServiceEntry"
	}
	return string(k)
}
