package waypoint

import (
	"context"
	"encoding/json"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// Existing returns, by namespace, the Gateways called name that exist in
// namespaces, read with one list where rights allow.
func Existing(ctx context.Context, client gatewayclient.Interface, namespaces []string, name string) (map[string]*gatewayv1.Gateway, error) {
	out := map[string]*gatewayv1.Gateway{}
	err := InNamespaces(namespaces, func(ns string) error {
		// Retried like a write: one lost answer must not stop the apply.
		var list *gatewayv1.GatewayList
		err := kube.Retry(ctx, func() (err error) {
			list, err = mesh.GatewaysNamed(ctx, client, ns, name)
			return err
		})
		if err != nil {
			return err
		}
		for i := range list.Items {
			if gw := &list.Items[i]; slices.Contains(namespaces, gw.Namespace) {
				out[gw.Namespace] = gw
			}
		}
		return nil
	})
	return out, err
}

// AfterApply predicts the Gateway that server-side applying rendered over
// existing leaves: rendered's spec and labels, the annotations apply never
// sets, the labels of other field managers, and existing's status. A label
// that our own field manager applied before and rendered drops is removed,
// as the API server removes it.
func AfterApply(existing, rendered *gatewayv1.Gateway) *gatewayv1.Gateway {
	out := rendered.DeepCopy()
	out.Status = *existing.Status.DeepCopy()
	out.Annotations = existing.Annotations
	owned := ownedLabels(existing.ManagedFields)
	for k, v := range existing.Labels {
		if _, ok := out.Labels[k]; ok || owned[k] {
			continue
		}
		if out.Labels == nil {
			out.Labels = map[string]string{}
		}
		out.Labels[k] = v
	}
	return out
}

// ownedLabels are the label keys our field manager set by apply.
func ownedLabels(entries []metav1.ManagedFieldsEntry) map[string]bool {
	out := map[string]bool{}
	for _, e := range entries {
		if e.Manager != kube.FieldManager || e.Operation != metav1.ManagedFieldsOperationApply || e.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Metadata struct {
				Labels map[string]any `json:"f:labels"`
			} `json:"f:metadata"`
		}
		if json.Unmarshal(e.FieldsV1.GetRawBytes(), &fields) != nil {
			continue
		}
		for k := range fields.Metadata.Labels {
			if len(k) > 2 && k[:2] == "f:" {
				out[k[2:]] = true
			}
		}
	}
	return out
}
