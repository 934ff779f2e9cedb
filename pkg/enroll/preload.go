package enroll

import (
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// KnowAllWaypoints gives the reader every Gateway of the cluster, read with
// one list: a waypoint that is not among them does not exist, and is never
// read on its own.
func (r *Reader) KnowAllWaypoints(ctx context.Context, gws []gatewayv1.Gateway) {
	for i := range gws {
		w := r.Classes.Parse(ctx, &gws[i])
		r.waypoints[w.Key()] = &w
	}
	r.allWaypoints = true
}

// KnowAllNamespaces gives the reader every namespace of the cluster, read
// with one list: a namespace that is not among them does not exist.
func (r *Reader) KnowAllNamespaces(nss []corev1.Namespace) {
	for i := range nss {
		r.namespaces[nss[i].Name] = &namespaceMeta{nss[i].Labels, nss[i].Annotations}
	}
	r.allNamespaces = true
}

// With returns a reader of the cluster as it would be after a change: the
// waypoints given replaced (nil: deleted), the namespaces given relabelled.
// It shares what r has read, and r itself is left as it is.
func (r *Reader) With(waypoints map[string]*mesh.Waypoint, namespaceLabels map[string]map[string]string) *Reader {
	out := &Reader{Clients: r.Clients, Classes: r.Classes,
		waypoints: maps.Clone(r.waypoints), namespaces: r.namespaces, externalName: r.externalName,
		visibility: r.visibility, visRead: r.visRead, allWaypoints: r.allWaypoints, allNamespaces: r.allNamespaces,
		nsLabels: namespaceLabels}
	maps.Copy(out.waypoints, waypoints)
	return out
}
