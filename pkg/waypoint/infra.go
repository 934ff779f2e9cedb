package waypoint

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// A waypoint's parameters ConfigMap (render.ConfigMap) belongs to it: apply
// writes it before the Gateway that names it, so that istiod never sees the
// Gateway without it (it would set Accepted=False, InvalidParameters), and
// makes the Gateway its owner once the Gateway's UID is known, so that the
// cluster's garbage collector removes it with the Gateway whoever deletes
// that. delete removes it with its waypoint, and an apply without sizing
// flags removes the one an earlier apply wrote. Only a ConfigMap labelled
// render.LabelManagedBy=render.ManagedByValue is ever changed or deleted:
// one of the user's (--parameters) is read, never written.

// ForeignParametersError refuses to write the parameters ConfigMap over one
// of the same name that the tool did not make. Nothing was written.
type ForeignParametersError struct {
	Namespace, Name string
}

func (e *ForeignParametersError) Error() string {
	return fmt.Sprintf("configmap %s/%s exists and kubectl-waypoint did not make it (no label %s=%s): it is left alone; use it as it is with --parameters %s, or choose another --name",
		e.Namespace, e.Name, render.LabelManagedBy, render.ManagedByValue, e.Name)
}

// ParametersError says the ConfigMap that --parameters names cannot serve
// as istiod's parameters. Nothing was written.
type ParametersError struct {
	Namespace, Name string
	Reason          string
}

func (e *ParametersError) Error() string {
	return fmt.Sprintf("--parameters %s: configmap %s/%s %s", e.Name, e.Namespace, e.Name, e.Reason)
}

// ours says the ConfigMap was rendered by the tool.
func ours(cm *corev1.ConfigMap) bool {
	return cm.Labels[render.LabelManagedBy] == render.ManagedByValue
}

// getConfigMap reads a ConfigMap; nil without error when there is none.
func getConfigMap(ctx context.Context, c *kube.Clients, ns, name string) (*corev1.ConfigMap, error) {
	var cm *corev1.ConfigMap
	err := kube.Retry(ctx, func() (err error) {
		cm, err = c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return cm, err
}

// CheckUserParameters reads the ConfigMap that --parameters names and
// refuses it when istiod could not use it: missing, or with an overlay
// that istiod's rendering would refuse (render.CheckOverlays).
func CheckUserParameters(ctx context.Context, c *kube.Clients, ns, name string) error {
	cm, err := getConfigMap(ctx, c, ns, name)
	switch {
	case err != nil:
		return kube.Describe("read configmap "+ns+"/"+name, err)
	case cm == nil:
		return &ParametersError{Namespace: ns, Name: name, Reason: "not found: create it first (istiod would set the waypoint Accepted=False, InvalidParameters)"}
	}
	if err := render.CheckOverlays(cm.Data); err != nil {
		return &ParametersError{Namespace: ns, Name: name, Reason: "cannot be used: " + err.Error()}
	}
	return nil
}

// writeParameters is the server-side apply of the ConfigMap itself.
func writeParameters(ctx context.Context, c *kube.Clients, cm *corev1.ConfigMap, owner types.UID, gatewayName string, force bool, dryRun kube.DryRun) (*corev1.ConfigMap, bool, error) {
	obj := cm.DeepCopy()
	if owner != "" {
		obj.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: gatewayv1.GroupVersion.String(), Kind: "Gateway", Name: gatewayName, UID: owner,
		}}
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, false, err
	}
	opts := &metav1.PatchOptions{FieldManager: c.Manager(), Force: &force, DryRun: dryRun.Server()}
	var code int
	out := &corev1.ConfigMap{}
	err = kube.Retry(ctx, func() error {
		return c.Kube.CoreV1().RESTClient().Patch(types.ApplyPatchType).
			Namespace(obj.Namespace).Resource("configmaps").Name(obj.Name).
			VersionedParams(opts, metav1.ParameterCodec).
			Body(body).Do(ctx).StatusCode(&code).Into(out)
	})
	if err != nil {
		ref := obj.Namespace + "/" + obj.Name
		if kube.IsMissingNamespace(err) {
			return nil, false, fmt.Errorf("cannot apply configmap %s: namespace %q not found; create it first", ref, obj.Namespace)
		}
		if apierrors.IsConflict(err) {
			return nil, false, fmt.Errorf("cannot apply configmap %s: %s; rerun with --force-conflicts to take those fields over", ref, apiMessage(err))
		}
		return nil, false, kube.Describe("apply configmap "+ref, err)
	}
	out.APIVersion, out.Kind = "v1", "ConfigMap"
	return out, code == http.StatusCreated, nil
}

// ownerUID is the UID of the Gateway that owns cm, if any.
func ownerUID(cm *corev1.ConfigMap) types.UID {
	for _, o := range cm.OwnerReferences {
		if o.Kind == "Gateway" {
			return o.UID
		}
	}
	return ""
}

// parametersOf is the ConfigMap the Gateway's spec.infrastructure names, or
// "".
func parametersOf(gw *gatewayv1.Gateway) string {
	if gw == nil || gw.Spec.Infrastructure == nil || gw.Spec.Infrastructure.ParametersRef == nil {
		return ""
	}
	ref := gw.Spec.Infrastructure.ParametersRef
	if ref.Group != "" || ref.Kind != "ConfigMap" {
		return ""
	}
	return ref.Name
}

// removeParameters deletes the ConfigMap name in ns when the tool made it,
// with its UID as precondition: one of the user's, or one recreated in
// between, stays. It says whether it deleted one.
func removeParameters(ctx context.Context, c *kube.Clients, ns, name string, dryRun kube.DryRun) (bool, error) {
	cm, err := getConfigMap(ctx, c, ns, name)
	if err != nil {
		return false, kube.Describe("read configmap "+ns+"/"+name, err)
	}
	if cm == nil || !ours(cm) {
		return false, nil
	}
	if dryRun == kube.DryRunClient {
		return true, nil
	}
	err = kube.Retry(ctx, func() error {
		return c.Kube.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &cm.UID},
			DryRun:        dryRun.Server(),
		})
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return false, nil // gone, or another object of the name now
	}
	if err != nil {
		return false, kube.Describe("delete configmap "+ns+"/"+name, err)
	}
	return true, nil
}

// applyParametersFirst writes the rendered parameters ConfigMap before the
// Gateway, or checks the user's ConfigMap that the Gateway names. Every
// refusal comes before the Gateway's write.
func applyParametersFirst(ctx context.Context, c *kube.Clients, req ApplyRequest, res *ApplyResult) error {
	gw := req.Gateway
	if req.Parameters == nil {
		if name := parametersOf(gw); name != "" && req.DryRun != kube.DryRunClient {
			return CheckUserParameters(ctx, c, gw.Namespace, name)
		}
		return nil
	}
	if req.DryRun == kube.DryRunClient {
		res.Parameters, res.ParametersAction = req.Parameters, bulk.Configured
		if req.Existing == nil {
			res.ParametersAction = bulk.Created
		}
		return nil
	}
	var owner types.UID
	if req.Existing != nil {
		owner = req.Existing.UID
	}
	cur, err := getConfigMap(ctx, c, gw.Namespace, req.Parameters.Name)
	if err != nil {
		return kube.Describe("read configmap "+gw.Namespace+"/"+req.Parameters.Name, err)
	}
	if cur != nil && !ours(cur) {
		return &ForeignParametersError{Namespace: gw.Namespace, Name: req.Parameters.Name}
	}
	if owner == "" && cur != nil {
		owner = ownerUID(cur) // keep it until the Gateway's own is known
	}
	out, created, err := writeParameters(ctx, c, req.Parameters, owner, gw.Name, req.Force, req.DryRun)
	if err != nil {
		return err
	}
	res.Parameters, res.ParametersAction = out, parametersAction(cur, out, created, req.DryRun)
	return nil
}

// parametersAction tells created, configured and unchanged apart: a write
// that changes nothing keeps the resourceVersion; a dry run never moves
// it, so there the content is compared.
func parametersAction(before, after *corev1.ConfigMap, created bool, dryRun kube.DryRun) bulk.Action {
	switch {
	case created || before == nil:
		return bulk.Created
	case dryRun == kube.DryRunNone && before.ResourceVersion == after.ResourceVersion:
		return bulk.Unchanged
	case dryRun != kube.DryRunNone && maps.Equal(before.Data, after.Data) && maps.Equal(before.Labels, after.Labels):
		return bulk.Unchanged
	}
	return bulk.Configured
}

// ownParameters, once the Gateway is applied, makes it the owner of its
// parameters ConfigMap when the ConfigMap does not name it yet (the
// Gateway was new, or was recreated), and removes the ConfigMap of ours
// that the Gateway named before and no longer does. A failure is the
// ConfigMap's record: the Gateway is applied.
func ownParameters(ctx context.Context, c *kube.Clients, req ApplyRequest, applied *gatewayv1.Gateway, res *ApplyResult) {
	gw := req.Gateway
	if req.Parameters != nil && req.DryRun == kube.DryRunNone && res.Parameters != nil && ownerUID(res.Parameters) != applied.UID {
		out, _, err := writeParameters(ctx, c, req.Parameters, applied.UID, gw.Name, req.Force, req.DryRun)
		if err != nil {
			res.ParametersAction, res.ParametersErr = bulk.Failed, err
			return
		}
		res.Parameters = out
	}
	previous := parametersOf(req.Existing)
	if previous == "" || previous == parametersOf(gw) {
		return
	}
	deleted, err := removeParameters(ctx, c, gw.Namespace, previous, req.DryRun)
	ref := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Namespace: gw.Namespace, Name: previous}}
	switch {
	case err != nil:
		res.Parameters, res.ParametersAction, res.ParametersErr = ref, bulk.Failed, err
	case deleted && req.Parameters == nil:
		res.Parameters, res.ParametersAction = ref, bulk.Deleted
	}
}
