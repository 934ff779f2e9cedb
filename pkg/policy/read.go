package policy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// Kind is a kind of L7 policy that attaches through waypoints.
type Kind struct {
	Name string
	// GVRs are the versions to try, newest first; the first one served is read.
	GVRs []schema.GroupVersionResource
	// Route is true for Gateway API routes (parentRefs, route parent
	// status); false for Istio policies (targetRefs, WaypointAccepted).
	Route bool
}

const gatewayGroup = "gateway.networking.k8s.io"

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// Kinds are the L7 policy kinds, in the order they are listed.
var Kinds = []Kind{
	{Name: "AuthorizationPolicy", GVRs: []schema.GroupVersionResource{gvr("security.istio.io", "v1", "authorizationpolicies")}},
	{Name: "RequestAuthentication", GVRs: []schema.GroupVersionResource{gvr("security.istio.io", "v1", "requestauthentications")}},
	{Name: "WasmPlugin", GVRs: []schema.GroupVersionResource{gvr("extensions.istio.io", "v1alpha1", "wasmplugins")}},
	{Name: "Telemetry", GVRs: []schema.GroupVersionResource{gvr("telemetry.istio.io", "v1", "telemetries")}},
	{Name: "HTTPRoute", Route: true, GVRs: []schema.GroupVersionResource{gvr(gatewayGroup, "v1", "httproutes")}},
	{Name: "GRPCRoute", Route: true, GVRs: []schema.GroupVersionResource{gvr(gatewayGroup, "v1", "grpcroutes")}},
	{Name: "TCPRoute", Route: true, GVRs: []schema.GroupVersionResource{gvr(gatewayGroup, "v1", "tcproutes"), gvr(gatewayGroup, "v1alpha2", "tcproutes")}},
	{Name: "TLSRoute", Route: true, GVRs: []schema.GroupVersionResource{gvr(gatewayGroup, "v1", "tlsroutes"), gvr(gatewayGroup, "v1alpha2", "tlsroutes")}},
}

// Policy is one L7 policy, its targets and whether it is enforced.
type Policy struct {
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Generation int64  `json:"generation"`
	// Attachments are its targets (targetRefs, or a route's parentRefs on
	// a Service, a ServiceEntry or a waypoint), with our prediction for each.
	Attachments []Attachment `json:"attachments"`
	// Enforced, Reason and Message are our prediction for the policy as a
	// whole, summed up as istiod sums up its targets.
	Enforced bool   `json:"enforced"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
	// Condition is istiod's WaypointAccepted on an AuthorizationPolicy;
	// nil when it wrote none (it writes none on other kinds).
	Condition *metav1.Condition `json:"waypointAccepted,omitempty"`
	// Disagreement says how istiod's condition differs from the
	// prediction; empty when they agree or istiod wrote none.
	Disagreement string `json:"disagreement,omitempty"`
}

// Key is namespace/name.
func (p Policy) Key() string { return p.Namespace + "/" + p.Name }

// Result is what List read.
type Result struct {
	Policies []Policy `json:"policies"`
	// Absent are the kinds whose CRD is not installed.
	Absent []string `json:"absentKinds,omitempty"`
}

// GatewayAPIMissing says whether the Gateway API's standard CRDs are not
// installed (HTTPRoute is one of them): then no Gateway, so no waypoint,
// can exist, and no policy here is enforced.
func (r *Result) GatewayAPIMissing() bool { return slices.Contains(r.Absent, "HTTPRoute") }

// Reader reads L7 policies and the state of their targets; each kind is
// listed once per call, each namespace's Services and ServiceEntries once,
// each waypoint and class once.
type Reader struct {
	Clients *kube.Clients
	Enroll  *enroll.Reader
	// RootNamespace is the mesh's root namespace (istio-system by default).
	RootNamespace string

	services       map[string]map[string]*corev1.Service
	serviceEntries map[string]map[string]*unstructured.Unstructured
	classes        map[string]*string
	// allServices and allServiceEntries say the maps above hold every
	// namespace's (see prefetch): a namespace not there has none.
	allServices, allServiceEntries bool
	// labels are the labels objects would have after a change (see
	// Change); nil for the cluster as it is.
	labels map[Object]map[string]string
	// prefetched says the cluster-wide lists were made.
	prefetched bool
}

// NewReader returns a Reader over the clients.
func NewReader(c *kube.Clients) *Reader {
	return &Reader{Clients: c, Enroll: enroll.NewReader(c), RootNamespace: "istio-system",
		services:       map[string]map[string]*corev1.Service{},
		serviceEntries: map[string]map[string]*unstructured.Unstructured{},
		classes:        map[string]*string{}}
}

// List reads the L7 policies of namespace ("" for every namespace) that
// attach through waypoints, and predicts for each whether it is enforced.
// Istio policies without targetRefs (selector-based) and routes whose only
// parents are Gateways that are not waypoints are left out.
func (r *Reader) List(ctx context.Context, namespace string) (*Result, error) {
	res := &Result{Policies: []Policy{}}
	byKind := make([][]unstructured.Unstructured, len(Kinds))
	for i, k := range Kinds {
		items, found, err := r.list(ctx, k, namespace)
		if err != nil {
			return nil, err
		}
		if !found {
			res.Absent = append(res.Absent, k.Name)
			continue
		}
		byKind[i] = items
	}
	if namespace == "" {
		r.prefetch(ctx, byKind)
	}
	for ki, k := range Kinds {
		items := byKind[ki]
		for i := range items {
			p, ok, err := r.policy(ctx, k, &items[i])
			if err != nil {
				return nil, err
			}
			if ok {
				res.Policies = append(res.Policies, p)
			}
		}
	}
	sort.SliceStable(res.Policies, func(i, j int) bool {
		a, b := res.Policies[i], res.Policies[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Kind < b.Kind
	})
	return res, nil
}

// list lists one kind in pages; found is false when no version of its CRD
// is served.
func (r *Reader) list(ctx context.Context, k Kind, namespace string) (items []unstructured.Unstructured, found bool, err error) {
	for _, g := range k.GVRs {
		items, err = kube.ListAll(ctx, metav1.ListOptions{}, unstructuredPage(r.Clients.Dynamic.Resource(g).Namespace(namespace)))
		if kube.IsMissingType(err) || (apierrors.IsNotFound(err) && len(items) == 0) {
			continue
		}
		if err != nil {
			return nil, false, describe("list "+g.Resource, err)
		}
		return items, true, nil
	}
	return nil, false, nil
}

// unstructuredPage reads one page of a kind through the dynamic client, for
// kube.EachPage.
func unstructuredPage(c dynamic.ResourceInterface) kube.Page[unstructured.Unstructured] {
	return func(ctx context.Context, opts metav1.ListOptions) ([]unstructured.Unstructured, string, error) {
		list, err := c.List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return list.Items, list.GetContinue(), nil
	}
}

// policy reads one object; ok is false when it attaches through no waypoint.
func (r *Reader) policy(ctx context.Context, k Kind, obj *unstructured.Unstructured) (Policy, bool, error) {
	p := Policy{Kind: k.Name, Namespace: obj.GetNamespace(), Name: obj.GetName(), Generation: obj.GetGeneration()}
	var targets []Target
	if k.Route {
		targets = parentRefs(obj)
	} else {
		targets = targetRefs(obj)
	}
	for _, t := range targets {
		s, err := r.state(ctx, t)
		if err != nil {
			return p, false, err
		}
		// A route on a Gateway that is not a waypoint (an ingress) is not
		// an L7 policy of the mesh.
		if k.Route && t.Kind == "Gateway" && s.Gateway != nil && !s.Gateway.IsWaypointClass() {
			continue
		}
		p.Attachments = append(p.Attachments, Predict(t, p.Namespace, r.RootNamespace, s))
	}
	if len(p.Attachments) == 0 {
		return p, false, nil
	}
	if k.Route {
		parents := routeParents(obj)
		for i := range p.Attachments {
			p.Attachments[i].Parent = parents[p.Attachments[i].Target]
		}
	}
	p.Enforced, p.Reason, p.Message = Flatten(p.Attachments)
	if !k.Route {
		p.Condition = meta.FindStatusCondition(kube.Conditions(obj), ConditionWaypointAccepted)
		if c := p.Condition; c != nil && c.ObservedGeneration == p.Generation && c.Reason != p.Reason {
			p.Disagreement = fmt.Sprintf("istiod reports %s=%s (%s) where the rules say %s: trusting istiod (it may not have seen the latest change yet)",
				c.Type, c.Status, c.Reason, p.Reason)
		}
	}
	return p, true, nil
}

// Verdict is istiod's reason when it wrote a condition for the policy's
// current generation, else the prediction's.
func (p Policy) Verdict() (enforced bool, reason string) {
	if c := p.decidingCondition(); c != nil {
		return c.Status == metav1.ConditionTrue, c.Reason
	}
	return p.Enforced, p.Reason
}

// VerdictMessage is the words of Verdict: istiod's message when its
// condition decides and has one, else the prediction's (which says, for
// a route istiod accepted, why no waypoint applies it).
func (p Policy) VerdictMessage() string {
	if c := p.decidingCondition(); c != nil && c.Message != "" {
		return c.Message
	}
	return p.Message
}

// decidingCondition is istiod's condition when it is about the policy's
// current generation, else nil.
func (p Policy) decidingCondition() *metav1.Condition {
	if c := p.Condition; c != nil && c.ObservedGeneration == p.Generation {
		return c
	}
	return nil
}

// state reads what the cluster holds of a target.
func (r *Reader) state(ctx context.Context, t Target) (TargetState, error) {
	switch t.Kind {
	case "Gateway":
		w, err := r.Enroll.Waypoint(ctx, t.Key())
		if err != nil {
			return TargetState{}, err
		}
		return TargetState{Exists: w != nil, Gateway: w}, nil
	case "GatewayClass":
		c, err := r.class(ctx, t.Name)
		if err != nil || c == nil {
			return TargetState{}, err
		}
		return TargetState{Exists: true, ClassController: *c}, nil
	case "Service", "ServiceEntry":
		res, err := r.resolve(ctx, Object{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name})
		if err != nil || res == nil {
			return TargetState{}, err
		}
		return TargetState{Exists: true, Resolution: res}, nil
	}
	return TargetState{}, nil
}

// resolve resolves the waypoint of a Service or ServiceEntry (with the
// labels of a change, when there is one); nil when it does not exist.
func (r *Reader) resolve(ctx context.Context, o Object) (*enroll.Resolution, error) {
	var s enroll.Subject
	switch o.Kind {
	case "Service":
		svcs, err := r.servicesIn(ctx, o.Namespace)
		if err != nil {
			return nil, err
		}
		svc := svcs[o.Name]
		if svc == nil {
			return nil, nil
		}
		s = enroll.Subject{Kind: enroll.KindService, Namespace: svc.Namespace, Name: svc.Name,
			Labels: svc.Labels, Annotations: svc.Annotations, ExternalName: svc.Spec.Type == corev1.ServiceTypeExternalName}
	case "ServiceEntry":
		ses, err := r.serviceEntriesIn(ctx, o.Namespace)
		if err != nil {
			return nil, err
		}
		se := ses[o.Name]
		if se == nil {
			return nil, nil
		}
		s = enroll.Subject{Kind: enroll.KindServiceEntry, Namespace: se.GetNamespace(), Name: se.GetName(),
			Labels: se.GetLabels(), Annotations: se.GetAnnotations()}
	default:
		return nil, nil
	}
	if l, ok := r.labels[o]; ok {
		s.Labels = l
	}
	res, err := r.Enroll.Resolve(ctx, s)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

func (r *Reader) class(ctx context.Context, name string) (*string, error) {
	if c, ok := r.classes[name]; ok {
		return c, nil
	}
	var gc *gatewayv1.GatewayClass
	err := kube.Retry(ctx, func() (err error) {
		gc, err = r.Clients.Gateway.GatewayV1().GatewayClasses().Get(ctx, name, metav1.GetOptions{})
		return err
	})
	switch {
	case apierrors.IsNotFound(err) || kube.IsMissingType(err):
		r.classes[name] = nil
		return nil, nil
	case err != nil:
		return nil, kube.Describe("read GatewayClass "+name, err)
	}
	c := string(gc.Spec.ControllerName)
	r.classes[name] = &c
	return &c, nil
}

// servicesIn lists the Services of a namespace once.
func (r *Reader) servicesIn(ctx context.Context, ns string) (map[string]*corev1.Service, error) {
	if m, ok := r.services[ns]; ok {
		return m, nil
	}
	if r.allServices {
		return nil, nil
	}
	items, err := kube.ListAll(ctx, metav1.ListOptions{}, kube.ServicePage(r.Clients.Kube, ns))
	if err != nil {
		return nil, describe("list the services of namespace "+ns, err)
	}
	m := make(map[string]*corev1.Service, len(items))
	for i := range items {
		m[items[i].Name] = &items[i]
	}
	r.services[ns] = m
	return m, nil
}

// serviceEntriesIn lists the ServiceEntries of a namespace once; none when
// their CRD is not installed.
func (r *Reader) serviceEntriesIn(ctx context.Context, ns string) (map[string]*unstructured.Unstructured, error) {
	if m, ok := r.serviceEntries[ns]; ok {
		return m, nil
	}
	if r.allServiceEntries {
		return nil, nil
	}
	items, err := kube.ListAll(ctx, metav1.ListOptions{}, unstructuredPage(r.Clients.Dynamic.Resource(enroll.ServiceEntryGVR).Namespace(ns)))
	if err != nil && !kube.IsMissingType(err) {
		return nil, describe("list the ServiceEntries of namespace "+ns, err)
	}
	m := make(map[string]*unstructured.Unstructured, len(items))
	for i := range items {
		m[items[i].GetName()] = &items[i]
	}
	r.serviceEntries[ns] = m
	return m, nil
}

// targetRefs reads spec.targetRefs and the older spec.targetRef of an
// Istio policy, as istiod does (both count).
func targetRefs(obj *unstructured.Unstructured) []Target {
	var refs []any
	if one, ok, _ := unstructured.NestedMap(obj.Object, "spec", "targetRef"); ok {
		refs = append(refs, one)
	}
	many, _, _ := unstructured.NestedSlice(obj.Object, "spec", "targetRefs")
	refs = append(refs, many...)
	var out []Target
	for _, ref := range refs {
		m, ok := ref.(map[string]any)
		if !ok {
			continue
		}
		t := refTarget(m, obj.GetNamespace())
		if t.Kind == "" {
			continue
		}
		out = append(out, t)
	}
	return out
}

// parentRefs reads the parentRefs of a route; a parentRef without a kind
// is a Gateway. Several parentRefs on one object (ports, sections) count once.
func parentRefs(obj *unstructured.Unstructured) []Target {
	refs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "parentRefs")
	seen := map[Target]bool{}
	var out []Target
	for _, ref := range refs {
		m, ok := ref.(map[string]any)
		if !ok {
			continue
		}
		t := refTarget(m, obj.GetNamespace())
		if t.Kind == "" {
			t.Kind = "Gateway"
		}
		if _, has := m["group"]; !has && t.Kind == "Gateway" {
			t.Group = gatewayGroup
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// routeParents reads status.parents of a route, by parentRef as
// parentRefs reads them; of several controllers, istiod's is kept.
func routeParents(obj *unstructured.Unstructured) map[Target]*ParentStatus {
	items, _, _ := unstructured.NestedSlice(obj.Object, "status", "parents")
	out := map[Target]*ParentStatus{}
	for _, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		ref, _ := m["parentRef"].(map[string]any)
		if ref == nil {
			continue
		}
		t := refTarget(ref, obj.GetNamespace())
		if t.Kind == "" {
			t.Kind = "Gateway"
		}
		if _, has := ref["group"]; !has && t.Kind == "Gateway" {
			t.Group = gatewayGroup
		}
		ps := &ParentStatus{}
		ps.Controller, _ = m["controllerName"].(string)
		if prev := out[t]; prev != nil && prev.Controller == IstioController {
			continue
		}
		conds := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"conditions": m["conditions"]}}}
		cs := kube.Conditions(conds)
		ps.Accepted, ps.ResolvedRefs = meta.FindStatusCondition(cs, "Accepted"), meta.FindStatusCondition(cs, "ResolvedRefs")
		ps.ResolvedWaypoints = meta.FindStatusCondition(cs, "ResolvedWaypoints")
		out[t] = ps
	}
	return out
}

// IstioController is the controller name istiod writes in route status.
const IstioController = "istio.io/gateway-controller"

func refTarget(m map[string]any, namespace string) Target {
	str := func(k string) string { s, _ := m[k].(string); return s }
	t := Target{Kind: str("kind"), Group: str("group"), Namespace: str("namespace"), Name: str("name")}
	if t.Namespace == "" {
		t.Namespace = namespace
	}
	// istiod matches a target by its kind alone, whatever its group.
	return t
}

// Applying returns the policies that apply to the traffic of one Service,
// ServiceEntry or WorkloadEntry (kind Service, ServiceEntry or
// WorkloadEntry): those that target it, and those that target the waypoint
// it uses (namespace/name; empty when none). Each policy keeps only those
// attachments.
func Applying(policies []Policy, kind, namespace, name, waypoint string) []Policy {
	var out []Policy
	for _, p := range policies {
		var as []Attachment
		for _, a := range p.Attachments {
			t := a.Target
			onObject := t.Kind == kind && t.Namespace == namespace && t.Name == name
			onWaypoint := waypoint != "" && t.Kind == "Gateway" && t.Key() == waypoint
			if onObject || onWaypoint {
				as = append(as, a)
			}
		}
		if len(as) > 0 {
			p.Attachments = as
			out = append(out, p)
		}
	}
	return out
}

// ListFor reads the policies of the namespaces given (each once) and
// returns those Applying to the object.
func (r *Reader) ListFor(ctx context.Context, kind, namespace, name, waypoint string) ([]Policy, error) {
	namespaces := []string{namespace}
	if wns, _, ok := strings.Cut(waypoint, "/"); ok && wns != namespace {
		namespaces = append(namespaces, wns)
	}
	var all []Policy
	for _, ns := range namespaces {
		res, err := r.List(ctx, ns)
		if err != nil {
			return nil, err
		}
		all = append(all, res.Policies...)
	}
	return Applying(all, kind, namespace, name, waypoint), nil
}

// describedError is an API fault described for the user that still
// answers apierrors.IsForbidden and the like, so that callers can fall
// back to a narrower read.
type describedError struct{ described, cause error }

func (e *describedError) Error() string { return e.described.Error() }
func (e *describedError) Unwrap() error { return e.cause }

// describe is kube.Describe that keeps the API error underneath.
func describe(what string, err error) error {
	return &describedError{described: kube.Describe(what, err), cause: err}
}
