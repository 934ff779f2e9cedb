package enroll

import (
	"fmt"
	"strconv"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// Reasons of a Resolution. The first seven are istiod's reasons in the
// istio.io/WaypointBound condition (the canary ones appear, for a bound
// service, in the message of a WaypointAccepted condition); the others
// name outcomes istiod writes no condition for.
const (
	ReasonAccepted                = "WaypointAccepted"
	ReasonNotReady                = "WaypointIsNotReady"
	ReasonAttachmentDenied        = "AttachmentDenied"
	ReasonUnsupportedTrafficType  = "UnsupportedTrafficType"
	ReasonCrossNamespaceForbidden = "CrossNamespaceWaypointForbidden"
	ReasonCanaryInvalidWeight     = "CanaryInvalidWeight"
	ReasonCanarySameAsPrimary     = "CanarySameAsPrimary"
	// ReasonNoWaypoint: neither the resource nor its namespace names a
	// waypoint that serves it.
	ReasonNoWaypoint = "NoWaypoint"
	// ReasonOptedOut: the label that decides is istio.io/use-waypoint=none.
	ReasonOptedOut = "OptedOut"
	// ReasonIsWaypoint: the resource belongs to a waypoint itself.
	ReasonIsWaypoint = "IsWaypoint"
	// ReasonIsEastWestGateway: the service of an east-west gateway.
	ReasonIsEastWestGateway = "IsEastWestGateway"
	// ReasonExternalName: a Service of type ExternalName, which ambient
	// mode does not capture.
	ReasonExternalName = "ExternalName"
	// ReasonNotVisible: the mesh config's serviceEntryVisibility makes the
	// ServiceEntry NONE: istiod configures nothing for it.
	ReasonNotVisible = "NotVisible"
	// ReasonWaypointUnread: the labels name a waypoint the user may not
	// read, and istiod wrote no condition to answer instead.
	ReasonWaypointUnread = "WaypointUnread"
)

// IsIstiodReason reports whether istiod writes reason in an
// istio.io/WaypointBound condition; for the other reasons it writes none.
func IsIstiodReason(reason string) bool {
	switch reason {
	case ReasonAccepted, ReasonNotReady, ReasonAttachmentDenied, ReasonUnsupportedTrafficType, ReasonCrossNamespaceForbidden:
		return true
	}
	return false
}

// ConditionWaypointBound is the condition istiod writes on Services,
// ServiceEntries and WorkloadEntries about their waypoint.
const ConditionWaypointBound = "istio.io/WaypointBound"

// Labels that mark the objects of a waypoint itself.
const (
	LabelGatewayName      = istio.LabelGatewayName
	LabelGatewayManaged   = istio.LabelGatewayManaged
	ManagedMeshController = istio.ManagedMeshController
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
	// Labels and Annotations are the resource's own.
	Labels      map[string]string
	Annotations map[string]string
	// NamespaceLabels and NamespaceAnnotations are those of the resource's
	// namespace (for a namespace, its own; Labels is used then).
	NamespaceLabels      map[string]string
	NamespaceAnnotations map[string]string
	// ExternalName is true for a Service of type ExternalName.
	ExternalName bool
	// Waypoints are the Gateways looked up, parsed, keyed namespace/name: at
	// least those WantedWaypoints names. An absent key is a Gateway that
	// does not exist.
	Waypoints map[string]*mesh.Waypoint
	// Visibility is the mesh config's serviceEntryVisibility; nil when it
	// could not be read (ServiceEntries are then taken as PUBLIC).
	Visibility *mesh.Visibility
}

// Resolution is which waypoint a resource's traffic uses, and why.
type Resolution struct {
	Kind      Kind   `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Source is the label that named the waypoint; empty when none did.
	Source Source `json:"source,omitempty"`
	// Waypoint is the waypoint the deciding label names, namespace/name;
	// empty when none is named (or the label says none). The name may be
	// empty: istio.io/use-waypoint="" names "namespace/".
	Waypoint string `json:"waypoint,omitempty"`
	// Facts describe Waypoint when its Gateway exists.
	Facts *mesh.Waypoint `json:"waypointFacts,omitempty"`
	// Uses is true when istiod sends the traffic through Waypoint.
	Uses bool `json:"usesWaypoint"`
	// Reason is istiod's reason (see IsIstiodReason) or one of ours
	// (NoWaypoint, OptedOut, IsWaypoint, ...).
	Reason string `json:"reason"`
	// Problem is true when the labels ask for a waypoint the resource cannot
	// use: istiod reports it as an error.
	Problem bool `json:"problem"`
	// Canary is the traffic split with a canary waypoint, when one is named.
	Canary *Canary `json:"canary,omitempty"`
	// Ingress says whether the traffic of ingress gateways goes through
	// the waypoint, for a service or ServiceEntry; nil for other kinds.
	Ingress *Ingress `json:"ingress,omitempty"`
	// Message sums the outcome up in one line.
	Message string `json:"message"`
	// Steps are the rules applied, in order, in words.
	Steps []string `json:"steps"`
}

// Canary is a canary waypoint that takes a share of a service's traffic.
type Canary struct {
	// Waypoint is the canary, namespace/name.
	Waypoint string `json:"waypoint"`
	// Weight is the canary's share in percent; the primary takes the rest.
	Weight int `json:"weight"`
	// Active is true when the split is in effect.
	Active bool `json:"active"`
	// Reason says why it is not: istiod's reason, which it adds to the
	// message of the WaypointAccepted condition.
	Reason string `json:"reason,omitempty"`
}

// Key is namespace/name of a namespaced resource, the name of a namespace.
func (r Resolution) Key() string {
	if r.Kind == KindNamespace {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// canaryOf reads the canary as istiod does: from the resource's labels, or
// from its namespace's when the resource has no use-waypoint label of its
// own and no canary label either; the weight annotation likewise. ok is
// false when no canary is named ("" and none name none).
func canaryOf(in ResolveInput) (key string, weight int, weightOK, ok bool) {
	labels, annotations := in.Labels, in.Annotations
	inherit := !UseOf(in.Labels, in.Namespace).Names()
	if inherit {
		if _, has := labels[istio.LabelUseWaypointCanary]; !has {
			if _, nsHas := in.NamespaceLabels[istio.LabelUseWaypointCanary]; nsHas {
				labels = in.NamespaceLabels
			}
		}
	}
	name, has := labels[istio.LabelUseWaypointCanary]
	if !has || name == "" || name == istio.NoWaypoint {
		return "", 0, true, false
	}
	ns := in.Namespace
	if override, f := labels[istio.LabelUseWaypointCanaryNamespace]; f {
		ns = override
	}
	v, has := annotations[istio.AnnotationCanaryWeight]
	if !has && inherit {
		v, has = in.NamespaceAnnotations[istio.AnnotationCanaryWeight]
	}
	if !has {
		return ns + "/" + name, 0, true, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 100 {
		return ns + "/" + name, 0, false, true
	}
	return ns + "/" + name, n, true, true
}

// WantedWaypoints are the Gateways (namespace/name) Resolve will look up
// for the resource: the one that would make it a waypoint's own pod, the
// one its labels (or its namespace's) name, and a canary.
func WantedWaypoints(in ResolveInput) []string {
	in = normalize(in)
	var keys []string
	if in.Kind.IsWorkload() {
		if gw := in.Labels[LabelGatewayName]; gw != "" {
			keys = append(keys, in.Namespace+"/"+gw)
		}
	}
	if u, _ := DecidingUse(in.Labels, in.NamespaceLabels, in.Namespace); u.Names() {
		keys = append(keys, u.Key())
	}
	if in.Kind.IsService() {
		if c, _, _, ok := canaryOf(in); ok {
			keys = append(keys, c)
		}
	}
	return keys
}

// normalize makes a namespace its own namespace, with its own labels.
func normalize(in ResolveInput) ResolveInput {
	if in.Kind == KindNamespace {
		in.Namespace = in.Name
		in.NamespaceLabels = in.Labels
		in.NamespaceAnnotations = in.Annotations
	}
	return in
}

// bound returns the waypoint istiod knows by key: a Gateway with an address.
func (in ResolveInput) bound(key string) *mesh.Waypoint {
	if w := in.Waypoints[key]; w != nil && w.Bound {
		return w
	}
	return nil
}

// Resolve decides, by istiod's rules, which waypoint the traffic of a
// resource uses (pilot/pkg/serviceregistry/ambient/waypoints.go):
//
//   - a waypoint's own Service (gateway.istio.io/managed), an east-west
//     gateway's Service and ExternalName Services get none; neither do the
//     pods of a waypoint (gateway-name naming a Gateway with an address);
//   - the resource's own istio.io/use-waypoint label, when present (even
//     empty), wins over its namespace's; "none" opts out;
//   - the waypoint must exist with an address (istiod never reads
//     Programmed for this); a waypoint named by the resource's own label
//     that is missing leaves it without one: there is no fallback;
//   - the waypoint's bound listener must admit the resource's namespace;
//   - services and ServiceEntries need traffic type service or all, pods
//     and WorkloadEntries workload or all; a mismatch inherited from the
//     namespace just does not apply to a workload, named on it it is an error;
//   - a ServiceEntry that the mesh config makes NAMESPACE-visible may not
//     use a waypoint in another namespace;
//   - a bound service or ServiceEntry may split its traffic with a canary;
//   - for a service or ServiceEntry, Ingress says whether the traffic of
//     ingress gateways takes the waypoint too (IngressFor).
func Resolve(in ResolveInput) Resolution {
	r := resolveWaypoint(in)
	if in.Kind.IsService() {
		waypoint := ""
		if r.Uses {
			waypoint = r.Waypoint
		}
		r.Ingress = IngressFor(in.Kind, in.Namespace, in.Name, in.Labels, in.NamespaceLabels, waypoint)
	}
	return r
}

// resolveWaypoint is Resolve without the ingress traffic.
func resolveWaypoint(in ResolveInput) Resolution {
	in = normalize(in)
	r := Resolution{Kind: in.Kind, Name: in.Name, Steps: []string{}}
	if in.Kind != KindNamespace {
		r.Namespace = in.Namespace
	}
	what := describeKind(in.Kind)
	step := func(format string, args ...any) { r.Steps = append(r.Steps, fmt.Sprintf(format, args...)) }
	stop := func(reason, format string, args ...any) Resolution {
		r.Reason = reason
		r.Message = fmt.Sprintf(format, args...)
		return r
	}

	switch {
	case in.Kind.IsService() && in.Labels[LabelGatewayManaged] == ManagedMeshController:
		step("the %s belongs to a waypoint (label %s=%s): istiod binds no waypoint to it", what, LabelGatewayManaged, ManagedMeshController)
		return stop(ReasonIsWaypoint, "uses no waypoint: it belongs to a waypoint")
	case in.Kind.IsService() && in.Labels[LabelGatewayManaged] == istio.ManagedEastWestController:
		step("the %s belongs to an east-west gateway (label %s=%s): istiod binds no waypoint to it", what, LabelGatewayManaged, istio.ManagedEastWestController)
		return stop(ReasonIsEastWestGateway, "uses no waypoint: it belongs to an east-west gateway")
	case in.Kind == KindService && in.ExternalName:
		step("the service is of type ExternalName: ambient mode does not capture it, so istiod binds no waypoint to it")
		return stop(ReasonExternalName, "uses no waypoint: an ExternalName service")
	case in.Kind.IsWorkload() && in.Labels[LabelGatewayName] != "":
		gwKey := in.Namespace + "/" + in.Labels[LabelGatewayName]
		if in.bound(gwKey) != nil {
			step("the %s is an instance of waypoint %s (label %s=%s): the instances of a waypoint never use a waypoint",
				what, gwKey, LabelGatewayName, in.Labels[LabelGatewayName])
			return stop(ReasonIsWaypoint, "uses no waypoint: it is an instance of waypoint %s", gwKey)
		}
		step("its label %s=%s names no Gateway with an address in namespace %s, so it counts as an ordinary %s",
			LabelGatewayName, in.Labels[LabelGatewayName], in.Namespace, what)
	}

	u, source := DecidingUse(in.Labels, in.NamespaceLabels, in.Namespace)
	r.Source = source
	switch {
	case source == SourceNone && in.Kind == KindNamespace:
		step("the namespace has no %s label: its resources use a waypoint only when their own label names one", istio.LabelUseWaypoint)
		return stop(ReasonNoWaypoint, "names no waypoint")
	case source == SourceNone:
		step("neither the %s nor namespace %s has an %s label", what, in.Namespace, istio.LabelUseWaypoint)
		return stop(ReasonNoWaypoint, "uses no waypoint: none is named")
	case source == SourceOwn && u.None && in.Kind == KindNamespace:
		step("the namespace's label %s=%s opts its resources out of waypoints, unless their own label names one", istio.LabelUseWaypoint, istio.NoWaypoint)
		return stop(ReasonOptedOut, "opts its resources out of waypoints")
	case source == SourceOwn && u.None:
		step("the %s's own label %s=%s opts it out of waypoints, whatever its namespace says", what, istio.LabelUseWaypoint, istio.NoWaypoint)
		return stop(ReasonOptedOut, "uses no waypoint: opted out by its own label")
	case source == SourceOwn:
		step("the %s's own label %s=%q names waypoint %s%s", what, istio.LabelUseWaypoint, u.Name, u.Key(), namespaceLabelNote(u))
		if in.Kind != KindNamespace {
			if ns := UseOf(in.NamespaceLabels, in.Namespace); ns.Set {
				other := ns.Key()
				if ns.None {
					other = istio.NoWaypoint
				}
				step("it wins over the label of namespace %s (%s)", in.Namespace, other)
			}
		}
	case u.None:
		step("the %s has no %s label of its own; namespace %s opts out with %s=%s", what, istio.LabelUseWaypoint, in.Namespace, istio.LabelUseWaypoint, istio.NoWaypoint)
		return stop(ReasonOptedOut, "uses no waypoint: its namespace opts out")
	default:
		step("the %s has no %s label of its own, so the label of namespace %s decides: %s=%q names waypoint %s%s",
			what, istio.LabelUseWaypoint, in.Namespace, istio.LabelUseWaypoint, u.Name, u.Key(), namespaceLabelNote(u))
	}
	key := u.Key()
	r.Waypoint = key
	noFallback := func() {
		if r.Source == SourceOwn && in.Kind != KindNamespace {
			step("a waypoint named by the %s's own label that istiod cannot use is not replaced by the namespace's", what)
		}
	}

	w := in.Waypoints[key]
	if w == nil {
		r.Problem = true
		step("waypoint %s does not exist", key)
		noFallback()
		return stop(ReasonNotReady, "uses no waypoint: waypoint %s does not exist", key)
	}
	r.Facts = w
	if !w.IsWaypointClass() {
		step("note: gateway %s has class %q, not a waypoint class (%s or %s); istiod binds to it all the same", key, w.Class, istio.ClassWaypoint, istio.ClassAgentgatewayWaypoint)
	}
	if !w.Bound {
		r.Problem = true
		step("waypoint %s has no address yet, so istiod sends it no traffic (%s)", key, w.ProgrammedReason())
		noFallback()
		return stop(ReasonNotReady, "uses no waypoint: waypoint %s is not ready", key)
	}
	if w.IsProgrammed() {
		step("waypoint %s is bound (address %s) and programmed", key, w.Addresses[0])
	} else {
		step("waypoint %s is bound (address %s): istiod sends it traffic, though it is not programmed (%s)", key, w.Addresses[0], w.ProgrammedReason())
	}

	if !w.Allows(in.Namespace, in.NamespaceLabels) {
		r.Problem = true
		step("%s", attachmentText(w, in.Namespace, false))
		return stop(ReasonAttachmentDenied, "uses no waypoint: waypoint %s does not allow namespace %s", key, in.Namespace)
	}
	step("%s", attachmentText(w, in.Namespace, true))

	fits, fitText := trafficFit(in.Kind, w)
	if !fits {
		if in.Kind.IsWorkload() && r.Source == SourceNamespace {
			// istiod drops the namespace's waypoint for the workload without a word.
			step("%s; a waypoint inherited from the namespace simply does not apply to a %s", fitText, what)
			return stop(ReasonNoWaypoint, "uses no waypoint: the namespace's waypoint %s does not take workload traffic", key)
		}
		r.Problem = true
		step("%s", fitText)
		return stop(ReasonUnsupportedTrafficType, "uses no waypoint: waypoint %s does not take %s traffic", key, neededTraffic(in.Kind))
	}
	step("%s", fitText)

	if in.Kind == KindServiceEntry {
		vis := mesh.VisibilityPublic
		if in.Visibility != nil {
			vis = in.Visibility.For(in.NamespaceLabels)
		} else {
			step("note: the mesh config (ConfigMap %s/%s) could not be read; the ServiceEntry is taken as PUBLIC", mesh.MeshConfigNamespace, mesh.MeshConfigMap)
		}
		if w.Namespace != in.Namespace && vis == mesh.VisibilityNamespace {
			r.Problem = true
			step("the mesh config's serviceEntryVisibility makes the ServiceEntry NAMESPACE-visible: it may not use a waypoint in another namespace (%s)", w.Namespace)
			return stop(ReasonCrossNamespaceForbidden, "uses no waypoint: a NAMESPACE-visible ServiceEntry may not use waypoint %s in another namespace", key)
		}
		if vis == mesh.VisibilityNone {
			step("the mesh config's serviceEntryVisibility makes the ServiceEntry NONE: istiod configures nothing for it")
			return stop(ReasonNotVisible, "uses no waypoint: the mesh config hides the ServiceEntry (visibility NONE)")
		}
	}

	r.Reason, r.Uses = ReasonAccepted, true
	if in.Kind == KindNamespace {
		r.Message = fmt.Sprintf("its %s use waypoint %s unless their own label says otherwise", namespaceUsers(w.TrafficType), key)
		return r
	}
	r.Message = "uses waypoint " + key
	if in.Kind.IsService() {
		resolveCanary(in, &r, step)
	}
	return r
}

// resolveCanary adds the canary split of a bound service, by istiod's
// buildWeightedWaypoints: a canary error leaves all traffic on the primary.
func resolveCanary(in ResolveInput, r *Resolution, step func(string, ...any)) {
	key, weight, weightOK, ok := canaryOf(in)
	if !ok {
		return
	}
	c := &Canary{Waypoint: key, Weight: weight}
	r.Canary = c
	fail := func(reason, format string, args ...any) {
		c.Reason = reason
		step("canary waypoint %s is not used (%s): "+format, append([]any{key, reason}, args...)...)
		r.Message += fmt.Sprintf("; canary %s not used (%s)", key, reason)
	}
	switch cw := in.bound(key); {
	case key == r.Waypoint:
		fail(ReasonCanarySameAsPrimary, "it is the primary waypoint itself")
	case !weightOK:
		fail(ReasonCanaryInvalidWeight, "annotation %s must be an integer from 0 to 100", istio.AnnotationCanaryWeight)
	case cw == nil:
		fail(ReasonNotReady, "it does not exist or has no address")
	case !cw.Allows(in.Namespace, in.NamespaceLabels):
		fail(ReasonAttachmentDenied, "%s", attachmentText(cw, in.Namespace, false))
	case !cw.TrafficType.ServesServices():
		fail(ReasonUnsupportedTrafficType, "its traffic type is %s", cw.TrafficType.Display())
	default:
		c.Active = true
		step("canary waypoint %s takes %d%% of the traffic, %s %d%%", key, weight, r.Waypoint, 100-weight)
		r.Message = fmt.Sprintf("uses waypoint %s (%d%%) and canary %s (%d%%)", r.Waypoint, 100-weight, key, weight)
	}
}

// namespaceLabelNote mentions the namespace label when it placed the waypoint.
func namespaceLabelNote(u Use) string {
	if u.NamespaceLabeled {
		return fmt.Sprintf(" (namespace from %s=%q)", istio.LabelUseWaypointNamespace, u.Namespace)
	}
	return ""
}

func attachmentText(w *mesh.Waypoint, namespace string, allowed bool) string {
	verb := "allows"
	if !allowed {
		verb = "does not allow"
	}
	return fmt.Sprintf("waypoint %s %s namespace %s: its %s admits %s", w.Key(), verb, namespace, w.ListenerText(), w.AllowedFrom)
}

// trafficFit says whether a waypoint of w's traffic type serves kind.
func trafficFit(kind Kind, w *mesh.Waypoint) (bool, string) {
	t := w.TrafficType
	var fits bool
	switch {
	case kind.IsService():
		fits = t.ServesServices()
	case kind.IsWorkload():
		fits = t.ServesWorkloads()
	default:
		fits = t.ServesServices() || t.ServesWorkloads()
	}
	desc := fmt.Sprintf("waypoint %s has traffic type %s (%s)", w.Key(), t.Display(), TrafficSource(w))
	if kind == KindNamespace {
		if !fits {
			return false, desc + ": it takes no traffic at all"
		}
		return true, desc + ": it serves the namespace's " + namespaceUsers(t)
	}
	if fits {
		return true, fmt.Sprintf("%s, which serves %s", desc, kind.Plural())
	}
	return false, fmt.Sprintf("%s, but a %s needs %s or all", desc, describeKind(kind), neededTraffic(kind))
}

// TrafficSource says where a waypoint's traffic type comes from.
func TrafficSource(w *mesh.Waypoint) string {
	switch w.TrafficTypeFrom {
	case mesh.FromGateway:
		return "its " + istio.LabelWaypointFor + " label"
	case mesh.FromClass:
		return "the " + istio.LabelWaypointFor + " label of GatewayClass " + w.Class
	}
	return "the default: no " + istio.LabelWaypointFor + " label"
}

func neededTraffic(kind Kind) istio.TrafficType {
	if kind.IsWorkload() {
		return istio.TrafficWorkload
	}
	return istio.TrafficService
}

func namespaceUsers(t istio.TrafficType) string {
	switch t {
	case istio.TrafficService:
		return "services and ServiceEntries (not its pods)"
	case istio.TrafficWorkload:
		return "pods and WorkloadEntries (not its services)"
	case istio.TrafficAll:
		return "services, ServiceEntries, pods and WorkloadEntries"
	}
	return "resources: none"
}

// describeKind names a kind in messages.
func describeKind(k Kind) string {
	switch k {
	case KindServiceEntry:
		return "ServiceEntry"
	case KindWorkloadEntry:
		return "WorkloadEntry"
	}
	return string(k)
}
