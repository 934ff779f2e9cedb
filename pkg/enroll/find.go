package enroll

import (
	"context"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// Resource is one enrollable object with its enrollment labels.
type Resource struct {
	Kind       Kind
	Namespace  string // empty for namespaces
	Name       string
	Enrollment Enrollment
	// ResourceVersion is the version the labels were read at.
	ResourceVersion string
}

// WaypointKey is namespace/name of the waypoint the resource names.
func (r Resource) WaypointKey() string {
	own := r.Namespace
	if r.Kind == KindNamespace {
		own = r.Name
	}
	return r.Enrollment.WaypointNamespace(own) + "/" + r.Enrollment.Waypoint
}

// GVR is the API resource of the kind.
func (k Kind) GVR() schema.GroupVersionResource {
	switch k {
	case KindNamespace:
		return schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	case KindService:
		return schema.GroupVersionResource{Version: "v1", Resource: "services"}
	case KindPod:
		return schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	case KindWorkloadEntry:
		return WorkloadEntryGVR
	}
	return ServiceEntryGVR
}

// FindEnrolled lists, in every namespace, the resources of every kind whose
// enrollment labels name one of the waypoints (keyed namespace/name). It
// reads object metadata only, one paged list per kind. A cluster without the
// Istio CRDs simply has no ServiceEntries.
func FindEnrolled(ctx context.Context, c *kube.Clients, waypoints []string) ([]Resource, error) {
	if len(waypoints) == 0 {
		return nil, nil
	}
	want := map[string]bool{}
	names := map[string]bool{}
	for _, key := range waypoints {
		want[key] = true
		_, name, _ := strings.Cut(key, "/")
		names[name] = true
	}
	nameList := make([]string, 0, len(names))
	for n := range names {
		nameList = append(nameList, n)
	}
	sort.Strings(nameList)
	selector := istio.LabelUseWaypoint + " in (" + strings.Join(nameList, ",") + ")"

	var out []Resource
	for _, kind := range Kinds {
		found, err := ListLabelled(ctx, c, kind, "", selector)
		if err != nil {
			if kind.IsIstio() && kube.IsMissingType(err) {
				continue
			}
			return out, kube.Describe("list "+kind.Resource()+" enrolled in the deleted waypoints", err)
		}
		for _, r := range found {
			if want[r.WaypointKey()] {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// ListLabelled lists the resources of kind in namespace ("" for all) that
// match the label selector, reading metadata only and paging through.
func ListLabelled(ctx context.Context, c *kube.Clients, kind Kind, namespace, selector string) ([]Resource, error) {
	var out []Resource
	err := eachMetadata(ctx, c, kind, namespace, selector, func(m *metav1.PartialObjectMetadata) {
		out = append(out, Resource{Kind: kind, Namespace: m.Namespace, Name: m.Name, Enrollment: EnrollmentOf(m.Labels), ResourceVersion: m.ResourceVersion})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
