package waypoint

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// TestRenderedGateway checks that what apply sends parses, in the one
// model, as the waypoint the flags asked for.
func TestRenderedGateway(t *testing.T) {
	gw, err := render.Gateway(render.Request{Name: "w", Namespace: "ns", Revision: "canary", AllowNamespaces: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	w := mesh.Parse(gw, &mesh.Class{Name: "istio-waypoint", Labels: map[string]string{"istio.io/waypoint-for": "all"}})
	if w.Key() != "ns/w" || w.Revision != "canary" || w.TrafficType != "all" || w.Ready() {
		t.Errorf("%+v", w)
	}
	if w.AllowedFrom != "Selector(kubernetes.io/metadata.name in (a,b))" {
		t.Errorf("allowed from %q", w.AllowedFrom)
	}
	gw.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue}}
	if mesh.Parse(gw, nil).Ready() {
		t.Error("ready without an address")
	}
	gw.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.1"}}
	if !mesh.Parse(gw, nil).Ready() {
		t.Error("not ready with Programmed=True and an address")
	}
	all, _ := render.Gateway(render.Request{AllowAllNamespaces: true})
	same, _ := render.Gateway(render.Request{})
	if mesh.Parse(all, nil).AllowedFrom != "All" || mesh.Parse(same, nil).AllowedFrom != "Same" {
		t.Error("allowedFrom All/Same")
	}
	// Only the HBONE listener on 15008 counts, as istiod reads it.
	other := all.DeepCopy()
	other.Spec.Listeners[0].Port = 15009
	other.Spec.Listeners = append(other.Spec.Listeners, same.Spec.Listeners[0])
	if got := mesh.Parse(other, nil).AllowedFrom; got != "Same" {
		t.Errorf("allowedFrom read the listener on 15009: %q", got)
	}
	if !mesh.IsWaypointGateway(gw) {
		t.Error("IsWaypoint")
	}
}

func TestRefString(t *testing.T) {
	if got := (Ref{Namespace: "ns", Name: "name"}).String(); got != "ns/name" {
		t.Errorf("String() = %q", got)
	}
}
