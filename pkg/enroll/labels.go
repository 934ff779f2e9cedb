// Package enroll reads and changes the enrollment labels
// (istio.io/use-waypoint and istio.io/use-waypoint-namespace) on namespaces,
// services, pods, ServiceEntries and WorkloadEntries. It only ever patches those labels, never
// the whole object, so it cannot lose another writer's changes.
package enroll

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// Kind is a kind of resource that can be enrolled into a waypoint.
type Kind string

// The kinds that can be enrolled.
const (
	KindNamespace     Kind = "namespace"
	KindService       Kind = "service"
	KindPod           Kind = "pod"
	KindServiceEntry  Kind = "serviceentry"
	KindWorkloadEntry Kind = "workloadentry"
)

// Kinds lists every enrollable kind.
var Kinds = []Kind{KindNamespace, KindService, KindPod, KindServiceEntry, KindWorkloadEntry}

// ServiceEntryGVR is the resource of Istio's ServiceEntry.
var ServiceEntryGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}

// WorkloadEntryGVR is the resource of Istio's WorkloadEntry.
var WorkloadEntryGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "workloadentries"}

// ParseKind accepts a kind by name, plural or short name, as kubectl does.
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(s) {
	case "namespace", "namespaces", "ns":
		return KindNamespace, nil
	case "service", "services", "svc":
		return KindService, nil
	case "pod", "pods", "po":
		return KindPod, nil
	case "serviceentry", "serviceentries", "se", "serviceentries.networking.istio.io":
		return KindServiceEntry, nil
	case "workloadentry", "workloadentries", "we", "workloadentries.networking.istio.io":
		return KindWorkloadEntry, nil
	}
	return "", fmt.Errorf("cannot enroll %q: the kinds are namespace (ns), service (svc), pod (po), serviceentry (se) and workloadentry (we)", s)
}

// APIKind is the kind as the API names it: Namespace, Service, Pod,
// ServiceEntry, WorkloadEntry.
func (k Kind) APIKind() string {
	switch k {
	case KindNamespace:
		return "Namespace"
	case KindService:
		return "Service"
	case KindPod:
		return "Pod"
	case KindWorkloadEntry:
		return "WorkloadEntry"
	}
	return "ServiceEntry"
}

// Plural is the kind's plural, for messages: "serviceentries".
func (k Kind) Plural() string {
	switch k {
	case KindServiceEntry:
		return "serviceentries"
	case KindWorkloadEntry:
		return "workloadentries"
	}
	return string(k) + "s"
}

// IsIstio reports whether the kind is an Istio custom resource, which a
// cluster without the Istio CRDs does not serve.
func (k Kind) IsIstio() bool { return k == KindServiceEntry || k == KindWorkloadEntry }

// IsService reports whether resources of the kind take traffic addressed
// to a service (services, ServiceEntries): their waypoint must serve
// service traffic. Pods and WorkloadEntries take workload traffic.
func (k Kind) IsService() bool { return k == KindService || k == KindServiceEntry }

// IsWorkload reports whether resources of the kind are workloads (pods,
// WorkloadEntries).
func (k Kind) IsWorkload() bool { return k == KindPod || k == KindWorkloadEntry }

// Namespaced reports whether resources of the kind live in a namespace.
func (k Kind) Namespaced() bool { return k != KindNamespace }

// Resource is the kubectl resource name of the kind, as used in
// "kubectl label <resource> <name>".
func (k Kind) Resource() string {
	if k.IsIstio() {
		return k.GVR().Resource + "." + k.GVR().Group
	}
	return string(k)
}

// Enrollment is what a resource's own labels say about its waypoint.
type Enrollment struct {
	// Waypoint is the value of istio.io/use-waypoint; empty when unset.
	Waypoint string
	// Namespace is the value of istio.io/use-waypoint-namespace; empty when unset.
	Namespace string
}

// EnrollmentOf reads the enrollment labels.
func EnrollmentOf(labels map[string]string) Enrollment {
	return Enrollment{Waypoint: labels[istio.LabelUseWaypoint], Namespace: labels[istio.LabelUseWaypointNamespace]}
}

// IsSet reports whether the resource names a waypoint (or opts out).
func (e Enrollment) IsSet() bool { return e.Waypoint != "" }

// WaypointNamespace is the namespace of the named waypoint for a resource in
// namespace own: the namespace label if set, else own.
func (e Enrollment) WaypointNamespace(own string) string {
	if e.Namespace != "" {
		return e.Namespace
	}
	return own
}

// LabelChange is a change of labels: a value to set, or nil to remove. A
// key made by AnnotationKey changes an annotation instead (the canary
// weight is one).
type LabelChange map[string]*string

// annotationPrefix marks an annotation key in a LabelChange: a label key
// cannot hold a colon, so the two never mix.
const annotationPrefix = "annotation:"

// AnnotationKey is the key of annotation k in a LabelChange.
func AnnotationKey(k string) string { return annotationPrefix + k }

// split parts the change into labels and annotations.
func (c LabelChange) split() (labels, annotations map[string]*string) {
	labels, annotations = map[string]*string{}, map[string]*string{}
	for k, v := range c {
		if a, ok := strings.CutPrefix(k, annotationPrefix); ok {
			annotations[a] = v
		} else {
			labels[k] = v
		}
	}
	return labels, annotations
}

// CanaryChange adds to c the labels and annotation of a canary waypoint
// name in namespace canaryNamespace ("" for the resource's own, own) that
// takes weight percent of the traffic.
func CanaryChange(c LabelChange, own, name, canaryNamespace string, weight int) LabelChange {
	w := strconv.Itoa(weight)
	c[istio.LabelUseWaypointCanary] = &name
	c[istio.LabelUseWaypointCanaryNamespace] = nil
	if canaryNamespace != "" && canaryNamespace != own {
		c[istio.LabelUseWaypointCanaryNamespace] = &canaryNamespace
	}
	c[AnnotationKey(istio.AnnotationCanaryWeight)] = &w
	return c
}

// EnrollChange is the change that makes a resource in namespace own use the
// waypoint name in namespace wpNamespace. The namespace label is written only
// when the waypoint lives elsewhere, and a stale one is removed.
func EnrollChange(own, name, wpNamespace string) LabelChange {
	c := LabelChange{istio.LabelUseWaypoint: &name, istio.LabelUseWaypointNamespace: nil}
	if wpNamespace != "" && wpNamespace != own && name != istio.NoWaypoint {
		c[istio.LabelUseWaypointNamespace] = &wpNamespace
	}
	return c
}

// UnenrollChange removes the enrollment labels, and a canary's.
func UnenrollChange() LabelChange {
	return LabelChange{istio.LabelUseWaypoint: nil, istio.LabelUseWaypointNamespace: nil,
		istio.LabelUseWaypointCanary: nil, istio.LabelUseWaypointCanaryNamespace: nil,
		AnnotationKey(istio.AnnotationCanaryWeight): nil}
}

// Apply returns labels with the change applied, leaving labels untouched.
func (c LabelChange) Apply(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels)+len(c))
	for k, v := range labels {
		out[k] = v
	}
	for k, v := range c {
		if strings.HasPrefix(k, annotationPrefix) {
			continue
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out
}

// Needed reports whether applying the change to labels would change them.
func (c LabelChange) Needed(labels map[string]string) bool {
	return c.NeededFor(labels, nil)
}

// NeededFor reports whether applying the change to an object with these
// labels and annotations would change them. Annotation keys are not
// compared when annotations is nil.
func (c LabelChange) NeededFor(labels, annotations map[string]string) bool {
	for k, v := range c {
		cur, ok := labels[k]
		if a, isAnnotation := strings.CutPrefix(k, annotationPrefix); isAnnotation {
			if annotations == nil {
				continue
			}
			cur, ok = annotations[a]
		}
		if (v == nil && ok) || (v != nil && (!ok || cur != *v)) {
			return true
		}
	}
	return false
}

func patch(ctx context.Context, c *kube.Clients, kind Kind, namespace, name string, pt types.PatchType, body []byte, dryRun kube.DryRun) (map[string]string, error) {
	opts := metav1.PatchOptions{FieldManager: c.Manager(), DryRun: dryRun.Server()}
	switch kind {
	case KindNamespace:
		obj, err := c.Kube.CoreV1().Namespaces().Patch(ctx, name, pt, body, opts)
		if err != nil {
			return nil, err
		}
		return obj.Labels, nil
	case KindService:
		obj, err := c.Kube.CoreV1().Services(namespace).Patch(ctx, name, pt, body, opts)
		if err != nil {
			return nil, err
		}
		return obj.Labels, nil
	case KindPod:
		obj, err := c.Kube.CoreV1().Pods(namespace).Patch(ctx, name, pt, body, opts)
		if err != nil {
			return nil, err
		}
		return obj.Labels, nil
	case KindServiceEntry, KindWorkloadEntry:
		obj, err := c.Dynamic.Resource(kind.GVR()).Namespace(namespace).Patch(ctx, name, pt, body, opts)
		if err != nil {
			return nil, err
		}
		return obj.GetLabels(), nil
	}
	return nil, fmt.Errorf("cannot patch kind %q", kind)
}
