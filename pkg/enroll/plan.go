package enroll

import (
	"context"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// WaypointCheck is the check of one waypoint that targets are enrolled into.
type WaypointCheck struct {
	// Key is namespace/name of the waypoint.
	Key       string
	Namespace string
	Name      string
	// Namespaces are those of the targets that use it, with their labels.
	Namespaces map[string]map[string]string
	// Result is the check; zero when ReadErr is set.
	Result CheckResult
	// ReadErr says the waypoint could not be read (forbidden): unchecked.
	ReadErr error
	// Err says reading the waypoint failed for another reason: the targets
	// that would use it must not be written unchecked.
	Err error
}

// CheckWaypoints reads, once each, the waypoints that targets would use
// (the one named, in the targets' own namespace unless wpNamespace is set)
// and checks each against the kind and the namespaces that would use it.
// The waypoints are read concurrency at a time, each read retried; a fault
// other than a missing or forbidden waypoint is in its check's Err.
func CheckWaypoints(ctx context.Context, c *kube.Clients, classes *mesh.Classes, kind Kind, name, wpNamespace string, targets []Target, nsLabels map[string]map[string]string, concurrency int) []WaypointCheck {
	groups := map[string]*WaypointCheck{}
	for _, t := range targets {
		ns := wpNamespace
		if ns == "" {
			ns = t.Own()
		}
		key := ns + "/" + name
		g := groups[key]
		if g == nil {
			g = &WaypointCheck{Key: key, Namespace: ns, Name: name, Namespaces: map[string]map[string]string{}}
			groups[key] = g
		}
		if t.Kind == KindNamespace {
			g.Namespaces[t.Name] = t.Labels
		} else {
			g.Namespaces[t.Namespace] = nsLabels[t.Namespace]
		}
	}
	var parse sync.Mutex
	list := make([]*WaypointCheck, 0, len(groups))
	for _, g := range groups {
		list = append(list, g)
	}
	bulk.ForEach(ctx, len(list), concurrency, func(ctx context.Context, i int) {
		g := list[i]
		gw, err := mesh.GetGateway(ctx, c.Gateway, g.Namespace, g.Name)
		switch {
		case kube.IsMissingType(err):
			// No Gateway API: nothing could ever serve the enrollment.
			g.Err = kube.Describe("read waypoint "+g.Key, err)
			return
		case apierrors.IsNotFound(err):
			gw = nil
		case apierrors.IsForbidden(err):
			g.ReadErr = kube.Describe("read waypoint "+g.Key, err)
			return
		case err != nil:
			g.Err = kube.Describe("read waypoint "+g.Key+" to check it", err)
			return
		}
		in := CheckInput{Kind: kind, Namespaces: g.Namespaces}
		if gw != nil {
			parse.Lock() // Classes caches what it reads, unguarded
			w := classes.Parse(ctx, gw)
			parse.Unlock()
			in.Waypoint = &w
		}
		g.Result = Check(in)
	}, nil)
	out := make([]WaypointCheck, 0, len(list))
	for _, g := range list {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
