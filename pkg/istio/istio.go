// Package istio holds the names and rules of Istio's ambient mode that the
// tool must respect: the labels istiod reads, the waypoint gateway classes, and
// the traffic types a waypoint can serve.
package istio

import (
	"fmt"
	"slices"
	"strings"
)

// Labels and values that istiod reads on Gateways, Namespaces, Services, Pods
// and ServiceEntries.
const (
	// LabelWaypointFor on a Gateway (or its GatewayClass) selects the traffic
	// type the waypoint serves.
	LabelWaypointFor = "istio.io/waypoint-for"
	// LabelRev on a Gateway picks the control-plane revision.
	LabelRev = "istio.io/rev"
	// LabelUseWaypoint enrolls a resource into the waypoint it names.
	LabelUseWaypoint = "istio.io/use-waypoint"
	// LabelUseWaypointNamespace names the namespace of the waypoint when it is
	// not the resource's own.
	LabelUseWaypointNamespace = "istio.io/use-waypoint-namespace"
	// LabelIngressUseWaypoint on a Service or ServiceEntry, else on its
	// namespace, sends the traffic of ingress gateways through the
	// waypoint the service is bound to; istiod reads its value with Go's
	// strconv.ParseBool.
	LabelIngressUseWaypoint = "istio.io/ingress-use-waypoint"
	// LabelDataplaneMode on a namespace puts it in the mesh.
	LabelDataplaneMode = "istio.io/dataplane-mode"
	// DataplaneModeAmbient is the value of LabelDataplaneMode for ambient mode.
	DataplaneModeAmbient = "ambient"
	// LabelNamespaceName is the label the API server sets on every namespace
	// to its own name.
	LabelNamespaceName = "kubernetes.io/metadata.name"
	// NoWaypoint is the reserved waypoint name that opts a resource out.
	NoWaypoint = "none"
	// DefaultWaypointName is the name a waypoint gets when none is given.
	DefaultWaypointName = "waypoint"
	// LabelUseWaypointCanary names a second waypoint that takes a share of
	// the traffic of a service or ServiceEntry (or of a namespace's).
	LabelUseWaypointCanary = "istio.io/use-waypoint-canary"
	// LabelUseWaypointCanaryNamespace names the canary's namespace when it
	// is not the resource's own.
	LabelUseWaypointCanaryNamespace = "istio.io/use-waypoint-canary-namespace"
	// AnnotationCanaryWeight is the canary's share in percent, 0 to 100;
	// missing means 0.
	AnnotationCanaryWeight = "istio.io/use-waypoint-canary-weight"
	// AnnotationInboundBinding on a Gateway or its GatewayClass tells how
	// traffic reaches the waypoint ("PROXY", "NONE", "PROXY/15088"); it
	// also picks the listener whose allowedRoutes istiod reads.
	AnnotationInboundBinding = "ambient.istio.io/waypoint-inbound-binding"
	// LabelGatewayName is on the pods (and other objects) of a Gateway's
	// deployment and names the Gateway.
	LabelGatewayName = "gateway.networking.k8s.io/gateway-name"
	// LabelGatewayManaged is on the Services istiod creates for its
	// gateways; ManagedMeshController marks a waypoint's,
	// ManagedEastWestController an east-west gateway's.
	LabelGatewayManaged       = "gateway.istio.io/managed"
	ManagedMeshController     = "istio.io-mesh-controller"
	ManagedEastWestController = "istio.io-eastwest-controller"
)

// Gateway classes whose Gateways are waypoints.
const (
	ClassWaypoint             = "istio-waypoint"
	ClassAgentgatewayWaypoint = "istio-agentgateway-waypoint"
)

// The HBONE listener every waypoint has.
const (
	ListenerName     = "mesh"
	ListenerPort     = 15008
	ListenerProtocol = "HBONE"
	// ListenerProtocolProxy is the protocol of the listener an inbound
	// binding of "PROXY" without a port binds to.
	ListenerProtocolProxy = "istio.io/PROXY"
)

// IsWaypointClass reports whether Gateways of the class are waypoints.
func IsWaypointClass(class string) bool {
	return class == ClassWaypoint || class == ClassAgentgatewayWaypoint
}

// TrafficType is the kind of traffic a waypoint serves.
type TrafficType string

// The traffic types of LabelWaypointFor.
const (
	TrafficService  TrafficType = "service"
	TrafficWorkload TrafficType = "workload"
	TrafficAll      TrafficType = "all"
	TrafficNone     TrafficType = "none"
)

// TrafficTypes lists the valid traffic types in the order istioctl prints them.
var TrafficTypes = []TrafficType{TrafficAll, TrafficNone, TrafficService, TrafficWorkload}

// ParseTrafficType checks s against the valid traffic types.
func ParseTrafficType(s string) (TrafficType, error) {
	t := TrafficType(s)
	if slices.Contains(TrafficTypes, t) {
		return t, nil
	}
	names := make([]string, len(TrafficTypes))
	for i, tt := range TrafficTypes {
		names[i] = string(tt)
	}
	return "", fmt.Errorf("invalid traffic type %q: must be one of %s", s, strings.Join(names, ", "))
}

// ServesServices reports whether a waypoint of this type takes traffic
// addressed to services and ServiceEntries.
func (t TrafficType) ServesServices() bool { return t == TrafficService || t == TrafficAll }

// ServesWorkloads reports whether a waypoint of this type takes traffic
// addressed to pods directly.
func (t TrafficType) ServesWorkloads() bool { return t == TrafficWorkload || t == TrafficAll }

// Display is the traffic type for messages: an empty one, which serves
// nothing, shows as "".
func (t TrafficType) Display() string {
	if t == "" {
		return `""`
	}
	return string(t)
}
