package enroll

import (
	"context"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// Use is what the resource's enrollment labels tell it, read as istiod does.
func (r Resource) Use() Use {
	own := r.Namespace
	if r.Kind == KindNamespace {
		own = r.Name
	}
	return r.Enrollment.Use(own)
}

// WaypointKey is namespace/name of the waypoint the resource's labels
// name; empty when they name none.
func (r Resource) WaypointKey() string { return r.Use().Key() }

// Labels are the resource's enrollment labels as read.
func (r Resource) Labels() map[string]string { return r.Enrollment.Labels() }

// UnenrollWrite removes the resource's enrollment labels, on the condition
// that they still hold what was read.
func (r Resource) UnenrollWrite(dryRun kube.DryRun) Write {
	return Write{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Labels: r.Labels(),
		ResourceVersion: r.ResourceVersion, Change: UnenrollChange(), DryRun: dryRun}
}

// ListFailure is a list of one kind (in one namespace, or across the
// cluster when Namespace is empty) that failed.
type ListFailure struct {
	Kind      Kind
	Namespace string
	Err       error
	// Forbidden says the user may not make the list.
	Forbidden bool
}

func (f *ListFailure) Error() string { return f.Err.Error() }
func (f *ListFailure) Unwrap() error { return f.Err }

// FindEnrolled finds, for every kind, the resources whose istio.io/use-waypoint
// label names a waypoint (one of names, or any when names is empty) whose
// key (namespace/name) match accepts. It lists across the cluster, one
// paged metadata list per kind, retried like a write; a user who may not
// do so gets the namespaces of the scope read one by one (narrowed: labels
// in other namespaces that name a waypoint of the scope are not seen). A
// list that fails is returned as a *ListFailure and fails only its kind
// (or namespace). A cluster without the Istio CRDs has no ServiceEntries.
func FindEnrolled(ctx context.Context, c *kube.Clients, names, namespaces []string, concurrency int, match func(key string) bool) (found []Resource, failed []error, narrowed bool) {
	selector := namedSelector(names)
	var mu sync.Mutex
	for _, kind := range Kinds {
		read := readEverywhere(ctx, namespaces, concurrency, func(ctx context.Context, ns string) error {
			var got []Resource
			var err error
			if kind == KindNamespace && ns != "" {
				got, err = readNamespace(ctx, c, ns, selector)
			} else {
				got, err = ListLabelled(ctx, c, kind, ns, selector)
			}
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range got {
				if u := r.Use(); u.Names() && match(u.Key()) {
					found = append(found, r)
				}
			}
			return nil
		})
		narrowed = narrowed || read.Narrowed
		for ns, err := range read.Failed {
			if kind == KindServiceEntry && kube.IsMissingType(err) {
				continue
			}
			what := "list " + kind.Plural() + " enrolled in the waypoints to delete"
			if ns != "" {
				what += " in namespace " + ns
			}
			failed = append(failed, &ListFailure{Kind: kind, Namespace: ns, Err: kube.Describe(what, err), Forbidden: apierrors.IsForbidden(err)})
		}
	}
	sort.Slice(found, func(i, j int) bool {
		a, b := found[i], found[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return found, failed, narrowed
}

// readEverywhere reads across the cluster, even for a scope of one
// namespace (resources of other namespaces may name its waypoints), and
// falls back on the scope's namespaces when rights demand.
func readEverywhere(ctx context.Context, namespaces []string, concurrency int, read func(ctx context.Context, ns string) error) kube.ScopeRead {
	err := kube.Retry(ctx, func() error { return read(ctx, "") })
	if err == nil || !apierrors.IsForbidden(err) || len(namespaces) == 0 {
		out := kube.ScopeRead{Failed: map[string]error{}}
		if err != nil {
			out.Failed[""] = err
		}
		return out
	}
	out := kube.ReadScope(ctx, namespaces, concurrency, read)
	out.Narrowed = true
	return out
}

// readNamespace reads one namespace's metadata and keeps it when its labels
// match selector.
func readNamespace(ctx context.Context, c *kube.Clients, name, selector string) ([]Resource, error) {
	var out []Resource
	err := eachMetadataIn(ctx, c, KindNamespace, name, selector, func(m *metav1.PartialObjectMetadata) {
		out = append(out, Resource{Kind: KindNamespace, Name: m.Name, Enrollment: EnrollmentOf(m.Labels), ResourceVersion: m.ResourceVersion})
	})
	return out, err
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

// EnrolledNamespaces reads what the enrollment labels of the namespaces
// that carry istio.io/use-waypoint tell them, as istiod reads it, by
// namespace name: one paged list, of namespace only when it is given.
func EnrolledNamespaces(ctx context.Context, c *kube.Clients, namespace string) (map[string]Use, error) {
	opts := metav1.ListOptions{LabelSelector: istio.LabelUseWaypoint}
	if namespace != "" {
		opts.FieldSelector = "metadata.name=" + namespace
	}
	out := map[string]Use{}
	err := kube.EachPage(ctx, opts, kube.NamespacePage(c.Kube), func(items []corev1.Namespace) error {
		for _, ns := range items {
			out[ns.Name] = UseOf(ns.Labels, ns.Name)
		}
		return nil
	})
	if err != nil {
		return nil, kube.Describe("list the enrolled namespaces", err)
	}
	return out, nil
}
