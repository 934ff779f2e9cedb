package waypoint

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// WaitScope is what WaitReady watches: one namespace ("" for all) and,
// optionally, one Gateway by name.
type WaitScope struct {
	Namespace string
	Name      string
	// ResourceVersion to start watching from: that of the list or apply that
	// produced the waypoints being waited for.
	ResourceVersion string
}

// WatchScope is what Watch follows: one namespace ("" for all), and
// optionally one Gateway by name or those a label selector matches.
type WatchScope struct {
	Namespace     string
	Name          string
	LabelSelector string
	// ResourceVersion to start from: that of the list that read the state
	// the changes apply to.
	ResourceVersion string
}

// Watch is the one watch loop of the tool: it follows the Gateways in
// scope from scope.ResourceVersion with one watch, opened again from the
// last change seen when the server closes it (bookmarks included), and
// calls fn with each change until fn says done or fails, or ctx ends (then
// it returns ctx's error). A watch that fails (forbidden, expired) ends it
// with that error.
func Watch(ctx context.Context, client gatewayclient.Interface, scope WatchScope, fn func(watch.EventType, *gatewayv1.Gateway) (done bool, err error)) error {
	lw := &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			if scope.Name != "" {
				opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", scope.Name).String()
			}
			opts.LabelSelector = scope.LabelSelector
			return client.GatewayV1().Gateways(scope.Namespace).Watch(ctx, opts)
		},
	}
	_, err := watchtools.Until(ctx, scope.ResourceVersion, lw, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Error {
			// The watch itself failed (forbidden, expired, ...): say so.
			return false, apierrors.FromObject(ev.Object)
		}
		gw, ok := ev.Object.(*gatewayv1.Gateway)
		if !ok {
			return false, nil
		}
		return fn(ev.Type, gw)
	})
	if err != nil && ctx.Err() != nil {
		// Until reports the end of ctx as an interruption; say which.
		return ctx.Err()
	}
	return err
}

// WaitReady watches the waypoints in scope, with one watch, until every one
// of waiting (keyed namespace/name) is Ready or ctx ends. It updates waiting
// in place with each change it sees, so that on timeout the caller still has
// the last state of each, and returns ctx's error then.
func WaitReady(ctx context.Context, client gatewayclient.Interface, scope WaitScope, waiting map[string]*mesh.Waypoint) error {
	if allReady(waiting) {
		return nil
	}
	return Watch(ctx, client, WatchScope{Namespace: scope.Namespace, Name: scope.Name, ResourceVersion: scope.ResourceVersion},
		func(t watch.EventType, gw *gatewayv1.Gateway) (bool, error) {
			key := gw.Namespace + "/" + gw.Name
			w, tracked := waiting[key]
			if !tracked {
				return false, nil
			}
			if t == watch.Deleted {
				return false, errors.New("waypoint " + key + " was deleted while waiting for it")
			}
			w.UpdateStatus(gw)
			return allReady(waiting), nil
		})
}

func allReady(ws map[string]*mesh.Waypoint) bool {
	for _, w := range ws {
		if !w.Ready() {
			return false
		}
	}
	return true
}
