package waypoint

import (
	"context"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// ListOptions choose which waypoints to list.
type ListOptions struct {
	// Namespace to list; empty lists all namespaces.
	Namespace string
	// LabelSelector filters the Gateways, e.g. "istio.io/rev=canary".
	LabelSelector string
	// PageSize is the number of Gateways per request; 0 means DefaultPageSize.
	PageSize int64
	// KeepGateway keeps the whole object in each Waypoint (for -o yaml|json).
	KeepGateway bool
	// SkipClasses does not read the GatewayClasses, for callers that need
	// neither the traffic type nor who may attach (status).
	SkipClasses bool
	// Classes reads the GatewayClasses; nil reads them afresh. A caller
	// that passes its own can ask it afterwards which could not be read.
	Classes *mesh.Classes
}

// List returns the waypoints in scope, sorted by namespace and name, as the
// API server returns them. It pages through the Gateways so that a cluster
// with tens of thousands of them is never held in one response, and keeps
// only waypoints. It also returns the resourceVersion of the list, from which
// a watch can start.
func List(ctx context.Context, client gatewayclient.Interface, opts ListOptions) ([]mesh.Waypoint, string, error) {
	classes := opts.Classes
	if classes == nil {
		classes = mesh.NewClasses(client)
	}
	var out []mesh.Waypoint
	rv, err := EachGateway(ctx, client, opts, func(gw *gatewayv1.Gateway) {
		if !mesh.IsWaypointGateway(gw) {
			return
		}
		var w mesh.Waypoint
		if opts.SkipClasses {
			w = mesh.Parse(gw, nil)
		} else {
			w = classes.Parse(ctx, gw)
		}
		if opts.KeepGateway {
			w.Gateway = gw.DeepCopy()
		}
		out = append(out, w)
	})
	return out, rv, err
}

// EachGateway calls fn for every Gateway in scope (mesh.EachGateway).
func EachGateway(ctx context.Context, client gatewayclient.Interface, opts ListOptions, fn func(*gatewayv1.Gateway)) (string, error) {
	return mesh.EachGateway(ctx, client, mesh.GatewayQuery{Namespace: opts.Namespace, LabelSelector: opts.LabelSelector, PageSize: opts.PageSize}, fn)
}
