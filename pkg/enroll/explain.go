package enroll

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// ClassLabelsFunc returns the labels of a GatewayClass (nil when unknown).
type ClassLabelsFunc func(ctx context.Context, class string) map[string]string

// NotFoundError says the object to explain does not exist.
type NotFoundError struct {
	Kind      Kind
	Namespace string
	Name      string
}

func (e *NotFoundError) Error() string {
	if e.Kind == KindNamespace {
		return fmt.Sprintf("namespace %q not found", e.Name)
	}
	return fmt.Sprintf("%s %q not found in namespace %s", describeKind(e.Kind), e.Name, e.Namespace)
}

// NotAWaypointError says a Gateway asked about as a waypoint is not one.
type NotAWaypointError struct {
	Key   string
	Class string
}

func (e *NotAWaypointError) Error() string {
	return fmt.Sprintf("gateway %s is not a waypoint: its class is %q, not %s or %s", e.Key, e.Class, istio.ClassWaypoint, istio.ClassAgentgatewayWaypoint)
}

// Explanation is a Resolution with what istiod itself reported.
type Explanation struct {
	Resolution
	// Condition is the istio.io/WaypointBound condition istiod wrote on the
	// object; nil when there is none (pods and namespaces never get one).
	Condition *metav1.Condition `json:"waypointBound,omitempty"`
	// Services are, for a pod, the services of its namespace whose selector
	// matches it, each with the waypoint that traffic addressed to it uses.
	Services []Explanation `json:"services,omitempty"`
}

// Reader reads from the cluster what Resolve needs, each waypoint and
// namespace once, and resolves.
type Reader struct {
	Clients     *kube.Clients
	ClassLabels ClassLabelsFunc

	gateways   map[string]*gatewayv1.Gateway
	namespaces map[string]map[string]string
}

// NewReader returns a Reader over the clients; classLabels may be nil.
func NewReader(c *kube.Clients, classLabels ClassLabelsFunc) *Reader {
	if classLabels == nil {
		classLabels = func(context.Context, string) map[string]string { return nil }
	}
	return &Reader{Clients: c, ClassLabels: classLabels,
		gateways: map[string]*gatewayv1.Gateway{}, namespaces: map[string]map[string]string{}}
}

// Explain reads one namespace, service, pod or ServiceEntry and resolves
// its waypoint. For a pod it also resolves the services that select it.
func (r *Reader) Explain(ctx context.Context, kind Kind, namespace, name string) (*Explanation, error) {
	c := r.Clients
	notFound := &NotFoundError{Kind: kind, Namespace: namespace, Name: name}
	var objLabels map[string]string
	var conds []metav1.Condition
	var pod *corev1.Pod
	switch kind {
	case KindNamespace:
		ns, err := c.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, notFound
		}
		if err != nil {
			return nil, kube.Describe("read namespace "+name, err)
		}
		r.namespaces[name] = ns.Labels
		objLabels, namespace = ns.Labels, name
	case KindService:
		svc, err := c.Kube.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, notFound
		}
		if err != nil {
			return nil, kube.Describe("read service "+namespace+"/"+name, err)
		}
		objLabels, conds = svc.Labels, svc.Status.Conditions
	case KindPod:
		p, err := c.Kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, notFound
		}
		if err != nil {
			return nil, kube.Describe("read pod "+namespace+"/"+name, err)
		}
		objLabels, pod = p.Labels, p
	case KindServiceEntry:
		se, err := c.Dynamic.Resource(ServiceEntryGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if kube.IsMissingType(err) {
			return nil, ErrNoServiceEntries
		}
		if apierrors.IsNotFound(err) {
			return nil, notFound
		}
		if err != nil {
			return nil, kube.Describe("read serviceentry "+namespace+"/"+name, err)
		}
		objLabels, conds = se.GetLabels(), unstructuredConditions(se)
	default:
		return nil, fmt.Errorf("cannot explain kind %q", kind)
	}

	res, err := r.Resolve(ctx, kind, namespace, name, objLabels)
	if err != nil {
		return nil, err
	}
	ex := &Explanation{Resolution: res, Condition: findCondition(conds, ConditionWaypointBound)}
	if pod != nil {
		ex.Services, err = r.podServices(ctx, pod)
		if err != nil {
			return nil, err
		}
	}
	return ex, nil
}

// podServices resolves the services in the pod's namespace that select it.
func (r *Reader) podServices(ctx context.Context, pod *corev1.Pod) ([]Explanation, error) {
	var out []Explanation
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := r.Clients.Kube.CoreV1().Services(pod.Namespace).List(ctx, opts)
		if err != nil {
			return nil, kube.Describe("list the services of namespace "+pod.Namespace, err)
		}
		for i := range list.Items {
			svc := &list.Items[i]
			if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				continue
			}
			res, err := r.Resolve(ctx, KindService, svc.Namespace, svc.Name, svc.Labels)
			if err != nil {
				return nil, err
			}
			out = append(out, Explanation{Resolution: res, Condition: findCondition(svc.Status.Conditions, ConditionWaypointBound)})
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

// Resolve resolves the waypoint of an object whose labels are objLabels,
// reading its namespace, the waypoint and the waypoint's class as needed.
func (r *Reader) Resolve(ctx context.Context, kind Kind, namespace, name string, objLabels map[string]string) (Resolution, error) {
	in := ResolveInput{Kind: kind, Namespace: namespace, Name: name, Labels: objLabels,
		Waypoints: map[string]*gatewayv1.Gateway{}, ClassLabels: map[string]map[string]string{}}
	if kind != KindNamespace {
		nsLabels, err := r.namespaceLabels(ctx, namespace)
		if err != nil {
			return Resolution{}, err
		}
		in.NamespaceLabels = nsLabels
	}
	if key := WantedWaypoint(in); key != "" {
		gw, err := r.gateway(ctx, key)
		if err != nil {
			return Resolution{}, err
		}
		if gw != nil {
			in.Waypoints[key] = gw
			in.ClassLabels[string(gw.Spec.GatewayClassName)] = r.classLabelsOf(ctx, gw)
		}
	}
	return Resolve(in), nil
}

// classLabelsOf reads the labels of the Gateway's class, only when the
// Gateway's own label does not already fix its traffic type.
func (r *Reader) classLabelsOf(ctx context.Context, gw *gatewayv1.Gateway) map[string]string {
	if gw.Labels[istio.LabelWaypointFor] != "" {
		return nil
	}
	return r.ClassLabels(ctx, string(gw.Spec.GatewayClassName))
}

// namespaceLabels reads a namespace's labels once; a namespace that does not
// exist has none.
func (r *Reader) namespaceLabels(ctx context.Context, name string) (map[string]string, error) {
	if l, ok := r.namespaces[name]; ok {
		return l, nil
	}
	ns, err := r.Clients.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		r.namespaces[name] = nil
		return nil, nil
	case err != nil:
		return nil, kube.Describe("read namespace "+name, err)
	}
	r.namespaces[name] = ns.Labels
	return ns.Labels, nil
}

// gateway reads a Gateway by namespace/name once; nil when it does not exist
// (or the Gateway API is not installed).
func (r *Reader) gateway(ctx context.Context, key string) (*gatewayv1.Gateway, error) {
	if gw, ok := r.gateways[key]; ok {
		return gw, nil
	}
	ns, name := splitKey(key)
	gw, err := r.Clients.Gateway.GatewayV1().Gateways(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || kube.IsMissingType(err):
		gw = nil
	case err != nil:
		return nil, kube.Describe("read waypoint "+key, err)
	}
	r.gateways[key] = gw
	return gw, nil
}

// WaypointUsers are the resources that use, or ask for, one waypoint.
type WaypointUsers struct {
	Waypoint string `json:"waypoint"`
	// Facts describe the waypoint; nil when it does not exist.
	Facts *WaypointFacts `json:"waypointFacts,omitempty"`
	// Users are the namespaces, services, pods and ServiceEntries whose own
	// label names the waypoint, and those without a label of their own in a
	// namespace whose label names it (pods only when the waypoint takes
	// workload traffic), each resolved by istiod's rules.
	Users []Resolution `json:"users"`
}

// ExplainWaypoint finds and resolves the users of the waypoint
// namespace/name: one labelled list per kind across the cluster, then one
// list per kind in each enrolled namespace for what inherits from it.
func (r *Reader) ExplainWaypoint(ctx context.Context, namespace, name string) (*WaypointUsers, error) {
	key := namespace + "/" + name
	out := &WaypointUsers{Waypoint: key, Users: []Resolution{}}
	gw, err := r.gateway(ctx, key)
	if err != nil {
		return nil, err
	}
	var traffic istio.TrafficType
	if gw != nil {
		facts := FactsOf(gw, r.classLabelsOf(ctx, gw))
		if !facts.IsWaypointClass() {
			return nil, &NotAWaypointError{Key: key, Class: facts.Class}
		}
		out.Facts, traffic = &facts, facts.TrafficType
	} else {
		// Not there (yet): it would get the default of its class.
		traffic = istio.EffectiveTrafficType(nil, r.ClassLabels(ctx, istio.ClassWaypoint))
	}

	var direct []Target
	for _, kind := range Kinds {
		err := eachMetadata(ctx, r.Clients, kind, "", istio.LabelUseWaypoint+"="+name, func(m *metav1.PartialObjectMetadata) {
			own := m.Namespace
			if kind == KindNamespace {
				own = m.Name
			}
			if k, _, _ := useWaypoint(m.Labels, own); k == key {
				direct = append(direct, Target{Kind: kind, Namespace: m.Namespace, Name: m.Name, Labels: m.Labels})
			}
		})
		if err != nil {
			if kind == KindServiceEntry && kube.IsMissingType(err) {
				continue
			}
			return nil, kube.Describe("list the "+kind.Resource()+"s that use waypoint "+key, err)
		}
	}
	inherited := []Target{}
	for _, t := range direct {
		if t.Kind != KindNamespace {
			continue
		}
		r.namespaces[t.Name] = t.Labels
		for _, kind := range []Kind{KindService, KindPod, KindServiceEntry} {
			if kind == KindPod && !traffic.ServesWorkloads() {
				continue
			}
			err := eachMetadata(ctx, r.Clients, kind, t.Name, "!"+istio.LabelUseWaypoint, func(m *metav1.PartialObjectMetadata) {
				inherited = append(inherited, Target{Kind: kind, Namespace: m.Namespace, Name: m.Name, Labels: m.Labels})
			})
			if err != nil {
				if kind == KindServiceEntry && kube.IsMissingType(err) {
					continue
				}
				return nil, kube.Describe("list the "+kind.Resource()+"s of namespace "+t.Name, err)
			}
		}
	}
	for i, t := range append(direct, inherited...) {
		res, err := r.Resolve(ctx, t.Kind, t.Own(), t.Name, t.Labels)
		if err != nil {
			return nil, err
		}
		if i >= len(direct) && res.Reason == ReasonIsWaypoint {
			continue // the waypoint's own pods live in the namespace it serves
		}
		out.Users = append(out.Users, res)
	}
	sort.SliceStable(out.Users, func(i, j int) bool {
		a, b := out.Users[i], out.Users[j]
		if a.Kind != b.Kind {
			return kindOrder(a.Kind) < kindOrder(b.Kind)
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out, nil
}

func kindOrder(k Kind) int {
	for i, kk := range Kinds {
		if kk == k {
			return i
		}
	}
	return len(Kinds)
}

func splitKey(key string) (ns, name string) {
	ns, name, _ = strings.Cut(key, "/")
	return ns, name
}

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			c := conds[i]
			return &c
		}
	}
	return nil
}

// unstructuredConditions reads status.conditions of an Istio object, which
// have the fields of a metav1.Condition (and a few more).
func unstructuredConditions(obj *unstructured.Unstructured) []metav1.Condition {
	items, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var out []metav1.Condition
	for _, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		c := metav1.Condition{
			Type:    str("type"),
			Status:  metav1.ConditionStatus(str("status")),
			Reason:  str("reason"),
			Message: str("message"),
		}
		if t := str("lastTransitionTime"); t != "" {
			_ = c.LastTransitionTime.UnmarshalQueryParameter(t)
		}
		switch g := m["observedGeneration"].(type) {
		case int64:
			c.ObservedGeneration = g
		case float64:
			c.ObservedGeneration = int64(g)
		}
		out = append(out, c)
	}
	return out
}
