package migrate

import (
	"context"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// The kinds the planner reads.
const (
	kindAuthorizationPolicy   = "AuthorizationPolicy"
	kindRequestAuthentication = "RequestAuthentication"
	kindTelemetry             = "Telemetry"
	kindWasmPlugin            = "WasmPlugin"
	kindVirtualService        = "VirtualService"
	kindDestinationRule       = "DestinationRule"
	kindEnvoyFilter           = "EnvoyFilter"
	kindSidecar               = "Sidecar"
	kindHTTPRoute             = "HTTPRoute"
)

// selectorKinds are the kinds that, with a selector, only a sidecar applies.
var selectorKinds = []string{kindRequestAuthentication, kindTelemetry, kindWasmPlugin}

// kinds are the Istio kinds read, each listed once per namespace read (or
// once for the cluster); rootToo says a mesh-wide object of the root
// namespace concerns every namespace.
var kinds = []struct {
	name    string
	gvr     schema.GroupVersionResource
	rootToo bool
}{
	{kindAuthorizationPolicy, schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}, true},
	{kindRequestAuthentication, schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "requestauthentications"}, false},
	{kindTelemetry, schema.GroupVersionResource{Group: "telemetry.istio.io", Version: "v1", Resource: "telemetries"}, false},
	{kindWasmPlugin, schema.GroupVersionResource{Group: "extensions.istio.io", Version: "v1alpha1", Resource: "wasmplugins"}, false},
	{kindVirtualService, schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}, false},
	{kindDestinationRule, schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}, false},
	{kindEnvoyFilter, schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1alpha3", Resource: "envoyfilters"}, true},
	{kindSidecar, schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "sidecars"}, false},
	{kindHTTPRoute, schema.GroupVersionResource{Group: gatewayGroup, Version: "v1", Resource: "httproutes"}, false},
}

// Planner reads what a migration plan needs: each kind once per call for
// the cluster, or once per namespace asked for.
type Planner struct {
	Clients *kube.Clients
	// RootNamespace is the mesh's root namespace, whose policies without a
	// selector are mesh-wide.
	RootNamespace string
	// Granularity is what each planned waypoint serves; the zero value is
	// GranularityNamespace.
	Granularity Granularity
	// Replace rewrites originals in place, with targetRefs in place of
	// their selectors, where no sidecar applies them, rather than leaving
	// copies of other names.
	Replace bool
}

// NewPlanner returns a Planner over the clients.
func NewPlanner(c *kube.Clients) *Planner {
	return &Planner{Clients: c, RootNamespace: "istio-system"}
}

// Plan plans the namespaces given, or with none every namespace in
// sidecar or ambient mode (and the root namespace's mesh-wide policies).
func (p *Planner) Plan(ctx context.Context, namespaces []string) (*Plan, error) {
	w := &world{root: p.RootNamespace, perService: p.Granularity == GranularityService, replace: p.Replace, namespaces: map[string]*corev1.Namespace{},
		objects: map[string]map[string][]unstructured.Unstructured{}, services: map[string][]corev1.Service{},
		pods: map[string][]corev1.Pod{}, waypoints: map[string][]mesh.Waypoint{}, waypointOf: map[string]mesh.Waypoint{}}
	all := len(namespaces) == 0
	if err := p.readNamespaces(ctx, w, namespaces); err != nil {
		return nil, err
	}
	var selected []string
	for name, ns := range w.namespaces {
		if !all || ModeOf(ns.Labels) != ModeNone || name == p.RootNamespace {
			selected = append(selected, name)
		}
	}
	sort.Strings(selected)
	// Where to list: the cluster once, or each namespace asked for (with
	// the root namespace for the kinds it holds mesh-wide objects of).
	reads := []string{""}
	if !all {
		reads = selected
	}
	plan := &Plan{Namespaces: []NamespacePlan{}}
	for _, k := range kinds {
		where := reads
		if !all && k.rootToo && !slices.Contains(where, p.RootNamespace) {
			where = append(slices.Clone(where), p.RootNamespace)
		}
		byNs := map[string][]unstructured.Unstructured{}
		for _, ns := range where {
			items, err := kube.ListAll(ctx, metav1.ListOptions{}, unstructuredPage(p.Clients, k.gvr, ns))
			if kube.IsMissingType(err) || (apierrors.IsNotFound(err) && len(items) == 0) {
				plan.Absent = append(plan.Absent, k.name)
				break
			}
			if err != nil {
				return nil, kube.Describe("list "+k.gvr.Resource, err)
			}
			for _, it := range items {
				byNs[it.GetNamespace()] = append(byNs[it.GetNamespace()], it)
			}
		}
		w.objects[k.name] = byNs
	}
	classes := mesh.NewClasses(p.Clients.Gateway)
	for _, ns := range reads {
		if err := kube.EachPage(ctx, metav1.ListOptions{}, kube.ServicePage(p.Clients.Kube, ns), func(items []corev1.Service) error {
			for _, s := range items {
				w.services[s.Namespace] = append(w.services[s.Namespace], s)
			}
			return nil
		}); err != nil {
			return nil, kube.Describe("list services", err)
		}
		if err := kube.EachPage(ctx, metav1.ListOptions{}, podPage(p.Clients, ns), func(items []corev1.Pod) error {
			for _, pod := range items {
				w.pods[pod.Namespace] = append(w.pods[pod.Namespace], pod)
			}
			return nil
		}); err != nil {
			return nil, kube.Describe("list pods", err)
		}
		if _, err := mesh.EachGateway(ctx, p.Clients.Gateway, mesh.GatewayQuery{Namespace: ns}, func(gw *gatewayv1.Gateway) {
			if !mesh.IsWaypointGateway(gw) {
				return
			}
			wp := classes.Parse(ctx, gw)
			w.waypoints[gw.Namespace] = append(w.waypoints[gw.Namespace], wp)
			w.waypointOf[wp.Key()] = wp
		}); err != nil && !kube.IsMissingType(err) {
			return nil, kube.Describe("list gateways", err)
		}
	}
	if !all && !slices.Contains(selected, p.RootNamespace) {
		// The root namespace's mesh-wide policies concern the namespaces
		// asked for; only those are planned there.
		w.namespaces[p.RootNamespace] = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.RootNamespace}}
		selected = append(selected, p.RootNamespace)
		sort.Strings(selected)
	}
	for _, name := range selected {
		np := w.planNamespace(w.namespaces[name])
		if len(np.Findings) > 0 {
			plan.Namespaces = append(plan.Namespaces, np)
		}
	}
	return plan, nil
}

// readNamespaces reads the namespaces asked for, or every namespace.
func (p *Planner) readNamespaces(ctx context.Context, w *world, names []string) error {
	if len(names) == 0 {
		return kube.EachPage(ctx, metav1.ListOptions{}, kube.NamespacePage(p.Clients.Kube), func(items []corev1.Namespace) error {
			for i := range items {
				w.namespaces[items[i].Name] = &items[i]
			}
			return nil
		})
	}
	for _, name := range names {
		ns, err := p.Clients.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return kube.Describe("read namespace "+name, err)
		}
		w.namespaces[name] = ns
	}
	return nil
}

func unstructuredPage(c *kube.Clients, gvr schema.GroupVersionResource, ns string) kube.Page[unstructured.Unstructured] {
	return func(ctx context.Context, opts metav1.ListOptions) ([]unstructured.Unstructured, string, error) {
		list, err := c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return list.Items, list.GetContinue(), nil
	}
}

func podPage(c *kube.Clients, ns string) kube.Page[corev1.Pod] {
	return func(ctx context.Context, opts metav1.ListOptions) ([]corev1.Pod, string, error) {
		list, err := c.Kube.CoreV1().Pods(ns).List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return list.Items, list.Continue, nil
	}
}
