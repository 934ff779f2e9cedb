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

// WaitReady watches the waypoints in scope, with one watch, until every one
// of waiting (keyed namespace/name) is Ready or ctx ends. It updates waiting
// in place with each change it sees, so that on timeout the caller still has
// the last state of each, and returns ctx's error then.
func WaitReady(ctx context.Context, client gatewayclient.Interface, scope WaitScope, waiting map[string]*mesh.Waypoint) error {
	if allReady(waiting) {
		return nil
	}
	lw := &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			if scope.Name != "" {
				opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", scope.Name).String()
			}
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
		key := gw.Namespace + "/" + gw.Name
		w, tracked := waiting[key]
		if !tracked {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, errors.New("waypoint " + key + " was deleted while waiting for it")
		}
		w.UpdateStatus(gw)
		return allReady(waiting), nil
	})
	if err != nil && ctx.Err() != nil {
		// Until reports the end of ctx as an interruption; say which.
		return ctx.Err()
	}
	return err
}

func allReady(ws map[string]*mesh.Waypoint) bool {
	for _, w := range ws {
		if !w.Ready() {
			return false
		}
	}
	return true
}
