package waypoint

import (
	"context"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// Exposed is a waypoint whose users' traffic a node drain would cut: it
// runs one replica (or an autoscaler whose minimum is one) and has no
// disruption budget, so evicting its pod leaves nothing to take the
// traffic of the resources enrolled in it until a new pod is ready.
type Exposed struct {
	Waypoint mesh.Waypoint
	Deployed Deployed
	// Users are the resources istiod binds to it by their own label
	// (enroll.Reader.OwnUsers), sorted by kind, namespace and name.
	Users []enroll.Resolution
}

// SingleReplica says whether d runs one replica, or an autoscaler whose
// minimum is one, with no disruption budget; false when any of that is
// unknown, and for a Deployment scaled to zero (nothing runs to drain).
func SingleReplica(d Deployed) bool {
	n, ok := d.Fewest()
	if !ok || !d.Knows(ObjectBudget) || d.Budget != nil {
		return false
	}
	if d.Autoscaler != nil {
		return n <= 1
	}
	return n == 1
}

// FindExposed finds, among the waypoints wps with what runs for them
// (ReadDeployed), those that run a single replica without a budget
// (SingleReplica) and have users. It reads nothing when none runs a single
// replica; otherwise the users of those, with enroll.Reader.OwnUsers (a
// fixed number of lists, in each namespace of scope instead of across the
// cluster for a user who may not; users it may not list are not counted),
// and the GatewayClass of each (the traffic type it gives decides who may
// bind). It returns them in the order of wps.
func FindExposed(ctx context.Context, c *kube.Clients, wps []mesh.Waypoint, read DeployedRead, scope []string) ([]Exposed, error) {
	var single []int
	for i, w := range wps {
		if SingleReplica(read.ByWaypoint[w.Key()]) {
			single = append(single, i)
		}
	}
	if len(single) == 0 {
		return nil, nil
	}
	reader := enroll.NewReader(c)
	keys := make([]string, 0, len(single))
	parsed := make(map[string]mesh.Waypoint, len(single))
	for _, i := range single {
		w := wps[i]
		if w.Gateway != nil {
			// status reads waypoints without their class; who may
			// bind depends on it.
			w = reader.Classes.Parse(ctx, w.Gateway)
			w.Gateway = wps[i].Gateway
		}
		parsed[w.Key()] = w
		reader.Know(&w)
		keys = append(keys, w.Key())
	}
	users, err := reader.OwnUsers(ctx, keys, scope)
	if err != nil {
		return nil, err
	}
	var out []Exposed
	for _, i := range single {
		key := wps[i].Key()
		if len(users[key]) == 0 {
			continue
		}
		out = append(out, Exposed{Waypoint: parsed[key], Deployed: read.ByWaypoint[key], Users: users[key]})
	}
	return out, nil
}
