package waypoint

import (
	"context"
	"fmt"
	"maps"

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
	out := &corev1.ConfigMap{}
	created, err := kube.Apply{
		Client: c.Kube.CoreV1().RESTClient(), Codec: metav1.ParameterCodec,
		Resource: "configmaps", Namespace: obj.Namespace, Name: obj.Name,
		Options: &metav1.PatchOptions{FieldManager: c.Manager(), Force: &force, DryRun: dryRun.Server()},
	}.Do(ctx, obj, out)
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
	return out, created, nil
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
// between, stays. It returns the ConfigMap it deleted, or nil.
//
// read, when not nil, is the ConfigMap as the caller read it: no second
// read.
func removeParameters(ctx context.Context, c *kube.Clients, ns, name string, read *corev1.ConfigMap, dryRun kube.DryRun) (*corev1.ConfigMap, error) {
	cm := read
	if cm == nil {
		var err error
		if cm, err = getConfigMap(ctx, c, ns, name); err != nil {
			return nil, kube.Describe("read configmap "+ns+"/"+name, err)
		}
	}
	if cm == nil || !ours(cm) {
		return nil, nil
	}
	if dryRun == kube.DryRunClient {
		return cm, nil
	}
	err := kube.Retry(ctx, func() error {
		return c.Kube.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &cm.UID},
			DryRun:        dryRun.Server(),
		})
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil, nil // gone, or another object of the name now
	}
	if err != nil {
		return nil, kube.Describe("delete configmap "+ns+"/"+name, err)
	}
	return cm, nil
}

// applyParametersFirst writes the rendered parameters ConfigMap before the
// Gateway, or checks the user's ConfigMap that the Gateway names. Every
// refusal comes before the Gateway's write.
func applyParametersFirst(ctx context.Context, c *kube.Clients, req ApplyRequest, res *ApplyResult) error {
	gw := req.Gateway
	if req.Parameters == nil {
		if name := parametersOf(gw); name != "" && req.DryRun != kube.DryRunClient {
			if err := CheckUserParameters(ctx, c, gw.Namespace, name); err != nil {
				return err
			}
		}
		return droppedOverlaysOfRemoved(ctx, c, req, res)
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
	if cur != nil {
		res.dropped = droppedOverlays(cur.Data, out.Data)
	}
	return nil
}

// droppedOverlaysOfRemoved notes, when the apply drops the ConfigMap of
// ours that the Gateway names, the autoscaler and budget overlays it held.
func droppedOverlaysOfRemoved(ctx context.Context, c *kube.Clients, req ApplyRequest, res *ApplyResult) error {
	previous := parametersOf(req.Existing)
	if previous == "" || previous == parametersOf(req.Gateway) || req.DryRun == kube.DryRunClient {
		return nil
	}
	cur, err := getConfigMap(ctx, c, req.Gateway.Namespace, previous)
	if err != nil {
		return kube.Describe("read configmap "+req.Gateway.Namespace+"/"+previous, err)
	}
	if cur != nil && ours(cur) {
		res.dropped = droppedOverlays(cur.Data, nil)
		res.removing = cur
	}
	return nil
}

// droppedOverlays are the keys whose object istiod creates only for an
// overlay (the autoscaler, the budget) that before has and after has not.
func droppedOverlays(before, after map[string]string) []string {
	var out []string
	for _, key := range []string{render.OverlayAutoscaler, render.OverlayBudget} {
		_, had := before[key]
		_, has := after[key]
		if had && !has {
			out = append(out, key)
		}
	}
	return out
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
	defer func() {
		if len(res.dropped) > 0 && req.DryRun == kube.DryRunNone {
			res.Stale = staleObjects(ctx, c, applied, res.dropped)
		}
	}()
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
	deleted, err := removeParameters(ctx, c, gw.Namespace, previous, res.removing, req.DryRun)
	ref := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Namespace: gw.Namespace, Name: previous}}
	switch {
	case err != nil:
		res.Parameters, res.ParametersAction, res.ParametersErr = ref, bulk.Failed, err
	case deleted != nil && req.Parameters == nil:
		res.Parameters, res.ParametersAction = ref, bulk.Deleted
	}
}

// staleObjects finds the autoscaler and the budget that istiod made for
// the overlays the apply dropped: istiod creates them only when their
// overlay exists, but never deletes them when it goes away
// (deploymentcontroller.go: applyOverlay renders nothing, and nothing
// prunes). They are reported, not deleted: istiod's caches lag the
// apply, and a delete right after it is undone by istiod re-creating them
// from the overlay it still sees (checked with the running istiod); a
// delete once istiod has caught up stays.
func staleObjects(ctx context.Context, c *kube.Clients, applied *gatewayv1.Gateway, dropped []string) []kube.Ref {
	name := deploymentName(applied)
	var out []kube.Ref
	for _, key := range dropped {
		var obj metav1.Object
		kind := "HorizontalPodAutoscaler"
		err := kube.Retry(ctx, func() error {
			if key == render.OverlayAutoscaler {
				o, err := c.Kube.AutoscalingV2().HorizontalPodAutoscalers(applied.Namespace).Get(ctx, name, metav1.GetOptions{})
				obj = o
				return err
			}
			o, err := c.Kube.PolicyV1().PodDisruptionBudgets(applied.Namespace).Get(ctx, name, metav1.GetOptions{})
			obj = o
			return err
		})
		if key == render.OverlayBudget {
			kind = "PodDisruptionBudget"
		}
		if err == nil && ownedBy(obj, applied.UID) {
			out = append(out, kube.Ref{Kind: kind, Namespace: applied.Namespace, Name: name})
		}
	}
	return out
}

func ownedBy(obj metav1.Object, uid types.UID) bool {
	for _, o := range obj.GetOwnerReferences() {
		if o.UID == uid {
			return true
		}
	}
	return false
}

// deploymentName is the name istiod gives what it deploys for a waypoint:
// the Gateway's, unless the Gateway overrides it.
func deploymentName(gw *gatewayv1.Gateway) string {
	if n := gw.Annotations[AnnotationNameOverride]; n != "" {
		return n
	}
	return gw.Name
}

// AnnotationNameOverride on a Gateway names what istiod deploys for it.
const AnnotationNameOverride = "gateway.istio.io/name-override"
