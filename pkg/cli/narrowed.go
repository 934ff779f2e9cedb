package cli

import (
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// The warnings of a user whose rights do not reach what an answer needs:
// one line each, saying what could not be read and what was assumed.

// warnAssumed warns about what the reader could not read and assumed: the
// GatewayClasses, and the mesh config's serviceEntryVisibility.
func warnAssumed(io *IOStreams, reader *enroll.Reader) {
	warnUnreadClasses(io, reader.Classes)
	if reader.VisibilityUnread {
		io.Warnf("cannot read the mesh config (ConfigMap %s/%s): assumed it sets no serviceEntryVisibility, so every ServiceEntry is PUBLIC",
			mesh.MeshConfigNamespace, mesh.MeshConfigMap)
	}
}

// warnUnreadWaypoints warns about each waypoint of an explanation (and of
// a pod's services) that the user may not read: istiod's condition on the
// object was taken as the answer.
func warnUnreadWaypoints(io *IOStreams, ex *enroll.Explanation) {
	seen := map[string]bool{}
	for _, e := range append([]enroll.Explanation{*ex}, ex.Services...) {
		if e.UnreadWaypoint != "" && !seen[e.UnreadWaypoint] {
			seen[e.UnreadWaypoint] = true
			if e.Condition == nil {
				io.Warnf("cannot read waypoint %s (forbidden): answered from the labels alone; whether the waypoint takes this traffic was not checked", e.UnreadWaypoint)
				continue
			}
			io.Warnf("cannot read waypoint %s (forbidden): took istiod's %s condition as the answer", e.UnreadWaypoint, enroll.ConditionWaypointBound)
		}
	}
}

// warnUnreadClasses warns about each GatewayClass that could not be read:
// its waypoints were taken to get no traffic type or inbound binding from it.
func warnUnreadClasses(io *IOStreams, classes *mesh.Classes) {
	for _, c := range classes.Unread() {
		why := "forbidden"
		if !apierrors.IsForbidden(c.Err) {
			why = c.Err.Error()
		}
		io.Warnf("cannot read GatewayClass %s (%s): assumed it sets no traffic type or inbound binding of its own", c.Name, why)
	}
}

// warnListGaps warns about the lists RBAC kept the reader from making while
// it looked for the users of waypoint key: the kinds searched in the
// waypoint's namespace instead of across the cluster, and those not
// searched at all in a namespace.
func warnListGaps(io *IOStreams, gaps []enroll.ListGap, key string) {
	var narrowed []string
	instead := ""
	unsearched := map[string][]string{}
	var order []string
	for _, g := range gaps {
		if g.Namespace == "" {
			narrowed = append(narrowed, g.Kind.Plural())
			instead = g.Instead
			continue
		}
		if _, ok := unsearched[g.Namespace]; !ok {
			order = append(order, g.Namespace)
		}
		unsearched[g.Namespace] = append(unsearched[g.Namespace], g.Kind.Plural())
	}
	if len(narrowed) > 0 {
		io.Warnf("you may not list %s across the cluster: only namespace %s was searched; resources of other namespaces may also use waypoint %s",
			strings.Join(narrowed, ", "), instead, key)
	}
	for _, ns := range order {
		io.Warnf("you may not list %s in namespace %s: they were not searched for resources that use waypoint %s",
			strings.Join(unsearched[ns], ", "), ns, key)
	}
}
