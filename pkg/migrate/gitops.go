package migrate

import (
	"maps"
	"slices"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/gitops"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// Manifests are the objects of a phase for `kubectl apply --server-side
// -k`, one manifest per namespace that has any:
//
//   - phase 1: the waypoints a namespace needs (as `kubectl waypoint apply
//     -n NS --name NAME` renders them), the Namespace patch that enrolls the
//     namespace or the Service patches that enroll each Service
//     (GranularityService), and the copies of its policies;
//   - phase 2: the AuthorizationPolicy patches that narrow originals to
//     the pods that run a sidecar (narrowStep), then the Namespace patch
//     that moves it to ambient:
//     istio.io/dataplane-mode=ambient and istio-injection=disabled, which
//     keeps both of Istio's injection webhooks off the namespace (the
//     revision one wants istio-injection absent) while its own manifest
//     may still say istio.io/rev; with the enrollment labels of phase 1
//     (NamespacePlan.Enrollment), which `kubectl apply --server-side`
//     would otherwise remove, its field manager being the same;
//   - phase 3: the HTTPRoutes that replace VirtualServices. Its deletions
//     are no manifest's to say: the originals are removed from Git, or
//     deleted as the plan says.
func (p *Plan) Manifests(phase int) ([]gitops.Manifest, error) {
	var out []gitops.Manifest
	for _, ns := range p.Namespaces {
		m := gitops.Manifest{Namespace: ns.Name}
		// The Services' waypoints and enrollments, before the copies.
		var services []any
		for _, f := range ns.Findings {
			switch {
			case phase == PhaseWaypoints && f.Code == CodeWaypointNeeded && f.Object.Kind == "Service":
				if !auto(f, PhaseWaypoints) {
					continue // the user's to decide
				}
				gw, err := render.Gateway(render.Request{Name: f.WaypointName, Namespace: ns.Name})
				if err != nil {
					return nil, err
				}
				services = append(services, gw, gitops.ServiceLabels(ns.Name, f.Object.Name, map[string]string{istio.LabelUseWaypoint: f.WaypointName}))
			case phase == PhaseWaypoints && f.Code == CodeServiceEnrollment:
				services = append(services, gitops.ServiceLabels(ns.Name, f.Object.Name, map[string]string{istio.LabelUseWaypoint: f.WaypointName}))
			case phase == PhaseWaypoints && f.Code == CodeWaypointNeeded:
				gw, err := render.Gateway(render.Request{Name: f.WaypointName, Namespace: ns.Name})
				if err != nil {
					return nil, err
				}
				m.Gateway, m.Enrollment = gw, gitops.Enrollment(ns.Name, f.WaypointName)
			case phase == PhaseWaypoints && f.Code == CodeNamespaceEnrollment:
				m.Enrollment = gitops.Enrollment(ns.Name, f.WaypointName)
			case phase == PhaseAmbient && f.Object.Kind == kindAuthorizationPolicy && auto(f, PhaseAmbient):
				m.Objects = append(m.Objects, map[string]any{
					"apiVersion": "security.istio.io/v1", "kind": kindAuthorizationPolicy,
					"metadata": map[string]any{"name": f.Object.Name, "namespace": ns.Name},
					"spec":     map[string]any{"selector": map[string]any{"matchLabels": map[string]any{LabelTLSMode: "istio"}}},
				})
			case phase == PhaseCleanup && f.Replacement != nil:
				m.Objects = append(m.Objects, f.Replacement.Object)
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
		m.Objects = append(services, m.Objects...)
		if m.Gateway != nil || m.Enrollment != nil || len(m.Objects) > 0 {
			out = append(out, m)
		}
	}
	return out, nil
}

// auto says a finding has a step of phase that migrate apply carries out.
func auto(f Finding, phase int) bool {
	return slices.ContainsFunc(f.Steps, func(s Step) bool { return s.Auto && s.Phase == phase })
}
