package waypoint

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

func defaultsConfigMap(name string, age time.Duration, ours bool) *corev1.ConfigMap {
	labels := map[string]string{LabelDefaultsForClass: istio.ClassWaypoint}
	if ours {
		labels[render.LabelManagedBy] = render.ManagedByValue
	}
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: "istio-system", Name: name, Labels: labels,
		CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(-age)),
	}, Data: map[string]string{render.OverlayDeployment: "spec:\n  replicas: 2\n"}}
}

// TestReadDefaults: the ConfigMap in effect is the oldest labelled for the
// class, as istiod picks it; the others are named; the waypoints of the
// class are listed, those of other classes are not.
func TestReadDefaults(t *testing.T) {
	c := testCluster(
		defaultsConfigMap("newer", time.Hour, true),
		defaultsConfigMap("oldest", 2*time.Hour, false),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "unlabelled"}},
	)
	d, err := ReadDefaults(context.Background(), c.Clients(), "istio-system", istio.ClassWaypoint)
	if err != nil {
		t.Fatal(err)
	}
	if d.InEffect == nil || d.InEffect.Name != "oldest" || len(d.Others) != 1 || d.Others[0].Name != "newer" || d.Ours() {
		t.Fatalf("in effect %v, others %v, ours %v", d.InEffect, d.Others, d.Ours())
	}
	if len(d.Waypoints) != 2 || d.Waypoints[0] != "app/pods" || d.Waypoints[1] != "app/wp" {
		t.Errorf("waypoints %v", d.Waypoints)
	}
	// Not ours: refused, nothing written.
	writes := c.Writes()
	_, _, err = SetDefaults(context.Background(), c.Clients(), d, map[string]string{"deployment": "spec: {}"}, false, kube.DryRunNone)
	var foreign *ForeignDefaultsError
	if !errors.As(err, &foreign) || foreign.Name != "oldest" || c.Writes() != writes {
		t.Errorf("SetDefaults over someone else's: %v, %d writes", err, c.Writes()-writes)
	}
}

func TestClassWideSpread(t *testing.T) {
	data, err := render.Infrastructure{Spread: render.SpreadZone}.Overlays("")
	if err != nil {
		t.Fatal(err)
	}
	want := "matchLabelKeys:\n        - gateway.networking.k8s.io/gateway-name"
	if !strings.Contains(data[render.OverlayDeployment], want) || strings.Contains(data[render.OverlayDeployment], "matchLabels") {
		t.Errorf("class-wide spread:\n%s", data[render.OverlayDeployment])
	}
	if err := render.CheckOverlays(data); err != nil {
		t.Error(err)
	}
}
