package migrate

import (
	"maps"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/gitops"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// Manifests are the objects of a phase for `kubectl apply --server-side
// -k`, one manifest per namespace that has any:
//
//   - phase 1: the waypoint a namespace needs (as `kubectl waypoint apply
//     -n NS` renders it), the Namespace patch that enrolls the namespace,
//     and the copies of its policies;
//   - phase 2: the Namespace patch that moves it to ambient:
//     istio.io/dataplane-mode=ambient and istio-injection=disabled, which
//     keeps both of Istio's injection webhooks off the namespace (the
//     revision one wants istio-injection absent) while its own manifest
//     may still say istio.io/rev; with the enrollment labels of phase 1
//     (NamespacePlan.Enrollment), which `kubectl apply --server-side`
//     would otherwise remove, its field manager being the same;
//
// phase 3 deletes, which no manifest can say: it has none.
func (p *Plan) Manifests(phase int) ([]gitops.Manifest, error) {
	var out []gitops.Manifest
	for _, ns := range p.Namespaces {
		m := gitops.Manifest{Namespace: ns.Name}
		for _, f := range ns.Findings {
			switch {
			case phase == PhaseWaypoints && f.Code == CodeWaypointNeeded:
				gw, err := render.Gateway(render.Request{Name: f.WaypointName, Namespace: ns.Name})
				if err != nil {
					return nil, err
				}
				m.Gateway, m.Enrollment = gw, gitops.Enrollment(ns.Name, f.WaypointName)
			case phase == PhaseWaypoints && f.Code == CodeNamespaceEnrollment:
				m.Enrollment = gitops.Enrollment(ns.Name, f.WaypointName)
			case phase == PhaseWaypoints && f.Copy != nil:
				m.Objects = append(m.Objects, f.Copy.Object)
			case phase == PhaseAmbient && f.Code == CodeNamespaceToAmbient:
				labels := maps.Clone(ns.Enrollment)
				if labels == nil {
					labels = map[string]string{}
				}
				labels["istio-injection"] = "disabled"
				labels[istio.LabelDataplaneMode] = istio.DataplaneModeAmbient
				m.Enrollment = gitops.NamespaceLabels(ns.Name, labels)
			}
		}
		if m.Gateway != nil || m.Enrollment != nil || len(m.Objects) > 0 {
			out = append(out, m)
		}
	}
	return out, nil
}
