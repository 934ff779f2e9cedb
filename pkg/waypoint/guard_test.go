package waypoint

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

func TestAfterApply(t *testing.T) {
	rendered, err := render.Gateway(render.Request{Name: "w", Namespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	existing := rendered.DeepCopy()
	existing.Labels = map[string]string{
		"istio.io/waypoint-for": "all", // applied by us before: dropped
		"team":                  "a",   // another manager's: kept
	}
	existing.Annotations = map[string]string{"ambient.istio.io/waypoint-inbound-binding": "PROXY/15088"}
	existing.ManagedFields = []metav1.ManagedFieldsEntry{
		{Manager: kube.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
			FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:istio.io/waypoint-for":{}}}}`)},
		{Manager: "kubectl-label", Operation: metav1.ManagedFieldsOperationUpdate,
			FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:team":{}}}}`)},
	}
	existing.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.1"}}

	got := AfterApply(existing, rendered)
	if _, ok := got.Labels["istio.io/waypoint-for"]; ok {
		t.Errorf("a label we applied and no longer render stays: %v", got.Labels)
	}
	if got.Labels["team"] != "a" {
		t.Errorf("another manager's label is lost: %v", got.Labels)
	}
	if got.Annotations["ambient.istio.io/waypoint-inbound-binding"] != "PROXY/15088" || len(got.Status.Addresses) != 1 {
		t.Errorf("annotations or status lost: %+v", got)
	}
	if rendered.Status.Addresses != nil {
		t.Error("AfterApply changed the rendered Gateway")
	}
}
