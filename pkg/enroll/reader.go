package enroll

import (
	"context"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// Subject is an object to resolve, as read.
type Subject struct {
	Kind        Kind
	Namespace   string
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	// ExternalName is true for a Service of type ExternalName.
	ExternalName bool
}

type namespaceMeta struct {
	labels, annotations map[string]string
}

// Reader reads from the cluster what Resolve needs, each waypoint, class
// and namespace once, and resolves.
type Reader struct {
	Clients *kube.Clients
	Classes *mesh.Classes

	waypoints    map[string]*mesh.Waypoint
	namespaces   map[string]*namespaceMeta
	externalName map[string]map[string]bool
	visibility   *mesh.Visibility
	visRead      bool
	// VisibilityUnread says the mesh config was needed (for a
	// ServiceEntry) and could not be read: every ServiceEntry was taken
	// to be PUBLIC.
	VisibilityUnread bool

	// labelledLists are the complete lists across the cluster of
	// labelled, by kind and selector.
	labelledLists map[string][]metav1.PartialObjectMetadata

	// Gaps are the lists that RBAC kept the reader from making while it
	// looked for the users of a waypoint: each in the order met, once.
	Gaps []ListGap

	// allWaypoints and allNamespaces say the caches hold every Gateway
	// and namespace (see preload.go): what is not there does not exist.
	allWaypoints, allNamespaces bool
	// nsLabels replace the labels of namespaces, for a reader of the
	// cluster as it would be after a change (see With).
	nsLabels map[string]map[string]string
}

// ListGap is a list of one kind that the user may not make. Namespace ""
// is the list across the cluster: the reader then searched Instead, the
// waypoint's namespace, in its place; otherwise that namespace was not
// searched at all for the kind.
type ListGap struct {
	Kind      Kind
	Namespace string
	Instead   string
}

func (r *Reader) gap(g ListGap) {
	if !slices.Contains(r.Gaps, g) {
		r.Gaps = append(r.Gaps, g)
	}
}

// NewReader returns a Reader over the clients.
func NewReader(c *kube.Clients) *Reader {
	return &Reader{Clients: c, Classes: mesh.NewClasses(c.Gateway),
		waypoints: map[string]*mesh.Waypoint{}, namespaces: map[string]*namespaceMeta{},
		externalName: map[string]map[string]bool{}}
}

// Resolve resolves the waypoint of an object, reading its namespace, the
// waypoints it names and their classes (and, for a ServiceEntry, the mesh
// config) as needed.
func (r *Reader) Resolve(ctx context.Context, s Subject) (Resolution, error) {
	in := ResolveInput{Kind: s.Kind, Namespace: s.Namespace, Name: s.Name, Labels: s.Labels, Annotations: s.Annotations,
		ExternalName: s.ExternalName, Waypoints: map[string]*mesh.Waypoint{}}
	if s.Kind != KindNamespace {
		ns, err := r.namespace(ctx, s.Namespace)
		if err != nil {
			return Resolution{}, err
		}
		in.NamespaceLabels, in.NamespaceAnnotations = ns.labels, ns.annotations
	}
	for _, key := range WantedWaypoints(in) {
		w, err := r.Waypoint(ctx, key)
		if err != nil {
			return Resolution{}, err
		}
		if w != nil {
			in.Waypoints[key] = w
		}
	}
	if s.Kind == KindServiceEntry {
		in.Visibility = r.meshVisibility(ctx)
	}
	return Resolve(in), nil
}

// ResolveTarget resolves a target as istiod would bind it now.
func (r *Reader) ResolveTarget(ctx context.Context, t Target) (Resolution, error) {
	return r.resolveTarget(ctx, t)
}

// resolveTarget resolves a target found by listing metadata; a Service's
// type is read with one list of its namespace's services.
func (r *Reader) resolveTarget(ctx context.Context, t Target) (Resolution, error) {
	s := Subject{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name, Labels: t.Labels, Annotations: t.Annotations}
	if t.Kind == KindNamespace {
		s.Namespace = t.Name
	}
	if t.Kind == KindService {
		ext, err := r.externalNames(ctx, t.Namespace)
		if err != nil {
			return Resolution{}, err
		}
		s.ExternalName = ext[t.Name]
	}
	return r.Resolve(ctx, s)
}

func (r *Reader) externalNames(ctx context.Context, namespace string) (map[string]bool, error) {
	if m, ok := r.externalName[namespace]; ok {
		return m, nil
	}
	m := map[string]bool{}
	err := kube.EachPage(ctx, metav1.ListOptions{}, kube.ServicePage(r.Clients.Kube, namespace), func(items []corev1.Service) error {
		for _, svc := range items {
			if svc.Spec.Type == corev1.ServiceTypeExternalName {
				m[svc.Name] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, kube.Describe("list the services of namespace "+namespace, err)
	}
	r.externalName[namespace] = m
	return m, nil
}

// meshVisibility reads the mesh config's serviceEntryVisibility once; nil
// when it cannot be read.
func (r *Reader) meshVisibility(ctx context.Context) *mesh.Visibility {
	if !r.visRead {
		r.visRead = true
		if v, ok := mesh.ReadVisibility(ctx, r.Clients.Kube); ok {
			r.visibility = &v
		} else {
			r.VisibilityUnread = true
		}
	}
	return r.visibility
}

// namespace reads a namespace's labels and annotations once; a namespace
// that does not exist has none.
func (r *Reader) namespace(ctx context.Context, name string) (*namespaceMeta, error) {
	m, err := r.readNamespace(ctx, name)
	if l, ok := r.nsLabels[name]; ok && err == nil {
		return &namespaceMeta{l, m.annotations}, nil
	}
	return m, err
}

func (r *Reader) readNamespace(ctx context.Context, name string) (*namespaceMeta, error) {
	if m, ok := r.namespaces[name]; ok {
		return m, nil
	}
	if r.allNamespaces {
		return &namespaceMeta{}, nil
	}
	var ns *corev1.Namespace
	err := kube.Retry(ctx, func() (err error) {
		ns, err = r.Clients.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		return err
	})
	switch {
	case apierrors.IsNotFound(err):
		r.namespaces[name] = &namespaceMeta{}
		return r.namespaces[name], nil
	case err != nil:
		return nil, kube.Describe("read namespace "+name, err)
	}
	r.namespaces[name] = &namespaceMeta{ns.Labels, ns.Annotations}
	return r.namespaces[name], nil
}

// Waypoint reads the Gateway namespace/name once, with its class; nil when
// it does not exist (or the Gateway API is not installed). A name that is
// empty (istio.io/use-waypoint="") names no Gateway.
func (r *Reader) Waypoint(ctx context.Context, key string) (*mesh.Waypoint, error) {
	if w, ok := r.waypoints[key]; ok {
		return w, nil
	}
	ns, name := splitKey(key)
	if ns == "" || name == "" || r.allWaypoints {
		r.waypoints[key] = nil
		return nil, nil
	}
	gw, err := mesh.GetGateway(ctx, r.Clients.Gateway, ns, name)
	switch {
	case kube.IsMissingType(err):
		// No Gateway API: no waypoint can exist, which is what to say.
		return nil, kube.Describe("read waypoint "+key, err)
	case apierrors.IsNotFound(err):
		r.waypoints[key] = nil
		return nil, nil
	case apierrors.IsForbidden(err):
		return nil, &WaypointForbiddenError{Key: key, Err: err}
	case err != nil:
		return nil, kube.Describe("read waypoint "+key, err)
	}
	w := r.Classes.Parse(ctx, gw)
	r.waypoints[key] = &w
	return &w, nil
}

// Know gives the reader a waypoint already read, so that it is not read again.
func (r *Reader) Know(w *mesh.Waypoint) { r.waypoints[w.Key()] = w }

func splitKey(key string) (ns, name string) {
	ns, name, _ = strings.Cut(key, "/")
	return ns, name
}
