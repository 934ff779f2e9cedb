package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/fleet"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// The drift gate: "status --compare" over several clusters reads, in each,
// the waypoints status would show and the enrolled namespaces in the same
// scope, and prints where the clusters differ; exit 1 when they do.

// snapshot keeps what one cluster holds for the drift gate: the waypoints
// status read, and the namespaces that use a waypoint (one list request;
// with a namespace, only that one).
func snapshot(ctx context.Context, c *kube.Clients, namespace string, wps []mesh.Waypoint) (*fleet.Snapshot, error) {
	snap := &fleet.Snapshot{Waypoints: map[string]fleet.Waypoint{}, Namespaces: map[string]string{}}
	for _, w := range wps {
		snap.Waypoints[w.Key()] = fleet.Waypoint{
			Class:       w.Class,
			TrafficType: trafficCell(w.TrafficType),
			Revision:    orDefault(w.Revision, "default"),
			AllowedFrom: w.AllowedFrom,
		}
	}
	uses, err := enroll.EnrolledNamespaces(ctx, c, namespace)
	if err != nil {
		return nil, err
	}
	for name, use := range uses {
		snap.Namespaces[name] = use.Relative(name)
	}
	return snap, nil
}

// DriftReport is what status --compare prints with -o json|yaml.
type DriftReport struct {
	Contexts    []string           `json:"contexts"`
	Differences []fleet.Difference `json:"differences"`
}

// finishCompare prints where the clusters differ, and exits 1 when they
// do or when a cluster could not be read.
func (f *Factory) finishCompare(members []*fleetMember, output string) error {
	if err := fleetOutcome(members); err != nil {
		return fmt.Errorf("cannot compare the clusters: %w", err)
	}
	contexts := make([]string, len(members))
	snaps := map[string]fleet.Snapshot{}
	waypoints, namespaces := map[string]bool{}, map[string]bool{}
	for i, m := range members {
		contexts[i] = m.context
		snap := m.end.snap
		if snap == nil {
			continue
		}
		snaps[m.context] = *snap
		for k := range snap.Waypoints {
			waypoints[k] = true
		}
		for k := range snap.Namespaces {
			namespaces[k] = true
		}
	}
	diffs := fleet.Compare(contexts, snaps)
	if output == render.FormatJSON || output == render.FormatYAML {
		if diffs == nil {
			diffs = []fleet.Difference{}
		}
		if err := render.Object(f.IO.Out, output, DriftReport{Contexts: contexts, Differences: diffs}); err != nil {
			return err
		}
	} else if len(diffs) > 0 {
		t := render.NewTable(append([]string{"KIND", "NAME", "FIELD"}, contexts...)...)
		for _, d := range diffs {
			row := []string{d.Kind, d.Name, d.Field}
			for _, c := range contexts {
				row = append(row, d.Values[c])
			}
			t.Append(row...)
		}
		if err := t.Render(f.IO.Out); err != nil {
			return err
		}
	}
	if len(diffs) > 0 {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("the clusters of contexts %s differ in %d %s", strings.Join(contexts, ", "), len(diffs), plural(len(diffs), "place", "places"))}
	}
	f.IO.Infof("no drift: the clusters of contexts %s hold the same %d %s and %d enrolled %s",
		strings.Join(contexts, ", "), len(waypoints), plural(len(waypoints), "waypoint", "waypoints"), len(namespaces), plural(len(namespaces), "namespace", "namespaces"))
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
