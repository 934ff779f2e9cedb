package enroll

import (
	"sort"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// CheckInput is what the checks before an enrollment read: the waypoint and
// the namespaces of the resources to enroll.
type CheckInput struct {
	Kind Kind
	// Waypoint is the waypoint to enroll into; nil when it does not exist.
	Waypoint *mesh.Waypoint
	// Namespaces maps the namespace of each resource to enroll (for
	// namespaces, each namespace itself) to its labels.
	Namespaces map[string]map[string]string
}

// CheckResult lists what the checks found. Missing, NoTraffic and
// NotAmbient deserve a warning; NotAWaypoint, TrafficMismatch and Denied
// stop the enrollment unless it is forced.
type CheckResult struct {
	// Missing is true when the waypoint does not exist (yet); the other
	// waypoint checks were skipped then.
	Missing bool
	// Facts describe the waypoint when it exists.
	Facts *mesh.Waypoint
	// NotAWaypoint is true when the Gateway's class is not a waypoint class.
	NotAWaypoint bool
	// TrafficMismatch is true when the waypoint's traffic type does not
	// serve the kind: services and ServiceEntries need service or all, pods
	// and WorkloadEntries workload or all.
	TrafficMismatch bool
	// NoTraffic is true when a namespace is enrolled into a waypoint whose
	// traffic type is none.
	NoTraffic bool
	// Denied are the namespaces the waypoint's allowedRoutes keep out, sorted.
	Denied []string
	// NotAmbient are the enrolled namespaces without
	// istio.io/dataplane-mode=ambient, sorted.
	NotAmbient []string
}

// Blocking reports whether a check failed that stops an unforced enrollment.
func (r CheckResult) Blocking() bool {
	return r.NotAWaypoint || r.TrafficMismatch || len(r.Denied) > 0
}

// Check runs the checks of an enrollment into a waypoint, without any
// request: the caller has read the waypoint and the namespaces.
func Check(in CheckInput) CheckResult {
	var res CheckResult
	if in.Kind == KindNamespace {
		for ns, labels := range in.Namespaces {
			if labels[istio.LabelDataplaneMode] != istio.DataplaneModeAmbient {
				res.NotAmbient = append(res.NotAmbient, ns)
			}
		}
		sort.Strings(res.NotAmbient)
	}
	if in.Waypoint == nil {
		res.Missing = true
		return res
	}
	facts := in.Waypoint
	res.Facts = facts
	res.NotAWaypoint = !facts.IsWaypointClass()
	switch {
	case in.Kind.IsService():
		res.TrafficMismatch = !facts.TrafficType.ServesServices()
	case in.Kind.IsWorkload():
		res.TrafficMismatch = !facts.TrafficType.ServesWorkloads()
	case in.Kind == KindNamespace:
		res.NoTraffic = !facts.TrafficType.ServesServices() && !facts.TrafficType.ServesWorkloads()
	}
	for ns, labels := range in.Namespaces {
		if !facts.Allows(ns, labels) {
			res.Denied = append(res.Denied, ns)
		}
	}
	sort.Strings(res.Denied)
	return res
}
