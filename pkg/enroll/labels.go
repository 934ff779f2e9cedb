// Package enroll reads and changes the enrollment labels
// (istio.io/use-waypoint and istio.io/use-waypoint-namespace) on namespaces,
// services, pods, ServiceEntries and WorkloadEntries. It only ever patches those labels, never
// the whole object, so it cannot lose another writer's changes.
package enroll

import (
	"context"
	"encoding/json"
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

// MarshalJSON writes the kind as the API spells it ("Service"): every
// document of the tool names kinds so, as kubectl's do.
func (k Kind) MarshalJSON() ([]byte, error) {
	if k == "" {
		return []byte(`""`), nil
	}
	return json.Marshal(k.APIKind())
}

// UnmarshalJSON reads a kind as the API spells it, or as the command line
// does.
func (k *Kind) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		*k = ""
		return nil
	}
	kind, err := ParseKind(s)
	if err != nil {
		return err
	}
	*k = kind
	return nil
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

// Enrollment is what a resource's own enrollment labels hold, as read. Use
// reads it as istiod does; it is kept as read so that a conditional write
// can tell whether the labels changed since.
type Enrollment struct {
	// Waypoint is the value of istio.io/use-waypoint; empty when unset.
	Waypoint string
	// Namespace is the value of istio.io/use-waypoint-namespace; empty when unset.
	Namespace string
	// EmptyWaypoint and EmptyNamespace say that the label is there with
	// an empty value, which istiod tells from no label at all.
	EmptyWaypoint, EmptyNamespace bool
}

// EnrollmentOf reads the enrollment labels.
func EnrollmentOf(labels map[string]string) Enrollment {
	w, hasW := labels[istio.LabelUseWaypoint]
	ns, hasNS := labels[istio.LabelUseWaypointNamespace]
	return Enrollment{Waypoint: w, Namespace: ns, EmptyWaypoint: hasW && w == "", EmptyNamespace: hasNS && ns == ""}
}

// IsSet reports whether istio.io/use-waypoint is there, even empty: the
// resource then names a waypoint (or opts out) whatever its namespace says.
func (e Enrollment) IsSet() bool { return e.Waypoint != "" || e.EmptyWaypoint }

// hasNamespace reports whether istio.io/use-waypoint-namespace is there,
// even empty.
func (e Enrollment) hasNamespace() bool { return e.Namespace != "" || e.EmptyNamespace }

// Labels are the enrollment labels as read, empty values included.
func (e Enrollment) Labels() map[string]string {
	labels := map[string]string{}
	if e.IsSet() {
		labels[istio.LabelUseWaypoint] = e.Waypoint
	}
	if e.hasNamespace() {
		labels[istio.LabelUseWaypointNamespace] = e.Namespace
	}
	return labels
}

// Use is what one object's enrollment labels tell it, read as istiod's
// GetUseWaypoint reads them (pilot/pkg/serviceregistry/ambient/waypoints.go):
//
//   - istio.io/use-waypoint decides whether the object names a waypoint at
//     all; present with an empty value, it names the waypoint "";
//   - its value "none" (exactly: "None" is a name) opts the object out;
//   - otherwise the waypoint's namespace is the value of
//     istio.io/use-waypoint-namespace on the same object when that label is
//     there, even empty (a waypoint in namespace "" does not exist), else
//     the object's own namespace. A namespace label without
//     istio.io/use-waypoint beside it is not read.
//
// DecidingUse picks the object's or its namespace's.
type Use struct {
	// Set is true when istio.io/use-waypoint is there, even empty.
	Set bool
	// None is true when it is "none": the object opts out.
	None bool
	// Name and Namespace are the waypoint named, when Set and not None.
	Name, Namespace string
	// NamespaceLabeled is true when Namespace comes from
	// istio.io/use-waypoint-namespace rather than from the object's own.
	NamespaceLabeled bool
}

// Use reads the enrollment as istiod does, for an object in namespace own
// (a namespace's own name for a namespace).
func (e Enrollment) Use(own string) Use {
	switch {
	case !e.IsSet():
		return Use{}
	case e.Waypoint == istio.NoWaypoint:
		return Use{Set: true, None: true}
	case e.hasNamespace():
		return Use{Set: true, Name: e.Waypoint, Namespace: e.Namespace, NamespaceLabeled: true}
	}
	return Use{Set: true, Name: e.Waypoint, Namespace: own}
}

// UseOf reads labels of an object in namespace own as istiod does.
func UseOf(labels map[string]string, own string) Use { return EnrollmentOf(labels).Use(own) }

// DecidingUse is the use that decides the waypoint of an object in
// namespace own, as istiod's fetchWaypointForTarget picks it: the object's
// own when its istio.io/use-waypoint is there (even empty, even "none"),
// else its namespace's, each read from its own labels only. The source
// says which; SourceNone (and a zero Use) when neither is there. For a
// namespace, pass its labels as both.
func DecidingUse(labels, namespaceLabels map[string]string, own string) (Use, Source) {
	if u := UseOf(labels, own); u.Set {
		return u, SourceOwn
	}
	if u := UseOf(namespaceLabels, own); u.Set {
		return u, SourceNamespace
	}
	return Use{}, SourceNone
}

// Names reports whether the use names a waypoint: set, and not "none".
func (u Use) Names() bool { return u.Set && !u.None }

// Key is namespace/name of the waypoint named, as istiod looks it up
// (either part may be empty); empty when none is named.
func (u Use) Key() string {
	if !u.Names() {
		return ""
	}
	return u.Namespace + "/" + u.Name
}

// String is the waypoint named, for messages: namespace/name, both parts
// quoted when one is empty (no such waypoint can exist); "none" for an
// object that opts out, empty when none is named.
func (u Use) String() string {
	switch {
	case !u.Set:
		return ""
	case u.None:
		return istio.NoWaypoint
	case u.Name == "" || u.Namespace == "":
		return fmt.Sprintf("%q in namespace %q", u.Name, u.Namespace)
	}
	return u.Key()
}

// Relative is the waypoint named as seen from namespace own: its name when
// it lives in own, namespace/name otherwise; "none" for an object that
// opts out, empty when none is named.
func (u Use) Relative(own string) string {
	switch {
	case !u.Set:
		return ""
	case u.None:
		return istio.NoWaypoint
	case u.Namespace == own:
		return u.Name
	}
	return u.Key()
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

// IngressChange adds to c the label that sends ingress traffic through the
// waypoint too: istio.io/ingress-use-waypoint=true.
func IngressChange(c LabelChange) LabelChange {
	v := "true"
	c[istio.LabelIngressUseWaypoint] = &v
	return c
}

// UnenrollIngressChange removes istio.io/ingress-use-waypoint alone: the
// enrollment stays, and ingress traffic no longer takes the waypoint
// (unless the namespace's label says so).
func UnenrollIngressChange() LabelChange {
	return LabelChange{istio.LabelIngressUseWaypoint: nil}
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
