package migrate

import (
	"maps"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

const gatewayGroup = "gateway.networking.k8s.io"

// The copies a plan creates are named after their original, and say which
// one they come from.
const (
	copySuffix = "-waypoint"
	// AnnotationConvertedFrom on a copy is Kind/name of its original.
	AnnotationConvertedFrom = "migrate.kubectl-waypoint.io/converted-from"
)

// target is one targetRef of a copy: a Service (the core group) or a
// waypoint Gateway of the policy's namespace.
type target struct{ group, kind, name string }

// convert makes the copy of a selector or namespace-wide policy that a
// waypoint enforces: the same kind and spec, rules and action kept, with
// targetRefs in place of the selector. istiod attaches a policy with
// targetRefs to Gateway API proxies only: WorkloadPolicyMatcher's
// ShouldAttachPolicy (pilot/pkg/model/policyattachment.go) ignores it for
// any proxy without the gateway.networking.k8s.io/gateway-name label
// ("if targetRef is specified, ignore the policy altogether"), so the
// copy changes nothing for pods that still run sidecars.
func convert(obj *unstructured.Unstructured, targets []target) *unstructured.Unstructured {
	spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
	if spec == nil {
		spec = map[string]any{}
	}
	delete(spec, "selector")
	refs := make([]any, len(targets))
	for i, t := range targets {
		refs[i] = map[string]any{"group": t.group, "kind": t.kind, "name": t.name}
	}
	spec["targetRefs"] = refs
	labels := maps.Clone(obj.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[render.LabelManagedBy] = render.ManagedByValue
	c := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": obj.GetAPIVersion(),
		"kind":       obj.GetKind(),
		"spec":       spec,
	}}
	c.SetNamespace(obj.GetNamespace())
	c.SetName(copyName(obj.GetName()))
	c.SetLabels(labels)
	c.SetAnnotations(map[string]string{AnnotationConvertedFrom: obj.GetKind() + "/" + obj.GetName()})
	return c
}

// copyName is the name of the copy of name: name-waypoint, cut to the 253
// characters a name may have.
func copyName(name string) string {
	if len(name) > 253-len(copySuffix) {
		name = name[:253-len(copySuffix)]
	}
	return name + copySuffix
}
