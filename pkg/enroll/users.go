package enroll

import (
	"context"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// namedSelector selects the objects whose istio.io/use-waypoint label
// names one of names; beyond maxNamesInSelector names, every object that
// names a waypoint (the caller keeps those it wants).
func namedSelector(names []string) string {
	if len(names) == 0 || len(names) > maxNamesInSelector {
		return istio.LabelUseWaypoint + "," + istio.LabelUseWaypoint + "!=" + istio.NoWaypoint
	}
	list := slices.Clone(names)
	sort.Strings(list)
	return istio.LabelUseWaypoint + " in (" + strings.Join(slices.Compact(list), ",") + ")"
}

// OwnUsers finds the resources whose own istio.io/use-waypoint label names
// one of the waypoints keys (namespace/name), a namespace by its own label
// too, and resolves each by istiod's rules (Resolve): those istiod binds to
// the waypoint they name are returned, by waypoint key. A resource that
// inherits a waypoint from its namespace is not listed: the namespace
// stands for it.
//
// Its cost does not grow with the number of waypoints or of resources: one
// paged list of the namespaces (their labels decide whom a waypoint
// admits), one labelled list of each other kind (Services whole, for their
// type: an ExternalName Service takes no waypoint; the others as
// metadata), each across the cluster, or in each namespace of scope for a
// user who may not (Gaps then say what was narrowed or not searched), and
// the mesh config once when a ServiceEntry is among them. The waypoints of
// keys should be known to the reader (Know); one that is not is read.
func (r *Reader) OwnUsers(ctx context.Context, keys, scope []string) (map[string][]Resolution, error) {
	want := map[string]bool{}
	var names []string
	for _, k := range keys {
		want[k] = true
		_, name := splitKey(k)
		names = append(names, name)
	}
	out := map[string][]Resolution{}
	if len(keys) == 0 {
		return out, nil
	}
	selector := namedSelector(names)
	var subjects []Subject
	for _, kind := range Kinds {
		var got []Subject
		read := readEverywhere(ctx, scope, 1, func(ctx context.Context, ns string) error {
			// Kept only when the read succeeds: a failed try is tried again.
			var these []Subject
			var err error
			if kind == KindService {
				err = eachService(ctx, r.Clients, ns, selector, func(svc *corev1.Service) {
					these = append(these, Subject{Kind: kind, Namespace: svc.Namespace, Name: svc.Name, Labels: svc.Labels,
						Annotations: svc.Annotations, ExternalName: svc.Spec.Type == corev1.ServiceTypeExternalName})
				})
			} else {
				sel := selector
				if kind == KindNamespace {
					sel = "" // every namespace: its labels are needed, named or not
				}
				err = eachMetadataIn(ctx, r.Clients, kind, ns, sel, func(m *metav1.PartialObjectMetadata) {
					these = append(these, Subject{Kind: kind, Namespace: m.Namespace, Name: m.Name, Labels: m.Labels, Annotations: m.Annotations})
				})
			}
			if err == nil {
				got = append(got, these...)
			}
			return err
		})
		if err := r.readFailures(kind, read, scope, func(ns string) string {
			what := "list the " + kind.Plural() + " that use the waypoints"
			if ns != "" {
				what += " in namespace " + ns
			}
			return what
		}); err != nil {
			return nil, err
		}
		if kind == KindNamespace {
			for _, s := range got {
				r.namespaces[s.Name] = &namespaceMeta{s.Labels, s.Annotations}
			}
			r.allNamespaces = r.allNamespaces || !read.Narrowed && len(read.Failed) == 0
		}
		for _, s := range got {
			own := s.Namespace
			if kind == KindNamespace {
				own = s.Name
			}
			if want[UseOf(s.Labels, own).Key()] {
				subjects = append(subjects, s)
			}
		}
	}
	for _, s := range subjects {
		res, err := r.Resolve(ctx, s)
		if err != nil {
			return nil, err
		}
		if res.Uses && want[res.Waypoint] {
			out[res.Waypoint] = append(out[res.Waypoint], res)
		}
	}
	for _, rs := range out {
		sortResolutions(rs)
	}
	return out, nil
}

// readFailures records the lists of kind that RBAC narrowed to scope, or
// kept the reader from making, as Gaps; another failure is the error,
// described by what (the list of a namespace, "" for the cluster's). A
// missing CRD of an Istio kind means there are none.
func (r *Reader) readFailures(kind Kind, read kube.ScopeRead, scope []string, what func(ns string) string) error {
	if read.Narrowed {
		for _, ns := range scope {
			if read.Failed[ns] == nil {
				r.gap(ListGap{Kind: kind, Instead: ns})
			}
		}
	}
	for ns, err := range read.Failed {
		switch {
		case kind.IsIstio() && kube.IsMissingType(err):
		case ns != "" && apierrors.IsForbidden(err):
			r.gap(ListGap{Kind: kind, Namespace: ns})
		default:
			return kube.Describe(what(ns), err)
		}
	}
	return nil
}

// eachService calls fn for every Service of namespace ("" for all) that
// matches selector, page by page.
func eachService(ctx context.Context, c *kube.Clients, namespace, selector string, fn func(*corev1.Service)) error {
	page := kube.ServicePage(c.Kube, namespace)
	opts := metav1.ListOptions{LabelSelector: selector, Limit: kube.PageSize}
	for {
		items, next, err := page(ctx, opts)
		if err != nil {
			return err
		}
		for i := range items {
			fn(&items[i])
		}
		if next == "" {
			return nil
		}
		opts.Continue = next
	}
}
